"""Every cell variant: against an independent float64 NumPy loop, on every path, with gradients."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from tolerance import assert_close
from jax.test_util import check_grads

import jaxlstm
from jaxlstm import kernel

T, B, I, H = 6, 3, 4, 5
NAMES = sorted(jaxlstm.VARIANTS)
EXTRA = {
    "clipped": jaxlstm.Variant(peepholes=True, cell_clip=0.3),
    "layer_norm_peephole_cifg": jaxlstm.Variant(layer_norm=True, peepholes=True, coupled=True),
    "no_gates": jaxlstm.Variant(input_gate=False, forget_gate=False, output_gate=False),
    "projection": jaxlstm.Variant(proj_size=3),
    "fgr_cifg_layer_norm_projection": jaxlstm.Variant(gate_recurrence=True, coupled=True, layer_norm=True,
                                                      proj_size=3),
    "fgr_no_input_gate": jaxlstm.Variant(gate_recurrence=True, input_gate=False),
    "projection_clip_peephole_layer_norm": jaxlstm.Variant(proj_size=3, proj_clip=0.2, peepholes=True,
                                                           layer_norm=True),
    # Keras's common hard_sigmoid gates, and a cell activation given as a function (not by name)
    "hard_sigmoid_gates_gelu_cell_peephole": jaxlstm.Variant(gate_activation="hard_sigmoid",
                                                             cell_activation=jax.nn.gelu, peepholes=True),
}
ALL = {**{name: jaxlstm.VARIANTS[name] for name in NAMES}, **EXTRA}


def perturbed_cell(variant, seed=0, dtype=jnp.float64):
    """A cell of the variant with every param drawn at random (so layer norm, peepholes and
    biases all matter)."""
    cell = jaxlstm.init_cell(jax.random.key(seed), I, H, variant=variant, dtype=dtype)
    leaves, tree = jax.tree.flatten(cell)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    leaves = [leaf + 0.3 * jax.random.normal(k, leaf.shape, dtype) for leaf, k in zip(leaves, keys)]
    return jax.tree.unflatten(tree, leaves)


def inputs(seed=0, dtype=jnp.float64, h_size=H, c_size=H):
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.normal(size=(T, B, I)), dtype)
    h0, c0 = (jnp.asarray(rng.normal(size=(B, size)), dtype) for size in (h_size, c_size))
    return xs, h0, c0


@pytest.mark.parametrize("name", sorted(ALL))
def test_equals_float64_numpy(x64, name):
    """The reference path against the papers' equations; the other paths equal the reference
    (values and gradients) in the test below."""
    cell = perturbed_cell(ALL[name])
    xs, h0, c0 = inputs(h_size=cell.output_size, c_size=cell.state_size)
    lengths = [6, 0, 4]
    for reverse in (False, True):
        ys, (h, c) = jaxlstm.lstm(cell, xs, jaxlstm.LSTMState(h0[None], c0[None]), seq_lengths=jnp.array(lengths),
                                  reverse=reverse, impl="reference")
        ys_ref, h_ref, c_ref = reference.variant_lstm(cell, xs, h0, c0, lengths, reverse=reverse)
        assert_close(ys, ys_ref, "reference")
        assert_close(h[0], h_ref, "reference")
        assert_close(c[0], c_ref, "reference")


@pytest.mark.parametrize("name", sorted(ALL))
def test_gradients_of_every_path_equal_the_reference(x64, name):
    cell = perturbed_cell(ALL[name], seed=3)
    xs, h0, c0 = inputs(3, h_size=cell.output_size, c_size=cell.state_size)
    mask = jnp.arange(T)[:, None] < jnp.array([6, 2, 0])[None]

    def grads(impl, remat, cell, xs, h0, c0):
        def f(cell, xs, h0, c0):
            ys, (h, c) = outputs = kernel.run(cell, xs, jaxlstm.LSTMState(h0, c0), mask, reverse=False, unroll=1,
                                              remat=remat, impl=impl)
            return jnp.sum(jnp.sin(ys)) + jnp.sum(jnp.cos(h)) + jnp.sum(c * c), outputs
        return jax.grad(f, argnums=(0, 1, 2, 3), has_aux=True)(cell, xs, h0, c0)  # gradients and outputs

    paths = [("fused", "none"), ("hoisted", "none"), ("fused", "step"), ("fused", "sqrt")]
    every = lambda *args: [grads(impl, remat, *args) for impl, remat in [("reference", "none"), *paths]]
    expected, *got = jax.jit(every)(cell, xs, h0, c0)  # one compilation for all five
    for path, answer in zip(paths, got):
        for a, b in zip(jax.tree.leaves(answer), jax.tree.leaves(expected)):
            assert_close(a, b, "accumulated", err_msg=str(path))


# Numerical gradients of the combinations (each option in at least one) and the papers' presets
# with math of their own; every other preset's gradients equal these paths' (test above).
@pytest.mark.parametrize("name", sorted(EXTRA) + ["lstm1997", "peephole", "CIFG", "FGR"])
def test_check_grads(x64, name):
    cell = perturbed_cell(ALL[name], seed=5)
    xs, h0, c0 = inputs(5)
    f = jax.jit(lambda cell, xs: jaxlstm.lstm(cell, xs, seq_lengths=jnp.array([6, 3, 0])))
    check_grads(f, (cell, xs), order=1, modes=("rev",), eps=1e-6)


def test_stacks_of_variants_run_bidirectional_with_lengths():
    params = jaxlstm.init(jax.random.key(0), I, H, num_layers=2, bidirectional=True, variant="CIFG")
    xs, _, _ = inputs(dtype=jnp.float32)
    ys, (h, c) = jax.jit(lambda p, x: jaxlstm.lstm(p, x, seq_lengths=jnp.array([6, 1, 3])))(params, xs)
    assert ys.shape == (T, B, 2 * H) and h.shape == (4, B, H)
    assert not np.any(ys[1:, 1])


def embed(variant_cell, fill):
    """The vanilla cell equal to a gate-dropping variant: the missing gates' blocks get zero
    weights and a bias that saturates the sigmoid (``fill``: gate -> +50 or -50)."""
    gates = variant_cell.variant.gates
    blocks = dict(zip(gates, jnp.split(variant_cell.V, len(gates), axis=1)))
    biases = dict(zip(gates, jnp.split(variant_cell.b, len(gates))))
    V = jnp.concatenate([blocks.get(g, jnp.zeros((I + H, H))) for g in "ifgo"], axis=1)
    b = jnp.concatenate([biases.get(g, jnp.full(H, fill.get(g, 0.0))) for g in "ifgo"])
    return jaxlstm.CellParams(V=V, b=b)


@pytest.mark.parametrize(("variant", "fill"), [
    (jaxlstm.Variant(input_gate=False), {"i": 50.0}),
    (jaxlstm.Variant(forget_gate=False), {"f": 50.0}),
    (jaxlstm.Variant(output_gate=False), {"o": 50.0}),
])
def test_dropped_gates_are_saturated_gates(x64, variant, fill):
    """NIG, NFG, NOG equal the vanilla cell with that gate held at 1 (sigmoid(50) == 1 in float64)."""
    cell = perturbed_cell(variant)
    xs, h0, c0 = inputs()
    state = jaxlstm.LSTMState(h0[None], c0[None])
    assert_close(jaxlstm.lstm(cell, xs, state)[0], jaxlstm.lstm(embed(cell, fill), xs, state)[0], "reordered")


def test_zero_peepholes_and_off_options_reduce_to_vanilla(x64):
    vanilla = perturbed_cell(jaxlstm.Variant())
    xs, h0, c0 = inputs()
    state = jaxlstm.LSTMState(h0[None], c0[None])
    expected = jaxlstm.lstm(vanilla, xs, state)[0]
    peephole = dataclasses.replace(vanilla, variant=jaxlstm.Variant(peepholes=True),
                                   peepholes={g: jnp.zeros(H) for g in "ifo"})
    huge_clip = dataclasses.replace(vanilla, variant=jaxlstm.Variant(cell_clip=1e9))
    for cell in (peephole, huge_clip):
        assert_close(jaxlstm.lstm(cell, xs, state)[0], expected, "reordered")


def test_fgr_with_zero_gate_recurrence_is_the_peephole_cell_and_carries_its_gates(x64):
    fgr = perturbed_cell(jaxlstm.VARIANTS["FGR"])
    fgr = dataclasses.replace(fgr, gate_recurrence=jnp.zeros_like(fgr.gate_recurrence))
    peephole = dataclasses.replace(fgr, gate_recurrence=None, variant=jaxlstm.VARIANTS["greff_vanilla"])
    xs, h0, c0 = inputs()
    c0_fgr = jnp.concatenate([c0, jnp.ones((B, 3 * H))], axis=-1)
    ys, (h, c) = jaxlstm.lstm(fgr, xs, jaxlstm.LSTMState(h0[None], c0_fgr[None]))
    ys_p, (h_p, c_p) = jaxlstm.lstm(peephole, xs, jaxlstm.LSTMState(h0[None], c0[None]))
    assert_close(ys, ys_p, "reordered")
    assert_close(c[..., :H], c_p, "reordered")
    # The carried activations are the last step's gates: o(T) * tanh(c(T)) == h(T).
    o = c[0, :, 3 * H :]
    assert_close(o * jnp.tanh(c[0, :, :H]), h[0], "reordered")
    assert fgr.state_size == 4 * H and jaxlstm.param_count(I, H, variant="FGR") == (
        jaxlstm.param_count(I, H, variant="greff_vanilla") + (3 * H) ** 2)


def test_fgr_stack_state_and_its_errors():
    params = jaxlstm.init(jax.random.key(0), I, H, num_layers=2, bidirectional=True, variant="FGR")
    xs, _, _ = inputs(dtype=jnp.float32)
    ys, (h, c) = jax.jit(lambda p, x: jaxlstm.lstm(p, x, seq_lengths=jnp.array([6, 1, 3])))(params, xs)
    assert ys.shape == (T, B, 2 * H) and h.shape == (4, B, H) and c.shape == (4, B, 4 * H)
    ys_again, _ = jaxlstm.lstm(params, xs, jaxlstm.LSTMState(h * 0, c * 0), seq_lengths=jnp.array([6, 1, 3]))
    assert_close(ys_again, ys, "reordered")
    with pytest.raises(ValueError, match=r"state\.c has shape \(4, 3, 5\); expected .*state_size\) = "
                                         r"\(4, 3, 20\).*FGR \(gate_recurrence\), c carries the previous gate"):
        jaxlstm.lstm(params, xs, jaxlstm.LSTMState(h, c[..., :H]))
    cell = params.layers[0][0]
    with pytest.raises(ValueError, match=r"gate_recurrence has shape None; expected \(15, 15\)"):
        jaxlstm.lstm(dataclasses.replace(cell, gate_recurrence=None), xs)
    with pytest.raises(ValueError, match=r"gate_recurrence=True.*needs at least one of input_gate"):
        jaxlstm.Variant(gate_recurrence=True, input_gate=False, forget_gate=False, output_gate=False)


def test_cifg_is_vanilla_with_forget_weights_the_negated_input_weights(x64):
    cifg = perturbed_cell(jaxlstm.Variant(coupled=True))
    V_i, V_g, V_o = jnp.split(cifg.V, 3, axis=1)
    b_i, b_g, b_o = jnp.split(cifg.b, 3)
    vanilla = jaxlstm.CellParams(V=jnp.concatenate([V_i, -V_i, V_g, V_o], 1), b=jnp.concatenate([b_i, -b_i, b_g, b_o]))
    xs, h0, c0 = inputs()
    state = jaxlstm.LSTMState(h0[None], c0[None])
    assert_close(jaxlstm.lstm(cifg, xs, state)[0], jaxlstm.lstm(vanilla, xs, state)[0], "reordered")


def test_param_count():
    per_gate = (I + H) * H + H
    assert jaxlstm.param_count(I, H) == 4 * per_gate
    assert jaxlstm.param_count(I, H, variant="NP") == 4 * per_gate
    assert jaxlstm.param_count(I, H, variant="CIFG") == 3 * per_gate + 2 * H
    assert jaxlstm.param_count(I, H, variant="NFG") == 3 * per_gate + 2 * H
    assert jaxlstm.param_count(I, H, variant="greff_vanilla") == 4 * per_gate + 3 * H
    assert jaxlstm.param_count(I, H, variant="layer_norm") == 4 * per_gate + 2 * 4 * H + 2 * H
    assert jaxlstm.param_count(I, H, num_layers=2, bidirectional=True) == 2 * 4 * per_gate + 2 * 4 * ((2 * H + H) * H + H)
    assert jaxlstm.param_count(I, H, variant=jaxlstm.Variant(proj_size=2)) == 4 * ((I + 2) * H + H) + H * 2


def test_layer_norm_gets_the_forget_bias():
    cell = jaxlstm.init_cell(jax.random.key(0), I, H, variant="layer_norm", forget_bias=1.0)
    np.testing.assert_array_equal(cell.norm["gate_bias"], np.repeat([0.0, 1.0, 0.0, 0.0], H))


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(coupled=True, input_gate=False), r"coupled=True.*needs input_gate=True"),
    (dict(cell_clip=0.0), r"cell_clip must be None or positive; got 0\.0"),
])
def test_variant_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jaxlstm.Variant(**kwargs)


def test_activations_are_stored_by_name_and_checked():
    assert jaxlstm.Variant(gate_activation=jax.nn.sigmoid, cell_activation=jnp.tanh) == jaxlstm.Variant()
    assert jaxlstm.Variant(gate_activation=jax.nn.hard_sigmoid).gate_activation == "hard_sigmoid"
    assert jaxlstm.Variant(cell_activation=jax.nn.gelu).cell_fn is jax.nn.gelu
    with pytest.raises(ValueError, match=r"gate_activation must be a callable or one of \[.*'hard_sigmoid'.*\]; got 'hard'"):
        jaxlstm.Variant(gate_activation="hard")
    with pytest.raises(TypeError, match=r"cell_activation must be a callable or an activation name; got 3"):
        jaxlstm.Variant(cell_activation=3)


def test_unknown_variant_name():
    with pytest.raises(ValueError, match=r"variant must be a jaxlstm\.Variant or one of \[.*'CIFG'.*\]; got 'GRU'"):
        jaxlstm.init(jax.random.key(0), I, H, variant="GRU")


def test_params_without_their_variants_extras_are_refused():
    cell = jaxlstm.init_cell(jax.random.key(0), I, H, variant="peephole")
    broken = dataclasses.replace(cell, peepholes=None)
    with pytest.raises(ValueError, match=r"params\.layers\[0\]\[0\]\.peepholes has shapes None; expected \{'i': \(5,\)"):
        jaxlstm.lstm(broken, jnp.ones((T, B, I)))


def test_to_torch_refuses_variants():
    with pytest.raises(ValueError, match=r"to_torch needs the vanilla cell, with or without proj_size"):
        jaxlstm.interop.to_torch(jaxlstm.init(jax.random.key(0), I, H, variant="peephole"))
