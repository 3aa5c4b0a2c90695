"""``impl="pallas"``: the two time loops of one LSTM layer as Pallas kernels that stay on chip.

XLA runs a ``scan`` as a while loop that launches several kernels at every step (about 7 µs a
step on an H200), so at a small batch or hidden size the time goes into steps, not FLOPs. Here
each loop is one kernel, in the shape of cuDNN's persistent algorithm and FlashRNN:

- forward: ``x @ W + b`` for every step is one XLA matmul before the loop (as ``"hoisted"``);
  a kernel over tiles of 16 batch rows holds ``U`` and runs ``fori_loop`` over time: per gate
  ``z = xw_t + h @ U_gate``, the cell update, and stores the state of every step and, for the
  backward pass, the activated gates;
- backward: a kernel over the same tiles runs the steps in reverse holding ``U.T``, carries
  ``(dh, dc)`` and stores each step's ``dz``; the weight, bias and input gradients are single
  large matmuls after it, in :mod:`jaxlstm.kernel`, shared with the other fast paths.

Each gate is its own ``(16, Hp) @ (Hp, Hp)`` dot: Triton cannot slice a tensor it holds in
registers, so the gates are read and written through their own column blocks. Triton needs
tensors of a power-of-two size and dots of at least 16 on every side: the batch is padded to a
multiple of 16 and the hidden size to a power of two of at least 16. Padded units have zero
weights, bias and state and stay zero (``c = f * 0 + i * tanh(0)``); padded rows are masked.
``U`` stays in registers for the whole loop while it is at most :data:`RESIDENT_BYTES`, and is
read again (from L1/L2) at every step above that.

:func:`jaxlstm.kernel.run` calls :func:`forward` and :func:`backward` in place of its two
``scan`` loops; this module is the only one that knows the kernel language. On a CUDA GPU it
compiles with Pallas's Triton lowering (deprecated in jax 0.11 in favour of Mosaic GPU: a port
replaces this file alone); on CPU Pallas interprets the kernels, which is how the suite tests
them (slowly: for tests, not for speed). Which of the two is chosen by the platform a call
lowers for, so a machine without a GPU lowers the kernels to Triton's IR too, and the suite
checks Triton's rules there.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
from jax import Array
from jax.experimental import pallas as pl

from jaxlstm import _validate
from jaxlstm.cell import Matmul
from jaxlstm.params import LSTMParams

__all__ = ["MAX_HIDDEN", "RESIDENT_BYTES", "TILE", "backward", "check", "forward"]

TILE = 16
"""Batch rows per kernel program: the smallest side of a Triton dot."""

MAX_HIDDEN = 256
"""The largest hidden size the kernels take (``U`` of 4 x 256 x 256 float32 is 1 MiB)."""

RESIDENT_BYTES = 64 * 2**10
"""``U`` (padded) is held for the whole loop up to this size, else read at every step."""

def check(params: LSTMParams, xs: Array, *, noise: bool, unroll: object, remat: str) -> None:
    """Refuse, at trace time, every call that the kernels cannot compute (every matmul dtype
    and precision lowers)."""
    refuse = _validate.check_kernel_call("pallas", params, xs, noise=noise, unroll=unroll, remat=remat,
                                        shapes_from=f"its grid is the batch in tiles of {TILE}")
    cells = [cell for layer in params.layers for cell in layer]
    dtypes = sorted({str(cell.V.dtype) for cell in cells} | {str(xs.dtype)})
    if dtypes != ["float32"]:
        refuse(f"keeps float32 params, inputs and state (pass matmul_dtype=jnp.bfloat16 for bfloat16 "
               f"matmuls); got params and xs of {', '.join(dtypes)}")
    hidden = max(cell.hidden_size for cell in cells)
    if hidden > MAX_HIDDEN:
        refuse(f"holds the recurrent weights on chip for hidden sizes up to {MAX_HIDDEN}; got hidden_size={hidden}")
    if jax.default_backend() not in ("cpu", "gpu"):
        refuse(f"runs on a GPU (Pallas's Triton lowering) or, interpreted, on CPU; the default backend is "
               f"{jax.default_backend()}")


def forward(xw: Array, U: Array, h0: Array, c0: Array, mask: Array | None, resets: Array | None,
            init: tuple[Array, Array] | None, *, reverse: bool, how: Matmul, save: bool):
    """The forward loop of :func:`jaxlstm.kernel.run` for the vanilla cell, as one kernel.

    Args:
        xw: ``(T, B, 4H)``, ``x @ W + b`` of every step.
        U: ``(H, 4H)``, the recurrent weights (already in the matmul dtype).
        h0, c0: ``(B, H)``, the state entering the first step.
        mask: ``(T, B)``, False past each row's end (the state passes through), or None.
        resets: ``(T, B)``, True where the state entering the step is ``init``, or None.
        init: the reset state ``(h, c)``, each ``(B, H)``, with ``resets``.
        reverse: run from the last step to the first.
        how: the matmuls' operand dtype and precision.
        save: also return the activated gates of every step, for :func:`backward`.

    Returns:
        ``(hs, cs, gates, h, c)``: the state after every step ``(T, B, H)`` each, the gates
        ``(T, B, 4H)`` (in the order i, f, g, o) or None, and the final state.
    """
    T, B, H = xw.shape[0], xw.shape[1], U.shape[0]
    if T == 0 or B == 0:
        return (jnp.zeros((T, B, H), xw.dtype),) * 2 + (jnp.zeros((T, B, 4 * H), xw.dtype) if save else None, h0, c0)
    Hp, Bp = _padded_hidden(H), _round_up(B, TILE)
    state = functools.partial(_pad_state, Hp=Hp, Bp=Bp)
    inputs = [_pad(_pad_gates(xw, Hp), 1, Bp), _pad(_pad_gates(U, Hp), 0, Hp), state(h0), state(c0), _steps(mask, T, B, Bp)]
    if resets is not None:
        inputs += [_steps(resets, T, B, Bp), state(init[0]), state(init[1])]
    outputs = [((T, Bp, Hp),) * 2, ((T, Bp, 4 * Hp),) if save else (), ((Bp, Hp),) * 2]
    shapes = [jax.ShapeDtypeStruct(s, xw.dtype) for group in outputs for s in group]
    kernel = functools.partial(_forward_kernel, steps=T, Hp=Hp, reverse=reverse, resets=resets is not None, save=save,
                               resident=_resident(Hp, U.dtype), how=how)
    results = _call(kernel, shapes, Bp, inputs)
    hs, cs = (a[:, :B, :H] for a in results[:2])
    gates = _unpad_gates(results[2][:, :B], H) if save else None
    h, c = (a[:B, :H] for a in results[-2:])
    return hs, cs, gates, h, c


def backward(gates: Array, cs: Array, cs_prev: Array, U_T: Array, dys: Array, mask: Array | None,
             resets: Array | None, dh: Array, dc: Array, *, reverse: bool, how: Matmul):
    """The backward loop of :func:`jaxlstm.kernel.run` for the vanilla cell, as one kernel.

    Args:
        gates: ``(T, B, 4H)`` from :func:`forward`.
        cs: ``(T, B, H)``, the cell state after every step; ``cs_prev`` the one entering it
            (after any reset).
        U_T: ``(4H, H)``, the recurrent weights transposed (already in the matmul dtype).
        dys: ``(T, B, H)``, the cotangent of every step's output.
        mask, resets: as for :func:`forward`.
        dh, dc: ``(B, H)``, the cotangent of the final state.
        reverse: as the forward loop ran.
        how: the matmuls' operand dtype and precision.

    Returns:
        ``(dZ, dh0, dc0, d_init)``: the gradient of every step's pre-activations
        ``(T, B, 4H)`` (zero past a row's end), of the initial state, and of the reset state
        (None without resets).
    """
    T, B, H = cs.shape
    if T == 0 or B == 0:
        d_init = None if resets is None else (jnp.zeros_like(dh), jnp.zeros_like(dc))
        return jnp.zeros((T, B, 4 * H), cs.dtype), dh, dc, d_init
    Hp, Bp = _padded_hidden(H), _round_up(B, TILE)
    state = functools.partial(_pad_state, Hp=Hp, Bp=Bp)
    U_T = _pad(_pad_gates(U_T.T, Hp), 0, Hp).T
    inputs = [_pad(_pad_gates(gates, Hp), 1, Bp), state(cs), state(cs_prev), state(dys), U_T,
              _steps(mask, T, B, Bp), state(dh), state(dc)]
    if resets is not None:
        inputs.append(_steps(resets, T, B, Bp))
    shapes = [jax.ShapeDtypeStruct(s, cs.dtype) for s in [(T, Bp, 4 * Hp)] + [(Bp, Hp)] * (4 if resets is not None else 2)]
    kernel = functools.partial(_backward_kernel, steps=T, Hp=Hp, reverse=reverse, resets=resets is not None,
                               resident=_resident(Hp, U_T.dtype), how=how)
    results = _call(kernel, shapes, Bp, inputs)
    dZ = _unpad_gates(results[0][:, :B], H)
    dh0, dc0, *d_init = (a[:B, :H] for a in results[1:])
    return dZ, dh0, dc0, tuple(d_init) if d_init else None


# --- the kernels -----------------------------------------------------------------------------------


def _forward_kernel(xw_ref, u_ref, h0_ref, c0_ref, valid_ref, *refs, steps, Hp, reverse, resets, save, resident,
                    how):
    reset_ref, init_h_ref, init_c_ref = refs[:3] if resets else (None,) * 3
    refs = refs[3:] if resets else refs
    hs_ref, cs_ref = refs[:2]
    gates_ref = refs[2] if save else None
    h_ref, c_ref = refs[-2:]
    rows = pl.ds(pl.program_id(0) * TILE, TILE)
    gate = [pl.ds(k * Hp, Hp) for k in range(4)]
    held = [u_ref[:, gate[k]] for k in range(4)] if resident else None
    if resets:
        init_h, init_c = init_h_ref[rows, :], init_c_ref[rows, :]

    def step(s, carry):
        h, c = carry
        t = steps - 1 - s if reverse else s
        if resets:
            r = reset_ref[t, rows][:, None] > 0
            h, c = jnp.where(r, init_h, h), jnp.where(r, init_c, c)
        z = [xw_ref[t, rows, gate[k]] + _dot(_operand(h, how), held[k] if resident else u_ref[:, gate[k]], how)
             for k in range(4)]
        i, f, g, o = jax.nn.sigmoid(z[0]), jax.nn.sigmoid(z[1]), jnp.tanh(z[2]), jax.nn.sigmoid(z[3])
        c_new = f * c + i * g
        h_new = o * jnp.tanh(c_new)
        valid = valid_ref[t, rows][:, None] > 0
        h_new, c_new = jnp.where(valid, h_new, h), jnp.where(valid, c_new, c)
        hs_ref[t, rows, :] = h_new
        cs_ref[t, rows, :] = c_new
        if save:
            for k, a in enumerate((i, f, g, o)):
                gates_ref[t, rows, gate[k]] = a
        return h_new, c_new

    h, c = jax.lax.fori_loop(0, steps, step, (h0_ref[rows, :], c0_ref[rows, :]))
    h_ref[rows, :] = h
    c_ref[rows, :] = c


def _backward_kernel(gates_ref, cs_ref, cs_prev_ref, dys_ref, ut_ref, valid_ref, dh_ref, dc_ref, *refs, steps, Hp,
                     reverse, resets, resident, how):
    reset_ref = refs[0] if resets else None
    refs = refs[1:] if resets else refs
    dz_ref, dh0_ref, dc0_ref = refs[:3]
    rows = pl.ds(pl.program_id(0) * TILE, TILE)
    gate = [pl.ds(k * Hp, Hp) for k in range(4)]
    held = [ut_ref[gate[k], :] for k in range(4)] if resident else None

    def step(s, carry):
        dh, dc, d_init_h, d_init_c = carry
        t = s if reverse else steps - 1 - s  # the forward loop's steps, last first
        i, f, g, o = (gates_ref[t, rows, gate[k]] for k in range(4))
        c, c_prev = cs_ref[t, rows, :], cs_prev_ref[t, rows, :]
        dh_step = dh + dys_ref[t, rows, :]
        tanh_c = jnp.tanh(c)
        dc_total = dc + dh_step * o * (1 - tanh_c * tanh_c)
        dz = [dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f), dc_total * i * (1 - g * g),
              dh_step * tanh_c * o * (1 - o)]
        dc_prev = dc_total * f
        dh_prev = _dot(_operand(dz[0], how), held[0] if resident else ut_ref[gate[0], :], how)
        for k in range(1, 4):
            dh_prev = dh_prev + _dot(_operand(dz[k], how), held[k] if resident else ut_ref[gate[k], :], how)
        valid = valid_ref[t, rows][:, None] > 0
        dh_prev, dc_prev = jnp.where(valid, dh_prev, dh), jnp.where(valid, dc_prev, dc)
        for k in range(4):
            dz_ref[t, rows, gate[k]] = jnp.where(valid, dz[k], 0.0)
        if resets:  # what entered a reset step came from the reset state
            r = reset_ref[t, rows][:, None] > 0
            d_init_h, d_init_c = d_init_h + jnp.where(r, dh_prev, 0.0), d_init_c + jnp.where(r, dc_prev, 0.0)
            dh_prev, dc_prev = jnp.where(r, 0.0, dh_prev), jnp.where(r, 0.0, dc_prev)
        return dh_prev, dc_prev, d_init_h, d_init_c

    dh, dc = dh_ref[rows, :], dc_ref[rows, :]
    dh, dc, d_init_h, d_init_c = jax.lax.fori_loop(0, steps, step, (dh, dc, jnp.zeros_like(dh), jnp.zeros_like(dc)))
    dh0_ref[rows, :] = dh
    dc0_ref[rows, :] = dc
    if resets:
        refs[3][rows, :] = d_init_h
        refs[4][rows, :] = d_init_c


def _operand(a: Array, how: Matmul) -> Array:
    return a if how.dtype is None else a.astype(how.dtype)


def _dot(a: Array, b: Array, how: Matmul) -> Array:
    return jnp.dot(a, b, precision=how.precision, preferred_element_type=jnp.float32)


# --- calling them ----------------------------------------------------------------------------------


def _call(kernel, shapes, Bp: int, inputs):
    """One program per tile of batch rows, each reading and writing whole arrays at its rows:
    interpreted on CPU, compiled by Triton elsewhere, chosen by the platform the call lowers
    for (so a CPU machine can lower it for a GPU, as a test does)."""
    call = functools.partial(pl.pallas_call, kernel, out_shape=shapes, grid=(Bp // TILE,))
    return jax.lax.platform_dependent(
        *inputs,
        cpu=lambda *inputs: call(interpret=True)(*inputs),
        default=lambda *inputs: call(compiler_params=_triton_params())(*inputs),
    )


@functools.cache
def _triton_params():
    with warnings.catch_warnings():  # jax 0.11 deprecates the Triton lowering (see the module's docstring)
        warnings.simplefilter("ignore", DeprecationWarning)
        from jax.experimental.pallas import triton

    return triton.CompilerParams(num_warps=4, num_stages=1)


def _padded_hidden(H: int) -> int:
    return max(TILE, 1 << (H - 1).bit_length())


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _resident(Hp: int, dtype) -> bool:
    return 4 * Hp * Hp * jnp.dtype(dtype).itemsize <= RESIDENT_BYTES


def _pad(a: Array, axis: int, size: int) -> Array:
    """``a`` padded with zeros at the end of ``axis`` to ``size``."""
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, size - a.shape[axis])
    return jnp.pad(a, widths)


def _pad_state(a: Array, *, Hp: int, Bp: int) -> Array:
    """A state ``(B, H)``, or one per step ``(T, B, H)``, padded to ``Hp`` units and ``Bp`` rows."""
    return _pad(_pad(a, -1, Hp), -2, Bp)


def _pad_gates(a: Array, Hp: int) -> Array:
    """``(..., 4H)`` gate-blocked columns to ``(..., 4Hp)``, each gate's block padded."""
    blocks = a.reshape(*a.shape[:-1], 4, a.shape[-1] // 4)
    return _pad(blocks, -1, Hp).reshape(*a.shape[:-1], 4 * Hp)


def _unpad_gates(a: Array, H: int) -> Array:
    return a.reshape(*a.shape[:-1], 4, a.shape[-1] // 4)[..., :H].reshape(*a.shape[:-1], 4 * H)


def _steps(flags: Array | None, T: int, B: int, Bp: int) -> Array:
    """Per-step row flags (a mask or resets) as float32 ``(T, Bp)``; padded rows are 0, and
    no mask is all 1 on the real rows."""
    flags = jnp.ones((T, B), jnp.float32) if flags is None else flags.astype(jnp.float32)
    return _pad(flags, 1, Bp)

