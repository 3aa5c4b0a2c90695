"""Equinox ``eqx.nn.LSTMCell``: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias`` (4H) or
None; gate order i, f, g, o; carry ``(h, c)``. Both directions are exact."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxlstm.interop._layout import cell, check_shape, split_v, vanilla_cell
from jaxlstm.params import CellParams, LSTMParams

__all__ = ["from_equinox", "to_equinox"]


def from_equinox(weights: Mapping[str, object]) -> CellParams:
    """``{"weight_ih", "weight_hh", "bias"}`` (e.g. ``vars(cell)`` of an ``eqx.nn.LSTMCell``;
    ``bias`` None or absent for ``use_bias=False``) as ``CellParams``.

    Example:
        >>> import numpy as np
        >>> from_equinox({"weight_ih": np.ones((12, 2)), "weight_hh": np.ones((12, 3))}).V.shape
        (5, 12)
    """
    w_ih, w_hh = np.asarray(weights["weight_ih"]), np.asarray(weights["weight_hh"])
    H = w_hh.shape[1]
    check_shape("weight_hh", w_hh, (4 * H, H), "(4 * hidden_size, hidden_size)")
    check_shape("weight_ih", w_ih, (4 * H, w_ih.shape[1]), "(4 * hidden_size, input_size)")
    bias = weights.get("bias")
    bias = np.zeros(4 * H, w_hh.dtype) if bias is None else np.asarray(bias)
    return cell(np.concatenate([w_hh.T, w_ih.T]), bias)


def to_equinox(params: CellParams | LSTMParams) -> dict[str, np.ndarray]:
    """``{"weight_ih", "weight_hh", "bias"}``; set them on a cell with ``eqx.tree_at``."""
    U, W, b = split_v(vanilla_cell(params, "Equinox"))
    return {"weight_ih": np.ascontiguousarray(W.T), "weight_hh": np.ascontiguousarray(U.T), "bias": b.copy()}
