"""jaxlstm's Flax cells as drop-ins: every behaviour Flax's own recurrent tests check of its LSTM
cells (Flax 0.12.8, ``tests/nnx/nn/recurrent_test.py`` and ``tests/linen/linen_recurrent_test.py``),
checked here of ``jaxlstm.flax.LSTMCell`` and ``jaxlstm.flax.linen.LSTMCell``, mostly against
Flax's own cells with the same weights.

Carry shapes and initialisation, variable lengths, reverse and keep_order, time-major and
multiple batch dims, unroll, return_carry, bidirectional, dtypes and input promotion, custom
activations, initializers. The one documented difference is the parameter tree (the fused ``V``
and ``b``); Flax's tests that walk per-gate kernels by name have the recipes of docs/guides/flax.md instead.
"""

import dataclasses
import warnings

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxlstm
from jaxlstm.flax import LSTMCell
from jaxlstm.flax import linen as jlinen
from jaxlstm.interop import from_flax
from tolerance import assert_close

T, B, I, H = 5, 2, 3, 4


def normal(seed, shape, dtype=jnp.float32):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), dtype)


def with_activations(cell, gate_fn, activation_fn):
    variant = jaxlstm.Variant(gate_activation=gate_fn or "sigmoid", cell_activation=activation_fn or "tanh")
    return dataclasses.replace(cell, variant=variant)


def nnx_pair(flax_cls=nnx.OptimizedLSTMCell, seed=0, **options):
    """Flax's nnx cell and jaxlstm's with its weights copied."""
    theirs = flax_cls(I, H, rngs=nnx.Rngs(seed), **options)
    weights = from_flax(nnx.to_pure_dict(nnx.state(theirs, nnx.Param)))
    weights = with_activations(weights, options.get("gate_fn"), options.get("activation_fn"))
    ours = LSTMCell.from_params(jax.tree.map(lambda a: a.astype(options.get("param_dtype", jnp.float32)), weights),
                                dtype=options.get("dtype"))
    return theirs, ours


# Each run: nnx.RNN options and whether it gets lengths; the outputs are compared leaf by leaf.
RUNS = {
    "plain": (dict(), False),
    "return_carry, seq_lengths": (dict(return_carry=True), True),
    "reverse": (dict(reverse=True, return_carry=True), False),
    "reverse, keep_order, seq_lengths": (dict(reverse=True, keep_order=True, return_carry=True), True),
    "time_major": (dict(time_major=True), False),
    "unroll": (dict(unroll=2), False),
}


def nnx_runs(cell, xs, lengths):
    out = {}
    for name, (options, with_lengths) in RUNS.items():
        inputs = xs.swapaxes(0, 1) if options.get("time_major") else xs
        out[name] = nnx.RNN(cell, **options)(inputs, seq_lengths=lengths if with_lengths else None)
    return out


@pytest.mark.parametrize(("flax_cls", "activations"), [
    (nnx.OptimizedLSTMCell, {}),
    (nnx.LSTMCell, dict(gate_fn=jax.nn.hard_sigmoid, activation_fn=jax.nn.elu)),
], ids=["OptimizedLSTMCell", "LSTMCell-hard_sigmoid-elu"])
def test_nnx_rnn_runs_equal_flax_cells(flax_cls, activations):
    """Every nnx.RNN mode, values and gradients (of the weights and the inputs)."""
    theirs, ours = nnx_pair(flax_cls, **activations)
    xs, lengths = normal(1, (B, T, I)), jnp.array([3, T])

    def loss(cell, xs):
        leaves = jax.tree.leaves(nnx_runs(cell, xs, lengths))
        return sum(jnp.sum(jnp.sin(leaf)) for leaf in leaves), leaves

    grad = nnx.jit(nnx.grad(loss, argnums=(0, 1), has_aux=True))
    (d_theirs, dxs_theirs), expected = grad(theirs, xs)
    (d_ours, dxs_ours), got = grad(ours, xs)
    for a, b in zip(got, expected):
        assert_close(a, b, "framework")
    d_theirs = from_flax(nnx.to_pure_dict(d_theirs))
    assert_close(d_ours.params.V.get_value(), d_theirs.V, "accumulated")
    assert_close(d_ours.params.b.get_value(), d_theirs.b, "accumulated")
    assert_close(dxs_ours, dxs_theirs, "accumulated")


def test_seq_lengths_keep_the_carry_at_each_sequence_end_and_zero_nothing_flax_keeps():
    """Past its length a sequence's carry stays, as Flax's: the final carry is the step-by-step
    carry at length - 1 (Flax's test_numerical_equivalence_with_mask)."""
    _, ours = nnx_pair()
    xs, lengths = normal(2, (B, T, I)), jnp.array([2, T])
    carry, _ = nnx.RNN(ours, return_carry=True)(xs, seq_lengths=lengths)
    step = ours.initialize_carry(xs[:, 0].shape)
    carries = []
    for t in range(T):
        step, _ = ours(step, xs[:, t])
        carries.append(step)
    for n, length in enumerate(lengths):
        for kept, final in zip(carries[int(length) - 1], carry):
            assert_close(kept[n], final[n], "reordered")


def test_linen_rnn_equals_step_loops_nn_scan_and_flax_cells_with_multiple_batch_dims():
    """linen.RNN with two batch dims equals a Python loop of the cell, nn.scan of the cell, and
    Flax's LSTMCell and OptimizedLSTMCell with the same weights (with custom activations)."""
    xs = normal(3, (2, B, T, I))
    cell = jlinen.LSTMCell(H, gate_fn=jax.nn.hard_sigmoid, activation_fn=jax.nn.elu)
    rnn = nn.RNN(cell, return_carry=True)
    (carry, ys), variables = jax.jit(rnn.init_with_output)(jax.random.key(0), xs)
    assert ys.shape == (2, B, T, H) and carry[0].shape == carry[1].shape == (2, B, H)
    step_carry = cell.initialize_carry(jax.random.key(0), xs[..., 0, :].shape)
    params = variables["params"]["cell"]
    for t in range(T):
        step_carry, y = cell.apply({"params": params}, step_carry, xs[..., t, :])
        assert_close(y, ys[..., t, :], "reordered")
    assert_close(step_carry, carry, "reordered")

    scanned = nn.scan(jlinen.LSTMCell, in_axes=2, out_axes=2, variable_broadcast="params",
                      split_rngs={"params": False})(H, gate_fn=jax.nn.hard_sigmoid, activation_fn=jax.nn.elu)
    scan_carry, scan_ys = scanned.apply({"params": params}, scanned.initialize_carry(None, xs[..., 0, :].shape), xs)
    assert_close(scan_ys, ys, "reordered")

    V, b = np.asarray(params["cell_params"].V), np.asarray(params["cell_params"].b)
    gates = lambda a: np.split(a, 4, axis=-1)
    tree = {}
    for g, w, u, bias in zip("ifgo", gates(V[H:]), gates(V[:H]), gates(b)):
        tree["i" + g], tree["h" + g] = {"kernel": w}, {"kernel": u, "bias": bias}
    for flax_cls in (nn.LSTMCell, nn.OptimizedLSTMCell):
        theirs = nn.RNN(flax_cls(H, gate_fn=jax.nn.hard_sigmoid, activation_fn=jax.nn.elu), return_carry=True)
        their_carry, their_ys = jax.jit(theirs.apply)({"params": {"cell": tree}}, xs)
        assert_close(ys, their_ys, "framework")
        assert_close(carry, their_carry, "framework")


def test_linen_reverse_keep_order_time_major_and_bidirectional():
    xs = normal(4, (B, T, I))
    cell = jlinen.LSTMCell(H)
    variables = nn.RNN(cell).init(jax.random.key(0), xs)
    run = lambda **options: nn.RNN(cell, return_carry=True, **options).apply(variables, xs)
    carry, ys = run()
    _, flipped = run(reverse=True)
    _, kept = run(reverse=True, keep_order=True)
    assert_close(flipped, nn.RNN(cell).apply(variables, xs[:, ::-1]), "reordered")
    assert_close(kept, flipped[:, ::-1], "reordered")
    _, major = nn.RNN(cell, time_major=True, return_carry=True).apply(variables, xs.swapaxes(0, 1))
    assert_close(major.swapaxes(0, 1), ys, "reordered")
    assert not any(np.allclose(leaf, 0) for leaf in jax.tree.leaves(carry))

    for merge_fn, width in ((None, 2 * H), (lambda a, b: a + b, H)):
        options = {} if merge_fn is None else dict(merge_fn=merge_fn)
        bi = nn.Bidirectional(nn.RNN(jlinen.LSTMCell(H)), nn.RNN(jlinen.LSTMCell(H)), return_carry=True, **options)
        (forward, backward), out = bi.init_with_output(jax.random.key(0), xs)[0]
        assert out.shape == (B, T, width)
        assert jax.tree.map(jnp.shape, (forward, backward)) == (((B, H), (B, H)),) * 2
    shared = jlinen.LSTMCell(H)
    out, _ = nn.Bidirectional(nn.RNN(shared), nn.RNN(shared)).init_with_output(jax.random.key(0), xs)
    assert out.shape == (B, T, 2 * H)


@pytest.mark.parametrize(("dtype", "param_dtype", "x_dtype"), [
    (None, jnp.float32, jnp.int32),        # Flax's tests feed int32 sequences to nnx.RNN
    (None, jnp.float32, jnp.bfloat16),     # promoted to the params' float32
    (jnp.bfloat16, jnp.bfloat16, jnp.bfloat16),
    (jnp.bfloat16, jnp.bfloat16, jnp.float32),  # a float32 input to a bfloat16 cell
    (jnp.bfloat16, jnp.float32, jnp.float32),   # bfloat16 computation, float32 params and carry
])
def test_nnx_rnn_dtypes_and_promotion_as_flax(dtype, param_dtype, x_dtype):
    """Outputs and carries in the dtypes Flax's cell gives, with values close to its (under
    jax's standard promotion, which Flax's cells need for mixed dtypes; ours promote under
    "strict" too)."""
    # (Flax's orthogonal default has no bfloat16 or float16 kernel on CPU; jaxlstm's draws in float32.)
    theirs, ours = nnx_pair(dtype=dtype, param_dtype=param_dtype, recurrent_kernel_init=nnx.initializers.lecun_normal())
    xs = (normal(5, (B, T, I)) * 3).astype(x_dtype)
    run = nnx.jit(lambda cell, xs: nnx.RNN(cell, return_carry=True)(xs))
    got = run(ours, xs)
    with jax.numpy_dtype_promotion("standard"):
        expected = run(theirs, xs)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert_close(a, b, "framework", dtype=dtype or param_dtype)  # at the precision it computes in


def test_nnx_carry_init_shapes_and_rngs_as_flax():
    theirs, ours = nnx_pair()
    for shape in ((1, I), (B, 3, I), (I,)):
        for a, b in zip(ours.initialize_carry(shape), theirs.initialize_carry(shape, nnx.Rngs(0))):
            assert a.shape == b.shape == (*shape[:-1], H) and a.dtype == b.dtype and not a.any()
    c, h = ours.initialize_carry((1, I), nnx.Rngs(0), carry_init=nnx.initializers.ones)
    assert (c == 1).all() and (h == 1).all()
    normal_init = nnx.initializers.normal(1.0)
    for a, b in zip(ours.initialize_carry((B, I), nnx.Rngs(carry=3), carry_init=normal_init),
                    theirs.initialize_carry((B, I), nnx.Rngs(carry=3), carry_init=normal_init)):
        np.testing.assert_array_equal(a, b)  # the same keys for c, then h

    # The constructor's carry_init is the one nnx.RNN uses (Flax warns there, and so do we).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        theirs = nnx.OptimizedLSTMCell(I, H, carry_init=normal_init, rngs=nnx.Rngs(0))
        ours = LSTMCell(I, H, carry_init=normal_init, rngs=nnx.Rngs(0))
    ours = nnx.merge(nnx.graphdef(ours), nnx.state(LSTMCell.from_params(
        from_flax(nnx.to_pure_dict(nnx.state(theirs, nnx.Param))))))
    xs = normal(6, (B, T, I))
    for a, b in zip(jax.tree.leaves(nnx.RNN(ours, rngs=nnx.Rngs(carry=4), return_carry=True)(xs)),
                    jax.tree.leaves(nnx.RNN(theirs, rngs=nnx.Rngs(carry=4), return_carry=True)(xs))):
        assert_close(a, b, "framework")


def test_linen_carry_init():
    cell = jlinen.LSTMCell(H, carry_init=nn.initializers.ones, param_dtype=jnp.bfloat16)
    c, h = cell.initialize_carry(jax.random.key(0), (2, B, I))
    assert c.shape == h.shape == (2, B, H) and c.dtype == jnp.bfloat16 and (c == 1).all()
    theirs = nn.OptimizedLSTMCell(H, carry_init=nn.initializers.normal(1.0))
    ours = jlinen.LSTMCell(H, carry_init=nn.initializers.normal(1.0))
    for a, b in zip(ours.initialize_carry(jax.random.key(5), (B, I)), theirs.initialize_carry(jax.random.key(5), (B, I))):
        np.testing.assert_array_equal(a, b)


def test_flax_initializers_per_gate_and_the_flax_scheme():
    """Initializers are called per gate, as Flax's cells call theirs; ``init="flax"`` (the
    cells' default) draws Flax's distributions: each gate's U orthogonal, W LeCun-normal, b 0."""
    calls = []

    def recording(value):
        def initializer(key, shape, dtype):
            calls.append(shape)
            return jnp.full(shape, value, dtype)
        return initializer

    ours = LSTMCell(I, H, kernel_init=recording(2.0), recurrent_kernel_init=recording(3.0), bias_init=recording(0.5),
                    rngs=nnx.Rngs(0))
    V, b = ours.cell_params.V, ours.cell_params.b
    assert calls == [(I, H)] * 4 + [(H, H)] * 4 + [(H,)] * 4
    assert (V[:H] == 3).all() and (V[H:] == 2).all() and (b == 0.5).all()

    big_I, big_H = 128, 32
    cell = LSTMCell(big_I, big_H, rngs=nnx.Rngs(1)).cell_params
    U, W = np.asarray(cell.V[:big_H]), np.asarray(cell.V[big_H:])
    for block in np.split(U, 4, axis=1):
        assert_close(block.T @ block, np.eye(big_H), "reference")
    assert abs(W.std() * np.sqrt(big_I) - 1) < 0.06 and not cell.b.any()
    flax_W = nnx.OptimizedLSTMCell(big_I, big_H, rngs=nnx.Rngs(1)).dense_i.kernel.get_value()
    assert abs(W.std() / flax_W.std() - 1) < 0.06
    linen_params = jlinen.LSTMCell(big_H).init(jax.random.key(0), (jnp.zeros((1, big_H)),) * 2, jnp.zeros((1, big_I)))
    assert linen_params["params"]["cell_params"].b.dtype == jnp.float32


def test_gate_and_activation_functions_reach_the_core():
    cell = LSTMCell(I, H, gate_fn=jax.nn.hard_sigmoid, activation_fn=jax.nn.relu, rngs=nnx.Rngs(0))
    variant = cell.cell_params.variant
    assert (variant.gate_activation, variant.cell_activation) == ("hard_sigmoid", "relu")
    stack = jaxlstm.flax.LSTM(I, H, gate_fn=jax.nn.soft_sign, rngs=nnx.Rngs(0))
    assert stack.lstm_params.layers[0][0].variant.gate_activation == "softsign"
    linen = jlinen.LSTM(H, activation_fn=jax.nn.elu)
    params = linen.init(jax.random.key(0), jnp.ones((B, T, I)))["params"]["lstm_params"]
    assert params.layers[0][0].variant.cell_activation == "elu"


def test_nnx_rnn_over_int32_and_bfloat16_inputs_like_flax_tests():
    """Flax's own nnx examples: int32 sequences with lengths, and a bfloat16/float16 cell."""
    cell = LSTMCell(in_features=3, hidden_features=4, rngs=nnx.Rngs(4))
    xs = jnp.array([[[1, 1, 1], [2, 2, 2], [3, 3, 3], [0, 0, 0], [0, 0, 0]],
                    [[4, 4, 4], [5, 5, 5], [6, 6, 6], [7, 7, 7], [8, 8, 8]]])
    (c, h), ys = nnx.RNN(cell, return_carry=True)(xs, initial_carry=cell.initialize_carry((2, 3), nnx.Rngs(4)),
                                                 seq_lengths=jnp.array([3, 5]))
    assert ys.shape == (2, 5, 4) and c.shape == h.shape == (2, 4) and ys.dtype == jnp.float32
    half = LSTMCell(3, 4, dtype=jnp.float16, param_dtype=jnp.float16, rngs=nnx.Rngs(8))
    assert nnx.RNN(half)(jnp.ones((2, 5, 3), jnp.float16)).dtype == jnp.float16


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: LSTMCell(I, H, kernel_metadata={"sharding": ("a", None)}, rngs=nnx.Rngs(0)), ValueError,
     r"kernel_metadata \{'sharding': \('a', None\)\} and recurrent_kernel_metadata \{\} differ; expected them "
     r"equal: jaxlstm's cell holds both kernels in one fused V"),
    (lambda: LSTMCell(I, H, rngs=nnx.Rngs(0)).initialize_carry((B, I), carry_init=nnx.initializers.ones), ValueError,
     r"initialize_carry got a carry_init but no rngs to call it with"),
    (lambda: LSTMCell(I, H, rngs=nnx.Rngs(0)).initialize_carry(()), ValueError,
     r"input_shape must be the shape of one step's input, \(\*batch, input_size\); got \(\)"),
    (lambda: LSTMCell(I, H, kernel_init="lecun", rngs=nnx.Rngs(0)), TypeError,
     r"kernel_init must be None or an initializer called as kernel_init\(key, shape, dtype\)"),
    (lambda: LSTMCell(I, H, gate_fn="sigmoidal", rngs=nnx.Rngs(0)), ValueError,
     r"gate_activation must be a callable or one of"),
])
def test_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_metadata_reaches_the_params():
    cell = LSTMCell(I, H, kernel_metadata={"tag": "k"}, recurrent_kernel_metadata={"tag": "k"},
                    bias_metadata={"tag": "b"}, rngs=nnx.Rngs(0))
    assert cell.params.V.get_metadata()["tag"] == "k" and cell.params.b.get_metadata()["tag"] == "b"


def test_precision_reaches_the_matmuls_of_both_wrappers():
    highest = "precision=(Precision.HIGHEST, Precision.HIGHEST)"
    graphdef, state = nnx.split(LSTMCell(I, H, precision="highest", rngs=nnx.Rngs(0)))
    jaxpr = str(jax.make_jaxpr(lambda state, x: nnx.RNN(nnx.merge(graphdef, state))(x))(state, jnp.ones((B, T, I))))
    assert jaxpr.count("dot_general") == jaxpr.count(highest) >= 1
    model = jlinen.LSTM(H, precision="highest")
    variables = model.init(jax.random.key(0), jnp.ones((B, T, I)))
    jaxpr = str(jax.make_jaxpr(lambda x: model.apply(variables, x))(jnp.ones((B, T, I))))
    assert jaxpr.count("dot_general") == jaxpr.count(highest) >= 1
