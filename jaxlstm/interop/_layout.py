"""Layout helpers shared by the converters: gate orders and the checks every converter makes."""

from __future__ import annotations

import numpy as np

from jaxlstm.params import CellParams, LSTMParams
from jaxlstm.variant import Variant


def reorder_gates(a: np.ndarray, source: str, target: str) -> np.ndarray:
    """Permute the gate blocks of the last axis of ``a`` from ``source`` order to ``target``.

    >>> reorder_gates(np.arange(8), "igfo", "ifgo")
    array([0, 1, 4, 5, 2, 3, 6, 7])
    """
    blocks = dict(zip(source, np.split(np.asarray(a), len(source), axis=-1)))
    return np.concatenate([blocks[g] for g in target], axis=-1)


def vanilla_cell(params: CellParams | LSTMParams, framework: str) -> CellParams:
    """The single vanilla cell of ``params``, or a clear error naming what ``framework`` lacks."""
    if isinstance(params, LSTMParams):
        if params.num_layers != 1 or params.num_directions != 1:
            raise ValueError(
                f"{framework} holds one cell; got a stack of {params.num_layers} layers and "
                f"{params.num_directions} directions. Convert each params.layers[l][d]."
            )
        params = params.layers[0][0]
    if params.variant != Variant():
        raise ValueError(
            f"{framework}'s LSTM cell is the vanilla cell; these params have {params.variant}."
        )
    return params


def cell(V, b, dtype=None) -> CellParams:
    V = np.asarray(V)
    dtype = V.dtype if dtype is None else dtype
    return CellParams(V=V.astype(dtype, copy=False), b=np.asarray(b).astype(dtype, copy=False))


def split_v(cell: CellParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(U, W, b)`` as numpy: U (H, 4H) acts on h, W (I, 4H) on x."""
    V, b = np.asarray(cell.V), np.asarray(cell.b)
    H = cell.hidden_size
    return V[:H], V[H:], b


def check_shape(name: str, array: np.ndarray, expected: tuple[int, ...], layout: str) -> None:
    if tuple(array.shape) != expected:
        raise ValueError(f"{name} has shape {tuple(array.shape)}; expected {expected} ({layout}).")
