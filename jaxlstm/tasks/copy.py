"""The copy task (Arjovsky, Shah & Bengio 2016, "Unitary Evolution Recurrent Neural Networks").

With categories ``a_0 ... a_9`` (``a_0`` the blank, ``a_1 ... a_8`` the symbols, ``a_9`` the
delimiter) and a delay T, the input is ``length + T + length`` steps long (``length = 10`` in the
paper):

- the first ``length`` entries are symbols drawn uniformly, independently, with replacement;
- then ``T - 1`` blanks, one delimiter (the cue to start copying) and ``length`` blanks.

The target is ``T + length`` blanks followed by the ``length`` symbols, in the same order. The
loss is the average cross-entropy of the category predictions over *every* step, as in the
paper (the weights are 1 everywhere; a baseline that outputs blanks and then guesses uniformly
scores ``length * log(num_symbols) / (T + 2 * length)``). :meth:`Copy.correct` counts a sequence
as right when every copied symbol is the argmax of its prediction.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxlstm.tasks.base import Batch, as_rng, check_batch_size, check_int, one_hot

__all__ = ["Copy"]


@dataclasses.dataclass(frozen=True)
class Copy:
    """Remember ``length`` symbols for ``delay`` steps, then reproduce them (softmax outputs).

    Input units: blank (index 0), the symbols (1 ... num_symbols), the delimiter
    (num_symbols + 1). Output units: blank (0) and the symbols (1 ... num_symbols).

    Attributes:
        num_symbols: the number of distinct symbols to copy (8 in the paper).
        length: how many symbols to copy (10 in the paper).
        delay: T, the steps from the last symbol shown to the delimiter (plus one); the paper
            uses 100 to 2000.

    Example:
        >>> import numpy as np
        >>> from jaxlstm.tasks import Copy
        >>> task = Copy(num_symbols=8, length=3, delay=4)
        >>> batch = task.sample(np.random.default_rng(0), batch_size=1)
        >>> batch.xs[:, 0].argmax(-1).tolist()
        [7, 6, 5, 0, 0, 0, 9, 0, 0, 0]
        >>> batch.targets[:, 0].argmax(-1).tolist()
        [0, 0, 0, 0, 0, 0, 0, 7, 6, 5]
    """

    num_symbols: int = 8
    length: int = 10
    delay: int = 100

    output: ClassVar[str] = "softmax"

    def __post_init__(self):
        check_int("Copy", "num_symbols", self.num_symbols, 1, "the paper copies 8 symbols.")
        check_int("Copy", "length", self.length, 1, "the paper copies length=10 symbols.")
        check_int(
            "Copy", "delay", self.delay, 1,
            "delay is T of Arjovsky et al.: T - 1 blanks come before the delimiter, e.g. 100.",
        )

    @property
    def input_size(self) -> int:
        """``num_symbols + 2``: blank, the symbols, the delimiter."""
        return self.num_symbols + 2

    @property
    def output_size(self) -> int:
        """``num_symbols + 1``: blank and the symbols."""
        return self.num_symbols + 1

    @property
    def seq_len(self) -> int:
        """``delay + 2 * length``, the length of every sequence."""
        return self.delay + 2 * self.length

    def sample(self, rng: np.random.Generator | int, batch_size: int) -> Batch:
        """Draw ``batch_size`` sequences (all of length ``delay + 2 * length``).

        Args:
            rng: a NumPy generator or an int seed.
            batch_size: B, the number of sequences.

        Returns:
            A :class:`~jaxlstm.tasks.Batch`: ``xs`` ``(T, B, num_symbols + 2)``, ``targets``
            ``(T, B, num_symbols + 1)`` one-hot, weights 1 everywhere.
        """
        check_batch_size(batch_size)
        rng = as_rng(rng)
        n, T, B = self.length, self.seq_len, batch_size
        symbols = rng.integers(1, self.num_symbols + 1, size=(n, B))
        inputs = np.zeros((T, B), dtype=np.int64)
        inputs[:n] = symbols
        inputs[n + self.delay - 1] = self.num_symbols + 1
        outputs = np.zeros((T, B), dtype=np.int64)
        outputs[T - n :] = symbols
        return Batch(
            one_hot(inputs, self.input_size),
            one_hot(outputs, self.output_size),
            np.ones((T, B), dtype=np.float32),
            np.full(B, T, dtype=np.int32),
        )

    def correct(self, predictions: Array, batch: Batch) -> Array:
        """Every copied symbol (the last ``length`` steps) is the argmax of its prediction.

        Args:
            predictions: ``(T, B, num_symbols + 1)`` softmax probabilities (or logits).
            batch: the batch they predict.

        Returns:
            ``(B,)`` bool.
        """
        predicted = jnp.argmax(jnp.asarray(predictions)[-self.length :], axis=-1)
        wanted = jnp.argmax(jnp.asarray(batch.targets)[-self.length :], axis=-1)
        return jnp.all(predicted == wanted, axis=0)
