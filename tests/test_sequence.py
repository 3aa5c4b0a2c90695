"""``lstm``: scan equals a loop of the step, the float64 NumPy reference, jit, vmap and remat."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from tolerance import assert_close
from jax.test_util import check_grads

import jaxlstm
from jaxlstm.interop import to_torch
from jaxlstm.sequence import _dropout

T, B, I, H = 6, 3, 4, 5


def random_inputs(seed, num_layers=1, directions=1, dtype=jnp.float32, batch=(B,), steps=T):
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.normal(size=(steps, *batch, I)), dtype)
    shape = (num_layers * directions, *batch, H)
    state = jaxlstm.LSTMState(jnp.asarray(rng.normal(size=shape), dtype), jnp.asarray(rng.normal(size=shape), dtype))
    return xs, state


def test_scan_equals_loop_of_step():
    cell = jaxlstm.init_cell(jax.random.key(0), I, H)
    xs, state = random_inputs(0)
    for reverse in (False, True):
        ys, final = jaxlstm.lstm(cell, xs, state, reverse=reverse)
        carry, outputs = jaxlstm.LSTMState(state.h[0], state.c[0]), [None] * T
        for t in reversed(range(T)) if reverse else range(T):
            carry, outputs[t] = jaxlstm.lstm_step(cell, carry, xs[t])
        assert_close(ys, jnp.stack(outputs), "reordered")
        assert_close(final.h[0], carry.h, "reordered")
        assert_close(final.c[0], carry.c, "reordered")


CONFIGS = [
    # num_layers, bidirectional, seq_lengths, reverse, random initial state
    (1, False, None, False, False),
    (1, False, None, True, True),
    (1, False, [6, 0, 3], False, True),
    (1, False, [6, 0, 3], True, True),
    (2, False, [2, 6, 1], False, True),
    (1, True, None, False, True),
    (3, True, [5, 0, 6], False, True),
]


@pytest.mark.parametrize(("num_layers", "bidirectional", "lengths", "reverse", "with_state"), CONFIGS)
def test_equals_float64_numpy_reference(x64, num_layers, bidirectional, lengths, reverse, with_state):
    D = 2 if bidirectional else 1
    params = jaxlstm.init(jax.random.key(1), I, H, num_layers=num_layers, bidirectional=bidirectional,
                          dtype=jnp.float64)
    xs, state = random_inputs(1, num_layers, D, jnp.float64)
    state = state if with_state else None
    seq_lengths = None if lengths is None else jnp.array(lengths)
    ys, (h, c) = jaxlstm.lstm(params, xs, state, seq_lengths=seq_lengths, reverse=reverse)
    h0, c0 = (None, None) if state is None else state
    ys_ref, h_ref, c_ref = reference.lstm(to_torch(params), xs, h0, c0, lengths, reverse=reverse)
    assert_close(ys, ys_ref, "reference")
    assert_close(h, h_ref, "reference")
    assert_close(c, c_ref, "reference")


def test_seq_lengths_semantics():
    """Zero past each end; final state from each own last step; length 0 keeps the initial state."""
    params = jaxlstm.init(jax.random.key(2), I, H, bidirectional=True)
    xs, state = random_inputs(2, 1, 2)
    lengths = jnp.array([T, 0, 4])
    ys, final = jaxlstm.lstm(params, xs, state, seq_lengths=lengths)
    assert not np.any(ys[4:, 2]) and not np.any(ys[:, 1])
    np.testing.assert_array_equal(final.h[:, 1], state.h[:, 1])
    np.testing.assert_array_equal(final.c[:, 1], state.c[:, 1])
    short, short_final = jaxlstm.lstm(params, xs[:4, 2:], jaxlstm.LSTMState(state.h[:, 2:], state.c[:, 2:]))
    assert_close(ys[:4, 2:], short, "reordered")
    assert_close(final.h[:, 2:], short_final.h, "reordered")
    full, full_final = jaxlstm.lstm(params, xs, state)
    assert_close(ys[:, 0], full[:, 0], "reordered")
    assert_close(final.h[:, 0], full_final.h[:, 0], "reordered")


def test_empty_sequence_returns_initial_state():
    params = jaxlstm.init(jax.random.key(3), I, H, num_layers=2, bidirectional=True)
    xs, state = random_inputs(3, 2, 2, steps=0)
    ys, final = jaxlstm.lstm(params, xs, state)
    assert ys.shape == (0, B, 2 * H)
    np.testing.assert_array_equal(final.h, state.h)
    np.testing.assert_array_equal(final.c, state.c)


@pytest.mark.parametrize("lengths", [None, [6, 2, 0]])
def test_jit_equals_no_jit(lengths):
    params = jaxlstm.init(jax.random.key(4), I, H, num_layers=2, bidirectional=True)
    xs, state = random_inputs(4, 2, 2)
    seq_lengths = None if lengths is None else jnp.array(lengths)
    eager = jaxlstm.lstm(params, xs, state, seq_lengths=seq_lengths)
    jitted = jax.jit(jaxlstm.lstm)(params, xs, state, seq_lengths=seq_lengths)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
        assert_close(a, b, "reordered")


def test_vmap_equals_leading_batch_dims():
    params = jaxlstm.init(jax.random.key(5), I, H, num_layers=2)
    xs, state = random_inputs(5, 2, 1, batch=(2, 3))
    lengths = jnp.array([[6, 1, 0], [3, 6, 5]])
    batched = jaxlstm.lstm(params, xs, state, seq_lengths=lengths)
    one = lambda xs, h, c, n: jaxlstm.lstm(params, xs, jaxlstm.LSTMState(h, c), seq_lengths=n)
    mapped = jax.vmap(jax.vmap(one, in_axes=(1, 1, 1, 0), out_axes=(1, 1)), in_axes=(1, 1, 1, 0), out_axes=(1, 1))
    unbatched = mapped(xs, state.h, state.c, lengths)
    for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(unbatched)):
        assert_close(a, b, "reordered")
    flat = jaxlstm.lstm(params, xs.reshape(T, 6, I), jaxlstm.LSTMState(state.h.reshape(2, 6, H), state.c.reshape(2, 6, H)),
                        seq_lengths=lengths.reshape(6))
    assert_close(batched[0].reshape(T, 6, H), flat[0], "reordered")


def value_and_grads(params, xs, state, **kwargs):
    def loss(params, xs, state):
        ys, (h, c) = jaxlstm.lstm(params, xs, state, seq_lengths=jnp.array([6, 3, 0]), **kwargs)
        return jnp.sum(jnp.sin(ys)) + jnp.sum(h * c)

    return jax.value_and_grad(loss, argnums=(0, 1, 2))(params, xs, state)


@pytest.mark.parametrize("options", [dict(remat=True), dict(unroll=3), dict(unroll=True), dict(remat=True, unroll=2)])
def test_remat_and_unroll_equal_plain_scan(options):
    params = jaxlstm.init(jax.random.key(6), I, H, num_layers=2, bidirectional=True)
    xs, state = random_inputs(6, 2, 2)
    plain = value_and_grads(params, xs, state)
    other = jax.jit(functools.partial(value_and_grads, **options))(params, xs, state)
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(other)):
        assert_close(a, b, "accumulated")


@pytest.mark.parametrize(("num_layers", "bidirectional", "impl"), [
    (1, False, "auto"), (2, False, "auto"), (1, True, "auto"), (2, True, "auto"), (2, True, "reference"),
])
def test_check_grads(x64, num_layers, bidirectional, impl):
    D = 2 if bidirectional else 1
    params = jaxlstm.init(jax.random.key(7), 3, 2, num_layers=num_layers, bidirectional=bidirectional,
                          dtype=jnp.float64)
    rng = np.random.default_rng(7)
    xs = jnp.asarray(rng.normal(size=(4, 3, 3)))
    state = jaxlstm.LSTMState(*(jnp.asarray(rng.normal(size=(num_layers * D, 3, 2))) for _ in range(2)))
    lengths = jnp.array([4, 2, 0])

    def f(params, xs, state):
        ys, final = jaxlstm.lstm(params, xs, state, seq_lengths=lengths, impl=impl)
        return ys, final

    # The fast path is a custom_vjp: reverse mode, and reverse over reverse; forward mode
    # (jvp, jacfwd) needs impl="reference".
    modes = ("fwd", "rev") if impl == "reference" else ("rev",)
    check_grads(jax.jit(f), (params, xs, state), order=2 if impl == "auto" and num_layers == 1 else 1, modes=modes)


def test_dropout_masks_the_input_of_every_layer_but_the_first():
    params = jaxlstm.init(jax.random.key(8), I, H, num_layers=2)
    xs, _ = random_inputs(8)
    key = jax.random.key(9)
    ys, final = jaxlstm.lstm(params, xs, dropout=0.5, key=key)
    first = jaxlstm.LSTMParams(params.layers[:1])
    second = jaxlstm.LSTMParams(params.layers[1:])
    hidden, (h0, _) = jaxlstm.lstm(first, xs)
    dropout_key = jax.random.split(key, 3)[0]
    expected, (h1, _) = jaxlstm.lstm(second, _dropout(jax.random.fold_in(dropout_key, 1), hidden, 0.5))
    assert_close(ys, expected, "reordered")
    assert_close(final.h, jnp.concatenate([h0, h1]), "reordered")
    no_dropout, _ = jaxlstm.lstm(params, xs)
    other_key, _ = jaxlstm.lstm(params, xs, dropout=0.5, key=jax.random.key(10))
    same_key, _ = jaxlstm.lstm(params, xs, dropout=0.5, key=key)
    assert not np.allclose(ys, no_dropout) and not np.allclose(ys, other_key)
    np.testing.assert_array_equal(ys, same_key)
    np.testing.assert_array_equal(jaxlstm.lstm(params, xs, dropout=0.0, key=key)[0], no_dropout)


def test_dropout_drops_at_the_rate_and_keeps_the_mean():
    xs = jnp.ones((200, 100))
    dropped = np.asarray(_dropout(jax.random.key(0), xs, 0.3))
    assert_close(np.unique(dropped), [0.0, 1 / 0.7], "reference")
    assert abs((dropped == 0).mean() - 0.3) < 0.01


def test_dropout_on_one_layer_warns():
    params = jaxlstm.init(jax.random.key(0), I, H)
    xs, _ = random_inputs(0)
    with pytest.warns(UserWarning, match="no effect on a 1-layer stack"):
        jaxlstm.lstm(params, xs, dropout=0.2, key=jax.random.key(1))
