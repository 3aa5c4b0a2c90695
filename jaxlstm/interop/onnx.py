"""ONNX: a stack as a model of standard ``LSTM`` operators (opset 14), what onnxruntime,
TensorRT and mobile runtimes execute, and such a model read back.

Each layer is one ``LSTM`` node (``direction`` ``"forward"`` or ``"bidirectional"``): ``W``
``(D, 4H, I)`` and ``R`` ``(D, 4H, H)`` in the operator's gate order i, o, f, c (c is jaxlstm's
g), ``B`` ``(D, 8H)`` holding the input bias then the recurrent bias (ours is all in the first
half), peepholes ``P`` ``(D, 3H)`` in the order i, o, f. The node's ``Y`` ``(T, D, B, H)`` is
transposed and reshaped into the next layer's ``X`` ``(T, B, D * H)``, as :func:`jaxlstm.lstm`
chains its layers. The model's outputs are ``Y`` ``(T, B, D * H)``, ``Y_h`` and ``Y_c``
``(L * D, B, H)``, those of :func:`jaxlstm.lstm`; its inputs come in two forms:

- by default ``X`` ``(T, B, I)`` alone, as a PyTorch LSTM exports: each node leaves its optional
  ``sequence_lens``, ``initial_h`` and ``initial_c`` unnamed, so every sequence runs all ``T``
  steps from a zero state (:func:`jaxlstm.lstm` without ``seq_lengths`` and ``state``);
- with ``state_inputs=True`` also ``sequence_lens`` ``(B,)`` int32, ``initial_h`` and
  ``initial_c`` ``(L * D, B, H)``, all three required (:func:`jaxlstm.lstm` with
  ``seq_lengths`` and ``state``); ``Slice`` nodes hand each layer its rows of the state.

The batch and time axes are symbolic (``"batch"``, ``"time"``). The model declares the lowest
ONNX IR version its opset needs (onnx's own table: 7 for opset 14), not the newest that the
installed onnx writes, so that older runtimes load it.

The vanilla and peephole cells have ONNX forms; every other variant (no such gate in the
operator, or ``clip``, which ONNX applies to the gates' inputs, not to ``c``), a projection and
a learned initial state are refused. Needs the ``onnx`` package (``pip install
'jaxlstm[onnx]'``), imported only here.
"""

from __future__ import annotations

import numpy as np

from jaxlstm.interop._layout import as_stack, reorder_gates
from jaxlstm.params import CellParams, LSTMParams
from jaxlstm.variant import Variant

__all__ = ["from_onnx", "to_onnx"]

OPSET = 14
_PEEPHOLE_ORDER = "iof"


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("to_onnx and from_onnx need the onnx package. Hint: pip install 'jaxlstm[onnx]'.") from None
    return onnx


def to_onnx(params: CellParams | LSTMParams, *, readout: tuple | None = None, shortcut: bool = False,
            name: str = "jaxlstm", state_inputs: bool = False):
    """An ``onnx.ModelProto`` computing :func:`jaxlstm.lstm` of ``params`` in float32 (save it
    with ``onnx.save(model, path)``).

    Args:
        params: the stack.
        readout: ``(w, b)``, a linear layer on the outputs: the model then also outputs
            ``logits`` ``(T, B, O)`` = ``Y @ w + b``.
        shortcut: the readout reads ``concat([Y, X], -1)`` (the inputs too), as the trainer's
            ``model.shortcut``.
        name: the graph's name.
        state_inputs: whether the model's inputs are ``X``, ``sequence_lens``, ``initial_h`` and
            ``initial_c`` (all required: :func:`jaxlstm.lstm` with ``seq_lengths`` and
            ``state``) rather than ``X`` alone (the default: full lengths from a zero state).

    Usage (with onnx and onnxruntime installed)::

        params = jaxlstm.init(jax.random.key(0), 8, 16, num_layers=2, bidirectional=True)
        onnx.save(to_onnx(params), "lstm.onnx")   # two LSTM nodes; the one input X
        run = onnxruntime.InferenceSession("lstm.onnx")
        ys, h, c = run.run(None, {"X": xs})   # jaxlstm.lstm(params, xs), xs (T, B, 8) float32
        onnx.save(to_onnx(params, state_inputs=True), "lstm_state.onnx")
        # inputs X, sequence_lens, initial_h, initial_c: jaxlstm.lstm(params, xs, state, seq_lengths=...)
    """
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    stack = as_stack(params, "ONNX")
    for l, layer in enumerate(stack.layers):
        for d, cell in enumerate(layer):
            if cell.variant not in (Variant(), Variant(peepholes=True)):
                raise ValueError(
                    f"ONNX's LSTM operator has the vanilla and the peephole cell only; params.layers[{l}][{d}] "
                    f"has {cell.variant}. Hint: variant='vanilla' or 'peephole' for a model to export."
                )
    H, D = stack.hidden_size, stack.num_directions
    nodes, weights = [], []
    x = "X"
    for l, layer in enumerate(stack.layers):
        tensors = _node_weights(layer)
        names = [f"layer{l}_{key}" for key in tensors]
        weights += [numpy_helper.from_array(value, n) for n, value in zip(names, tensors.values())]
        optional = ["", "", ""]
        if state_inputs:
            span = [f"layer{l}_start", f"layer{l}_stop"]
            weights += [numpy_helper.from_array(np.array([l * D], np.int64), span[0]),
                        numpy_helper.from_array(np.array([(l + 1) * D], np.int64), span[1])]
            nodes += [helper.make_node("Slice", ["initial_h", *span], [f"layer{l}_h0"]),
                      helper.make_node("Slice", ["initial_c", *span], [f"layer{l}_c0"])]
            optional = ["sequence_lens", f"layer{l}_h0", f"layer{l}_c0"]
        inputs = [x, names[0], names[1], names[2], *optional]
        inputs += [names[3]] if "P" in tensors else []
        nodes.append(helper.make_node("LSTM", inputs, [f"layer{l}_Y", f"layer{l}_Yh", f"layer{l}_Yc"],
                                      hidden_size=H, direction="bidirectional" if D == 2 else "forward"))
        nodes.append(helper.make_node("Transpose", [f"layer{l}_Y"], [f"layer{l}_TBDH"], perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Reshape", [f"layer{l}_TBDH", "flat_shape"], [f"layer{l}_out"]))
        x = f"layer{l}_out"
    weights.append(numpy_helper.from_array(np.array([0, 0, -1], np.int64), "flat_shape"))
    L = stack.num_layers
    nodes.append(helper.make_node("Identity", [x], ["Y"]))
    nodes.append(helper.make_node("Concat", [f"layer{l}_Yh" for l in range(L)], ["Y_h"], axis=0))
    nodes.append(helper.make_node("Concat", [f"layer{l}_Yc" for l in range(L)], ["Y_c"], axis=0))
    f32 = TensorProto.FLOAT
    outputs = []
    if readout is not None:
        w, b = (np.asarray(a, np.float32) for a in readout)
        features = D * H + (stack.layers[0][0].input_size if shortcut else 0)
        if w.shape[0] != features or b.shape != (w.shape[1],):
            raise ValueError(f"readout has shapes {w.shape} and {b.shape}; expected ({features}, O) and (O,) "
                             f"for outputs of size {D * H}{' and the inputs (shortcut)' if shortcut else ''}.")
        weights += [numpy_helper.from_array(w, "readout_w"), numpy_helper.from_array(b, "readout_b")]
        if shortcut:
            nodes.append(helper.make_node("Concat", ["Y", "X"], ["features"], axis=-1))
        nodes.append(helper.make_node("MatMul", ["features" if shortcut else "Y", "readout_w"], ["projected"]))
        nodes.append(helper.make_node("Add", ["projected", "readout_b"], ["logits"]))
        outputs.append(helper.make_tensor_value_info("logits", f32, ["time", "batch", w.shape[1]]))
    graph_inputs = [helper.make_tensor_value_info("X", f32, ["time", "batch", stack.layers[0][0].input_size])]
    if state_inputs:
        graph_inputs += [helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, ["batch"]),
                         helper.make_tensor_value_info("initial_h", f32, [L * D, "batch", H]),
                         helper.make_tensor_value_info("initial_c", f32, [L * D, "batch", H])]
    graph = helper.make_graph(
        nodes, name, graph_inputs,
        [helper.make_tensor_value_info("Y", f32, ["time", "batch", D * H]),
         helper.make_tensor_value_info("Y_h", f32, [L * D, "batch", H]),
         helper.make_tensor_value_info("Y_c", f32, [L * D, "batch", H]), *outputs],
        initializer=weights,
    )
    opsets = [helper.make_opsetid("", OPSET)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="jaxlstm",
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model)
    return model


def _node_weights(layer: tuple[CellParams, ...]) -> dict[str, np.ndarray]:
    """``W``, ``R``, ``B`` (and ``P``) of one layer's node, every direction stacked."""
    W, R, B, P = [], [], [], []
    for cell in layer:
        H = cell.hidden_size
        V, b = np.asarray(cell.V, np.float32), np.asarray(cell.b, np.float32)
        W.append(reorder_gates(V[H:], "ifgo", "iofg").T)
        R.append(reorder_gates(V[:H], "ifgo", "iofg").T)
        B.append(np.concatenate([reorder_gates(b, "ifgo", "iofg"), np.zeros(4 * H, np.float32)]))
        if cell.peepholes is not None:
            P.append(np.concatenate([np.asarray(cell.peepholes[g], np.float32) for g in _PEEPHOLE_ORDER]))
    tensors = {"W": np.stack(W), "R": np.stack(R), "B": np.stack(B)}
    if P:
        tensors["P"] = np.stack(P)
    return tensors


def from_onnx(model) -> LSTMParams:
    """The stack of an ONNX model's ``LSTM`` nodes, in graph order, as layers (each node's
    directions its cells): the models :func:`to_onnx` writes, or any whose LSTM nodes have
    their weights as initializers, the default activations and no ``clip`` or
    ``input_forget``. The recurrent bias is added into jaxlstm's one bias."""
    _onnx()
    from onnx import numpy_helper

    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers = []
    for node in (n for n in model.graph.node if n.op_type == "LSTM"):
        attributes = {a.name for a in node.attribute}
        unsupported = attributes & {"activations", "activation_alpha", "activation_beta", "clip", "input_forget"}
        if unsupported or [a.s for a in node.attribute if a.name == "direction"] == [b"reverse"]:
            raise ValueError(
                f"ONNX node {node.name or node.output[0]!r} has {sorted(unsupported) or 'direction reverse'}; "
                "expected a forward or bidirectional LSTM with the default activations, as to_onnx writes."
            )
        names = list(node.input) + [""] * (8 - len(node.input))
        missing = [names[i] for i in (1, 2) if names[i] not in initializers]
        if missing:
            raise ValueError(f"ONNX node {node.output[0]!r} reads {missing} from no initializer; expected "
                             "its weights W and R stored in the model.")
        W, R = initializers[names[1]], initializers[names[2]]
        D, H = W.shape[0], R.shape[-1]
        B = initializers.get(names[3], np.zeros((D, 8 * H), W.dtype))
        P = initializers.get(names[7]) if names[7] else None
        cells = []
        for d in range(D):
            V = np.concatenate([reorder_gates(R[d].T, "iofg", "ifgo"), reorder_gates(W[d].T, "iofg", "ifgo")])
            b = reorder_gates(B[d, : 4 * H] + B[d, 4 * H :], "iofg", "ifgo")
            peepholes = None if P is None else dict(zip(_PEEPHOLE_ORDER, np.split(P[d], 3)))
            cells.append(CellParams(V=V, b=b, peepholes=peepholes, variant=Variant(peepholes=P is not None)))
        layers.append(tuple(cells))
    if not layers:
        raise ValueError("the ONNX model has no LSTM node; expected one per layer, as to_onnx writes.")
    return LSTMParams(tuple(layers))
