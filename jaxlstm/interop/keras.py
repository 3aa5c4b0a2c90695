"""Keras 3 ``LSTM`` / ``LSTMCell``: ``kernel`` (I, 4H), ``recurrent_kernel`` (H, 4H), ``bias`` (4H).

Gate order i, f, c, o (Keras's c is jaxlstm's g), one bias, ``unit_forget_bias`` already stored
in ``bias``: the layouts agree, so both directions are exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from jaxlstm.interop._layout import cell, check_shape, split_v, vanilla_cell
from jaxlstm.params import CellParams, LSTMParams

__all__ = ["from_keras", "to_keras"]


def from_keras(weights: Mapping[str, object] | Sequence[object]) -> CellParams:
    """``layer.get_weights()`` (``[kernel, recurrent_kernel, bias]``, bias absent with
    ``use_bias=False``) or a mapping with those names, as ``CellParams``.

    Example:
        >>> import numpy as np
        >>> p = from_keras([np.ones((2, 12)), np.zeros((3, 12)), np.zeros(12)])
        >>> p.V.shape
        (5, 12)
    """
    if isinstance(weights, Mapping):
        kernel, recurrent = weights["kernel"], weights["recurrent_kernel"]
        bias = weights.get("bias")
    else:
        kernel, recurrent, *rest = weights
        bias = rest[0] if rest else None
    kernel, recurrent = np.asarray(kernel), np.asarray(recurrent)
    H = recurrent.shape[0]
    check_shape("recurrent_kernel", recurrent, (H, 4 * H), "(units, 4 * units)")
    check_shape("kernel", kernel, (kernel.shape[0], 4 * H), "(input_dim, 4 * units)")
    bias = np.zeros(4 * H, recurrent.dtype) if bias is None else np.asarray(bias)
    check_shape("bias", bias, (4 * H,), "(4 * units,)")
    return cell(np.concatenate([recurrent, kernel]), bias)


def to_keras(params: CellParams | LSTMParams) -> list[np.ndarray]:
    """``[kernel, recurrent_kernel, bias]`` for ``layer.set_weights(...)`` of ``keras.layers.LSTM``."""
    U, W, b = split_v(vanilla_cell(params, "Keras"))
    return [W.copy(), U.copy(), b.copy()]
