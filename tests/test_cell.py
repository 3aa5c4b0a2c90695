"""``lstm_step``: the fused matmul equals the separate gate matrices and the NumPy reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from tolerance import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlstm
from jaxlstm.interop import to_torch

SIZES = st.tuples(st.integers(1, 9), st.integers(1, 9))


def gate_matrices(cell, gate):
    """W (H, I), U (H, H) and b (H,) of one gate, in the column convention ``W @ x + U @ h``."""
    H = cell.hidden_size
    columns = slice(gate * H, (gate + 1) * H)
    return cell.V[H:, columns].T, cell.V[:H, columns].T, cell.b[columns]


def check_identity(input_size, hidden_size, seed):
    """W @ x + U @ h == V @ [h; x] for each gate, and the fused z holds all four gates."""
    cell = jax.tree.map(np.asarray, jaxlstm.init_cell(jax.random.key(seed), input_size, hidden_size, dtype=jnp.float64))
    rng = np.random.default_rng(seed)
    x, h = rng.normal(size=input_size), rng.normal(size=hidden_size)
    z = np.concatenate([h, x]) @ cell.V
    for gate in range(4):
        W, U, _ = gate_matrices(cell, gate)
        assert W.shape == (hidden_size, input_size) and U.shape == (hidden_size, hidden_size)
        V = np.concatenate([U, W], axis=1)
        assert V.shape == (hidden_size, hidden_size + input_size)
        assert_close(V @ np.concatenate([h, x]), W @ x + U @ h, "reordered")
        assert_close(z[gate * hidden_size : (gate + 1) * hidden_size], W @ x + U @ h, "reordered")


def test_identity_h3_i2(x64):
    check_identity(input_size=2, hidden_size=3, seed=0)


@settings(max_examples=6, deadline=None)
@given(SIZES, st.integers(0, 2**16))
def test_identity_random_sizes(sizes, seed):
    with jax.enable_x64(True):
        check_identity(*sizes, seed)


@settings(max_examples=6, deadline=None)
@given(SIZES, st.integers(0, 2**16))
def test_step_equals_numpy_reference(sizes, seed):
    input_size, hidden_size = sizes
    with jax.enable_x64(True):
        cell = jaxlstm.init_cell(jax.random.key(seed), input_size, hidden_size, dtype=jnp.float64)
        rng = np.random.default_rng(seed)
        x, h, c = rng.normal(size=input_size), rng.normal(size=hidden_size), rng.normal(size=hidden_size)
        (h_new, c_new), y = jax.jit(jaxlstm.lstm_step)(cell, jaxlstm.LSTMState(h, c), x)
        sd = to_torch(cell)
        weights = [sd[k + "_l0"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h_ref, c_ref = reference.step(weights, h, c, x)
        assert_close(h_new, h_ref, "reference")
        assert_close(c_new, c_ref, "reference")
        np.testing.assert_array_equal(y, h_new)


@pytest.mark.parametrize("batch", [(), (5,), (2, 3)])
def test_leading_batch_dims_equal_vmap(batch):
    cell = jaxlstm.init_cell(jax.random.key(1), 4, 6)
    k_x, k_h, k_c = jax.random.split(jax.random.key(2), 3)
    x = jax.random.normal(k_x, (*batch, 4))
    state = jaxlstm.LSTMState(jax.random.normal(k_h, (*batch, 6)), jax.random.normal(k_c, (*batch, 6)))
    batched = jaxlstm.lstm_step(cell, state, x)
    step = lambda s, x: jaxlstm.lstm_step(cell, s, x)
    for _ in batch:
        step = jax.vmap(step)
    assert_close(jax.tree.leaves(batched), jax.tree.leaves(step(state, x)), "reordered")


def test_step_is_one_matmul():
    """The step's jaxpr holds exactly one dot_general: the four gates share one fused matmul."""
    cell = jaxlstm.init_cell(jax.random.key(0), 3, 4)
    state = jaxlstm.LSTMState(jnp.zeros((2, 4)), jnp.zeros((2, 4)))
    jaxpr = jax.make_jaxpr(jaxlstm.lstm_step)(cell, state, jnp.ones((2, 3)))
    dots = [eqn for eqn in jaxpr.jaxpr.eqns if eqn.primitive.name == "dot_general"]
    assert len(dots) == 1
    assert dots[0].outvars[0].aval.shape == (2, 16)


def test_check_grads_step(x64):
    from jax.test_util import check_grads

    cell = jaxlstm.init_cell(jax.random.key(3), 3, 2, dtype=jnp.float64)
    rng = np.random.default_rng(3)
    state = jaxlstm.LSTMState(jnp.asarray(rng.normal(size=(2, 2))), jnp.asarray(rng.normal(size=(2, 2))))
    check_grads(jax.jit(jaxlstm.lstm_step), (cell, state, jnp.asarray(rng.normal(size=(2, 3)))), order=2)
