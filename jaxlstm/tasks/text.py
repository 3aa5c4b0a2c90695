"""Character-level language modelling on text shipped with CPython (no download).

The corpus is the help text of ``pydoc_data.topics`` (about 465k characters of English, 103
distinct characters on CPython 3.11)::

    "\\n".join(topics[k] for k in sorted(topics))

Its exact content depends on the CPython version. The vocabulary is the sorted set of the
characters of the whole corpus (both splits), so the train and held-out splits share it. The
last ``holdout`` fraction of the characters (``round(len(corpus) * holdout)`` of them) is the
held-out ("valid") split and the rest is "train"; the two never overlap.

:meth:`CharText.sample` draws random windows for training; :meth:`CharText.windows` walks a
split in order for evaluation (bits per character = the weighted mean cross-entropy / ln 2).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterator
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxlstm.tasks.base import (
    Batch,
    as_rng,
    check_batch_size,
    check_choice,
    check_int,
    one_hot,
    valid_mask,
)

__all__ = ["CharText", "text"]


def text() -> str:
    """The corpus: the pydoc topics, joined with newlines in sorted key order.

    Example:
        >>> from jaxlstm.tasks import text
        >>> len(text()) > 400_000
        True
    """
    return _corpus()[0]


@functools.cache
def _corpus() -> tuple[str, str, np.ndarray]:
    """``(text, vocab, ids)``: the corpus, its sorted characters, and the corpus as int32 ids."""
    from pydoc_data.topics import topics

    corpus = "\n".join(topics[k] for k in sorted(topics))
    vocab = "".join(sorted(set(corpus)))
    ids = _lookup(corpus, vocab)
    ids.setflags(write=False)
    return corpus, vocab, ids


def _lookup(string: str, vocab: str) -> np.ndarray:
    """The ids of the characters of ``string`` in the sorted ``vocab``; -1 where absent."""
    codes = np.frombuffer(string.encode("utf-32-le"), dtype=np.uint32)
    table = np.frombuffer(vocab.encode("utf-32-le"), dtype=np.uint32)
    ids = np.searchsorted(table, codes).astype(np.int32)
    found = ids < len(table)
    found[found] = table[ids[found]] == codes[found]
    return np.where(found, ids, -1).astype(np.int32)


@dataclasses.dataclass(frozen=True)
class CharText:
    """Next-character prediction on :func:`text`: one-hot characters in, softmax out.

    Attributes:
        seq_len: the number of steps of a window from :meth:`sample` and :meth:`windows`.
        split: ``"train"`` (the first ``1 - holdout`` of the corpus) or ``"valid"`` (the rest).
        holdout: the fraction of the corpus, at its end, that forms the held-out split.

    Example:
        >>> import numpy as np
        >>> from jaxlstm.tasks import CharText
        >>> task = CharText(seq_len=16)
        >>> batch = task.sample(np.random.default_rng(0), batch_size=2)
        >>> batch.xs.shape == (16, 2, task.input_size), task.output
        (True, 'softmax')
        >>> task.decode(task.encode("for x in y:"))
        'for x in y:'
    """

    seq_len: int = 100
    split: str = "train"
    holdout: float = 0.1

    output: ClassVar[str] = "softmax"

    def __post_init__(self):
        check_int("CharText", "seq_len", self.seq_len, 1, "e.g. seq_len=100.")
        check_choice("CharText", "split", self.split, ("train", "valid"))
        if not isinstance(self.holdout, (int, float)) or isinstance(self.holdout, bool):
            raise TypeError(f"CharText.holdout must be a float; got {self.holdout!r}.")
        if not 0.0 < self.holdout < 1.0:
            raise ValueError(
                f"CharText.holdout must be a fraction in (0, 1); got {self.holdout!r}. "
                "Hint: holdout=0.1 keeps the last 10% of the corpus for evaluation."
            )
        available = len(self.data) - 1
        if self.seq_len > available:
            raise ValueError(
                f"CharText.seq_len must be <= {available}, the characters the {self.split!r} "
                f"split can predict with holdout={self.holdout}; got {self.seq_len}. "
                "Hint: use a shorter seq_len or a larger split."
            )

    @property
    def vocab(self) -> str:
        """The sorted characters of the corpus; character ``vocab[i]`` has id ``i``."""
        return _corpus()[1]

    @property
    def data(self) -> np.ndarray:
        """The ids (int32, read-only) of this split's characters, in corpus order."""
        ids = _corpus()[2]
        boundary = len(ids) - round(len(ids) * self.holdout)
        return ids[:boundary] if self.split == "train" else ids[boundary:]

    @property
    def input_size(self) -> int:
        """The vocabulary size."""
        return len(self.vocab)

    @property
    def output_size(self) -> int:
        """The vocabulary size."""
        return len(self.vocab)

    def held_out(self) -> CharText:
        """This task over the held-out split (``split="valid"``), where the trainer draws its
        test windows."""
        return dataclasses.replace(self, split="valid")

    def encode(self, string: str) -> np.ndarray:
        """The int32 ids of the characters of ``string``.

        Raises:
            ValueError: if a character is not in the vocabulary.
        """
        ids = _lookup(string, self.vocab)
        if (ids < 0).any():
            missing = sorted({c for c, i in zip(string, ids.tolist()) if i < 0})
            raise ValueError(
                f"encode got characters that are not in the vocabulary: {missing}. Hint: the "
                f"vocabulary is the {len(self.vocab)} characters of the pydoc topics "
                "(CharText.vocab)."
            )
        return ids

    def decode(self, ids: np.ndarray) -> str:
        """The string of the ids ``ids`` (any int array of shape ``(n,)``)."""
        return "".join(self.vocab[i] for i in np.asarray(ids).tolist())

    def sample(self, rng: np.random.Generator | int, batch_size: int) -> Batch:
        """Draw ``batch_size`` windows of ``seq_len`` characters at uniform random offsets.

        Args:
            rng: a NumPy generator or an int seed.
            batch_size: B, the number of windows.

        Returns:
            A :class:`~jaxlstm.tasks.Batch`: ``xs`` one-hot of characters ``t ... t+seq_len-1``,
            ``targets`` one-hot of characters ``t+1 ... t+seq_len``, weights 1 everywhere;
            shapes ``(seq_len, B, vocab size)``.
        """
        check_batch_size(batch_size)
        data = self.data
        starts = as_rng(rng).integers(0, len(data) - self.seq_len, size=batch_size)
        index = starts[None, :] + np.arange(self.seq_len)[:, None]
        V = self.input_size
        return Batch(
            one_hot(data[index], V),
            one_hot(data[index + 1], V),
            np.ones((self.seq_len, batch_size), dtype=np.float32),
            np.full(batch_size, self.seq_len, dtype=np.int32),
        )

    def windows(self, batch_size: int) -> Iterator[Batch]:
        """Walk this split in order, predicting each of its characters (but the first) once.

        The split's ``N - 1`` predictions are cut into ``batch_size`` contiguous streams of
        ``ceil((N - 1) / batch_size)`` steps (the last may be shorter), and the streams into
        windows of ``seq_len`` steps. Stream b of one window continues stream b of the previous
        window, so the LSTM state may be carried over. Padding has weight 0 (``seq_lengths`` can
        be 0 in the last windows of a short last stream). Use ``CharText(split="valid")`` for
        the held-out split.

        Args:
            batch_size: B, the number of parallel streams.

        Yields:
            One :class:`~jaxlstm.tasks.Batch` per window, of shape ``(seq_len, B, ...)`` (the
            last window may be shorter); the same every time.
        """
        check_batch_size(batch_size)
        data = self.data
        predictions = len(data) - 1
        steps = math.ceil(predictions / batch_size)
        stream_lengths = np.clip(predictions - steps * np.arange(batch_size), 0, steps)
        V = self.input_size
        for t0 in range(0, steps, self.seq_len):
            T = min(self.seq_len, steps - t0)
            lengths = np.clip(stream_lengths - t0, 0, T).astype(np.int32)
            valid = valid_mask(lengths, T)
            index = steps * np.arange(batch_size)[None, :] + t0 + np.arange(T)[:, None]
            index = np.where(valid, index, 0)
            yield Batch(
                one_hot(data[index], V, valid),
                one_hot(data[index + 1], V, valid),
                valid.astype(np.float32),
                lengths,
            )

    def correct(self, predictions: Array, batch: Batch) -> Array:
        """Every weighted character is the argmax of its prediction (strict; see :meth:`accuracy`).

        Args:
            predictions: ``(T, B, vocab size)`` softmax probabilities (or logits).
            batch: the batch they predict.

        Returns:
            ``(B,)`` bool.
        """
        return jnp.all(self._hits(predictions, batch) | (jnp.asarray(batch.weights) == 0), axis=0)

    def accuracy(self, predictions: Array, batch: Batch) -> Array:
        """The fraction of weighted characters that are the argmax of their prediction.

        Args:
            predictions: ``(T, B, vocab size)`` softmax probabilities (or logits).
            batch: the batch they predict.

        Returns:
            ``(B,)`` float32 (0 for a sequence with no weighted step).
        """
        weights = jnp.asarray(batch.weights, dtype=jnp.float32)
        hits = self._hits(predictions, batch).astype(jnp.float32) * weights
        return jnp.sum(hits, axis=0) / jnp.maximum(jnp.sum(weights, axis=0), 1.0)

    @staticmethod
    def _hits(predictions: Array, batch: Batch) -> Array:
        predicted = jnp.argmax(jnp.asarray(predictions), axis=-1)
        return predicted == jnp.argmax(jnp.asarray(batch.targets), axis=-1)
