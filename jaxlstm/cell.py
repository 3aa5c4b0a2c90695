"""The LSTM step: pure gate math for one time step, no loops and no validation.

With ``V = [U; W]`` stacked over the four gates, one step is one matmul::

    z  = [h(t-1), x(t)] @ V + b              # (..., 4H)
    i, f, g, o = split(z, 4)                 # gate order i, f, g, o
    c(t) = sigmoid(f) * c(t-1) + sigmoid(i) * tanh(g)
    h(t) = sigmoid(o) * tanh(c(t))

Every gate projects ``[h; x]`` (size H + I) back to size H, which is why ``h(t)`` has the size of
``h(t-1)`` at every step.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from jaxlstm.params import CellParams

__all__ = ["LSTMState", "lstm_step", "matmul"]


class LSTMState(NamedTuple):
    """The recurrent state, ``h`` first (as PyTorch; Flax's carry is ``(c, h)``)."""

    h: Array
    c: Array


def matmul(a: Array, b: Array, dtype=None) -> Array:
    """``a @ b``; with ``dtype`` (e.g. ``jnp.bfloat16``), the operands are cast to it and the
    products accumulated and returned in ``a``'s dtype: fast matrix units, full-precision state."""
    if dtype is None:
        return a @ b
    return jnp.matmul(a.astype(dtype), b.astype(dtype), preferred_element_type=a.dtype)


def lstm_step(
    params: CellParams, state: tuple[Array, Array], x: Array, *, matmul_dtype=None
) -> tuple[LSTMState, Array]:
    """One LSTM step: ``((h, c), x) -> ((h', c'), h')``, the body of ``jax.lax.scan``.

    Args:
        params: one layer's ``CellParams`` (``V`` of shape ``(H + I, 4H)``, ``b`` of ``(4H,)``).
        state: ``(h, c)``, each ``(*batch, H)``.
        x: ``(*batch, I)``, the input at this step.
        matmul_dtype: None, or a dtype such as ``jnp.bfloat16`` for the matmul's operands
            (accumulated in the params' dtype); see :func:`matmul`.

    Returns:
        ``(LSTMState(h', c'), h')``: the new state and the output, which is the new ``h``.

    Example:
        >>> import jax, jax.numpy as jnp, jaxlstm
        >>> cell = jaxlstm.init_cell(jax.random.key(0), input_size=2, hidden_size=3)
        >>> state = jaxlstm.LSTMState(h=jnp.zeros(3), c=jnp.zeros(3))
        >>> (h, c), y = jaxlstm.lstm_step(cell, state, jnp.ones(2))
        >>> h.shape, c.shape, bool((y == h).all())
        ((3,), (3,), True)
    """
    h, c = state
    z = matmul(jnp.concatenate([h, x], axis=-1), params.V, matmul_dtype)
    z = z + jnp.broadcast_to(params.b, z.shape)  # explicit: users may forbid rank promotion
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return LSTMState(h, c), h
