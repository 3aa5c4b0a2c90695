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

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jax import Array

from jaxlstm import _validate
from jaxlstm.params import CellParams, LSTMState

__all__ = ["Matmul", "cell_output", "cell_update", "lstm_step", "matmul", "step"]


@dataclasses.dataclass(frozen=True)
class Matmul:
    """How every matmul of a run multiplies (static and hashable).

    Attributes:
        dtype: None, or the dtype of the operands (e.g. ``jnp.bfloat16``), accumulated and
            returned in the first operand's dtype: fast matrix units, full-precision state.
        precision: None, or ``jax.lax.Precision`` / its name (``"highest"``, ...), as
            ``jnp.matmul``'s ``precision``: on GPU and TPU it picks TF32 or bfloat16 passes for
            float32 operands.
    """

    dtype: object = None
    precision: object = None


def matmul(a: Array, b: Array, how: Matmul = Matmul()) -> Array:
    """``a @ b`` for ``a`` of ``(..., K)`` and ``b`` of ``(K, N)``, as ``how`` says.

    With ``how.dtype``, the backward pass casts the cotangent to that dtype too, so both of its
    matmuls also multiply low-precision operands (autodiff of the forward alone would multiply
    the full-precision cotangent by a low-precision operand); for that, this is a
    ``jax.custom_vjp``, and so it has no forward-mode derivative.
    """
    if how.dtype is None:
        return jnp.matmul(a, b, precision=how.precision)
    return _low_precision_matmul(how, jnp.dtype(b.dtype), a, b)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _low_precision_matmul(how: Matmul, b_dtype, a: Array, b: Array) -> Array:
    return jnp.matmul(a.astype(how.dtype), b.astype(how.dtype), precision=how.precision,
                      preferred_element_type=a.dtype)


def _low_precision_matmul_fwd(how, b_dtype, a, b):
    a_low, b_low = a.astype(how.dtype), b.astype(how.dtype)
    return jnp.matmul(a_low, b_low, precision=how.precision, preferred_element_type=a.dtype), (a_low, b_low)


def _low_precision_matmul_bwd(how, b_dtype, residuals, g):
    a_low, b_low = residuals
    g_low = g.astype(how.dtype)
    da = jnp.matmul(g_low, b_low.T, precision=how.precision, preferred_element_type=g.dtype)
    K, N = b_low.shape
    db = jnp.matmul(a_low.reshape(-1, K).T, g_low.reshape(-1, N), precision=how.precision,
                    preferred_element_type=b_dtype)
    return da, db


_low_precision_matmul.defvjp(_low_precision_matmul_fwd, _low_precision_matmul_bwd)


def lstm_step(
    params: CellParams, state: tuple[Array, Array], x: Array, *, matmul_dtype=None, precision=None
) -> tuple[LSTMState, Array]:
    """One LSTM step: ``((h, c), x) -> ((h', c'), h')``, the body of ``jax.lax.scan``.

    Args:
        params: one layer's ``CellParams`` (``V`` of shape ``(H + I, 4H)``, ``b`` of ``(4H,)``).
        state: ``(h, c)``, each ``(*batch, H)`` (``h`` is ``(*batch, proj_size)`` with a
            projection; with FGR ``c`` is ``(*batch, params.state_size)``: the cell state in
            ``c[..., :H]``, then the previous step's activations of the gates i, f, o that have
            weights, ``H`` each, in ``V``'s gate order; see ``CellParams.state_size``).
        x: ``(*batch, I)``, the input at this step.
        matmul_dtype: None, or a dtype such as ``jnp.bfloat16`` for the matmul's operands
            (accumulated in the params' dtype); see :class:`jaxlstm.cell.Matmul`.
        precision: None, or a ``jax.lax.Precision`` or its name, for every matmul.

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
    how = Matmul(*_validate.check_matmul(matmul_dtype, precision))
    return step(params, state, x, how=how)


def step(params: CellParams, state: LSTMState, x: Array, *, how: Matmul = Matmul()) -> tuple[LSTMState, Array]:
    """:func:`lstm_step` without its checks: the body the sequence loops scan."""
    h, c = state
    z = matmul(jnp.concatenate([h, x], axis=-1), params.V, how)
    z = z + jnp.broadcast_to(params.b, z.shape)  # explicit: users may forbid rank promotion
    h, c = cell_output(params, z, c, how)
    return LSTMState(h, c), h


def cell_output(params: CellParams, z: Array, c: Array, how: Matmul = Matmul()) -> tuple[Array, Array]:
    """:func:`cell_update`, then the variant's projection ``h @ P`` and ``proj_clip``, if any."""
    h, c = cell_update(params, z, c, how)
    if params.variant.proj_size:
        h = matmul(h, params.proj, how)
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


def cell_update(params: CellParams, z: Array, c: Array, how: Matmul = Matmul()) -> tuple[Array, Array]:
    """The elementwise part of a step: pre-activations ``z`` (with bias) and ``c(t-1)`` to
    ``(h(t), c(t))``, by the equations of ``params.variant`` (before any projection).

    With FGR (``variant.gate_recurrence``) the previous gate activations ``a(t-1)``, carried in
    ``c`` after the cell state, add ``a(t-1) @ R`` to the gates' pre-activations (after layer
    norm, with the peepholes), and ``c(t)`` carries the new ones.

    Args:
        params: the cell's params; ``V`` and ``b`` are not read.
        z: ``(*batch, G * H)``, one block per gate in ``params.variant.gates``.
        c: ``(*batch, params.state_size)``: ``c(t-1)``, and with FGR ``a(t-1)`` after it.
        how: how FGR's matmul multiplies, as in :func:`lstm_step`.
    """
    variant = params.variant
    gates = variant.gates
    if variant.layer_norm:
        z = _layer_norm(z, params.norm["gate_gain"], params.norm["gate_bias"], len(gates))
    pre = dict(zip(gates, jnp.split(z, len(gates), axis=-1)))
    if variant.gate_recurrence:
        H, recurrent = params.hidden_size, variant.sigmoid_gates
        c, previous = c[..., :H], c[..., H:]
        fed_back = jnp.split(matmul(previous, params.gate_recurrence, how), len(recurrent), axis=-1)
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
