"""One LSTM layer in one direction through cuDNN's fused kernel: ``impl="cudnn"``.

``jax.experimental.rnn.lstm`` runs a whole sequence inside cuDNN, batch-major, from one flat
weight vector (the layout of :mod:`jaxlstm.interop.cudnn`). This module adapts one of our cells
to it and covers, with our own code around the call, the gaps that kernel is known to have:

- every row of length 0 makes cuDNN fail (jax-ml/jax#17966): the kernel sees a length of at
  least 1, and those rows get the initial state back and zero outputs, as every other ``impl``
  returns them;
- its bidirectional mode has disagreed with its own reference and given NaN gradients
  (jax-ml/jax#15183), so it is not used: :func:`jaxlstm.lstm` calls this once per layer and
  direction, as it calls :func:`jaxlstm.kernel.run`, and the backward direction reverses each row
  within its own length before and after the call;
- outputs past each row's end are set to zero here rather than trusted to the kernel's padding.

What the kernel cannot do at all — other cells, noise, resets, bfloat16, symbolic shapes, a
backend without cuDNN — :func:`check` refuses up front, naming the ``impl`` to use instead. Two
limits remain that no check at trace time can see: the kernel has no batching rule (``jax.vmap``
over a ``cudnn`` call fails; vmap another ``impl``) and no forward-mode derivative.

``jax.export`` serializes a ``cudnn`` call at static shapes only when told to: the kernel is a
custom call with no compatibility guarantee across jaxlib versions, which jax refuses unless
its check is disabled, as :data:`EXPORT_CHECKS` does (the artifact then may not load with
another jaxlib).
"""

from __future__ import annotations

import math

import jax
import jax.export
import jax.numpy as jnp
from jax import Array
from jax.experimental import rnn

from jaxlstm import _validate
from jaxlstm.cell import Matmul
from jaxlstm.params import CellParams, LSTMParams, LSTMState

__all__ = ["EXPORT_CHECKS", "check", "run"]

EXPORT_CHECKS = tuple(jax.export.DisabledSafetyCheck.custom_call(target)
                      for target in ("cudnn_rnn_ffi", "cudnn_rnn_bwd_ffi"))
"""``disabled_checks`` for ``jax.export.export`` of a function that calls ``impl="cudnn"``:
its forward and backward cuDNN custom calls (targets of jaxlib's ``gpu_rnn``)."""

def check(params: LSTMParams, xs: Array, *, resets: object, noise: bool, unroll: object, remat: str,
          how: Matmul) -> None:
    """Refuse, at trace time, every call that cuDNN's kernel cannot compute."""
    refuse = _validate.check_kernel_call("cudnn", params, xs, noise=noise, unroll=unroll, remat=remat,
                                        shapes_from="cuDNN sizes its workspace from batch and time")
    dtypes = sorted({str(cell.V.dtype) for layer in params.layers for cell in layer} | {str(xs.dtype)})
    if dtypes != ["float32"]:
        refuse(f"runs float32 only (jax.experimental.rnn); got params and xs of {', '.join(dtypes)}")
    if how.dtype is not None:
        refuse(f"multiplies float32 operands only; got matmul_dtype={jnp.dtype(how.dtype).name}")
    precision = how.precision if isinstance(how.precision, tuple) else (how.precision,) * 2
    if precision[0] not in (None, jax.lax.Precision.HIGH, jax.lax.Precision.HIGHEST):
        refuse(f"takes precision None or 'high' (TF32 allowed) or 'highest' (exact float32); got {how.precision}")
    if resets is not None:
        refuse("cannot restart the state inside a sequence (resets)")
    if not _has_cudnn():
        refuse(f"needs a CUDA GPU with cuDNN; the default backend is {jax.default_backend()}")


def _has_cudnn() -> bool:
    return jax.default_backend() == "gpu" and getattr(rnn, "gpu_rnn", None) is not None


_kernel = rnn.lstm
"""What :func:`run` calls. Tests without a GPU put a function of the same signature built on
``jax.experimental.rnn.lstm_ref`` in its place (and ``_has_cudnn``), to check everything this
module does around the kernel."""


def pack(cell: CellParams) -> Array:
    """The cell's weights as the kernel's flat vector: ``W_ih = V[H:].T``, ``W_hh = V[:H].T``,
    ``b_ih = b`` and ``b_hh = 0``, in the gate order i, f, g, o that both share."""
    H = cell.hidden_size
    return jnp.concatenate([cell.V[H:].T.reshape(-1), cell.V[:H].T.reshape(-1), cell.b, jnp.zeros_like(cell.b)])


def _within_lengths_reversed(seqs: Array, lengths: Array) -> Array:
    """Each row of ``seqs`` (B, T, ...) reversed in its first ``lengths`` steps; the padding
    after them stays where it is (its own inverse)."""
    steps = jnp.arange(seqs.shape[1], dtype=lengths.dtype)[None]
    index = jnp.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    return jnp.take_along_axis(seqs, index.reshape(index.shape + (1,) * (seqs.ndim - 2)), axis=1)


def run(cell: CellParams, xs: Array, state: LSTMState, mask: Array | None, *, reverse: bool,
        how: Matmul) -> tuple[Array, LSTMState]:
    """One layer in one direction, as :func:`jaxlstm.kernel.run` with ``impl="cudnn"``.

    Args:
        cell: a vanilla float32 cell (see :func:`check`).
        xs: ``(T, *batch, I)``.
        state: the initial ``(h, c)``, each ``(*batch, H)``.
        mask: ``(T, *batch)``, True up to each sequence's end, or None.
        reverse: run each sequence from its own end to its start.
        how: its precision decides whether cuDNN may use TF32.
    """
    T, batch, H = xs.shape[0], xs.shape[1:-1], cell.hidden_size
    B = math.prod(batch)
    if T == 0 or B == 0:  # cuDNN has nothing to run: the loop-free answer of every impl
        return jnp.zeros((T, *batch, H), xs.dtype), state
    x = xs.reshape(T, B, -1).swapaxes(0, 1)  # (B, T, I): the kernel is batch-major
    lengths = jnp.full((B,), T, jnp.int32) if mask is None else jnp.sum(mask.reshape(T, B), 0, dtype=jnp.int32)
    if reverse:
        x = _within_lengths_reversed(x, lengths)
    h0, c0 = state.h.reshape(1, B, H), state.c.reshape(1, B, H)
    ys, h, c = _kernel(x, h0, c0, pack(cell), jnp.maximum(lengths, 1), input_size=cell.input_size,
                         hidden_size=H, num_layers=1, dropout=0.0, bidirectional=False, precision=how.precision)
    if reverse:
        ys = _within_lengths_reversed(ys, lengths)
    valid = jnp.arange(T)[None, :] < lengths[:, None]
    ys = jnp.where(valid[..., None], ys, 0).swapaxes(0, 1)
    empty = (lengths == 0)[:, None]
    h, c = jnp.where(empty, h0[0], h[0]), jnp.where(empty, c0[0], c[0])
    return ys.reshape(T, *batch, H), LSTMState(h.reshape(*batch, H), c.reshape(*batch, H))
