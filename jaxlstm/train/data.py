"""The batches of a run: each a pure function of (seed, step), so a resumed run sees the data an
uninterrupted one would, and the seeds of a run are those of runs with one seed each.

Batches are padded to a fixed length, so the train step compiles once. Stream tasks
(:class:`~jaxlstm.tasks.StreamTask`, ``"cerg"``) are cut into chunks for truncated BPTT:
training stream ``j`` of seed ``s`` is drawn from ``default_rng([s, j])`` and covers
``chunks_per_stream`` consecutive steps.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxlstm.tasks import Batch, HeldOutTask, StreamTask
from jaxlstm.train.config import Config, ConfigError

__all__ = ["Data", "DataError", "check_finite", "pad"]

_MAX_DRAWS = 100


def pad(batch: Batch, length: int) -> Batch:
    """``batch`` padded with zeros (weight 0) to ``length`` steps."""
    extra = length - batch.xs.shape[0]
    if extra == 0:
        return batch
    grow = lambda a: np.concatenate([a, np.zeros((extra, *a.shape[1:]), a.dtype)])
    return Batch(grow(batch.xs), grow(batch.targets), grow(batch.weights), batch.seq_lengths)


def _window(stream: Batch, window: slice) -> Batch:
    xs = stream.xs[window]
    return Batch(xs, stream.targets[window], stream.weights[window], np.full_like(stream.seq_lengths, xs.shape[0]))


def _stack(batches: list[Batch]) -> Batch:
    return Batch(*(np.stack(parts) for parts in zip(*batches)))


class DataError(ValueError):
    """A task's batch that cannot be trained on; the message names the batch and the position."""


def check_finite(batch: Batch, what: str, axes: str) -> None:
    """Raise :class:`DataError` at the first NaN or infinity in ``batch``'s inputs, targets or
    weights, naming ``what`` batch it is and the position along ``axes`` (e.g. ``"seed, t, b"``),
    so that no run starts from, or trains on, data that are not numbers."""
    for name in ("xs", "targets", "weights"):
        values = np.asarray(getattr(batch, name))
        if np.issubdtype(values.dtype, np.inexact) and not np.isfinite(values).all():
            position = tuple(int(i[0]) for i in np.nonzero(~np.isfinite(values)))
            raise DataError(
                f"{what} holds a non-finite value: {name}[{', '.join(map(str, position))}] is "
                f"{values[position]} (axes {axes}, ...); expected finite numbers. Hint: the task's "
                "sample/stream methods made it; check the data they read or generate."
            )


@dataclasses.dataclass
class Data:
    """The training batches and the fixed test set of a run.

    Attributes:
        config: the run's config.
        task: the training task.
        streams: whether the task is a stream (truncated BPTT over chunks).
    """

    config: Config

    def __post_init__(self):
        self.task = self.config.task.make()
        self.streams = isinstance(self.task, StreamTask)
        self._stream_cache: dict[int, list[tuple[Batch, np.ndarray]]] = {}

    def train_batch(self, step: int) -> tuple[Batch, np.ndarray]:
        """The batch of every seed at ``step``, stacked ``(seeds, T, B, ...)``, and where the
        LSTM state restarts from the initial state before a step, ``(seeds, T, B)`` bool.

        Separate sequences start from the initial state (``resets[:, 0]``). A stream's chunk
        continues the previous chunk's state, except at the start of a training stream, with
        ``train.reset_state``, and, with ``train.external_reset``, at the first symbol of every
        embedded string (Gers et al.'s "external reset")."""
        train = self.config.train
        seeds = range(train.seed, train.seed + train.seeds)
        if not self.streams:
            batches = [self._sequences(np.random.default_rng([seed, step])) for seed in seeds]
            resets = np.zeros((train.seeds, train.max_length, train.batch_size), bool)
            resets[:, 0] = True
            return self._checked(_stack(batches), step), resets
        index, chunk = divmod(step, train.chunks_per_stream)
        if index not in self._stream_cache:
            self._stream_cache = {index: [self._stream(np.random.default_rng([seed, index])) for seed in seeds]}
        window = slice(chunk * train.tbptt, (chunk + 1) * train.tbptt)
        batches = [_window(stream, window) for stream, _ in self._stream_cache[index]]
        resets = np.zeros((train.seeds, train.tbptt, train.batch_size), bool)
        if train.external_reset:
            resets[:] = [starts[window] for _, starts in self._stream_cache[index]]
        resets[:, 0] |= chunk == 0 or train.reset_state
        return self._checked(_stack(batches), step), resets

    def _checked(self, batch: Batch, step: int) -> Batch:
        check_finite(batch, f"the training batch of step {step} (task {self.config.task.name!r})", "seed, t, b")
        return batch

    def _sequences(self, rng: np.random.Generator) -> Batch:
        length = self.config.train.max_length
        for _ in range(_MAX_DRAWS):
            batch = self.task.sample(rng, self.config.train.batch_size)
            if batch.xs.shape[0] <= length:
                return pad(batch, length)
        raise ConfigError(
            f"train.max_length is {length}, but {_MAX_DRAWS} batches in a row of task "
            f"{self.config.task.name!r} had a longer sequence ({batch.xs.shape[0]} steps); expected "
            "most batches to fit. Hint: --set train.max_length=N with N at least the task's "
            "longest sequence (e.g. 110 for adding with length = 100)."
        )

    def _stream(self, rng: np.random.Generator) -> tuple[Batch, np.ndarray]:
        train = self.config.train
        return self.task.stream(rng, train.batch_size, train.tbptt * train.chunks_per_stream)

    def test_set(self) -> tuple[Batch, np.ndarray]:
        """The test set, the same for every seed and every evaluation, drawn from ``eval.seed``,
        and its resets as in :meth:`train_batch` (for streams: their start, and with
        ``train.external_reset`` every embedded string's start)."""
        cfg = self.config.eval
        rng = np.random.default_rng(cfg.seed)
        if self.streams:
            batch, starts = self.task.stream(rng, cfg.batch_size, cfg.stream_length)
            resets = starts if self.config.train.external_reset else np.zeros_like(starts)
            resets[0] = True
            check_finite(batch, f"the test set (task {self.config.task.name!r})", "t, b")
            return batch, resets
        task = self.task.held_out() if isinstance(self.task, HeldOutTask) else self.task
        batch = task.sample(rng, cfg.batch_size)
        check_finite(batch, f"the test set (task {self.config.task.name!r})", "t, b")
        resets = np.zeros(batch.weights.shape, bool)
        resets[0] = True
        return batch, resets
