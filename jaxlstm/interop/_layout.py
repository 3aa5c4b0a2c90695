"""Layout helpers shared by the converters: gate orders and the checks every converter makes."""

from __future__ import annotations

import dataclasses

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


def as_stack(params: object, framework: str) -> LSTMParams:
    """``params`` as a stack (a lone cell is a 1-layer stack); a TypeError for anything else."""
    if isinstance(params, CellParams):
        return LSTMParams(layers=((params,),))
    if not isinstance(params, LSTMParams):
        raise TypeError(
            f"params must be jaxlstm's LSTMParams (jaxlstm.init) or CellParams "
            f"(jaxlstm.init_cell); got {type(params).__name__}. Hint: to bring {framework}'s "
            "weights into jaxlstm, use the matching from_ converter."
        )
    learned = [(l, d) for l, layer in enumerate(params.layers) for d, c in enumerate(layer) if c.learns_initial_state]
    if learned:
        l, d = learned[0]
        raise ValueError(
            f"{framework}'s LSTM has no learned initial state; these params have one (h0, c0 in "
            f"params.layers[{l}][{d}] and {len(learned) - 1} other cell(s), from "
            "init(..., learn_initial_state=True)). Hint: convert the weights without it, "
            "jax.tree.map(lambda c: dataclasses.replace(c, h0=None, c0=None), params, "
            "is_leaf=lambda x: isinstance(x, jaxlstm.CellParams)), and give the other framework "
            "jaxlstm.initial_state(params, batch_shape) as the initial state of its calls."
        )
    return params


def one_cell(params: object, framework: str) -> CellParams:
    """The single cell of ``params``, or a clear error: ``framework`` holds one cell."""
    stack = as_stack(params, framework)
    if stack.num_layers != 1 or stack.num_directions != 1:
        raise ValueError(
            f"{framework} holds one cell; got a stack of {stack.num_layers} layers and "
            f"{stack.num_directions} directions. Convert each params.layers[l][d]."
        )
    return stack.layers[0][0]


def vanilla_cell(params: object, framework: str, *, activations: bool = False) -> CellParams:
    """The single vanilla cell of ``params``, or a clear error naming what ``framework`` lacks;
    with ``activations``, the framework's cell takes any gate and cell activation."""
    params = one_cell(params, framework)
    variant = params.variant
    if activations:
        variant = dataclasses.replace(variant, gate_activation="sigmoid", cell_activation="tanh")
    if variant != Variant():
        allowed = " (with any gate_activation and cell_activation)" if activations else ""
        raise ValueError(
            f"{framework}'s LSTM cell is the vanilla cell{allowed}; these params have "
            f"{params.variant}."
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
