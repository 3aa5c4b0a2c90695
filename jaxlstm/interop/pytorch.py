"""PyTorch ``nn.LSTM`` weights, as numpy arrays: no torch import is needed.

PyTorch ``nn.LSTM`` layout, per layer ``l`` and direction (suffix ``""`` forward, ``"_reverse"``
backward):

==================  ===========================  ==========================================
PyTorch             shape                        jaxlstm
==================  ===========================  ==========================================
``weight_ih_l{l}``  ``(4H, I_l)``                ``V[H:].T`` (``V[P:].T``), the rows on x
``weight_hh_l{l}``  ``(4H, H)`` or ``(4H, P)``   ``V[:H].T`` (``V[:P].T``), the rows on h
``weight_hr_l{l}``  ``(P, H)``                   ``proj.T``, with ``Variant(proj_size=P)``
``bias_ih_l{l}``    ``(4H,)``                    ``b = bias_ih + bias_hh`` (absent: zero)
``bias_hh_l{l}``    ``(4H,)``                    exported as zeros, with ``bias_ih = b``
==================  ===========================  ==========================================

Both use the gate order i, f, g, o, so no gate permutation is needed; ``I_l`` is the input size
for ``l = 0`` and ``H * num_directions`` (``P * num_directions``) above. PyTorch's two biases only ever appear as their
sum, so ``to_torch(from_torch(sd))`` returns that sum in ``bias_ih`` and zeros in ``bias_hh``:
the same network, not the same numbers. ``from_torch(to_torch(p))`` returns ``p`` exactly.
The final state of :func:`jaxlstm.lstm` is stacked like PyTorch's ``(h_n, c_n)``, so it needs
no conversion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from jaxlstm.interop._layout import as_stack
from jaxlstm.params import CellParams, LSTMParams
from jaxlstm.variant import Variant

__all__ = ["from_torch", "to_torch"]

_TORCH_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?")


def from_torch(state_dict: Mapping[str, object], *, prefix: str = "") -> LSTMParams:
    """Convert a ``torch.nn.LSTM`` state dict into ``LSTMParams``.

    Args:
        state_dict: names to arrays, e.g. ``lstm.state_dict()`` (CPU tensors convert through
            ``np.asarray``) or a ``dict`` of numpy arrays; layers, directions and sizes are read
            from the names and shapes. ``bias=False`` modules (no biases) get a zero bias.
        prefix: keep only the entries whose names start with it, and strip it, e.g.
            ``"encoder.lstm."`` for an LSTM inside a larger model.

    Returns:
        ``LSTMParams`` whose leaves are numpy arrays of the source dtype.

    Example:
        >>> import numpy as np
        >>> from jaxlstm.interop import from_torch
        >>> H, I = 3, 2
        >>> sd = {"weight_ih_l0": np.ones((4 * H, I), np.float32),
        ...       "weight_hh_l0": np.ones((4 * H, H), np.float32),
        ...       "bias_ih_l0": np.ones(4 * H, np.float32), "bias_hh_l0": np.ones(4 * H, np.float32)}
        >>> params = from_torch(sd)
        >>> params.layers[0][0].V.shape, float(params.layers[0][0].b[0])
        ((5, 12), 2.0)
    """
    arrays: dict[tuple[str, int, int], np.ndarray] = {}
    for name, value in state_dict.items():
        if not name.startswith(prefix):
            continue
        short = name[len(prefix) :]
        match = _TORCH_KEY.fullmatch(short)
        if match is None:
            raise ValueError(
                f"state_dict has an entry {name!r} that is not a torch.nn.LSTM weight; expected "
                f"names like '{prefix}weight_ih_l0' or '{prefix}bias_hh_l1_reverse'. Hint: pass "
                "prefix= to select the LSTM's entries of a larger model."
            )
        kind, layer, direction = match[1], int(match[2]), 1 if match[3] else 0
        arrays[kind, layer, direction] = np.asarray(value)
    if not arrays:
        raise ValueError(
            f"state_dict has no torch.nn.LSTM weights under prefix {prefix!r}; got keys "
            f"{sorted(state_dict)[:6]}."
        )
    num_layers = 1 + max(layer for _, layer, _ in arrays)
    directions = 1 + max(direction for _, _, direction in arrays)
    layers = []
    for layer in range(num_layers):
        cells = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            missing = [k for k in ("weight_ih", "weight_hh") if (k, layer, direction) not in arrays]
            if missing:
                raise ValueError(
                    f"state_dict lacks {[prefix + k + suffix for k in missing]}; a "
                    f"{num_layers}-layer, {directions}-direction torch.nn.LSTM has them."
                )
            w_ih = arrays["weight_ih", layer, direction]
            w_hh = arrays["weight_hh", layer, direction]
            w_hr = arrays.get(("weight_hr", layer, direction))
            H = w_hh.shape[0] // 4
            P = H if w_hr is None else w_hr.shape[0]
            if w_hh.shape != (4 * H, P) or w_ih.ndim != 2 or w_ih.shape[0] != 4 * H:
                raise ValueError(
                    f"{prefix}weight_hh{suffix} has shape {w_hh.shape} and {prefix}weight_ih"
                    f"{suffix} {w_ih.shape}; expected (4H, H) (or (4H, proj_size)) and (4H, I)."
                )
            if w_hr is not None and w_hr.shape != (P, H):
                raise ValueError(
                    f"{prefix}weight_hr{suffix} has shape {w_hr.shape}; expected (proj_size, H) "
                    f"= ({P}, {H})."
                )
            b = np.zeros(4 * H, w_hh.dtype)
            for k in ("bias_ih", "bias_hh"):
                if (k, layer, direction) in arrays:
                    b = b + arrays[k, layer, direction]
            V = np.concatenate([w_hh.T, w_ih.T], axis=0)
            proj = None if w_hr is None else np.ascontiguousarray(w_hr.T)
            variant = Variant(proj_size=None if w_hr is None else P)
            cells.append(CellParams(V=V, b=b.astype(w_hh.dtype), proj=proj, variant=variant))
        layers.append(tuple(cells))
    return LSTMParams(layers=tuple(layers))


def to_torch(params: LSTMParams | CellParams) -> dict[str, np.ndarray]:
    """Convert ``LSTMParams`` into a ``torch.nn.LSTM`` state dict of numpy arrays.

    Load it with ``lstm.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})``
    into ``torch.nn.LSTM(input_size, hidden_size, num_layers, bidirectional=...)``. The bias
    goes into ``bias_ih``; ``bias_hh`` is zero.

    Example:
        >>> import jax, jaxlstm
        >>> from jaxlstm.interop import to_torch
        >>> sd = to_torch(jaxlstm.init(jax.random.key(0), 2, 3, bidirectional=True))
        >>> {k: v.shape for k, v in sd.items() if k.endswith("l0_reverse")}
        {'weight_ih_l0_reverse': (12, 2), 'weight_hh_l0_reverse': (12, 3), 'bias_ih_l0_reverse': (12,), 'bias_hh_l0_reverse': (12,)}
    """
    params = as_stack(params, "PyTorch")
    variants = {cell.variant for layer in params.layers for cell in layer}
    if any(v != Variant(proj_size=v.proj_size) for v in variants):
        raise ValueError(
            f"to_torch needs the vanilla cell, with or without proj_size; these params have "
            f"{sorted(map(str, variants))}. torch.nn.LSTM has no peepholes, layer norm, "
            "clipping or missing gates."
        )
    state_dict = {}
    for layer, cells in enumerate(params.layers):
        for direction, cell in enumerate(cells):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            V, b = np.asarray(cell.V), np.asarray(cell.b)
            P = cell.output_size
            state_dict["weight_ih" + suffix] = np.ascontiguousarray(V[P:].T)
            state_dict["weight_hh" + suffix] = np.ascontiguousarray(V[:P].T)
            state_dict["bias_ih" + suffix] = b.copy()
            state_dict["bias_hh" + suffix] = np.zeros_like(b)
            if cell.proj is not None:
                state_dict["weight_hr" + suffix] = np.ascontiguousarray(np.asarray(cell.proj).T)
    return state_dict
