"""The flat cuDNN weight vector of ``jax.experimental.rnn`` (and cuDNN's own layout).

One 1-D buffer: every weight first, ``[W_ih, W_hh]`` for each pseudo-layer in the order fwd 0,
rev 0, fwd 1, rev 1, ...; then every bias ``[b_ih, b_hh]`` in the same order. Each block is in
``torch.nn.LSTM``'s shape and gate order (i, f, g, o), row-major, so the conversion goes through
:mod:`jaxlstm.interop.pytorch` and follows its two-bias rule (``b_ih = b``, ``b_hh = 0`` out).
"""

from __future__ import annotations

import math

import numpy as np

from jaxlstm.interop.pytorch import from_torch, to_torch
from jaxlstm.interop._layout import as_stack
from jaxlstm.params import CellParams, LSTMParams

__all__ = ["from_cudnn", "to_cudnn"]


def _names(num_layers: int, bidirectional: bool) -> list[str]:
    suffixes = [f"_l{l}" + r for l in range(num_layers) for r in (("", "_reverse") if bidirectional else ("",))]
    return [k + s for s in suffixes for k in ("weight_ih", "weight_hh")] + [
        k + s for s in suffixes for k in ("bias_ih", "bias_hh")
    ]


def _shape(name: str, input_size: int, hidden_size: int, directions: int) -> tuple[int, ...]:
    H = hidden_size
    if name.startswith("bias"):
        return (4 * H,)
    if name.startswith("weight_hh"):
        return (4 * H, H)
    first = name.split("_l")[1].split("_")[0] == "0"
    return (4 * H, input_size if first else directions * H)


def from_cudnn(
    weights, input_size: int, hidden_size: int, *, num_layers: int = 1, bidirectional: bool = False
) -> LSTMParams:
    """The flat vector (e.g. ``jax.experimental.rnn.init_lstm_weight(...)``) as ``LSTMParams``.

    Example:
        >>> import numpy as np
        >>> params = from_cudnn(np.zeros(2 * (12 * 2 + 12 * 3 + 24)), 2, 3, bidirectional=True)
        >>> params.num_directions, params.layers[0][1].V.shape
        (2, (5, 12))
    """
    flat = np.asarray(weights).reshape(-1)
    directions = 2 if bidirectional else 1
    names = _names(num_layers, bidirectional)
    shapes = [_shape(n, input_size, hidden_size, directions) for n in names]
    expected = sum(math.prod(s) for s in shapes)
    if flat.size != expected:
        raise ValueError(
            f"weights has {flat.size} numbers; expected {expected} for input_size={input_size}, "
            f"hidden_size={hidden_size}, num_layers={num_layers}, bidirectional={bidirectional} "
            "(jax.experimental.rnn.get_num_params_in_lstm)."
        )
    state_dict, offset = {}, 0
    for name, shape in zip(names, shapes):
        size = math.prod(shape)
        state_dict[name] = flat[offset : offset + size].reshape(shape)
        offset += size
    return from_torch(state_dict)


def to_cudnn(params: LSTMParams | CellParams) -> np.ndarray:
    """The flat 1-D vector for ``jax.experimental.rnn.lstm``."""
    stack = as_stack(params, "cuDNN")
    if stack.layers[0][0].variant.proj_size is not None:  # also one of H, which changes h as any other
        raise ValueError("jax.experimental.rnn has no projections (proj_size); got proj_size "
                         f"{stack.output_size}.")
    state_dict = to_torch(stack)
    names = _names(stack.num_layers, stack.bidirectional)
    return np.concatenate([state_dict[n].reshape(-1) for n in names])
