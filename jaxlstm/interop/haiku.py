"""Haiku ``hk.LSTM``: ``w`` (I + H, 4H) applied to ``concat[x, h]``, ``b`` (4H,); gate order
i, g, f, o; ``sigmoid(f + 1)`` at run time, not stored. The converters reorder the gates, swap
the x and h rows, and move Haiku's run-time +1 into (or out of) the stored forget bias, which is
exact up to the rounding of that shift (one unit in the last place of 1.0)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxlstm.interop._layout import cell, check_shape, reorder_gates, split_v, vanilla_cell
from jaxlstm.params import CellParams, LSTMParams

__all__ = ["from_haiku", "to_haiku"]

_FORGET = np.array([0.0, 0.0, 1.0, 0.0])  # Haiku's run-time forget offset, in its order i, g, f, o


def from_haiku(params: Mapping, *, prefix: str = "lstm/linear") -> CellParams:
    """``hk.LSTM``'s params (``params[prefix]["w"]``, ``params[prefix]["b"]``) as ``CellParams``.

    Example:
        >>> import numpy as np
        >>> cell = from_haiku({"lstm/linear": {"w": np.zeros((5, 12)), "b": np.zeros(12)}})
        >>> cell.b.reshape(4, 3)[:, 0].tolist()      # i, f, g, o: Haiku's +1 is now stored in f
        [0.0, 1.0, 0.0, 0.0]
    """
    if prefix not in params:
        raise ValueError(f"params has no {prefix!r}; got keys {sorted(params)}. Pass prefix=.")
    w, b = np.asarray(params[prefix]["w"]), np.asarray(params[prefix]["b"])
    H = w.shape[1] // 4
    check_shape("w", w, (w.shape[0], 4 * H), "(input_size + hidden_size, 4 * hidden_size)")
    check_shape("b", b, (4 * H,), "(4 * hidden_size,)")
    I = w.shape[0] - H
    V = np.concatenate([w[I:], w[:I]])
    shift = np.repeat(_FORGET, H).astype(b.dtype)
    return cell(reorder_gates(V, "igfo", "ifgo"), reorder_gates(b + shift, "igfo", "ifgo"))


def to_haiku(params: CellParams | LSTMParams, *, prefix: str = "lstm/linear") -> dict:
    """``{prefix: {"w", "b"}}`` for ``hk.LSTM(hidden_size)``."""
    U, W, b = split_v(vanilla_cell(params, "Haiku"))
    H = U.shape[0]
    w = reorder_gates(np.concatenate([W, U]), "ifgo", "igfo")
    b = reorder_gates(b, "ifgo", "igfo") - np.repeat(_FORGET, H).astype(b.dtype)
    return {prefix: {"w": w, "b": b}}
