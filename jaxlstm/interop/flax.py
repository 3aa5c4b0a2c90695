"""Flax's LSTM cells (carry ``(c, h)``, gate order i, f, g, o, one bias on the h side).

- linen ``LSTMCell`` and ``OptimizedLSTMCell`` share one param tree: Dense ``ii``, ``if``,
  ``ig``, ``io`` kernels (I, H) without bias on x, and ``hi``, ``hf``, ``hg``, ``ho`` kernels
  (H, H) with bias (H,) on h. Under ``nn.RNN`` it sits at ``params["cell"]``.
- nnx ``LSTMCell``: the same eight Linears, the forget one on x named ``if_``.
- nnx ``OptimizedLSTMCell``: ``dense_i.kernel`` (I, 4H), ``dense_h.kernel`` (H, 4H),
  ``dense_h.bias`` (4H,).

Every direction is exact. The nnx trees are pure dicts: ``nnx.to_pure_dict(nnx.state(cell))``
in, ``nnx.replace_by_pure_dict(state, tree)`` out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from jaxlstm.interop._layout import cell, check_shape, split_v, vanilla_cell
from jaxlstm.params import CellParams, LSTMParams

__all__ = ["from_flax", "to_flax"]

Layout = Literal["linen", "nnx", "nnx_optimized"]


def _layout(tree: Mapping) -> Layout:
    if "dense_i" in tree:
        return "nnx_optimized"
    if "if_" in tree:
        return "nnx"
    if "if" in tree:
        return "linen"
    if "cell" in tree:
        raise ValueError(
            "tree looks like the params of a Flax RNN: pass its cell's params, tree['cell']."
        )
    raise ValueError(
        f"tree has keys {sorted(tree)}; expected a Flax LSTM cell's params: linen's 'ii', 'if', "
        "..., nnx LSTMCell's 'ii', 'if_', ..., or nnx OptimizedLSTMCell's 'dense_i', 'dense_h'."
    )


def from_flax(tree: Mapping) -> CellParams:
    """A Flax LSTM cell's params (any of the three layouts, told apart by their names).

    Example:
        >>> import numpy as np
        >>> tree = {"dense_i": {"kernel": np.ones((2, 12))},
        ...         "dense_h": {"kernel": np.ones((3, 12)), "bias": np.zeros(12)}}
        >>> from_flax(tree).V.shape
        (5, 12)
    """
    layout = _layout(tree)
    if layout == "nnx_optimized":
        x_kernel = np.asarray(tree["dense_i"]["kernel"])
        h_kernel = np.asarray(tree["dense_h"]["kernel"])
        bias = np.asarray(tree["dense_h"]["bias"])
        H = h_kernel.shape[0]
        check_shape("dense_h.kernel", h_kernel, (H, 4 * H), "(H, 4H)")
        check_shape("dense_i.kernel", x_kernel, (x_kernel.shape[0], 4 * H), "(I, 4H)")
        check_shape("dense_h.bias", bias, (4 * H,), "(4H,)")
        return cell(np.concatenate([h_kernel, x_kernel]), bias)
    forget = "if_" if layout == "nnx" else "if"
    names = {"i": "ii", "f": forget, "g": "ig", "o": "io"}
    x_blocks = [np.asarray(tree[names[g]]["kernel"]) for g in "ifgo"]
    h_blocks = [np.asarray(tree["h" + g]["kernel"]) for g in "ifgo"]
    biases = [np.asarray(tree["h" + g]["bias"]) for g in "ifgo"]
    H = h_blocks[0].shape[0]
    for g, xb, hb, bb in zip("ifgo", x_blocks, h_blocks, biases):
        check_shape(f"h{g}.kernel", hb, (H, H), "(H, H)")
        check_shape(f"{names[g]}.kernel", xb, (xb.shape[0], H), "(I, H)")
        check_shape(f"h{g}.bias", bb, (H,), "(H,)")
    V = np.concatenate([np.concatenate(h_blocks, axis=1), np.concatenate(x_blocks, axis=1)])
    return cell(V, np.concatenate(biases))


def to_flax(params: CellParams | LSTMParams, layout: Layout = "linen") -> dict:
    """The params of a Flax LSTM cell in ``layout``: ``"linen"`` (``LSTMCell`` and
    ``OptimizedLSTMCell``), ``"nnx"`` (``nnx.LSTMCell``) or ``"nnx_optimized"``. A cell with
    other activations goes to a Flax cell built with ``gate_fn=variant.gate_fn`` and
    ``activation_fn=variant.cell_fn``."""
    U, W, b = split_v(vanilla_cell(params, "Flax", activations=True))
    if layout == "nnx_optimized":
        return {"dense_i": {"kernel": W.copy()}, "dense_h": {"kernel": U.copy(), "bias": b.copy()}}
    if layout not in ("linen", "nnx"):
        raise ValueError(f"layout must be 'linen', 'nnx' or 'nnx_optimized'; got {layout!r}.")
    forget = "if_" if layout == "nnx" else "if"
    names = {"i": "ii", "f": forget, "g": "ig", "o": "io"}
    tree = {}
    for k, (g, wb, ub, bb) in enumerate(zip("ifgo", np.split(W, 4, 1), np.split(U, 4, 1), np.split(b, 4))):
        tree[names[g]] = {"kernel": np.ascontiguousarray(wb)}
        tree["h" + g] = {"kernel": np.ascontiguousarray(ub), "bias": bb.copy()}
    return tree
