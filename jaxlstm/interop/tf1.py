"""TensorFlow 1 ``tf.nn.rnn_cell.LSTMCell``: ``kernel`` (I + H, 4H) applied to
``concat[x, h]``, ``bias`` (4H,), gate order i, j, f, o (j is jaxlstm's g), ``forget_bias``
added at run time (1.0 by default), optional peephole diagonals ``w_i_diag``, ``w_f_diag``,
``w_o_diag`` (H,), ``cell_clip``, and with ``num_proj`` a ``projection/kernel`` (H, P) with
``proj_clip``; state ``LSTMStateTuple(c, h)``, c first.

The converters reorder the gates, swap the x and h rows, move the run-time ``forget_bias`` into
the stored bias (exact up to the rounding of that shift), and map peepholes, ``cell_clip``,
``num_proj`` and ``proj_clip`` to :class:`jaxlstm.Variant`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxlstm.interop._layout import check_shape, one_cell, reorder_gates
from jaxlstm.params import CellParams, LSTMParams
from jaxlstm.variant import Variant

__all__ = ["from_tf1", "to_tf1"]

_PEEPHOLES = {"i": "w_i_diag", "f": "w_f_diag", "o": "w_o_diag"}


def from_tf1(weights: Mapping[str, object], *, forget_bias: float = 1.0,
             cell_clip: float | None = None, proj_clip: float | None = None) -> CellParams:
    """``{"kernel", "bias"}``, with ``use_peepholes=True`` also ``{"w_i_diag", "w_f_diag",
    "w_o_diag"}``, with ``num_proj`` also ``"projection/kernel"`` (the variables of one
    ``LSTMCell``, without their scope prefix).

    Example:
        >>> import numpy as np
        >>> cell = from_tf1({"kernel": np.zeros((5, 12)), "bias": np.zeros(12)})
        >>> cell.b.reshape(4, 3)[:, 0].tolist()      # TF's run-time forget_bias, now stored
        [0.0, 1.0, 0.0, 0.0]
    """
    kernel, bias = np.asarray(weights["kernel"]), np.asarray(weights["bias"])
    H = kernel.shape[1] // 4
    proj = weights.get("projection/kernel")
    P = H if proj is None else np.asarray(proj).shape[1]
    check_shape("kernel", kernel, (kernel.shape[0], 4 * H), "(input_size + num_proj or num_units, 4 * num_units)")
    check_shape("bias", bias, (4 * H,), "(4 * num_units,)")
    if proj is not None:
        proj = np.asarray(proj).astype(bias.dtype)
        check_shape("projection/kernel", proj, (H, P), "(num_units, num_proj)")
    I = kernel.shape[0] - P
    V = reorder_gates(np.concatenate([kernel[I:], kernel[:I]]), "igfo", "ifgo")
    b = reorder_gates(bias, "igfo", "ifgo")
    b[H : 2 * H] += np.asarray(forget_bias, b.dtype)
    has_peepholes = [name in weights for name in _PEEPHOLES.values()]
    if any(has_peepholes) and not all(has_peepholes):
        raise ValueError(f"weights has some of {sorted(_PEEPHOLES.values())} but not all three.")
    peepholes = None
    if all(has_peepholes):
        peepholes = {g: np.asarray(weights[name]).astype(b.dtype) for g, name in _PEEPHOLES.items()}
        for g, name in _PEEPHOLES.items():
            check_shape(name, peepholes[g], (H,), "(num_units,)")
    variant = Variant(peepholes=peepholes is not None, cell_clip=cell_clip,
                      proj_size=None if proj is None else P, proj_clip=proj_clip)
    return CellParams(V=V.astype(b.dtype), b=b, peepholes=peepholes, proj=proj, variant=variant)


def to_tf1(params: CellParams | LSTMParams, *, forget_bias: float = 1.0) -> dict[str, np.ndarray]:
    """The variables of ``LSTMCell(num_units, use_peepholes=..., cell_clip=..., num_proj=...,
    proj_clip=..., forget_bias=...)``; ``forget_bias`` must be the one that cell will add at run
    time."""
    params = one_cell(params, "TF1 LSTMCell")
    v = params.variant
    allowed = Variant(peepholes=v.peepholes, cell_clip=v.cell_clip, proj_size=v.proj_size,
                      proj_clip=v.proj_clip)
    if v != allowed:
        raise ValueError(
            "TF1 LSTMCell has peepholes, cell_clip and projections but no other variant; got "
            f"{v}."
        )
    V, b = np.asarray(params.V), np.array(params.b)
    H, P = params.hidden_size, params.output_size
    b[H : 2 * H] -= np.asarray(forget_bias, b.dtype)
    out = {
        "kernel": reorder_gates(np.concatenate([V[P:], V[:P]]), "ifgo", "igfo"),
        "bias": reorder_gates(b, "ifgo", "igfo"),
    }
    if params.proj is not None:
        out["projection/kernel"] = np.asarray(params.proj).copy()
    for g, name in _PEEPHOLES.items():
        if params.peepholes:
            out[name] = np.asarray(params.peepholes[g]).copy()
    return out
