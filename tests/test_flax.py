"""Outputs equal Flax's ``OptimizedLSTMCell`` (linen and nnx, under ``RNN``) with copied weights."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxlstm

T, B, I, H = 7, 4, 3, 5
TOL = dict(rtol=1e-5, atol=1e-5)


def setup(seed):
    cell = jaxlstm.init_cell(jax.random.key(seed), I, H)
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.normal(size=(T, B, I)), jnp.float32)
    h0, c0 = (jnp.asarray(rng.normal(size=(B, H)), jnp.float32) for _ in range(2))
    return cell, xs, h0, c0


def linen_params(cell):
    """Flax linen's eight Dense params from V and b: i* act on x, h* on h and carry the bias."""
    params = {}
    for k, gate in enumerate("ifgo"):
        columns = slice(k * H, (k + 1) * H)
        params["i" + gate] = {"kernel": cell.V[H:, columns]}
        params["h" + gate] = {"kernel": cell.V[:H, columns], "bias": cell.b[columns]}
    return {"params": {"cell": params}}


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [7, 1, 4, 6]])
def test_equals_linen_optimized_lstm_cell(reverse, lengths):
    cell, xs, h0, c0 = setup(0)
    rnn = nn.RNN(nn.OptimizedLSTMCell(features=H), time_major=True, return_carry=True,
                 reverse=reverse, keep_order=True)
    seq_lengths = None if lengths is None else jnp.array(lengths)
    (c_flax, h_flax), ys_flax = rnn.apply(linen_params(cell), xs, initial_carry=(c0, h0), seq_lengths=seq_lengths)
    ys, (h, c) = jaxlstm.lstm(cell, xs, jaxlstm.LSTMState(h0[None], c0[None]), seq_lengths=seq_lengths,
                              reverse=reverse)
    valid = np.ones((T, B), bool) if lengths is None else np.arange(T)[:, None] < np.array(lengths)[None]
    # Flax leaves the outputs past each sequence's end unspecified; jaxlstm zeroes them.
    np.testing.assert_allclose(np.asarray(ys)[valid], np.asarray(ys_flax)[valid], **TOL)
    np.testing.assert_allclose(h[0], h_flax, **TOL)
    np.testing.assert_allclose(c[0], c_flax, **TOL)


def test_equals_nnx_optimized_lstm_cell():
    cell, xs, h0, c0 = setup(1)
    flax_cell = nnx.OptimizedLSTMCell(I, H, rngs=nnx.Rngs(0))
    flax_cell.dense_i.kernel[...] = cell.V[H:]
    flax_cell.dense_h.kernel[...] = cell.V[:H]
    flax_cell.dense_h.bias[...] = cell.b
    rnn = nnx.RNN(flax_cell, time_major=True, return_carry=True)
    (c_flax, h_flax), ys_flax = rnn(xs, initial_carry=(c0, h0))
    ys, (h, c) = jaxlstm.lstm(cell, xs, jaxlstm.LSTMState(h0[None], c0[None]))
    np.testing.assert_allclose(ys, ys_flax, **TOL)
    np.testing.assert_allclose(h[0], h_flax, **TOL)
    np.testing.assert_allclose(c[0], c_flax, **TOL)
