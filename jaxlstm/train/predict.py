"""A trained run of the ``"files"`` task, used on new sequences: ``jaxlstm predict``.

A run of that task writes ``data.json`` beside its checkpoints: the features' normalisation,
fitted on its training split, and its class names (:meth:`jaxlstm.tasks.Files.fitted`).
:func:`predict` reads it and the newest checkpoint, so neither the training files nor anything
else of the run's data is needed: the new sequences are normalised as the training ones were,
run through one of the run's networks, and its outputs turned back into the task's terms
(class probabilities and names, or forecasts in the data's own units).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm.tasks.files import Files, normalised, read_sequences
from jaxlstm.train.config import ConfigError
from jaxlstm.train.model import predictions as activate
from jaxlstm.train.report import DATA_FILE
from jaxlstm.train.restore import load_params, one_network

__all__ = ["Predictions", "predict", "write_predictions"]


@dataclasses.dataclass(frozen=True)
class Predictions:
    """The outputs of a run's network for some sequences.

    Attributes:
        target: the task's ``target``.
        outputs: per sequence, ``(T_i, output_size)``: class probabilities at every step
            (``"sequence"``, ``"step"``), or forecasts ``(T_i, horizon, columns)`` in the data's
            units (``"forecast"``).
        classes: the class names, in the order of the outputs (empty for forecasts).
        labels: per sequence, the class predicted at its last step (``"sequence"``), or at every
            step (``"step"``); None for forecasts.
        columns: the forecast columns (forecasts only).
    """

    target: str
    outputs: tuple[np.ndarray, ...]
    classes: tuple
    labels: tuple | None
    columns: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _Sizes:
    """What a model needs of its task, read from ``data.json`` instead of the data files."""

    input_size: int
    output_size: int
    output: str


def predict(workdir: str | Path, sequences: str | Path | list, *, network: int = 0) -> Predictions:
    """The outputs of a trained ``"files"`` run's network over new sequences.

    Args:
        workdir: the run's directory (it needs ``data.json`` and a checkpoint).
        sequences: a data file in any format the task reads (labels, if any, are ignored), or
            a list of ``(T_i, F)`` arrays in the training data's units and column order.
        network: which of the run's seeds to use (an index, 0 for the first).
    """
    workdir = Path(workdir)
    fitted_path = workdir / DATA_FILE
    if not fitted_path.is_file():
        raise FileNotFoundError(f"workdir {workdir} has no {DATA_FILE}; expected the workdir of a run of the task "
                                "'files' (only those save their data's normalisation).")
    fitted = json.loads(fitted_path.read_text())
    mean, std = np.asarray(fitted["mean"], np.float32), np.asarray(fitted["std"], np.float32)
    columns, target = fitted["columns"], fitted["target"]
    forecast = [columns.index(c) for c in fitted["forecast_columns"]]
    if isinstance(sequences, (str, Path)):
        config = json.loads((workdir / "config.json").read_text())["task"]
        read = read_sequences(str(sequences), id_column=config.get("id_column", Files.id_column),
                              label_column=config.get("label_column", Files.label_column), columns=tuple(columns))
        values = list(read.values)
    else:
        values = [np.asarray(v, np.float32) for v in sequences]
    for i, v in enumerate(values):
        if v.ndim != 2 or v.shape[1] != len(columns):
            raise ValueError(f"sequence {i} has shape {v.shape}; expected (T, {len(columns)}): the run was trained "
                             f"on the features {columns}.")
    outputs_size = len(fitted["classes"]) if target != "forecast" else fitted["horizon"] * len(forecast)
    sizes = _Sizes(len(columns), outputs_size, "linear" if target == "forecast" else "softmax")
    config, model, params = load_params(workdir, task=sizes)
    params = one_network(config, params, network)
    xs, lengths = normalised(values, mean, std)
    logits, _ = jax.jit(lambda p, x, n: model.apply(p, x, seq_lengths=n))(params, jnp.asarray(xs), jnp.asarray(lengths))
    out = np.asarray(activate(logits, sizes.output))
    per_sequence = tuple(out[: len(v), b] for b, v in enumerate(values))
    classes = tuple(fitted["classes"])
    if target == "forecast":
        scale = lambda o: o.reshape(len(o), fitted["horizon"], len(forecast)) * std[forecast] + mean[forecast]
        return Predictions(target, tuple(scale(o) for o in per_sequence), (), None, tuple(fitted["forecast_columns"]))
    if target == "sequence":
        labels = tuple(classes[int(np.argmax(o[-1]))] if len(o) else None for o in per_sequence)
    else:
        labels = tuple(np.asarray([classes[int(i)] for i in np.argmax(o, axis=-1)]) for o in per_sequence)
    return Predictions(target, per_sequence, classes, labels, ())


def write_predictions(predictions: Predictions, output: str | Path) -> None:
    """Write ``predictions`` to ``.npz`` (``outputs`` padded ``(N, T, ...)`` with ``lengths``,
    and ``labels`` with ``classes``) or ``.csv`` (one row per sequence and step: ``sequence``,
    ``step``, the label and the outputs)."""
    output = Path(output)
    outs = predictions.outputs
    if output.suffix == ".npz":
        T = max((len(o) for o in outs), default=0)
        padded = np.zeros((len(outs), T, *(outs[0].shape[1:] if outs else ())), np.float32)
        for i, o in enumerate(outs):
            padded[i, : len(o)] = o
        arrays = dict(outputs=padded, lengths=np.asarray([len(o) for o in outs], np.int32))
        if predictions.labels is not None:
            arrays["classes"] = np.asarray([str(c) for c in predictions.classes])
            if predictions.target == "sequence":
                arrays["labels"] = np.asarray([str(label) for label in predictions.labels])
        np.savez(output, **arrays)
    elif output.suffix == ".csv":
        with open(output, "w", newline="") as f:
            writer = csv.writer(f)
            if predictions.target == "forecast":
                names = [f"{c}+{h + 1}" for h in range(outs[0].shape[1] if outs else 0) for c in predictions.columns]
            else:
                names = [f"p({c})" for c in predictions.classes]
            writer.writerow(["sequence", "step", *(["label"] if predictions.labels is not None else []), *names])
            for i, o in enumerate(outs):
                for t, row in enumerate(o.reshape(len(o), -1)):
                    label = []
                    if predictions.labels is not None:
                        label = [predictions.labels[i] if predictions.target == "sequence"
                                 else predictions.labels[i][t]]
                    writer.writerow([i, t, *label, *(f"{v:.6g}" for v in row)])
    else:
        raise ConfigError(f"output {str(output)!r} has the extension {output.suffix!r}; expected .npz or .csv.")
