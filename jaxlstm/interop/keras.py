"""Keras 3 ``LSTM`` / ``LSTMCell``: ``kernel`` (I, 4H), ``recurrent_kernel`` (H, 4H), ``bias`` (4H).

Gate order i, f, c, o (Keras's c is jaxlstm's g), one bias, ``unit_forget_bias`` already stored
in ``bias``: the layouts agree, so both directions are exact. The layer's ``activation`` and
``recurrent_activation`` (``"hard_sigmoid"`` is common in Keras models) travel as the cell's
:class:`jaxlstm.Variant` ``cell_activation`` and ``gate_activation``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from jaxlstm.interop._layout import cell, check_shape, split_v, vanilla_cell
from jaxlstm.params import CellParams, LSTMParams
from jaxlstm.variant import Variant

__all__ = ["from_keras", "keras_activations", "to_keras"]

_KERAS_ALIASES = {"swish": "silu"}  # Keras names jaxlstm knows by another name


def from_keras(
    weights: Mapping[str, object] | Sequence[object],
    *,
    activation: str | Callable = "tanh",
    recurrent_activation: str | Callable = "sigmoid",
) -> CellParams:
    """``layer.get_weights()`` (``[kernel, recurrent_kernel, bias]``, bias absent with
    ``use_bias=False``) or a mapping with those names, as ``CellParams``.

    ``activation`` and ``recurrent_activation`` are the layer's (``layer.get_config()`` has
    them), by Keras name or as functions; jaxlstm computes them as Keras 3 defines them.

    Example:
        >>> import numpy as np
        >>> p = from_keras([np.ones((2, 12)), np.zeros((3, 12)), np.zeros(12)],
        ...                recurrent_activation="hard_sigmoid")
        >>> p.V.shape, p.variant.gate_activation
        ((5, 12), 'hard_sigmoid')
    """
    variant = Variant(
        gate_activation=_KERAS_ALIASES.get(recurrent_activation, recurrent_activation),
        cell_activation=_KERAS_ALIASES.get(activation, activation),
    )
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
    return dataclasses.replace(cell(np.concatenate([recurrent, kernel]), bias), variant=variant)


def to_keras(params: CellParams | LSTMParams) -> list[np.ndarray]:
    """``[kernel, recurrent_kernel, bias]`` for ``layer.set_weights(...)`` of a
    ``keras.layers.LSTM`` built with :func:`keras_activations` of the same params."""
    U, W, b = split_v(vanilla_cell(params, "Keras", activations=True))
    return [W.copy(), U.copy(), b.copy()]


def keras_activations(params: CellParams | LSTMParams) -> dict[str, str | Callable]:
    """The ``activation`` and ``recurrent_activation`` of the Keras layer these params need:
    ``keras.layers.LSTM(units, **keras_activations(params))``.

    Example:
        >>> import jax, jaxlstm
        >>> cell = jaxlstm.init_cell(jax.random.key(0), 2, 3, variant=jaxlstm.Variant(gate_activation="hard_sigmoid"))
        >>> keras_activations(cell)
        {'activation': 'tanh', 'recurrent_activation': 'hard_sigmoid'}
    """
    variant = vanilla_cell(params, "Keras", activations=True).variant
    return {"activation": variant.cell_activation, "recurrent_activation": variant.gate_activation}
