"""``resets``: a packed row equals its segments run apart, and the learned initial state.

The separate runs are one call of the reference implementation: every segment is a row of its
own, padded and cut by ``seq_lengths``, starting from the state it starts from in the packed
row (the given state where the packed row carries it in, else the params' initial state).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, assert_trees_close

import jaxlstm

T, I, H = 9, 3, 4
# Per row: the steps where a segment starts, and the row's length. Row 0 resets at its first
# step (its given state is never used going forward); row 1 carries the given state into its
# first segment; both end with steps past their length, where a reset must do nothing.
STARTS = ((0, 4, 7), (3, 5))
LENGTHS = (8, 9)
RESET_PAST_THE_END = (8, 0)  # (step, row): a reset past row 0's length


def _resets():
    resets = np.zeros((T, len(STARTS)), bool)
    for row, starts in enumerate(STARTS):
        resets[list(starts), row] = True
    resets[RESET_PAST_THE_END] = True
    return jnp.asarray(resets)


def _params(num_layers, bidirectional, learn, variant="vanilla"):
    params = jaxlstm.init(jax.random.key(0), I, H, num_layers=num_layers, bidirectional=bidirectional,
                          variant=variant, learn_initial_state=learn, dtype=jnp.float64)
    if learn:  # a learned state away from zero, different in every cell
        keys = iter(jax.random.split(jax.random.key(1), 2 * num_layers * params.num_directions))
        params = jaxlstm.LSTMParams(tuple(tuple(
            jaxlstm.CellParams(**{**{f: getattr(cell, f) for f in cell.__dataclass_fields__},
                                  "h0": jax.random.normal(next(keys), cell.h0.shape, jnp.float64),
                                  "c0": jax.random.normal(next(keys), cell.c0.shape, jnp.float64)})
            for cell in layer) for layer in params.layers))
    return params


def _segments():
    """``(row, start, end, carries_state_forward, carries_state_backward)`` per segment."""
    out = []
    for row, (starts, length) in enumerate(zip(STARTS, LENGTHS)):
        bounds = list(starts) if starts[0] == 0 else [0, *starts]
        ends = [*bounds[1:], length]
        for k, (start, end) in enumerate(zip(bounds, ends)):
            out.append((row, start, end, k == 0 and starts[0] != 0, k == len(bounds) - 1))
    return out


def packed(params, xs, state, impl, remat):
    return jaxlstm.lstm(params, xs, state, resets=_resets(), seq_lengths=jnp.array(LENGTHS), impl=impl,
                        remat=remat)


def separate(params, xs, state):
    """What the packed call must give, from each segment run apart."""
    segments = _segments()
    D = params.num_directions
    initial = jaxlstm.initial_state(params, ())
    rows = jnp.stack([jnp.zeros((T, I), xs.dtype).at[: end - start].set(xs[start:end, row])
                      for row, start, end, _, _ in segments], axis=1)
    starting = [
        jaxlstm.LSTMState(*(jnp.stack([
            (s if (forward if index % D == 0 else backward) else i)[index]
            for index in range(len(i))]) for s, i in zip((state.h[:, row], state.c[:, row]), initial)))
        for row, _, _, forward, backward in segments
    ]
    start_state = jaxlstm.LSTMState(*(jnp.stack(parts, axis=1) for parts in zip(*starting)))
    ys, (h, c) = jaxlstm.lstm(params, rows, start_state, seq_lengths=jnp.array([e - s for _, s, e, _, _ in segments]),
                              impl="reference")
    out = jnp.zeros((T, len(STARTS), ys.shape[-1]), xs.dtype)
    for k, (row, start, end, _, _) in enumerate(segments):
        out = out.at[start:end, row].set(ys[: end - start, k])
    last = [max(k for k, seg in enumerate(segments) if seg[0] == row) for row in range(len(STARTS))]
    first = [min(k for k, seg in enumerate(segments) if seg[0] == row) for row in range(len(STARTS))]
    pick = lambda a: jnp.stack([a[index][jnp.array(last if index % D == 0 else first)] for index in range(len(a))])
    return out, jaxlstm.LSTMState(pick(h), pick(c))


def _outputs_and_grads(run):
    """``(params, xs, state) -> ((ys, final state), gradients)``: one compilation for both; the
    gradients are of a random mix of the outputs and the final state."""
    weights = jax.random.normal(jax.random.key(2), (3, T * 2 * 8))

    def loss(params, xs, state):
        ys, (h, c) = outputs = run(params, xs, state)
        parts = [jnp.sin(ys).ravel(), h.ravel(), c.ravel()]
        return sum(jnp.sum(p * w[: p.size].astype(p.dtype)) for p, w in zip(parts, weights)), outputs

    grad = jax.grad(loss, argnums=(0, 1, 2), has_aux=True)
    return jax.jit(lambda *args: grad(*args)[::-1])


def _inputs(params):
    rng = np.random.default_rng(3)
    xs = jnp.asarray(rng.normal(size=(T, len(STARTS), I)))
    shape = lambda size: (params.num_layers * params.num_directions, len(STARTS), size)
    state = jaxlstm.LSTMState(jnp.asarray(rng.normal(size=shape(params.output_size))),
                              jnp.asarray(rng.normal(size=shape(params.state_size))))
    return xs, state


@functools.cache
def _expected(num_layers, bidirectional, learn, variant="vanilla"):
    """The separate runs' outputs, final state and gradients, computed once per stack."""
    params = _params(num_layers, bidirectional, learn, variant)
    xs, state = _inputs(params)
    values, grads = _outputs_and_grads(separate)(params, xs, state)
    return params, xs, state, values, grads


def _check_packed(impl, remat, *stack):
    params, xs, state, values, grads = _expected(*stack)
    assert_trees_close(_outputs_and_grads(lambda p, x, s: packed(p, x, s, impl, remat))(params, xs, state),
                       (values, grads), "accumulated")


@pytest.mark.parametrize("remat", [False, "step", "sqrt"])
@pytest.mark.parametrize("impl", ["reference", "fused", "hoisted"])
def test_packed_rows_equal_their_segments_run_apart(x64, impl, remat):
    _check_packed(impl, remat, 2, True, True)


@pytest.mark.parametrize(("num_layers", "bidirectional", "learn", "variant", "impl"), [
    (1, False, False, "vanilla", "hoisted"),
    (1, True, False, "peephole", "fused"),
    (2, False, True, "FGR", "fused"),
    (1, False, True, "layer_norm", "reference"),
])
def test_packed_equals_separate_for_stacks_and_variants(x64, num_layers, bidirectional, learn, variant, impl):
    _check_packed(impl, False, num_layers, bidirectional, learn, variant)


def test_vmap_with_other_reset_steps_per_row_and_jit(x64):
    params, xs, _, _, _ = _expected(2, True, True)
    resets = _resets()
    batched, _ = jaxlstm.lstm(params, xs, resets=resets, impl="fused")
    per_row = jax.vmap(lambda x, r: jaxlstm.lstm(params, x, resets=r, impl="fused")[0], in_axes=1, out_axes=1)
    assert_close(jax.jit(per_row)(xs, resets), batched, "reordered")


def test_a_reset_at_every_step_is_one_step_from_the_initial_state(x64):
    params = _params(num_layers=1, bidirectional=False, learn=True)
    xs, state = _inputs(params)
    ys, _ = jaxlstm.lstm(params, xs, state, resets=jnp.ones(xs.shape[:-1], bool))
    initial = params.layers[0][0].initial_state((len(STARTS),))
    expected = jnp.stack([jaxlstm.lstm_step(params.layers[0][0], initial, x)[1] for x in xs])
    assert_close(ys, expected, "reordered")


def test_learned_initial_state_is_used_without_state_and_trained():
    params = jaxlstm.init(jax.random.key(0), I, H, num_layers=2, learn_initial_state=True)
    cell = params.layers[0][0]
    assert cell.h0.shape == (H,) and cell.c0.shape == (H,) and not jnp.any(cell.h0)
    assert jaxlstm.param_count(I, H, num_layers=2, learn_initial_state=True) == jaxlstm.param_count(
        I, H, num_layers=2) + 2 * 2 * H
    xs = jnp.ones((T, 2, I))
    moved = jax.tree.map(lambda a: a + 0.5, params)
    ys_default, _ = jaxlstm.lstm(moved, xs)
    ys_given, _ = jaxlstm.lstm(moved, xs, jaxlstm.initial_state(moved, (2,)))
    np.testing.assert_array_equal(ys_default, ys_given)
    grads = jax.grad(lambda p: jnp.sum(jaxlstm.lstm(p, xs)[0]))(params)
    assert jnp.any(grads.layers[0][0].h0) and jnp.any(grads.layers[1][0].c0)
    zero = jaxlstm.init(jax.random.key(0), I, H, num_layers=2)
    np.testing.assert_array_equal(jaxlstm.lstm(params, xs)[0], jaxlstm.lstm(zero, xs)[0])


def test_bad_resets_and_initial_states_are_refused():
    params = jaxlstm.init(jax.random.key(0), I, H)
    xs = jnp.ones((T, 2, I))
    with pytest.raises(TypeError, match="resets has dtype int32; expected bool"):
        jaxlstm.lstm(params, xs, resets=jnp.zeros((T, 2), jnp.int32))
    with pytest.raises(ValueError, match=r"resets has shape \(2,\); expected \(T, \*batch\) = \(9, 2\).*no time axis"):
        jaxlstm.lstm(params, xs, resets=jnp.zeros((2,), bool))
    with pytest.raises(ValueError, match=r"resets has shape \(2, 9\).*batch-major"):
        jaxlstm.lstm(params, xs, resets=jnp.zeros((2, T), bool))
    cell = params.layers[0][0]
    broken = jaxlstm.LSTMParams(((jaxlstm.CellParams(cell.V, cell.b, h0=jnp.zeros(H)),),))
    with pytest.raises(ValueError, match=r"learned initial state of shapes \{'h0': \(4,\)\}; expected h0 and c0"):
        jaxlstm.lstm(broken, xs)
    with pytest.raises(TypeError, match="learn_initial_state must be True or False"):
        jaxlstm.init(jax.random.key(0), I, H, learn_initial_state="yes")


@pytest.mark.parametrize("convert", ["to_torch", "to_flax", "to_keras", "to_haiku", "to_equinox", "to_tf1",
                                     "to_cudnn"])
def test_converters_refuse_a_learned_initial_state(convert):
    params = jaxlstm.init(jax.random.key(0), I, H, learn_initial_state=True)
    with pytest.raises(ValueError, match=r"has no learned initial state; these params have one \(h0, c0 in "
                                         r"params.layers\[0\]\[0\]"):
        getattr(jaxlstm.interop, convert)(params)


def test_resets_with_training_time_noise_equal_the_reference(x64):
    """Recurrent dropout and zoneout keep their masks across a reset; every path agrees."""
    params, xs, state, _, _ = _expected(2, True, True)
    noise = dict(resets=_resets(), seq_lengths=jnp.array(LENGTHS), dropout=0.2, recurrent_dropout=0.3,
                 zoneout=(0.2, 0.1), key=jax.random.key(7))
    run = lambda impl: _outputs_and_grads(lambda p, x, s: jaxlstm.lstm(p, x, s, impl=impl, **noise))(params, xs, state)
    expected = run("reference")
    for impl in ("fused", "hoisted"):
        assert_trees_close(run(impl), expected, "accumulated")
