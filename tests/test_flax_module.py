"""The Flax wrappers (``jaxlstm.flax``) equal the functional core with the same params, and drop
into Flax's RNN machinery in place of ``OptimizedLSTMCell`` (linen and nnx) with copied weights."""

import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from flax import nnx

import jaxlstm
from jaxlstm.flax import LSTM, LSTMCell
from jaxlstm.flax import linen as jlinen
from jaxlstm.interop import from_flax
from tolerance import assert_close

T, B, I, H = 6, 3, 4, 5


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)


def inputs(params, time_major, batch=(B,), seed=0):
    """Layout-specific xs, the time-major copy for jaxlstm.lstm, lengths and an initial state."""
    xs_tm = normal(seed, (T, *batch, I))
    xs = xs_tm if time_major else jnp.moveaxis(xs_tm, 0, -2)
    lengths = jnp.asarray(np.random.default_rng(seed).integers(0, T + 1, size=batch), jnp.int32)
    stacked = params.num_layers * params.num_directions
    state = jaxlstm.LSTMState(normal(seed + 1, (stacked, *batch, params.output_size)),
                              normal(seed + 2, (stacked, *batch, params.hidden_size)))
    return xs, xs_tm, lengths, state


def to_layout(ys_tm, time_major):
    return ys_tm if time_major else jnp.moveaxis(ys_tm, 0, -2)


CONFIGS = [  # num_layers, bidirectional, variant, time_major, batch
    (1, False, "vanilla", False, (B,)),
    (2, True, "vanilla", True, (B,)),
    (2, False, "peephole", False, (2, B)),
    (1, True, "peephole", True, (B,)),
]


@pytest.mark.parametrize("num_layers, bidirectional, variant, time_major, batch", CONFIGS)
@pytest.mark.parametrize("extras", [False, True], ids=["plain", "lengths+state"])
def test_nnx_lstm_equals_functional(num_layers, bidirectional, variant, time_major, batch, extras):
    model = LSTM(I, H, num_layers=num_layers, bidirectional=bidirectional, variant=variant,
                 time_major=time_major, rngs=nnx.Rngs(0))
    params = model.lstm_params
    xs, xs_tm, lengths, state = inputs(params, time_major, batch)
    kwargs = dict(seq_lengths=lengths) if extras else {}
    state = state if extras else None
    ys, final = model(xs, state, **kwargs)
    ys_ref, final_ref = jaxlstm.lstm(params, xs_tm, state, **kwargs)
    np.testing.assert_array_equal(ys, to_layout(ys_ref, time_major))
    assert isinstance(final, jaxlstm.LSTMState)
    assert_trees_equal(final, final_ref)


@pytest.mark.parametrize("num_layers, bidirectional, variant, time_major, batch", CONFIGS)
def test_linen_lstm_equals_functional(num_layers, bidirectional, variant, time_major, batch):
    model = jlinen.LSTM(H, num_layers=num_layers, bidirectional=bidirectional, variant=variant,
                        time_major=time_major)
    xs_probe = jnp.zeros((T, *batch, I)) if time_major else jnp.zeros((*batch, T, I))
    variables = model.init(jax.random.key(0), xs_probe)
    params = variables["params"]["lstm_params"]
    xs, xs_tm, lengths, state = inputs(params, time_major, batch)
    ys, final = model.apply(variables, xs, state, seq_lengths=lengths)
    ys_ref, final_ref = jaxlstm.lstm(params, xs_tm, state, seq_lengths=lengths)
    np.testing.assert_array_equal(ys, to_layout(ys_ref, time_major))
    assert_trees_equal(final, final_ref)


def functional_loss(ys, final):
    return jnp.sum(jnp.sin(ys)) + jnp.sum(final.h * final.c)


@pytest.mark.parametrize("num_layers, bidirectional, variant, time_major, batch", CONFIGS[1:3])
def test_nnx_and_linen_lstm_gradients_equal_functional(num_layers, bidirectional, variant, time_major, batch):
    options = dict(num_layers=num_layers, bidirectional=bidirectional, variant=variant, time_major=time_major)
    model = LSTM(I, H, **options, rngs=nnx.Rngs(0))
    params = model.lstm_params
    xs, xs_tm, lengths, state = inputs(params, time_major, batch)
    loss = lambda p, xs, state: functional_loss(*jaxlstm.lstm(p, xs, state, seq_lengths=lengths))
    expected = jax.grad(loss, argnums=(0, 1, 2))(params, xs_tm, state)

    graphdef, weights, rest = nnx.split(model, nnx.Param, ...)
    nnx_loss = lambda w, xs, state: functional_loss(*nnx.merge(graphdef, w, rest)(xs, state, seq_lengths=lengths))
    d_weights, dxs, dstate = jax.grad(nnx_loss, argnums=(0, 1, 2))(weights, xs, state)
    assert_trees_equal(nnx.merge(graphdef, d_weights, rest).lstm_params, expected[0])
    np.testing.assert_array_equal(dxs, to_layout(expected[1], time_major))
    assert_trees_equal(dstate, expected[2])

    linen = jlinen.LSTM(H, **options)
    variables = {"params": {"lstm_params": params}}
    linen_loss = lambda v, xs, state: functional_loss(*linen.apply(v, xs, state, seq_lengths=lengths))
    d_variables, dxs, dstate = jax.grad(linen_loss, argnums=(0, 1, 2))(variables, xs, state)
    assert_trees_equal(d_variables["params"]["lstm_params"], expected[0])
    np.testing.assert_array_equal(dxs, to_layout(expected[1], time_major))
    assert_trees_equal(dstate, expected[2])


def test_cell_wrappers_gradients_equal_functional(x64):
    """nnx.RNN and linen.RNN of jaxlstm's cells: the gradients of jaxlstm.lstm on the reference
    path (a scan of lstm_step, as Flax's RNN runs), float64."""
    cell = jaxlstm.init_cell(jax.random.key(6), I, H, variant="peephole", dtype=jnp.float64)
    xs = jnp.asarray(np.random.default_rng(10).normal(size=(T, B, I)))
    loss = lambda cell, xs: functional_loss(*jaxlstm.lstm(cell, xs, impl="reference"))
    expected = jax.grad(loss, argnums=(0, 1))(cell, xs)

    def flax_loss(carry_and_ys):
        (c, h), ys = carry_and_ys
        return functional_loss(ys, jaxlstm.LSTMState(h[None], c[None]))

    module = LSTMCell.from_params(cell)
    graphdef, weights = nnx.split(module)
    nnx_loss = lambda w, xs: flax_loss(nnx.RNN(nnx.merge(graphdef, w), time_major=True, return_carry=True)(xs))
    d_weights, dxs = jax.grad(nnx_loss, argnums=(0, 1))(weights, xs)
    for a, b in zip(jax.tree.leaves((nnx.merge(graphdef, d_weights).cell_params, dxs)), jax.tree.leaves(expected)):
        assert_close(a, b, "accumulated")

    rnn = nn.RNN(jlinen.LSTMCell(H, variant="peephole", param_dtype=jnp.float64), time_major=True, return_carry=True)
    linen_loss = lambda cell, xs: flax_loss(rnn.apply({"params": {"cell": {"cell_params": cell}}}, xs))
    for a, b in zip(jax.tree.leaves(jax.grad(linen_loss, argnums=(0, 1))(cell, xs)), jax.tree.leaves(expected)):
        assert_close(a, b, "accumulated")


def test_init_options_pass_through(x64):
    options = dict(num_layers=2, bidirectional=True, init="keras", forget_bias=2.5, variant="CIFG")
    model = LSTM(I, H, **options, param_dtype=jnp.float64, rngs=nnx.Rngs(params=7))
    assert_trees_equal(model.lstm_params, jaxlstm.init(nnx.Rngs(params=7).params(), I, H, **options, dtype=jnp.float64))


@pytest.mark.parametrize("variant", ["vanilla", "peephole", "LSTMP"])
def test_params_round_trip_exactly(variant):
    variant = jaxlstm.Variant(proj_size=3) if variant == "LSTMP" else variant
    params = jaxlstm.init(jax.random.key(3), I, H, num_layers=2, bidirectional=True, variant=variant)
    model = LSTM.from_params(params)
    assert_trees_equal(model.lstm_params, params)
    cell = params.layers[1][1]
    assert_trees_equal(LSTMCell.from_params(cell).cell_params, cell)
    # and through nnx.split / nnx.merge, the state the optimizer and orbax see
    assert_trees_equal(nnx.merge(*nnx.split(model)).lstm_params, params)


def test_from_params_takes_a_cell_and_options():
    cell = jaxlstm.init_cell(jax.random.key(4), I, H)
    model = LSTM.from_params(cell, time_major=True, impl="reference")
    xs = normal(0, (T, B, I))
    ys, (h, c) = model(xs)
    ys_ref, (h_ref, c_ref) = jaxlstm.lstm(cell, xs, impl="reference")
    np.testing.assert_array_equal(ys, ys_ref)
    np.testing.assert_array_equal(h, h_ref)


# ---------------------------------------------------------------- dropout, zoneout, modes

NOISE = dict(dropout=0.3, recurrent_dropout=0.2, zoneout=(0.2, 0.1))


def evaluation(params, xs):
    """``jaxlstm.lstm``'s evaluation mode with NOISE, batch-major: no dropout, zoneout's
    expectation (which differs from no zoneout at all)."""
    ys, state = jaxlstm.lstm(params, xs.swapaxes(0, 1), **NOISE, deterministic=True)
    assert not np.allclose(ys, jaxlstm.lstm(params, xs.swapaxes(0, 1))[0])
    return ys.swapaxes(0, 1), state


def test_nnx_deterministic_is_the_evaluation_mode_and_training_is_reproducible():
    params = jaxlstm.init(jax.random.key(5), I, H, num_layers=2)
    xs = normal(1, (B, T, I))
    clean, clean_state = evaluation(params, xs)

    model = LSTM.from_params(params, **NOISE, rngs=nnx.Rngs(dropout=11))
    np.testing.assert_array_equal(model(xs, deterministic=True)[0], clean)
    np.testing.assert_array_equal(nnx.view(model, deterministic=True)(xs)[0], clean)
    model.eval()
    ys, state = model(xs)
    np.testing.assert_array_equal(ys, clean)
    assert_trees_equal(state, clean_state)
    model.train()
    first, _ = model(xs)
    second, _ = model(xs)
    assert not np.allclose(first, clean) and not np.allclose(first, second)  # a fresh key per call

    # the masks are those of jaxlstm.lstm with the keys of the same "dropout" stream
    stream = nnx.Rngs(dropout=11)["dropout"].fork()
    expected, _ = jaxlstm.lstm(params, xs.swapaxes(0, 1), **NOISE, key=stream())
    np.testing.assert_array_equal(first, expected.swapaxes(0, 1))
    again = LSTM.from_params(params, **NOISE, rngs=nnx.Rngs(dropout=11))
    np.testing.assert_array_equal(again(xs)[0], first)
    built = LSTM(I, H, num_layers=2, **NOISE, rngs=nnx.Rngs(params=0, dropout=11))
    built_again = LSTM(I, H, num_layers=2, **NOISE, rngs=nnx.Rngs(params=0, dropout=11))
    np.testing.assert_array_equal(built(xs)[0], built_again(xs)[0])


def test_nnx_starts_deterministic_when_asked():
    params = jaxlstm.init(jax.random.key(5), I, H, num_layers=2)
    xs = normal(1, (B, T, I))
    model = LSTM.from_params(params, **NOISE, deterministic=True)  # no rngs: evaluation only
    np.testing.assert_array_equal(model(xs)[0], evaluation(params, xs)[0])


def test_linen_deterministic_is_the_evaluation_mode_and_training_is_reproducible():
    model = jlinen.LSTM(H, num_layers=2, **NOISE)
    xs = normal(2, (B, T, I))
    variables = model.init(jax.random.key(0), xs, deterministic=True)
    clean, _ = evaluation(variables["params"]["lstm_params"], xs)
    clean = clean.swapaxes(0, 1)  # time-major, as the rest of this test compares
    np.testing.assert_array_equal(model.apply(variables, xs, deterministic=True)[0], clean.swapaxes(0, 1))
    as_attribute = jlinen.LSTM(H, num_layers=2, **NOISE, deterministic=True)
    np.testing.assert_array_equal(as_attribute.apply(variables, xs)[0], clean.swapaxes(0, 1))

    def train(seed):
        return model.apply(variables, xs, deterministic=False, rngs={"dropout": jax.random.key(seed)})[0]

    np.testing.assert_array_equal(train(1), train(1))
    assert not np.allclose(train(1), clean.swapaxes(0, 1)) and not np.allclose(train(1), train(2))
    # the call's deterministic wins over the attribute
    assert not np.allclose(
        as_attribute.apply(variables, xs, deterministic=False, rngs={"dropout": jax.random.key(1)})[0],
        clean.swapaxes(0, 1),
    )


@pytest.mark.parametrize("variant", ["vanilla", "peephole", "LSTMP"])
def test_rnn_of_cell_equals_functional(variant):
    variant = jaxlstm.Variant(proj_size=3) if variant == "LSTMP" else variant
    cell = jaxlstm.init_cell(jax.random.key(6), I, H, variant=variant)
    xs = normal(10, (T, B, I))
    ys_ref, (h_ref, c_ref) = jaxlstm.lstm(cell, xs)
    (c, h), ys = nnx.RNN(LSTMCell.from_params(cell), time_major=True, return_carry=True)(xs)
    assert_close(ys, ys_ref, "reordered")
    assert_close(h, h_ref[0], "reordered")
    assert_close(c, c_ref[0], "reordered")
    rnn = nn.RNN(jlinen.LSTMCell(H, variant=variant), time_major=True, return_carry=True)
    (c, h), ys = rnn.apply({"params": {"cell": {"cell_params": cell}}}, xs)
    assert_close(ys, ys_ref, "reordered")
    assert_close(c, c_ref[0], "reordered")


# ---------------------------------------------------------------- drop-in for OptimizedLSTMCell

def valid_mask(lengths, time_axis):
    """True where a step lies inside its sequence (Flax leaves the rest unspecified)."""
    mask = np.arange(T)[:, None] < np.asarray(lengths)[None]
    return mask if time_axis == 0 else mask.T


def test_linen_bidirectional_equals_optimized_lstm_cell_and_functional():
    def bidirectional(cell):
        return nn.Bidirectional(nn.RNN(cell(H)), nn.RNN(cell(H)), return_carry=True)

    flax_vars = bidirectional(nn.OptimizedLSTMCell).init(jax.random.key(1), jnp.zeros((B, T, I)))
    cells = {name: from_flax(flax_vars["params"][name]["cell"]) for name in ("forward_rnn", "backward_rnn")}
    ours_vars = {"params": {name: {"cell": {"cell_params": cell}} for name, cell in cells.items()}}
    xs = normal(9, (B, T, I))
    lengths = jnp.array([T, 4, 1])
    (carry_f, carry_b), ys = bidirectional(jlinen.LSTMCell).apply(ours_vars, xs, seq_lengths=lengths)
    (flax_f, flax_b), ys_flax = bidirectional(nn.OptimizedLSTMCell).apply(flax_vars, xs, seq_lengths=lengths)
    valid = valid_mask(lengths, time_axis=1)
    assert_close(np.asarray(ys)[valid], np.asarray(ys_flax)[valid], "framework")
    for ours, theirs in ((carry_f, flax_f), (carry_b, flax_b)):
        assert_close(ours[0], theirs[0], "framework")
        assert_close(ours[1], theirs[1], "framework")
    # the same two cells as one bidirectional jaxlstm stack (PackedSequence semantics)
    stack = jaxlstm.LSTMParams(layers=((cells["forward_rnn"], cells["backward_rnn"]),))
    ys_ref, (h_ref, c_ref) = jaxlstm.lstm(stack, xs.swapaxes(0, 1), seq_lengths=lengths)
    assert_close(np.asarray(ys)[valid], np.asarray(ys_ref.swapaxes(0, 1))[valid], "reordered")
    assert_close(carry_b[1], h_ref[1], "reordered")


# ---------------------------------------------------------------- training and checkpoints

class Regressor(nnx.Module):
    """An LSTM and a linear readout of its last output."""

    def __init__(self, *, rngs):
        self.lstm = LSTM(2, 16, recurrent_dropout=0.1, rngs=rngs)
        self.readout = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, xs):
        ys, _ = self.lstm(xs)
        return self.readout(ys[:, -1])[:, 0]


def regression_batch(seed):
    """Predict the sum of the first feature over the sequence (the adding problem, unmarked)."""
    xs = normal(seed, (32, 8, 2))
    return xs, xs[..., 0].sum(-1) / 4


def train(model, steps, compilations):
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    traces = []

    @nnx.jit
    def step(model, optimizer, xs, target):
        traces.append(1)

        def loss_fn(model):
            return jnp.mean(jnp.square(model(xs) - target))

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        # optax's adam computes its bias correction as float ** int32 step count, which strict
        # dtype promotion (set in conftest.py) refuses.
        with jax.numpy_dtype_promotion("standard"):
            optimizer.update(model, grads)
        return loss

    batches = [regression_batch(i) for i in range(steps)]
    losses, compiled = [], []  # compiled: the programs compiled (or read back) so far, after each step
    del compilations[:]
    for xs, target in batches:
        losses.append(step(model, optimizer, xs, target))
        compiled.append(len(compilations))
    return np.asarray(losses), len(traces), compiled


def test_nnx_training_lowers_loss_without_recompiling_and_checkpoints(tmp_path, compilations):
    model = Regressor(rngs=nnx.Rngs(0))
    before = model.lstm.lstm_params
    losses, traces, compiled = train(model, steps=40, compilations=compilations)
    assert traces == 1 and compiled[0] > 0 and compiled[-1] == compiled[0]  # compiled once, at step 1
    assert losses[-5:].mean() < 0.5 * losses[:5].mean()
    changed = jax.tree.map(lambda a, b: bool((a != b).any()), before, model.lstm.lstm_params)
    assert all(jax.tree.leaves(changed))  # every weight of the LSTM was trained

    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "model", nnx.state(model))
    checkpointer.wait_until_finished()
    graphdef, abstract_state = nnx.split(nnx.eval_shape(lambda: Regressor(rngs=nnx.Rngs(1))))
    restored = nnx.merge(graphdef, checkpointer.restore(tmp_path / "model", abstract_state))
    assert_trees_equal(restored.lstm.lstm_params, model.lstm.lstm_params)
    xs, _ = regression_batch(99)
    model.eval()
    restored.eval()
    np.testing.assert_array_equal(restored(xs), model(xs))
    fresh = Regressor(rngs=nnx.Rngs(2))
    nnx.update(fresh, checkpointer.restore(tmp_path / "model", nnx.state(fresh)))
    fresh.eval()
    np.testing.assert_array_equal(fresh(xs), model(xs))


# ---------------------------------------------------------------- errors

def nnx_model(**options):
    return LSTM.from_params(jaxlstm.init(jax.random.key(0), I, H), **options)


def nnx_cell(**options):
    return LSTMCell.from_params(jaxlstm.init_cell(jax.random.key(0), I, H, **options))


def linen_cell_step(carry, x):
    return jlinen.LSTMCell(H).init(jax.random.key(0), carry, x)


GOOD_CARRY = (jnp.zeros((B, H)), jnp.zeros((B, H)))

ERRORS = [
    (lambda: LSTM(I, H, rngs=0), TypeError, r"rngs must be an nnx.Rngs; got int. Hint: rngs=nnx.Rngs\(0\)"),
    (lambda: LSTMCell(I, H, rngs=jax.random.key(0)), TypeError, r"rngs must be an nnx.Rngs; got"),
    (lambda: nnx_model(rngs=0), TypeError, r"rngs must be an nnx.Rngs or None; got int"),
    (lambda: LSTM.from_params({"V": 1}), TypeError, r"params must be the LSTMParams of jaxlstm.init"),
    (lambda: LSTMCell.from_params(jaxlstm.init(jax.random.key(0), I, H)), TypeError,
     r"cell must be a jaxlstm.CellParams; got LSTMParams. Hint: pass one layer and direction, params.layers\[l\]\[d\]"),
    (lambda: LSTMCell.from_params({"V": 1}), TypeError,
     r"cell must be a jaxlstm.CellParams; got dict. Hint: make it with jaxlstm.init_cell or jaxlstm.interop.from_flax"),
    (lambda: LSTMCell(I, H, matmul_dtype=jnp.int8, rngs=nnx.Rngs(0)), TypeError,
     r"matmul_dtype must be None or a floating dtype"),
    (lambda: nnx_model(dropout=0.1, zoneout=0.2)(jnp.ones((B, T, I))), ValueError,
     r"LSTM has dropout=0.1, recurrent_dropout=0.0 and zoneout=0.2 but no rngs to draw their masks "
     r"from. Hint: LSTM.from_params\(params, ..., rngs=nnx.Rngs\(dropout=0\)\) to train, or model.eval\(\)"),
    (lambda: nnx_model()(jnp.ones(I)), ValueError,
     r"xs has shape \(4,\); expected \(\*batch, T, input_size\), a sequence with at least a time axis"),
    (lambda: nnx_model(time_major=True)(jnp.ones(I)), ValueError,
     r"xs has shape \(4,\); expected \(T, \*batch, input_size\)"),
    (lambda: nnx_model()(jnp.ones((B, T, 7))), ValueError,
     r"xs has shape \(3, 6, 7\); expected \(\*batch, T, 4\): its last axis must be the params' input size 4"),
    (lambda: nnx_model()(jnp.ones((B, T, I)), seq_lengths=jnp.ones(T, jnp.int32)), ValueError,
     r"seq_lengths has shape \(6,\); expected the batch shape \(3,\) of xs, which has shape \(3, 6, 4\) = "
     r"\(\*batch, T, features\): one length per sequence. xs looks time-major \(T, \*batch, features\): "
     r"build the module with time_major=True."),
    (lambda: nnx_model()(jnp.ones((B, T, I)), seq_lengths=jnp.ones(2, jnp.int32)), ValueError,
     r"seq_lengths has shape \(2,\); expected the batch shape \(3,\) of xs, which has shape \(3, 6, 4\) = "
     r"\(\*batch, T, features\): one length per sequence.$"),
    (lambda: nnx_cell()(GOOD_CARRY, jnp.float32(1.0)), ValueError,
     r"x has shape \(\); expected \(\*batch, input_size\), one time step with a feature axis"),
    (lambda: nnx_cell()(GOOD_CARRY, jnp.ones((B, 7))), ValueError,
     r"x has shape \(3, 7\); expected \(\*batch, 4\), one time step with the cell's 4 input features. "
     r"Hint: a whole sequence goes through flax's RNN\(cell\)"),
    (lambda: nnx_cell()(jnp.zeros((B, H)), jnp.ones((B, I))), TypeError,
     r"carry must be a pair \(c, h\), as from initialize_carry; got ArrayImpl"),
    (lambda: nnx_cell(variant=jaxlstm.Variant(proj_size=2))((jnp.zeros((B, 2)), jnp.zeros((B, H))), jnp.ones((B, I))),
     ValueError,
     r"carry \(c, h\) has shapes \(\(3, 2\), \(3, 5\)\); expected \(\(3, 5\), \(3, 2\)\) for x of shape "
     r"\(3, 4\). Hint: Flax's carry is \(c, h\), c first \(jaxlstm's LSTMState is \(h, c\)\)"),
    (lambda: linen_cell_step((jnp.zeros((B, H)), jnp.zeros((2, H))), jnp.ones((B, I))), ValueError,
     r"carry \(c, h\) has shapes \(\(3, 5\), \(2, 5\)\); expected \(\(3, 5\), \(3, 5\)\)"),
    (lambda: linen_cell_step(GOOD_CARRY, jnp.float32(1.0)), ValueError, r"x has shape \(\); expected"),
    (lambda: jlinen.LSTM(H, recurrent_dropout=0.1).init(jax.random.key(0), jnp.ones((B, T, I))), ValueError,
     r"LSTM has dropout=0.0, recurrent_dropout=0.1 and zoneout=0.0, so it needs to know whether it is "
     r"training: pass deterministic=False \(training, with rngs=\{'dropout': key\} to apply\) or "
     r"deterministic=True \(evaluation\)"),
    (lambda: jlinen.LSTM(H).init(jax.random.key(0), jnp.ones(I)), ValueError,
     r"xs has shape \(4,\); expected \(\*batch, T, input_size\)"),
]


@pytest.mark.parametrize("make_error, error, message", ERRORS)
def test_errors(make_error, error, message):
    with pytest.raises(error, match=message):
        make_error()


@pytest.mark.parametrize("time_major", [False, True])
def test_resets_initialize_carry_and_step_equal_the_functional_call(time_major):
    """Both stacks take resets in their layout; stepping one observation at a time from
    initialize_carry equals the call over the sequence; the learned initial state trains."""
    resets_tm = jnp.zeros((T, B), bool).at[2, 0].set(True).at[4, 2].set(True)
    resets = resets_tm if time_major else resets_tm.T
    model = LSTM(I, H, num_layers=2, learn_initial_state=True, time_major=time_major, rngs=nnx.Rngs(0))
    params = jax.tree.map(lambda a: a + 0.3, model.lstm_params)  # a learned state away from zero
    model = LSTM.from_params(params, time_major=time_major)
    xs, xs_tm, _, _ = inputs(params, time_major)
    expected, final = jaxlstm.lstm(params, xs_tm, resets=resets_tm)
    ys, state = model(xs, resets=resets)
    np.testing.assert_array_equal(ys, expected if time_major else expected.swapaxes(0, 1))
    linen = jlinen.LSTM(hidden_size=H, num_layers=2, learn_initial_state=True, time_major=time_major)
    variables = {"params": {"lstm_params": params}}
    np.testing.assert_array_equal(linen.apply(variables, xs, resets=resets)[0], ys)

    step_axis = 0 if time_major else 1
    carry = model.initialize_carry((B, I))
    linen_carry = linen.apply(variables, (B, I), method="initialize_carry")
    assert_trees_equal(carry, jaxlstm.initial_state(params, (B,)))
    assert_trees_equal(linen_carry, carry)
    outputs = []
    for t in range(T):
        x, reset = jnp.take(xs, t, axis=step_axis), resets_tm[t]
        carry, y = model.step(carry, x, reset=reset)
        linen_carry, linen_y = linen.apply(variables, linen_carry, x, reset=reset, method="step")
        np.testing.assert_array_equal(linen_y, y)
        outputs.append(y)
    assert_close(jnp.stack(outputs, step_axis), ys, "reordered")
    assert_close(carry.h, final.h, "reordered")

    grads = nnx.grad(lambda m: jnp.sum(m(xs, resets=resets)[0]))(model)
    assert jnp.any(grads.params["layers"][0][0]["h0"][...] != 0)


def test_stack_wrappers_refuse_bad_resets_and_an_unbound_initialize_carry():
    model = LSTM(I, H, rngs=nnx.Rngs(0))
    xs = jnp.ones((B, T, I))
    with pytest.raises(ValueError, match=r"resets has shape \(6, 3\); expected \(\*batch, T\) = \(3, 6\).*time-major"):
        model(xs, resets=jnp.zeros((T, B), bool))
    with pytest.raises(ValueError, match="initialize_carry reads the module's params"):
        jlinen.LSTM(hidden_size=H).initialize_carry((B, I))
    with pytest.raises(ValueError, match="input_shape must be the shape of one step's input"):
        model.initialize_carry(3)


def test_import_jaxlstm_does_not_import_jaxlstm_flax():
    code = "import sys, jaxlstm; print('jaxlstm.flax' in sys.modules, 'flax' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
