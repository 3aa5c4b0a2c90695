"""The LSTM step: pure gate math for one time step, no loops and no validation.

With ``V = [U; W]`` stacked over the four gates, one step is one matmul::

    z  = [h(t-1), x(t)] @ V + b              # (..., 4H)
    i, f, g, o = split(z, 4)                 # gate order i, f, g, o
    c(t) = sigmoid(f) * c(t-1) + sigmoid(i) * tanh(g)
    h(t) = sigmoid(o) * tanh(c(t))

Every gate projects ``[h; x]`` (size H + I) back to size H, which is why ``h(t)`` has the size of
``h(t-1)`` at every step. These are the vanilla equations; the params' static
:class:`jaxlstm.Variant` selects others (peepholes, missing gates, layer norm, projection, ...),
all computed by :func:`cell_update` and :func:`cell_output` after the one matmul.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import Array

from jaxlstm import _validate
from jaxlstm.params import CellParams, LSTMState

__all__ = ["cell_output", "cell_update", "lstm_step", "matmul", "step"]


def matmul(a: Array, b: Array, dtype=None) -> Array:
    """``a @ b`` for ``a`` of ``(..., K)`` and ``b`` of ``(K, N)``; with ``dtype`` (e.g.
    ``jnp.bfloat16``), the operands are cast to it and the products accumulated and returned in
    ``a``'s dtype: fast matrix units, full-precision state.

    With ``dtype``, the backward pass casts the cotangent to ``dtype`` too, so both of its
    matmuls also multiply ``dtype`` operands (autodiff of the forward alone would multiply the
    full-precision cotangent by a ``dtype`` operand); for that, this is a ``jax.custom_vjp``,
    and so it has no forward-mode derivative.
    """
    if dtype is None:
        return a @ b
    return _low_precision_matmul(jnp.dtype(dtype), jnp.dtype(b.dtype), a, b)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _low_precision_matmul(dtype, b_dtype, a: Array, b: Array) -> Array:
    return jnp.matmul(a.astype(dtype), b.astype(dtype), preferred_element_type=a.dtype)


def _low_precision_matmul_fwd(dtype, b_dtype, a, b):
    a_low, b_low = a.astype(dtype), b.astype(dtype)
    return jnp.matmul(a_low, b_low, preferred_element_type=a.dtype), (a_low, b_low)


def _low_precision_matmul_bwd(dtype, b_dtype, residuals, g):
    a_low, b_low = residuals
    g_low = g.astype(dtype)
    da = jnp.matmul(g_low, b_low.T, preferred_element_type=g.dtype)
    K, N = b_low.shape
    db = jnp.matmul(a_low.reshape(-1, K).T, g_low.reshape(-1, N), preferred_element_type=b_dtype)
    return da, db


_low_precision_matmul.defvjp(_low_precision_matmul_fwd, _low_precision_matmul_bwd)


def lstm_step(
    params: CellParams, state: tuple[Array, Array], x: Array, *, matmul_dtype=None
) -> tuple[LSTMState, Array]:
    """One LSTM step: ``((h, c), x) -> ((h', c'), h')``, the body of ``jax.lax.scan``.

    Args:
        params: one layer's ``CellParams`` (``V`` of shape ``(H + I, 4H)``, ``b`` of ``(4H,)``).
        state: ``(h, c)``, each ``(*batch, H)`` (``h`` is ``(*batch, proj_size)`` with a
            projection; ``c`` is ``(*batch, params.state_size)``, the previous gate
            activations after the cell state, with FGR).
        x: ``(*batch, I)``, the input at this step.
        matmul_dtype: None, or a dtype such as ``jnp.bfloat16`` for the matmul's operands
            (accumulated in the params' dtype); see :func:`matmul`.

    Returns:
        ``(LSTMState(h', c'), h')``: the new state and the output, which is the new ``h``.

    Raises:
        TypeError, ValueError: at trace time (also under ``jit``), for params that are not one
            cell (an ``LSTMParams`` stack: take ``params.layers[l][d]``), or an ``x``, ``h`` or
            ``c`` whose size, batch shape or dtype does not fit the cell.

    Example:
        >>> import jax, jax.numpy as jnp, jaxlstm
        >>> cell = jaxlstm.init_cell(jax.random.key(0), input_size=2, hidden_size=3)
        >>> state = jaxlstm.LSTMState(h=jnp.zeros(3), c=jnp.zeros(3))
        >>> (h, c), y = jaxlstm.lstm_step(cell, state, jnp.ones(2))
        >>> h.shape, c.shape, bool((y == h).all())
        ((3,), (3,), True)
    """
    params = _validate.check_cell(params)
    state, x = _validate.check_step(params, state, x)
    return step(params, state, x, matmul_dtype=_validate.check_matmul_dtype(matmul_dtype))


def step(params: CellParams, state: LSTMState, x: Array, *, matmul_dtype=None) -> tuple[LSTMState, Array]:
    """:func:`lstm_step` without its checks: the body the sequence loops scan."""
    h, c = state
    z = matmul(jnp.concatenate([h, x], axis=-1), params.V, matmul_dtype)
    z = z + jnp.broadcast_to(params.b, z.shape)  # explicit: users may forbid rank promotion
    h, c = cell_output(params, z, c, matmul_dtype)
    return LSTMState(h, c), h


def cell_output(params: CellParams, z: Array, c: Array, matmul_dtype=None) -> tuple[Array, Array]:
    """:func:`cell_update`, then the variant's projection ``h @ P`` and ``proj_clip``, if any."""
    h, c = cell_update(params, z, c, matmul_dtype)
    if params.variant.proj_size:
        h = matmul(h, params.proj, matmul_dtype)
        if params.variant.proj_clip is not None:
            h = jnp.clip(h, -params.variant.proj_clip, params.variant.proj_clip)
    return h, c


LAYER_NORM_EPS = 1e-5  # as torch.nn.LayerNorm


def _layer_norm(v: Array, gain: Array, bias: Array, blocks: int) -> Array:
    """Normalise each of ``blocks`` equal blocks of the last axis, then scale and shift."""
    shape = v.shape
    v = v.reshape(*shape[:-1], blocks, shape[-1] // blocks)
    mean = v.mean(axis=-1, keepdims=True)
    var = jnp.square(v - mean).mean(axis=-1, keepdims=True)
    v = ((v - mean) * jax.lax.rsqrt(var + LAYER_NORM_EPS)).reshape(shape)
    return v * jnp.broadcast_to(gain, shape) + jnp.broadcast_to(bias, shape)


def cell_update(params: CellParams, z: Array, c: Array, matmul_dtype=None) -> tuple[Array, Array]:
    """The elementwise part of a step: pre-activations ``z`` (with bias) and ``c(t-1)`` to
    ``(h(t), c(t))``, by the equations of ``params.variant`` (before any projection).

    With FGR (``variant.gate_recurrence``) the previous gate activations ``a(t-1)``, carried in
    ``c`` after the cell state, add ``a(t-1) @ R`` to the gates' pre-activations (after layer
    norm, with the peepholes), and ``c(t)`` carries the new ones.

    Args:
        params: the cell's params; ``V`` and ``b`` are not read.
        z: ``(*batch, G * H)``, one block per gate in ``params.variant.gates``.
        c: ``(*batch, params.state_size)``: ``c(t-1)``, and with FGR ``a(t-1)`` after it.
        matmul_dtype: the dtype of FGR's matmul operands, as in :func:`lstm_step`.
    """
    variant = params.variant
    gates = variant.gates
    if variant.layer_norm:
        z = _layer_norm(z, params.norm["gate_gain"], params.norm["gate_bias"], len(gates))
    pre = dict(zip(gates, jnp.split(z, len(gates), axis=-1)))
    if variant.gate_recurrence:
        H, recurrent = params.hidden_size, variant.sigmoid_gates
        c, previous = c[..., :H], c[..., H:]
        fed_back = jnp.split(matmul(previous, params.gate_recurrence, matmul_dtype), len(recurrent), axis=-1)
        for gate, term in zip(recurrent, fed_back):
            pre[gate] = pre[gate] + term
    peep = params.peepholes or {}
    for gate in ("i", "f"):
        if gate in peep:
            pre[gate] = pre[gate] + jnp.broadcast_to(peep[gate], c.shape) * c
    sigma, act = variant.gate_fn, variant.cell_fn
    i = sigma(pre["i"]) if "i" in pre else 1.0
    if variant.coupled:
        f = 1.0 - i
    else:
        f = sigma(pre["f"]) if "f" in pre else 1.0
    g = act(pre["g"]) if variant.input_activation else pre["g"]
    c = f * c + i * g
    if variant.cell_clip is not None:
        c = jnp.clip(c, -variant.cell_clip, variant.cell_clip)
    if "o" in pre:
        if "o" in peep:
            pre["o"] = pre["o"] + jnp.broadcast_to(peep["o"], c.shape) * c
        o = sigma(pre["o"])
    else:
        o = 1.0
    out = c
    if variant.layer_norm:
        out = _layer_norm(c, params.norm["cell_gain"], params.norm["cell_bias"], 1)
    if variant.output_activation:
        out = act(out)
    if variant.gate_recurrence:
        activations = {"i": i, "f": f, "o": o}
        c = jnp.concatenate([c, *(activations[gate] for gate in recurrent)], axis=-1)
    return o * out, c
