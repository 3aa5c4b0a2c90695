"""Your own sequences, read from files: ``[task] name = "files"``.

Formats (by the file's extension):

- ``.npz``: either padded ``x`` ``(N, T, F)`` (or ``(N, T)``, one feature) with optional
  ``lengths`` ``(N,)``, or ragged ``values`` ``(total, F)`` with ``offsets`` ``(N + 1,)``
  (sequence ``i`` is ``values[offsets[i]:offsets[i + 1]]``); labels in ``y``: ``(N,)`` one per
  sequence, or one per step (``(N, T)`` padded, ``(total,)`` ragged).
- ``.npy``: one padded array ``(N, T, F)`` or ``(N, T)``, every sequence full length, no labels.
- ``.csv``: a header, then one row per time step; ``id_column`` groups the rows into sequences
  (in the order they first appear, rows in file order; ``""``: the whole file is one series), ``label_column`` (if present) holds the
  labels, the ``columns`` (default: every other column) the features. Numbers only.
- ``.ts``: the UEA/UCR archives' text format (``@`` header lines, then ``@data``: per line, the
  dimensions separated by ``:``, each a comma-separated series, and the class label last).

``path = "package:dir/file.ts"`` reads a file shipped inside an installed package's wheel
(found without importing the package), e.g. ``"sktime:datasets/data/JapaneseVowels/
JapaneseVowels_TRAIN.ts"``.

What is learned (``target``): ``"sequence"``, one class per sequence, predicted at its last
step (softmax; correct when the class is); ``"step"``, a class at every step (correct when every
step is); ``"forecast"``, the next ``horizon`` values of the ``forecast_columns`` at every step
(linear, squared error; correct when every forecast of the sequence is within ``tolerance``,
in normalised units).

The held-out split is ``test_path`` if given, else a seeded ``test_fraction`` of the sequences
(``split_seed``); for ``"forecast"`` it is the last ``test_fraction`` of every series' steps
instead, and the held-out task runs each whole series, counting only forecasts that lie wholly
in that tail. Inputs are normalised per feature with the mean and standard deviation of the
training split alone (:meth:`Files.fitted`, which a run saves beside its checkpoints); forecasts
are of normalised values.

Every problem with a file is a :class:`FileDataError` naming the file, the sequence, step,
row or array, what was expected and what was found.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib.util
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxlstm.tasks.base import (Batch, as_rng, check_batch_size, check_choice, check_int, one_hot, valid_mask,
                                within_tolerance)

__all__ = ["FileDataError", "Files", "Sequences", "read_sequences", "resolve"]

TARGETS = ("sequence", "step", "forecast")

_READ: dict[tuple, dict] = {}
"""The data of the last few tasks read, by their options and their files' sizes and times."""


class FileDataError(ValueError):
    """A data file that cannot be trained on: the message names the file and the place."""


@dataclasses.dataclass(frozen=True)
class Sequences:
    """Sequences read from one file.

    Attributes:
        values: one float32 ``(T_i, F)`` array per sequence.
        labels: per sequence, a label (``"sequence"`` labels) or a ``(T_i,)`` array of labels
            (per step); None if the file has none.
        columns: the features' names.
        source: the file, for messages.
        lines: for a ``.csv`` file, the line where each sequence's first row is.
    """

    values: tuple[np.ndarray, ...]
    labels: tuple[Any, ...] | None
    columns: tuple[str, ...]
    source: str
    lines: tuple[int, ...] | None = None


def normalised(values: list[np.ndarray], mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(xs, lengths)``: the ``(T_i, F)`` sequences normalised with ``mean`` and ``std`` (the
    training split's), zero-padded into one time-major ``(T, B, F)`` float32 array."""
    lengths = np.asarray([len(v) for v in values], np.int32)
    xs = np.zeros((int(lengths.max(initial=0)), len(values), len(mean)), np.float32)
    for b, v in enumerate(values):
        xs[: len(v), b] = (v - mean) / std
    return xs, lengths


def _sequence_label(label):
    """A sequence's one label, as a Python value: the label itself, or the first of an array of
    per-step labels (which the data's reading checked are all equal)."""
    return np.asarray(label).ravel()[0].item()


def resolve(path: str) -> Path:
    """The file ``path`` names: a path, or ``"package:relative/path"`` inside an installed
    package (found without importing it)."""
    package, sep, inner = str(path).partition(":")
    if sep and package.isidentifier() and not Path(path).exists():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileDataError(
                f"path {path!r} names a file inside the package {package!r}, which is not installed; "
                f"expected an installed package. Hint: pip install {package} (or the extra that brings it).")
        return Path(next(iter(spec.submodule_search_locations))) / inner
    return Path(path)


def read_sequences(path: str, *, id_column: str = "id", label_column: str = "label",
                   columns: tuple[str, ...] = ()) -> Sequences:
    """The sequences of a ``.npz``, ``.npy``, ``.csv`` or ``.ts`` file (module docstring)."""
    file = resolve(path)
    if not file.is_file():
        raise FileDataError(f"data file {path!r} does not exist; expected a .npz, .npy, .csv or .ts file. "
                            "Hint: a relative path is read from the directory jaxlstm runs in.")
    readers = {".npz": _read_npz, ".npy": _read_npy, ".csv": _read_csv, ".ts": _read_ts}
    reader = readers.get(file.suffix.lower())
    if reader is None:
        raise FileDataError(f"data file {path!r} has the extension {file.suffix!r}; expected one of "
                            f"{sorted(readers)}. Hint: convert it to .npz (numpy.savez) or .csv.")
    if reader is _read_csv:
        sequences = reader(file, str(path), id_column, label_column, columns)
    else:
        sequences = reader(file, str(path))
    if not sequences.values:
        raise FileDataError(f"data file {path!r} holds no sequence; expected at least one.")
    for i, seq in enumerate(sequences.values):
        if not np.isfinite(seq).all():
            t, f = (int(a[0]) for a in np.nonzero(~np.isfinite(seq)))
            raise FileDataError(
                f"data file {path!r}: sequence {i}, step {t}, feature {sequences.columns[f]!r} is {seq[t, f]}; "
                "expected a finite number. Hint: fill or drop missing values before training.")
    return sequences


def _read_npz(file: Path, name: str) -> Sequences:
    with np.load(file, allow_pickle=False) as arrays:
        arrays = dict(arrays)
    if "x" in arrays:
        x = arrays["x"]
        x = x[..., None] if x.ndim == 2 else x
        if x.ndim != 3:
            raise FileDataError(f"data file {name!r}: array 'x' has shape {x.shape}; expected (N, T, F) or (N, T).")
        N, T = x.shape[:2]
        lengths = np.asarray(arrays.get("lengths", np.full(N, T)))
        if lengths.shape != (N,) or not np.issubdtype(lengths.dtype, np.integer):
            raise FileDataError(f"data file {name!r}: array 'lengths' has shape {lengths.shape} and dtype "
                                f"{lengths.dtype}; expected ({N},) integers, one per sequence of 'x'.")
        bad = np.nonzero((lengths < 0) | (lengths > T))[0]
        if bad.size:
            raise FileDataError(f"data file {name!r}: lengths[{bad[0]}] is {lengths[bad[0]]}, longer than the padding "
                                f"of 'x' ({T} steps) or negative; expected 0 to {T}.")
        values = tuple(x[i, :n].astype(np.float32) for i, n in enumerate(lengths))
        labels = _npz_labels(arrays, name, lengths, padded=True)
    elif "values" in arrays and "offsets" in arrays:
        v, offsets = arrays["values"], arrays["offsets"]
        v = v[:, None] if v.ndim == 1 else v
        if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0 or np.any(np.diff(offsets) < 0) \
                or offsets[-1] != len(v):
            raise FileDataError(
                f"data file {name!r}: 'offsets' {offsets[:5].tolist()}{'...' if offsets.size > 5 else ''} "
                f"(ending at {offsets[-1] if offsets.size else None}) do not add up; expected 0 first, never "
                f"decreasing, and {len(v)} (the rows of 'values') last.")
        values = tuple(v[a:b].astype(np.float32) for a, b in zip(offsets[:-1], offsets[1:]))
        labels = _npz_labels(arrays, name, np.diff(offsets), padded=False)
    else:
        raise FileDataError(f"data file {name!r} holds the arrays {sorted(arrays)}; expected 'x' (with "
                            "'lengths') or 'values' with 'offsets', and optionally 'y'.")
    F = values[0].shape[-1] if values else 0
    return Sequences(values, labels, tuple(f"x{i}" for i in range(F)), name)


def _npz_labels(arrays: dict, name: str, lengths: np.ndarray, *, padded: bool):
    if "y" not in arrays:
        return None
    y = arrays["y"]
    if not np.issubdtype(y.dtype, np.integer):
        raise FileDataError(f"data file {name!r}: array 'y' has dtype {y.dtype}; expected integer class labels.")
    N = len(lengths)
    if y.shape == (N,):
        return tuple(int(label) for label in y)
    if padded and y.ndim == 2 and y.shape[0] == N and y.shape[1] >= lengths.max(initial=0):
        return tuple(y[i, :n] for i, n in enumerate(lengths))
    if not padded and y.shape == (int(lengths.sum()),):
        ends = np.cumsum(lengths)
        return tuple(y[e - n:e] for e, n in zip(ends, lengths))
    raise FileDataError(f"data file {name!r}: array 'y' has shape {y.shape}; expected ({N},) (one label per "
                        f"sequence) or one per step ({'(N, T)' if padded else f'({int(lengths.sum())},)'}).")


def _read_npy(file: Path, name: str) -> Sequences:
    x = np.load(file, allow_pickle=False)
    x = x[..., None] if x.ndim == 2 else x
    if x.ndim != 3:
        raise FileDataError(f"data file {name!r} has shape {x.shape}; expected (N, T, F) or (N, T).")
    return Sequences(tuple(s.astype(np.float32) for s in x), None, tuple(f"x{i}" for i in range(x.shape[-1])), name)


def _read_csv(file: Path, name: str, id_column: str, label_column: str, columns: tuple[str, ...]) -> Sequences:
    with open(file, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise FileDataError(f"data file {name!r} is empty; expected a header row, then one row per step.")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if id_column and id_column not in header:
        raise FileDataError(f"data file {name!r} has no column {id_column!r} (its columns: {header}); expected "
                            "the column that says which sequence each row belongs to. Hint: set task.id_column, "
                            "or task.id_column = '' when the whole file is one series.")
    has_labels = label_column in header
    features = list(columns) or [h for h in header if h not in (id_column, label_column)]
    missing = [c for c in features if c not in header]
    if missing or not features:
        raise FileDataError(f"data file {name!r} has no column {missing[0] if missing else 'of features'!r} (its "
                            f"columns: {header}); expected the columns of task.columns. Hint: leave task.columns "
                            "empty to use every column but the id and the label.")
    where = [header.index(c) for c in features]
    at_label = header.index(label_column) if has_labels else None
    at_id = header.index(id_column) if id_column else None
    order: dict[str, list] = {}
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise FileDataError(f"data file {name!r}, line {line}: {len(row)} fields; expected {len(header)}, "
                                "as in the header.")
        try:
            x = [float(row[i]) for i in where]
        except ValueError:
            bad = next(c for c, i in zip(features, where) if not _is_float(row[i]))
            raise FileDataError(f"data file {name!r}, line {line}, column {bad!r}: {row[header.index(bad)]!r}; "
                                "expected a number.") from None
        label = None
        if has_labels:
            text = row[at_label].strip()
            if not _is_int(text):
                raise FileDataError(f"data file {name!r}, line {line}, column {label_column!r}: {text!r}; expected "
                                    "an integer class label. Hint: for regression leave the labels out and use "
                                    "target = 'forecast'.")
            label = int(float(text))
        order.setdefault(row[at_id] if at_id is not None else "", []).append((x, label, line))
    values = tuple(np.asarray([x for x, _, _ in steps], np.float32).reshape(len(steps), len(features))
                   for steps in order.values())
    labels = tuple(np.asarray([label for _, label, _ in steps]) for steps in order.values()) if has_labels else None
    return Sequences(values, labels, tuple(features), name, tuple(steps[0][2] for steps in order.values()))


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_int(text: str) -> bool:
    return _is_float(text) and float(text) == int(float(text))


def _read_ts(file: Path, name: str) -> Sequences:
    values, labels, in_data, has_labels = [], [], False, False
    for line_number, line in enumerate(file.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            lower = line.lower()
            if lower.startswith("@classlabel"):
                has_labels = lower.split()[1:2] == ["true"]
            in_data = lower.startswith("@data")
            continue
        fields = line.split(":")
        dims = fields[:-1] if has_labels else fields
        try:
            series = [[float("nan") if v.strip() == "?" else float(v) for v in d.split(",")] for d in dims]
        except ValueError:
            raise FileDataError(f"data file {name!r}, line {line_number}: a value that is not a number; expected "
                                "comma-separated numbers in every dimension.") from None
        if len({len(s) for s in series}) != 1:
            raise FileDataError(f"data file {name!r}, line {line_number}: dimensions of lengths "
                                f"{[len(s) for s in series]}; expected one length for every dimension of a case.")
        values.append(np.asarray(series, np.float32).T)
        if has_labels:
            labels.append(fields[-1].strip())
    if not in_data:
        raise FileDataError(f"data file {name!r} has no @data line; expected the .ts format of the UEA/UCR archives.")
    F = values[0].shape[-1] if values else 0
    return Sequences(tuple(values), tuple(labels) if has_labels else None, tuple(f"dim_{i}" for i in range(F)), name)


@dataclasses.dataclass(frozen=True)
class Files:
    """A task over sequences read from files (module docstring).

    Attributes:
        path: the training file (or all the data, when ``test_path`` is empty).
        target: ``"sequence"``, ``"step"`` or ``"forecast"``.
        test_path: the held-out file; empty: split ``path``.
        test_fraction: the held-out fraction when ``test_path`` is empty.
        split_seed: the seed of that split (``"sequence"`` and ``"step"``).
        id_column, label_column, columns: how a ``.csv`` file is read.
        horizon: how many next values a forecast predicts.
        forecast_columns: the features forecast; empty: all of them.
        window: for ``"forecast"``, the length of the training windows drawn from the series
            (0: whole series).
        tolerance: for ``"forecast"``, the largest absolute error, in normalised units, that
            still counts as correct.
        split: which split this task serves, ``"train"`` or ``"test"``; the trainer makes the
            held-out task itself, so a config leaves it at ``"train"``.
    """

    path: str = ""
    target: str = "sequence"
    test_path: str = ""
    test_fraction: float = 0.2
    split_seed: int = 0
    id_column: str = "id"
    label_column: str = "label"
    columns: tuple[str, ...] = ()
    horizon: int = 1
    forecast_columns: tuple[str, ...] = ()
    window: int = 0
    tolerance: float = 0.1
    split: str = "train"

    def __post_init__(self):
        if not isinstance(self.path, str) or not self.path:
            raise ValueError("Files.path must name a data file; got an empty path. Hint: task.path = "
                             "'my_data.npz' (see experiments/data/README.md for the formats).")
        check_choice("Files", "target", self.target, TARGETS)
        check_choice("Files", "split", self.split, ("train", "test"))
        check_int("Files", "horizon", self.horizon, 1, "the number of next values to forecast, e.g. 1")
        check_int("Files", "window", self.window, 0, "0 (whole series) or a window length")
        check_int("Files", "split_seed", self.split_seed, 0, "any seed, e.g. 0")
        if not (isinstance(self.test_fraction, (int, float)) and 0.0 < self.test_fraction < 1.0):
            raise ValueError(f"Files.test_fraction must be in (0, 1); got {self.test_fraction!r}. Hint: 0.2.")
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "forecast_columns", tuple(self.forecast_columns))
        self._data  # read and check the files now: a bad file fails before any run starts

    # --- the data --------------------------------------------------------------------------------

    @functools.cached_property
    def _data(self) -> dict:
        """The splits, classes and normalisation; read once per process for the same options
        and unchanged files (a run makes its task several times)."""
        files = [resolve(p) for p in (self.path, self.test_path) if p]
        stats = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) if f.is_file() else (str(f),) for f in files)
        options = tuple((f.name, getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "split")
        key = (options, stats)  # both splits of a task share what was read
        if key not in _READ:
            if len(_READ) >= 4:
                _READ.pop(next(iter(_READ)))
            _READ[key] = self._read()
        return _READ[key]

    def _read(self) -> dict:
        read = functools.partial(read_sequences, id_column=self.id_column, label_column=self.label_column,
                                 columns=self.columns)
        data = read(self.path)
        if self.target != "forecast" and data.labels is None:
            raise FileDataError(f"data file {self.path!r} has no labels; expected labels for target="
                                f"{self.target!r}. Hint: target = 'forecast' needs none.")
        test = read(self.test_path) if self.test_path else None
        if test is not None and test.columns != data.columns:
            raise FileDataError(f"data file {self.test_path!r} has the features {list(test.columns)}; expected those "
                                f"of {self.path!r}: {list(data.columns)}.")
        forecast = [data.columns.index(c) if c in data.columns else self._unknown_column(c, data)
                    for c in self.forecast_columns] or list(range(len(data.columns)))
        classes = self._classes(data, test) if self.target != "forecast" else ()
        if self.target == "forecast":
            train, held = self._time_split(data, test)
        else:
            train, held = self._sequence_split(data, test)
        steps = np.concatenate([v for v, _ in train])
        mean, std = steps.mean(axis=0), steps.std(axis=0)
        std = np.where(std > 0, std, 1.0).astype(np.float32)
        return dict(train=train, test=held, classes=classes, forecast=forecast, mean=mean.astype(np.float32), std=std,
                    columns=data.columns)

    def _unknown_column(self, column: str, data: Sequences):
        raise FileDataError(f"task.forecast_columns names {column!r}; expected columns of {self.path!r}: "
                            f"{list(data.columns)}.")

    def _sequence_split(self, data: Sequences, test: Sequences | None):
        pairs = list(zip(data.values, data.labels))
        if test is not None:
            if test.labels is None:
                raise FileDataError(f"data file {self.test_path!r} has no labels; expected labels, as {self.path!r}.")
            held = list(zip(test.values, test.labels))
            return self._nonempty(pairs, "training", self.path), self._nonempty(held, "held-out", self.test_path)
        order = np.random.default_rng(self.split_seed).permutation(len(pairs))
        cut = len(pairs) - round(len(pairs) * self.test_fraction)
        train, held = [pairs[i] for i in sorted(order[:cut])], [pairs[i] for i in sorted(order[cut:])]
        return self._nonempty(train, "training", self.path), self._nonempty(held, "held-out", self.path)

    def _time_split(self, data: Sequences, test: Sequences | None):
        if test is not None:
            return [(v, None) for v in data.values], [(v, 0) for v in test.values]
        train, held = [], []
        for v in data.values:
            start = len(v) - round(len(v) * self.test_fraction)
            if start > self.horizon:
                train.append((v[:start], None))
            if len(v) - start >= self.horizon:
                held.append((v, start))  # the whole series; forecasts count from its tail
        return self._nonempty(train, "training", self.path), self._nonempty(held, "held-out", self.path)

    def _nonempty(self, split: list, which: str, path: str) -> list:
        if not split:
            raise FileDataError(f"data file {path!r}: the {which} split is empty; expected at least one sequence. "
                                "Hint: change task.test_fraction, or give task.test_path.")
        return split

    def _classes(self, data: Sequences, test: Sequences | None) -> tuple:
        labels = [label for part in (data, test) if part is not None for label in part.labels]
        if self.target == "step":
            return tuple(sorted({int(v) for labels_ in labels for v in np.asarray(labels_).ravel()}))
        if self.target == "sequence" and any(isinstance(label, np.ndarray) for label in labels):
            for part in (data, test):
                for i, label in enumerate(part.labels if part is not None else ()):
                    values = np.unique(np.asarray(label))
                    if values.size > 1:
                        place = f", the sequence from line {part.lines[i]}" if part.lines else f", sequence {i}"
                        raise FileDataError(f"data file {part.source!r}{place}: the labels {values.tolist()}; expected "
                                            "one label per sequence for target='sequence'. Hint: target = 'step' "
                                            "for a label at every step.")
            labels = [_sequence_label(label) for label in labels]
        return tuple(sorted({label for label in labels}, key=lambda v: (str(type(v)), v)))

    def fitted(self) -> dict:
        """What the task learned from its training split, which predictions need: the features'
        normalisation and the class names, as JSON-able values."""
        d = self._data
        return {"columns": list(d["columns"]), "mean": d["mean"].tolist(), "std": d["std"].tolist(),
                "classes": [c if isinstance(c, str) else int(c) for c in d["classes"]],
                "forecast_columns": [d["columns"][i] for i in d["forecast"]], "target": self.target,
                "horizon": self.horizon}

    # --- the Task protocol -----------------------------------------------------------------------

    output = property(lambda self: "linear" if self.target == "forecast" else "softmax")

    @property
    def input_size(self) -> int:
        return len(self._data["columns"])

    @property
    def output_size(self) -> int:
        d = self._data
        return self.horizon * len(d["forecast"]) if self.target == "forecast" else len(d["classes"])

    def held_out(self) -> Files:
        return dataclasses.replace(self, split="test")

    def sample(self, rng: np.random.Generator | int, batch_size: int) -> Batch:
        """Training: ``batch_size`` sequences drawn with replacement (or windows of them, for
        forecasts with ``window``). Held out: the first ``batch_size`` of a seeded order of the
        held-out split without replacement (every one of it with ``eval.batch_size`` its size)."""
        rng, data = as_rng(rng), self._data
        check_batch_size(batch_size)
        if self.split == "test":
            pool = data["test"]
            if batch_size > len(pool):
                raise ValueError(f"batch_size is {batch_size}, but the held-out split of {self.path!r} has "
                                 f"{len(pool)} sequences; expected at most that many. Hint: --set "
                                 f"eval.batch_size={len(pool)} evaluates on all of them.")
            chosen = [pool[i] for i in sorted(rng.permutation(len(pool))[:batch_size])]
        else:
            chosen = [data["train"][i] for i in rng.integers(0, len(data["train"]), batch_size)]
            if self.target == "forecast" and self.window:
                chosen = [self._window(rng, v) for v, _ in chosen]
        return self.batch([v for v, _ in chosen], [extra for _, extra in chosen])

    def _window(self, rng: np.random.Generator, v: np.ndarray):
        length = min(self.window + self.horizon, len(v))
        start = int(rng.integers(0, len(v) - length + 1))
        return v[start:start + length], None

    def batch(self, values: list[np.ndarray], extras: list | None = None) -> Batch:
        """A time-major batch of raw sequences: normalised inputs, and the targets and weights
        of the task's ``target`` (``extras``: the labels, or for held-out forecasts the step
        where each series' tail starts)."""
        d, B = self._data, len(values)
        extras = [None] * B if extras is None else extras
        xs, lengths = normalised(values, d["mean"], d["std"])
        T = len(xs)
        valid = valid_mask(lengths, T)
        if self.target == "forecast":
            targets = np.zeros((T, B, self.output_size), np.float32)
            weights = np.zeros((T, B), np.float32)
            cols = d["forecast"]
            for b, v in enumerate(values):
                normal = xs[: len(v), b]
                first = 0 if extras[b] is None else max(extras[b] - 1, 0)  # forecasts of the tail only
                count = len(v) - self.horizon  # the steps whose next horizon values are all known
                if count > first:  # at step t, the values of steps t + 1 .. t + horizon, step by step
                    ahead = np.lib.stride_tricks.sliding_window_view(normal[1:, cols], self.horizon, axis=0)
                    targets[first:count, b] = ahead[first:count].transpose(0, 2, 1).reshape(count - first, -1)
                    weights[first:count, b] = 1.0
            return Batch(xs, targets, weights, lengths)
        index = {c: i for i, c in enumerate(d["classes"])}
        ids = np.zeros((T, B), np.int32)
        weights = np.zeros((T, B), np.float32)
        for b, label in enumerate(extras):
            if self.target == "sequence":
                ids[:, b] = index[_sequence_label(label)]
                if lengths[b]:
                    weights[lengths[b] - 1, b] = 1.0
            else:
                ids[: lengths[b], b] = [index[int(v)] for v in np.asarray(label)]
                weights[:, b] = valid[:, b]
        return Batch(xs, one_hot(ids, len(d["classes"]), weights > 0), weights, lengths)

    def correct(self, predictions: Array, batch: Batch) -> Array:
        """Per sequence: the class at its last step (``"sequence"``), every step's class
        (``"step"``), or every forecast within ``tolerance`` (``"forecast"``)."""
        if self.target == "forecast":
            return jnp.all(within_tolerance(predictions, batch, self.tolerance), axis=0)
        ok = jnp.argmax(jnp.asarray(predictions), axis=-1) == jnp.argmax(jnp.asarray(batch.targets), axis=-1)
        return jnp.all(ok | ~(jnp.asarray(batch.weights) > 0), axis=0)
