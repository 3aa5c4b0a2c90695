"""``impl="pallas"``: the Pallas kernels equal the fused path, values and gradients, and
everything they cannot compute is refused with the impl to use.

On CPU Pallas interprets the kernels (every case compiles its own interpreter loop, so the
shapes are few and small); on a GPU the same tests compile them with Triton. Both compare at
``precision="highest"``, exact float32 on either backend.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_trees_close

import jaxlstm
from jaxlstm import pallas


def case(num_layers=1, bidirectional=False, batch=(5,), T=6, I=3, H=4, seed=0, learn_initial_state=False):
    params = jaxlstm.init(jax.random.key(seed), I, H, num_layers=num_layers, bidirectional=bidirectional,
                          learn_initial_state=learn_initial_state)
    rng = np.random.default_rng(seed)
    if learn_initial_state:  # a learned state away from zero
        params = jax.tree_util.tree_map_with_path(
            lambda path, a: jnp.asarray(rng.normal(size=a.shape), a.dtype)
            if jax.tree_util.keystr(path).endswith(("h0", "c0")) else a, params)
    xs = jnp.asarray(rng.normal(size=(T, *batch, I)), jnp.float32)
    directions = 2 if bidirectional else 1
    state = jaxlstm.LSTMState(*(jnp.asarray(rng.normal(size=(num_layers * directions, *batch, H)), jnp.float32)
                                for _ in range(2)))
    return params, xs, state, rng


def outputs_and_grads(impl, params, xs, state, **options):
    """``lstm``'s outputs and final state, and the gradients of a loss of all of them."""
    def loss(params, xs, state):
        ys, (h, c) = outputs = jaxlstm.lstm(params, xs, state, impl=impl, precision="highest", **options)
        weights = jnp.arange(ys.size, dtype=ys.dtype).reshape(ys.shape) / ys.size  # every output counts
        return jnp.sum(ys * weights) + jnp.sum(jnp.sin(h)) + jnp.sum(c * c), outputs

    argnums = (0, 1) if state is None else (0, 1, 2)
    return jax.jit(jax.grad(loss, argnums=argnums, has_aux=True))(params, xs, state)


def assert_equals_fused(params, xs, state, **options):
    assert_trees_close(outputs_and_grads("pallas", params, xs, state, **options),
                       outputs_and_grads("fused", params, xs, state, **options), "accumulated")


def test_a_layer_with_a_given_state_equals_the_fused_path():
    assert_equals_fused(*case()[:3])


def test_a_bidirectional_stack_with_lengths_and_a_learned_initial_state():
    """Lengths 0 and T among them; H = 20 pads to 32 units, which must stay zero."""
    params, xs, _, _ = case(num_layers=2, bidirectional=True, H=20, learn_initial_state=True)
    assert_equals_fused(params, xs, None, seq_lengths=jnp.array([0, 6, 3, 1, 5]))


def test_two_tiles_of_rows_reverse_and_a_batch_shape():
    """17 rows are two programs (16 and 1 of 16); the batch shape (2, 3) flattens to 6 rows."""
    params, xs, state, rng = case(batch=(17,), T=4, H=8)
    assert_equals_fused(params, xs, state, reverse=True, seq_lengths=jnp.asarray(rng.integers(0, 5, 17), jnp.int32))
    assert_equals_fused(*case(batch=(2, 3), T=3)[:3])


def test_resets_to_a_learned_initial_state():
    params, xs, _, rng = case(batch=(4,), learn_initial_state=True)
    resets = jnp.asarray(rng.random((6, 4)) < 0.3).at[2].set(True)
    assert_equals_fused(params, xs, None, resets=resets, seq_lengths=jnp.array([6, 4, 2, 0]))
    assert_equals_fused(params, xs, None, resets=resets, reverse=True)


def test_bfloat16_matmuls_equal_the_fused_path_with_the_same_policy():
    params, xs, state, _ = case()
    assert_trees_close(outputs_and_grads("pallas", params, xs, state, matmul_dtype=jnp.bfloat16),
                       outputs_and_grads("fused", params, xs, state, matmul_dtype=jnp.bfloat16), "accumulated")


def test_no_steps_and_no_rows_return_the_initial_state():
    for batch, T in (((0,), 4), ((3,), 0)):
        params, xs, state, _ = case(batch=batch, T=T)
        assert_trees_close(jaxlstm.lstm(params, xs, state, impl="pallas"), jaxlstm.lstm(params, xs, state, impl="fused"))


def test_vmap_equals_the_batched_call():
    params, xs, _, _ = case(batch=(3, 4))
    batched = jaxlstm.lstm(params, xs, impl="pallas")[0]
    mapped = jax.vmap(lambda x: jaxlstm.lstm(params, x, impl="pallas")[0], in_axes=1, out_axes=1)(xs)
    assert_trees_close(mapped, batched)


def test_a_broken_kernel_is_caught(monkeypatch):
    """The comparison can fail: every recurrent product off by one part in a thousand."""
    params, xs, state, _ = case()
    expected = outputs_and_grads("fused", params, xs, state)
    exact = pallas._dot
    monkeypatch.setattr(pallas, "_dot", lambda a, b, how: exact(a, b, how) * 1.001)
    jax.clear_caches()  # lstm's jitted body may hold a trace of the exact kernel: trace it again
    try:
        with pytest.raises(AssertionError, match="compared as 'accumulated'"):
            assert_trees_close(outputs_and_grads("pallas", params, xs, state), expected, "accumulated")
    finally:
        jax.clear_caches()  # and no later test reuses the broken one


@pytest.mark.parametrize("H, options", [(20, dict(seq_lengths=jnp.array([1, 2, 0, 4, 5]))),
                                        (64, dict(resets=jnp.zeros((6, 5), bool).at[3].set(True), reverse=True)),
                                        (pallas.MAX_HIDDEN, dict(matmul_dtype=jnp.bfloat16))],
                         ids=["lengths", "resets, U held", "bfloat16, U read per step"])
def test_the_kernels_lower_to_triton_for_a_gpu_on_any_machine(H, options):
    """Triton's own rules (tensors of a power-of-two size, dots of at least 16 a side) are
    checked when the kernels lower, which needs no GPU: forward and backward, both ways of
    holding U. (Compiling the Triton IR to GPU code, and running it, needs one.)"""
    params = jaxlstm.init(jax.random.key(0), 3, H)
    grad = jax.jit(jax.grad(lambda p, xs: jnp.sum(jaxlstm.lstm(p, xs, impl="pallas", **options)[0])))
    text = grad.trace(params, jnp.ones((6, 5, 3))).lower(lowering_platforms=("cuda",)).as_text()
    assert text.count('name = "_forward_kernel"') == 1 and text.count('name = "_backward_kernel"') == 1


REFUSALS = [
    (dict(variant="peephole"), {}, "standard LSTM cell only"),
    (dict(dtype=jnp.bfloat16), {}, "keeps float32 params"),
    (dict(hidden_size=pallas.MAX_HIDDEN + 1), {}, f"hidden sizes up to {pallas.MAX_HIDDEN}; got hidden_size=257"),
    ({}, dict(zoneout=0.1, deterministic=True), "no recurrent dropout or zoneout"),
    ({}, dict(recurrent_dropout=0.1, key=jax.random.key(0)), "no recurrent dropout or zoneout"),
    ({}, dict(remat="step"), "remat='step'"),
    ({}, dict(unroll=2), "unroll=2"),
]


@pytest.mark.parametrize("init_options, options, message", REFUSALS, ids=[m for _, _, m in REFUSALS])
def test_what_the_kernels_cannot_compute_is_refused_with_the_impl_to_use(init_options, options, message):
    hidden_size = init_options.pop("hidden_size", 4)
    params = jaxlstm.init(jax.random.key(0), 3, hidden_size, **init_options)
    xs = jnp.ones((6, 5, 3), params.layers[0][0].V.dtype)
    with pytest.raises(ValueError, match=rf"impl='pallas' .*{message}.*Hint: impl='fused'"):
        jaxlstm.lstm(params, xs, impl="pallas", **options)


def test_symbolic_shapes_and_a_tpu_are_refused(monkeypatch):
    params = jaxlstm.init(jax.random.key(0), 3, 4)
    xs = jax.ShapeDtypeStruct((*jax.export.symbolic_shape("t, b"), 3), jnp.float32)
    with pytest.raises(ValueError, match=r"impl='pallas' needs static shapes"):
        jax.export.export(jax.jit(lambda p, xs: jaxlstm.lstm(p, xs, impl="pallas")))(params, xs)
    monkeypatch.setattr(jax, "default_backend", lambda: "tpu")
    with pytest.raises(ValueError, match=r"impl='pallas' runs on a GPU .* the default backend is tpu"):
        jaxlstm.lstm(params, jnp.ones((6, 5, 3)), impl="pallas")
