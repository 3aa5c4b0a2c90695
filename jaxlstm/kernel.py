"""One LSTM layer in one direction over a whole sequence: the single place the time loop lives.

Three implementations compute the same numbers (``tests/test_kernel.py`` proves it, values and
gradients):

- ``"reference"``: ``jax.lax.scan`` of :func:`jaxlstm.lstm_step`, differentiated by JAX.
- ``"fused"``: the same forward step (one ``[h, x] @ V`` per step), with a hand-written backward
  pass (``jax.custom_vjp``).
- ``"hoisted"``: the input half ``x @ W + b`` computed for all steps as one large matmul before
  the loop, so each step multiplies only ``h @ U``; the same hand-written backward pass.

The hand-written backward pass carries only ``(dh, dc)`` back in time and does one matmul per
step, ``dz @ U.T``. Autodiff of ``scan`` instead accumulates the ``(H, 4H)`` weight gradient
inside every backward step; here the weight gradients ``[H_prev; X].T @ dZ`` and ``sum(dZ)``, and
the input gradient ``dZ @ W.T``, are single large matmuls after the loop.

Activations are applied per gate to the fresh matmul output in the fused path; in the hoisted
path, where XLA:CPU compiles gate math on column slices of a scanned input several times slower,
one sigmoid covers the whole ``(B, 4H)`` slab (``tanh(g) = 2 sigmoid(2g) - 1``). Which path
``impl="auto"`` takes is decided by :func:`auto_impl` from measurements.

Every :class:`jaxlstm.Variant` (peepholes, layer norm, missing gates, projection, clipping),
the training-time noise (variational recurrent dropout, zoneout) and resets (the state entering
a step replaced by a reset state; the backward pass sends the gradient that reaches a reset to
that state instead of back in time) run on all three. The vanilla
cell's backward step is written out; the others take ``jax.vjp`` of the step's elementwise part
(:func:`jaxlstm.cell.cell_output`) inside the same loop, which keeps its structure.

Memory (``remat``): by default the forward pass saves the four activated gates (the
pre-activations for other variants) and the state of every step (``6 B H`` numbers per step). ``"step"`` saves only the state (``2 B H`` per step)
and recomputes the gates in the backward loop; ``"sqrt"`` saves the state only at the start of
each of about ``sqrt(T)`` chunks and reruns each chunk's forward pass, saving everything for that
chunk alone, just before its backward pass.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from jaxlstm import pallas
from jaxlstm.cell import Matmul, cell_output, matmul, step
from jaxlstm.params import CellParams, LSTMState

Impl = Literal["reference", "fused", "hoisted", "pallas"]
Remat = Literal["none", "step", "sqrt"]

__all__ = ["Noise", "auto_impl", "run"]


def run(
    cell: CellParams,
    xs: Array,
    state: LSTMState,
    mask: Array | None,
    *,
    resets: Array | None = None,
    reset_state: LSTMState | None = None,
    reverse: bool,
    unroll: int | bool,
    remat: Remat,
    impl: Impl,
    how: Matmul = Matmul(),
    noise: Noise | None = None,
) -> tuple[Array, LSTMState]:
    """Run one layer in one direction.

    Args:
        cell: the layer's weights.
        xs: ``(T, *batch, I)``.
        state: the initial ``(h, c)``, ``h`` of ``(*batch, P)`` and ``c`` of ``(*batch, C)``.
        mask: ``(T, *batch)`` booleans, False past each sequence's end, or None. Where it is
            False the state passes through unchanged and the output is zero.
        resets: ``(T, *batch)`` booleans, True at the first step of each new segment, in time
            order, or None. Going forward, the state entering a step where it is True is
            replaced by ``reset_state``; going backward (``reverse``), the state entering step
            ``t`` is replaced where step ``t + 1`` starts a segment, so each segment runs from
            its own end. Resets past a sequence's end (where ``mask`` is False) do nothing.
        reset_state: what a reset restores, ``h`` of ``(*batch, P)`` and ``c`` of
            ``(*batch, C)``; zeros if None. Its gradient sums over every reset.
        reverse: run from the last step to the first.
        unroll: steps per loop iteration, as in ``jax.lax.scan``.
        remat: ``"none"``, ``"step"`` or ``"sqrt"`` (see the module docstring).
        impl: ``"reference"``, ``"fused"``, ``"hoisted"`` or ``"pallas"`` (the hoisted path
            with both loops as on-chip kernels: :mod:`jaxlstm.pallas`).
        how: how every matmul multiplies: its operands' dtype and precision (``cell.Matmul``).
        noise: a :class:`Noise`, or None: the variational recurrent-dropout mask
            ``(*batch, P)`` that multiplies ``h`` where it enters the matmul, and the zoneout
            masks ``(T, *batch, P)`` for ``h`` and ``(T, *batch, C)`` for ``c``, True where a
            unit keeps its previous value; or, at evaluation, zoneout's rates.

    Returns:
        ``(ys, final_state)`` with ``ys`` of shape ``(T, *batch, P)`` (``P`` is the size of
        ``h``: ``proj_size`` with a projection, else ``H``).
    """
    T, batch = xs.shape[0], xs.shape[1:-1]
    B = math.prod(batch)
    cell = dataclasses.replace(cell, h0=None, c0=None)  # the initial state is the caller's to place
    C, P = cell.state_size, cell.output_size  # C: the size of c (H, more with FGR); P: that of h
    xs = xs.reshape(T, B, xs.shape[-1])
    h0, c0 = state.h.reshape(B, P), state.c.reshape(B, C)
    mask = None if mask is None else mask.reshape(T, B)
    init = None
    if resets is not None:
        resets = _segment_starts(resets.reshape(T, B), mask, reverse)
        if reset_state is None:
            init = (jnp.zeros_like(h0), jnp.zeros_like(c0))
        else:
            init = (reset_state.h.reshape(B, P), reset_state.c.reshape(B, C))
    noise = Noise() if noise is None else noise
    noise = noise._replace(
        recurrent=None if noise.recurrent is None else noise.recurrent.reshape(B, P),
        keep_h=None if noise.keep_h is None else noise.keep_h.reshape(T, B, P),
        keep_c=None if noise.keep_c is None else noise.keep_c.reshape(T, B, C),
    )
    if impl == "reference":
        ys, (h, c) = _reference(cell, xs, LSTMState(h0, c0), mask, resets, init, noise, reverse, unroll, remat,
                                how)
    else:
        config = _Config(reverse=reverse, unroll=unroll, remat=remat, hoist=impl in ("hoisted", "pallas"),
                         how=how, pallas=impl == "pallas")
        ys, h, c = _lstm_layer(config, cell, xs, h0, c0, mask, resets, init, noise)
    return ys.reshape(T, *batch, P), LSTMState(h.reshape(*batch, P), c.reshape(*batch, C))


def _segment_starts(resets: Array, mask: Array | None, reverse: bool) -> Array:
    """Where the state entering each step is reset, in scan order: ``resets`` within the
    sequences, and going backward shifted by one step (a segment's last step is the first the
    backward direction reaches)."""
    if mask is not None:
        resets = resets & mask
    if reverse:
        resets = jnp.concatenate([resets[1:], jnp.zeros_like(resets[:1])])
    return resets


def _reset(state: tuple[Array, Array], reset: Array | None, init) -> tuple[Array, Array]:
    """The state entering a step: ``init`` where ``reset`` (``(B,)``) is True."""
    if reset is None:
        return state
    r = reset[:, None]
    return tuple(jnp.where(r, i, s) for i, s in zip(init, state))


class Noise(NamedTuple):
    """The noise of one layer and direction: training-time masks, or zoneout's expectation at
    evaluation; None where unused.

    Attributes:
        recurrent: ``(B, P)``, the variational dropout mask (0 or 1 / keep probability) that
            multiplies ``h(t-1)`` where it enters the matmul, the same at every step.
        keep_h: ``(T, B, P)`` booleans, True where zoneout keeps ``h(t-1)`` for ``h(t)``.
        keep_c: ``(T, B, C)`` booleans, the same for ``c``.
        rate_h: ``(1, P)``, zoneout's expectation at evaluation (Krueger et al. 2016): every
            step mixes ``h(t) = z h(t-1) + (1 - z) h~(t)`` with these rates ``z``.
        rate_c: ``(1, C)``, the same for ``c`` (0 for FGR's gate activations after the cell
            state, which zoneout never keeps).
    """

    recurrent: Array | None = None
    keep_h: Array | None = None
    keep_c: Array | None = None
    rate_h: Array | None = None
    rate_c: Array | None = None

    def zoneout_at(self, keep_h: Array | None, keep_c: Array | None) -> tuple[Array | None, Array | None]:
        """What zones out one step: its scanned masks, or the rates at evaluation."""
        if self.rate_h is not None:
            return self.rate_h, self.rate_c
        return keep_h, keep_c

    @property
    def zoneout(self) -> bool:
        return self.keep_h is not None or self.rate_h is not None


def _zone_out(new: Array, old: Array, keep: Array | None) -> Array:
    """``new``, or zoneout of it: ``old`` where the mask ``keep`` is True (training), or the mix
    ``keep * old + (1 - keep) * new`` for rates ``keep`` (the expectation, at evaluation)."""
    if keep is None:
        return new
    if keep.dtype == jnp.bool_:
        return jnp.where(keep, old, new)
    return keep * old + (1 - keep) * new


def _split_zoneout(d: Array, keep: Array) -> tuple[Array, Array]:
    """The cotangent ``d`` of a zoned-out state, split as :func:`_zone_out` mixed it: the part
    through the fresh update, and the part straight back to the previous state."""
    if keep.dtype == jnp.bool_:
        zeros = jnp.zeros_like(d)
        return jnp.where(keep, zeros, d), jnp.where(keep, d, zeros)
    return (1 - keep) * d, keep * d


# --- the reference: scan of lstm_step, differentiated by JAX -------------------------------------


def _reference(cell, xs, state, mask, resets, init, noise, reverse, unroll, remat, how):
    cell_step = functools.partial(step, cell, how=how)
    if remat == "step":
        cell_step = jax.checkpoint(cell_step)

    def body(carry, inputs):
        x, valid, reset, keep_h, keep_c = inputs
        keep_h, keep_c = noise.zoneout_at(keep_h, keep_c)
        carry = LSTMState(*_reset(carry, reset, init))
        h, c = carry
        h_in = h if noise.recurrent is None else h * noise.recurrent
        (h_new, c_new), _ = cell_step(LSTMState(h_in, c), x)
        new = LSTMState(_zone_out(h_new, h, keep_h), _zone_out(c_new, c, keep_c))
        if valid is None:
            return new, new.h
        valid = valid[:, None]
        carry = LSTMState(*(jnp.where(valid, n, o) for n, o in zip(new, carry)))
        return carry, jnp.where(valid, new.h, jnp.zeros_like(new.h))

    per_step = (xs, mask, resets, noise.keep_h, noise.keep_c)
    if remat == "sqrt":
        per_step, T, k = _pad_to_chunks(*per_step)
        chunk = jax.checkpoint(functools.partial(jax.lax.scan, body, reverse=reverse, unroll=unroll))
        final, ys = jax.lax.scan(chunk, state, _chunked(per_step, k), reverse=reverse)
        return _unchunked(ys)[:T], final
    final, ys = jax.lax.scan(body, state, per_step, reverse=reverse, unroll=unroll)
    return ys, final


# --- the fast path: a hand-written backward pass ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Config:
    """The static choices of one layer run (hashable: ``custom_vjp`` keys on it)."""

    reverse: bool
    unroll: int | bool
    remat: Remat
    hoist: bool
    how: Matmul = Matmul()
    pallas: bool = False  # the two loops as Pallas kernels (jaxlstm.pallas); hoist is then True

    def mm(self, a: Array, b: Array) -> Array:
        return matmul(a, b, self.how)

    def loop_operand(self, w: Array) -> Array:
        """A weight matrix that a loop multiplies by at every step, cast to the matmul dtype
        once, before the loop. Cast inside the step, it is read in float32 at every step
        (on a GPU the cast fuses into the matmul, so no compiler hoists it), and bfloat16
        matmuls moved more bytes than float32 ones. The loops are never differentiated by
        JAX (the backward pass is written out), so no gradient accumulates in bfloat16."""
        return w if self.how.dtype is None else w.astype(self.how.dtype)


def _gates(z: Array) -> tuple[Array, Array, Array, Array]:
    """The activated gates ``(i, f, g, o)`` from the pre-activations ``z`` of shape (B, 4H)."""
    i, f, g, o = jnp.split(z, 4, axis=-1)
    return jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)


def _gates_whole_slab(z: Array) -> tuple[Array, Array, Array, Array]:
    """``_gates`` with one sigmoid over the whole slab, ``tanh(g) = 2 sigmoid(2 g) - 1``.

    For ``z`` sliced from a scanned input (the hoisted path), XLA:CPU compiles per-gate
    activations of column slices several times slower than this (measured: 6.6 against 3.6 ms
    forward at B=32, T=100, I=64, H=128); for ``z`` fresh from a matmul it is the other way
    round.
    """
    H = z.shape[-1] // 4
    s = jnp.concatenate([jnp.ones(2 * H, z.dtype), jnp.full(H, 2, z.dtype), jnp.ones(H, z.dtype)])
    s = s.reshape((1,) * (z.ndim - 1) + (4 * H,))
    i, f, g, o = jnp.split(jax.nn.sigmoid(z * s) * s - (s - 1), 4, axis=-1)
    return i, f, g, o


def _extras(cell: CellParams):
    """The parameters a step reads after its matmul: peepholes, layer norm, projection, FGR."""
    return cell.peepholes, cell.norm, cell.proj, cell.gate_recurrence


def _with_extras(cell: CellParams, extras) -> CellParams:
    peepholes, norm, proj, gate_recurrence = extras
    return dataclasses.replace(cell, peepholes=peepholes, norm=norm, proj=proj,
                               gate_recurrence=gate_recurrence)


def _forward(config: _Config, cell: CellParams, xs, h0, c0, mask, resets, init, noise: Noise, *, save: bool):
    """The forward loop: carried states ``(hs, cs)`` per step, what the backward loop needs per
    step if ``save`` (the four gates for the vanilla cell, the pre-activations ``z`` for other
    variants), and the final ``(h, c)``."""
    V, b = cell.V, cell.b
    rows = h0.shape[-1]  # the rows of V that act on h: H, or proj_size with a projection
    explicit = _explicit(cell, noise)
    if config.hoist:
        xw = config.mm(xs, V[rows:])
        inputs = xw + jnp.broadcast_to(b, xw.shape)
    else:
        inputs = xs
    U, V = config.loop_operand(V[:rows]), config.loop_operand(V)
    if config.pallas:  # the vanilla cell without noise (checked up front)
        return pallas.forward(inputs, U, h0, c0, mask, resets, init, reverse=config.reverse, how=config.how, save=save)
    bias = jnp.broadcast_to(b, (h0.shape[0], b.shape[-1]))

    def step(carry, step_inputs):
        x, valid, reset, keep_h, keep_c = step_inputs
        h, c = _reset(carry, reset, init)
        keep_h, keep_c = noise.zoneout_at(keep_h, keep_c)
        h_in = h if noise.recurrent is None else h * noise.recurrent
        if config.hoist:
            z = config.mm(h_in, U) + x
        else:
            z = config.mm(jnp.concatenate([h_in, x], axis=-1), V) + bias
        if explicit:
            i, f, g, o = saved = _gates_whole_slab(z) if config.hoist else _gates(z)
            c_new = f * c + i * g
            h_new = o * jnp.tanh(c_new)
        else:
            saved = z
            h_new, c_new = cell_output(cell, z, c, config.how)
            h_new, c_new = _zone_out(h_new, h, keep_h), _zone_out(c_new, c, keep_c)
        if valid is not None:
            valid = valid[:, None]
            h_new, c_new = jnp.where(valid, h_new, h), jnp.where(valid, c_new, c)
        return (h_new, c_new), (h_new, c_new, saved if save else None)

    (h, c), (hs, cs, saved) = jax.lax.scan(
        step,
        (h0, c0),
        (inputs, mask, resets, noise.keep_h, noise.keep_c),
        reverse=config.reverse,
        unroll=config.unroll,
    )
    return hs, cs, saved, h, c


def _explicit(cell: CellParams, noise: Noise) -> bool:
    """Whether the step's backward is the written-out vanilla one (else ``jax.vjp`` of
    ``cell_update``): the vanilla cell without zoneout, whose saved ``c`` is the cell's own."""
    return cell.variant.is_vanilla and not noise.zoneout


def _previous(seq: Array, first: Array, reverse: bool) -> Array:
    """The value before each step in scan order: ``seq`` shifted by one, ``first`` at the start."""
    if reverse:
        return jnp.concatenate([seq, first[None]])[1:]
    return jnp.concatenate([first[None], seq])[:-1]


def _entering(hs, cs, h0, c0, resets, init, reverse):
    """The state that entered each step: the previous step's, or the reset state where the
    step was reset."""
    hs_prev, cs_prev = _previous(hs, h0, reverse), _previous(cs, c0, reverse)
    if resets is None:
        return hs_prev, cs_prev
    r = resets[..., None]
    return jnp.where(r, init[0][None], hs_prev), jnp.where(r, init[1][None], cs_prev)


def _vanilla_step_grads(gates, c, c_prev, dh_total, dc):
    """The vanilla cell's backward step, written out: ``(dz, dc_prev)``."""
    i, f, g, o = gates
    tanh_c = jnp.tanh(c)
    dc_total = dc + dh_total * o * (1 - tanh_c * tanh_c)
    dz = jnp.concatenate(
        [
            dc_total * g * i * (1 - i),
            dc_total * c_prev * f * (1 - f),
            dc_total * i * (1 - g * g),
            dh_total * tanh_c * o * (1 - o),
        ],
        axis=-1,
    )
    return dz, dc_total * f


def _backward(config: _Config, cell: CellParams, xs, saved, hs_prev, cs, cs_prev, dys, mask, resets, noise,
              dh, dc):
    """The backward loop: carries only ``(dh, dc)`` (and, for variants with peepholes or layer
    norm, the running gradient of those small vectors; with resets, that of the reset state);
    returns ``dZ`` per step, that extra gradient, ``(dh0, dc0)`` and the reset state's
    gradient ``(dh, dc)`` (None without resets, which then add nothing to the loop).

    ``hs_prev`` and ``cs_prev`` are the states that entered each step (after any reset); the
    gradient reaching a reset step's entering state goes to the reset state, not back in time.

    ``saved`` is None under ``remat="step"``: each step then recomputes its pre-activations
    from the saved state before it, with one extra ``[h, x] @ V``. The vanilla cell's step is
    written out; other variants take the derivative of :func:`jaxlstm.cell.cell_output`.
    """
    V, b = cell.V, cell.b
    rows = dh.shape[-1]  # the rows of V that act on h
    explicit = _explicit(cell, noise)
    U_T, V = config.loop_operand(V[:rows].T), config.loop_operand(V)
    bias = jnp.broadcast_to(b, (dh.shape[0], b.shape[-1]))
    extras = _extras(cell)
    if config.pallas:  # saved holds the gates: the kernel saves them, remat="none" only
        dZ, dh0, dc0, d_init = pallas.backward(saved, cs, cs_prev, U_T, dys, mask, resets, dh, dc,
                                               reverse=config.reverse, how=config.how)
        return dZ, jax.tree.map(jnp.zeros_like, extras), dh0, dc0, d_init

    def step(carry, step_inputs):
        dh, dc, d_extras, d_init = carry
        saved, h_prev, x, c, c_prev, dy, valid, reset, keep_h, keep_c = step_inputs
        keep_h, keep_c = noise.zoneout_at(keep_h, keep_c)
        if saved is None:
            h_in = h_prev if noise.recurrent is None else h_prev * noise.recurrent
            z = config.mm(jnp.concatenate([h_in, x], axis=-1), V) + bias
            saved = _gates(z) if explicit else z
        valid = None if valid is None else valid[:, None]
        dh_step, dc_step = dh + dy, dc
        if keep_h is not None:  # zoneout: kept units pass their gradient straight back
            dh_step, kept_h = _split_zoneout(dh_step, keep_h)
            dc_step, kept_c = _split_zoneout(dc_step, keep_c)
        if explicit:
            dz, dc_prev = _vanilla_step_grads(saved, c, c_prev, dh_step, dc_step)
        else:
            # Sequences past their end contribute nothing: zero their cotangents before the
            # pullback, since its gradient of the extras is already summed over the batch.
            if valid is not None:
                dh_step = jnp.where(valid, dh_step, jnp.zeros_like(dh_step))
                dc_step = jnp.where(valid, dc_step, jnp.zeros_like(dc_step))
            update = lambda z, c_prev, extras: cell_output(
                _with_extras(cell, extras), z, c_prev, config.how
            )
            _, pullback = jax.vjp(update, saved, c_prev, extras)
            dz, dc_prev, step_extras = pullback((dh_step, dc_step))
            d_extras = jax.tree.map(jnp.add, d_extras, step_extras)
        dh_prev = config.mm(dz, U_T)
        if noise.recurrent is not None:
            dh_prev = dh_prev * noise.recurrent
        if keep_h is not None:
            dh_prev, dc_prev = dh_prev + kept_h, dc_prev + kept_c
        if valid is not None:
            dz = jnp.where(valid, dz, jnp.zeros_like(dz))
            dh_prev, dc_prev = jnp.where(valid, dh_prev, dh), jnp.where(valid, dc_prev, dc)
        if reset is not None:  # what entered a reset step came from the reset state
            r = reset[:, None]
            d_init = (d_init[0] + jnp.where(r, dh_prev, 0), d_init[1] + jnp.where(r, dc_prev, 0))
            dh_prev, dc_prev = jnp.where(r, 0, dh_prev), jnp.where(r, 0, dc_prev)
        return (dh_prev, dc_prev, d_extras, d_init), dz

    recompute = (hs_prev, xs) if saved is None else (None, None)
    d_extras = jax.tree.map(jnp.zeros_like, extras)
    d_init = None if resets is None else (jnp.zeros_like(dh), jnp.zeros_like(dc))
    (dh0, dc0, d_extras, d_init), dZ = jax.lax.scan(
        step,
        (dh, dc, d_extras, d_init),
        (saved, *recompute, cs, cs_prev, dys, mask, resets, noise.keep_h, noise.keep_c),
        reverse=not config.reverse,
        unroll=config.unroll,
    )
    return dZ, d_extras, dh0, dc0, d_init


def _weight_grads(config: _Config, xs, hs_prev, dZ):
    """``dV = [H_prev, X].T @ dZ`` and ``db = sum(dZ)`` over every step and sequence.

    Two large matmuls, one per half of ``V``: concatenating ``[H_prev, X]`` first would copy
    both (measured slower).
    """
    dZ = dZ.reshape(-1, dZ.shape[-1])
    dU = config.mm(hs_prev.reshape(-1, hs_prev.shape[-1]).T, dZ)
    dW = config.mm(xs.reshape(-1, xs.shape[-1]).T, dZ)
    return jnp.concatenate([dU, dW]), dZ.sum(axis=0)


def _cell_grads(cell: CellParams, dV, db, d_extras) -> CellParams:
    return _with_extras(dataclasses.replace(cell, V=dV, b=db), d_extras)


def _outputs(hs, mask):
    if mask is None:
        return hs
    return jnp.where(mask[..., None], hs, jnp.zeros_like(hs))


def _matmul_input(hs_prev: Array, noise: Noise) -> Array:
    """What the matmul saw of ``h(t-1)``: masked by variational recurrent dropout."""
    if noise.recurrent is None:
        return hs_prev
    return hs_prev * noise.recurrent[None]


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _lstm_layer(config: _Config, cell: CellParams, xs, h0, c0, mask, resets, init, noise):
    if config.remat == "sqrt":
        return _sqrt_forward(config, cell, xs, h0, c0, mask, resets, init, noise)[0]
    hs, _, _, h, c = _forward(config, cell, xs, h0, c0, mask, resets, init, noise, save=False)
    return _outputs(hs, mask), h, c


def _lstm_layer_fwd(config: _Config, cell: CellParams, xs, h0, c0, mask, resets, init, noise):
    inputs = (cell, xs, h0, c0, mask, resets, init, noise)
    if config.remat == "sqrt":
        outputs, boundaries = _sqrt_forward(config, *inputs)
        return outputs, (*inputs, boundaries)
    hs, cs, saved, h, c = _forward(config, *inputs, save=config.remat == "none")
    return (_outputs(hs, mask), h, c), (*inputs, (hs, cs, saved))


def _lstm_layer_bwd(config: _Config, residuals, cotangents):
    cell, xs, h0, c0, mask, resets, init, noise, saved = residuals
    dys, dh, dc = cotangents
    no_noise_grads = jax.tree.map(lambda _: None, noise)
    if config.remat == "sqrt":
        d_cell, dxs, dh0, dc0, d_init = _sqrt_backward(config, cell, xs, mask, resets, init, noise, saved, dys,
                                                       dh, dc)
    else:
        hs, cs, per_step = saved
        hs_prev, cs_prev = _entering(hs, cs, h0, c0, resets, init, config.reverse)
        dZ, d_extras, dh0, dc0, d_init = _backward(
            config, cell, xs, per_step, hs_prev, cs, cs_prev, dys, mask, resets, noise, dh, dc
        )
        dV, db = _weight_grads(config, xs, _matmul_input(hs_prev, noise), dZ)
        dxs = config.mm(dZ, cell.V[h0.shape[-1] :].T)
        d_cell = _cell_grads(cell, dV, db, d_extras)
    return d_cell, dxs, dh0, dc0, None, None, d_init, no_noise_grads


_lstm_layer.defvjp(_lstm_layer_fwd, _lstm_layer_bwd)


# --- remat="sqrt": chunks of about sqrt(T) steps ------------------------------------------------


def _chunk_size(T: int) -> int:
    return max(1, math.isqrt(max(T - 1, 0)) + 1)


def _pad_to_chunks(xs, mask, *others):
    """Pad the time axis of ``xs``, ``mask`` and ``others`` (time-major, or None) to whole
    chunks, the added steps masked out: ``((xs, mask, *others), T, k)``."""
    T = xs.shape[0]
    k = _chunk_size(T)
    padded = -(-T // k) * k
    if padded != T and mask is None:
        mask = jnp.ones(xs.shape[:2], bool)
    pad = lambda a: a if a is None or padded == T else jnp.concatenate(
        [a, jnp.zeros((padded - T, *a.shape[1:]), a.dtype)]
    )
    return tuple(pad(a) for a in (xs, mask, *others)), T, k


def _chunked(seqs, k):
    """Each ``(T, ...)`` of a tuple to ``(T // k, k, ...)``; None stays None. (The shapes
    are spelled out: an empty batch makes ``-1`` ambiguous.)"""
    return tuple(None if a is None else a.reshape(a.shape[0] // k, k, *a.shape[1:]) for a in seqs)


def _unchunked(a):
    """``(T // k, k, ...)`` back to ``(T, ...)``."""
    return a.reshape(a.shape[0] * a.shape[1], *a.shape[2:])


def _sqrt_forward(config, cell, xs, h0, c0, mask, resets, init, noise):
    """Forward over chunks; saves only the state at the start of each chunk."""
    per_step, T, k = _pad_to_chunks(xs, mask, resets, noise.keep_h, noise.keep_c)
    loop_cell = dataclasses.replace(cell, V=config.loop_operand(cell.V))  # cast once, not per chunk

    def chunk(carry, chunk_inputs):
        x, valid, reset, keep_h, keep_c = chunk_inputs
        chunk_noise = noise._replace(keep_h=keep_h, keep_c=keep_c)
        hs, _, _, h, c = _forward(config, loop_cell, x, *carry, valid, reset, init, chunk_noise, save=False)
        return (h, c), (hs, carry)

    (h, c), (hs, boundaries) = jax.lax.scan(
        chunk, (h0, c0), _chunked(per_step, k), reverse=config.reverse
    )
    hs = _unchunked(hs)[:T]
    return (_outputs(hs, mask), h, c), boundaries


def _sqrt_backward(config, cell, xs, mask, resets, init, noise, boundaries, dys, dh, dc):
    """Backward over chunks in reverse order, rerunning each chunk's forward pass first."""
    per_step, T, k = _pad_to_chunks(xs, mask, resets, noise.keep_h, noise.keep_c, dys)
    rows = dh.shape[-1]  # the rows of V that act on h
    loop_cell = dataclasses.replace(cell, V=config.loop_operand(cell.V))  # cast once, not per chunk

    def chunk(carry, chunk_inputs):
        dh, dc, d_cell, d_init = carry
        (x, valid, reset, keep_h, keep_c, dy), (h0, c0) = chunk_inputs
        chunk_noise = noise._replace(keep_h=keep_h, keep_c=keep_c)
        hs, cs, saved, _, _ = _forward(config, loop_cell, x, h0, c0, valid, reset, init, chunk_noise, save=True)
        hs_prev, cs_prev = _entering(hs, cs, h0, c0, reset, init, config.reverse)
        dZ, d_extras, dh, dc, d_chunk_init = _backward(
            config, loop_cell, x, saved, hs_prev, cs, cs_prev, dy, valid, reset, chunk_noise, dh, dc
        )
        dV, db = _weight_grads(config, x, _matmul_input(hs_prev, noise), dZ)
        d_chunk = _cell_grads(cell, dV, db, d_extras)
        d_cell, d_init = jax.tree.map(jnp.add, (d_cell, d_init), (d_chunk, d_chunk_init))
        return (dh, dc, d_cell, d_init), config.mm(dZ, loop_cell.V[rows:].T)

    d_init = None if resets is None else (jnp.zeros_like(dh), jnp.zeros_like(dc))
    start = (dh, dc, jax.tree.map(jnp.zeros_like, cell), d_init)
    inputs = (_chunked(per_step, k), boundaries)
    (dh0, dc0, d_cell, d_init), dxs = jax.lax.scan(chunk, start, inputs, reverse=not config.reverse)
    return d_cell, _unchunked(dxs)[:T], dh0, dc0, d_init


# Hoisting x @ W + b writes a (T, B, 4H) buffer that each step reads back; on XLA:CPU that pays
# only while the buffer stays small (experiments/benchmarks.md). On an AMD EPYC, hoisted won at
# 1/1000/32/64 (0.3 MB) and tied at 32/100/64/128 (6.5 MB); on an Intel Xeon it tied at the
# first and lost 5% at the second; fused won from 32/100/256/256 (13 MB) up on both.
_HOIST_MAX_BYTES = 2 * 2**20


def auto_impl(xs_shape: tuple[int, ...], cell: CellParams, itemsize: int, backend: str = "cpu") -> Impl:
    """The implementation ``impl="auto"`` picks for time-major inputs of this shape on ``backend``
    (``jax.default_backend()`` at trace time).

    On CPU, from the measurements of experiments/benchmarks.md: ``"hoisted"`` for the vanilla
    cell while the ``(T, *batch, 4H)`` buffer of input projections is at most 2 MiB, else
    ``"fused"``. Variants other than the vanilla cell take the fused path (their gate math would
    run on column slices of the hoisted buffer), and so does a symbolic shape (``jax.export``),
    whose buffer size is not known: fused needs no buffer. On a GPU ``"fused"``, from the H200
    measurements of experiments/benchmarks.md: within 3% of the best forward+backward at every
    size measured (``"hoisted"`` is up to 1.18x faster forward only, but a call cannot know
    whether a backward pass follows), and ``"cudnn"`` slower everywhere (and it does not vmap);
    ``"pallas"`` is not picked until a GPU measurement shows where it wins. On TPU ``"fused"``
    too, a fixed choice: no TPU has been measured.
    """
    if backend != "cpu" or not all(isinstance(d, int) for d in xs_shape):
        return "fused"
    buffer = math.prod(xs_shape[:-1]) * cell.b.shape[-1] * itemsize
    hoist = cell.variant.is_vanilla and buffer <= _HOIST_MAX_BYTES
    return "hoisted" if hoist else "fused"
