"""The temporal order problem: Hochreiter & Schmidhuber (1997), Exp. 6a and 6b.

A sequence starts with ``E``, ends with the trigger ``B``, and is otherwise made of random
symbols from {a, b, c, d}, except at two (6a) or three (6b) relevant positions, which hold ``X``
or ``Y``. The class is the order of the X/Y symbols:

- 6a: positions t1 in [10, 20], t2 in [50, 60]; classes XX->Q, XY->R, YX->S, YY->U.
- 6b: positions t1 in [10, 20], t2 in [33, 43], t3 in [66, 76]; classes XXX->Q, XXY->R,
  XYX->S, XYY->U, YXX->V, YXY->A, YYX->B, YYY->C.

Lengths are uniform in [100, 110]. Inputs and targets are local (one-hot); the error is given
only at the last step; the outputs are logistic with squared error; a sequence is correct when
every output's final absolute error is below 0.3.

Interpretations: positions are 0-based array indices (``E`` is at index 0), and ranges include
both ends. Reading X as 0 and Y as 1, the class index is the X/Y pattern as a binary number,
first position most significant, which is the paper's order of ``CLASSES``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxlstm.tasks.base import (
    Batch,
    as_rng,
    check_batch_size,
    check_choice,
    one_hot,
    valid_mask,
    within_tolerance,
)

__all__ = ["CLASSES", "POSITIONS", "SYMBOLS", "TemporalOrder"]

SYMBOLS = ("E", "B", "a", "b", "c", "d", "X", "Y")
"""The alphabet, in the order of the one-hot input units."""

POSITIONS: dict[str, tuple[tuple[int, int], ...]] = {
    "6a": ((10, 20), (50, 60)),
    "6b": ((10, 20), (33, 43), (66, 76)),
}
"""variant -> the inclusive ranges of the relevant (X/Y) positions."""

CLASSES: dict[str, tuple[str, ...]] = {
    "6a": ("Q", "R", "S", "U"),
    "6b": ("Q", "R", "S", "U", "V", "A", "B", "C"),
}
"""variant -> the paper's class names, in the order of the output units."""

MIN_LENGTH, MAX_LENGTH = 100, 110
"""The inclusive range of sequence lengths."""

TOLERANCE = 0.3
"""A sequence is correct when every output's final absolute error is below this."""


@dataclasses.dataclass(frozen=True)
class TemporalOrder:
    """Classify the order of widely separated X/Y symbols (8 inputs, 4 or 8 logistic outputs).

    Attributes:
        variant: ``"6a"`` (2 relevant positions, 4 classes) or ``"6b"`` (3 positions, 8
            classes).

    Example:
        >>> import numpy as np
        >>> from jaxlstm.tasks import TemporalOrder
        >>> task = TemporalOrder(variant="6a")
        >>> batch = task.sample(np.random.default_rng(0), batch_size=2)
        >>> task.input_size, task.output_size, batch.weights.sum(axis=0).tolist()
        (8, 4, [1.0, 1.0])
        >>> task.correct(batch.targets, batch).tolist()
        [True, True]
    """

    variant: str = "6a"

    output: ClassVar[str] = "sigmoid"

    def __post_init__(self):
        check_choice("TemporalOrder", "variant", self.variant, ("6a", "6b"))

    @property
    def input_size(self) -> int:
        """8: one unit per symbol of ``SYMBOLS``."""
        return len(SYMBOLS)

    @property
    def output_size(self) -> int:
        """4 (6a) or 8 (6b): one unit per class of ``CLASSES``."""
        return len(CLASSES[self.variant])

    def sample(self, rng: np.random.Generator | int, batch_size: int) -> Batch:
        """Draw ``batch_size`` sequences, padded to the longest.

        Args:
            rng: a NumPy generator or an int seed.
            batch_size: B, the number of sequences.

        Returns:
            A :class:`~jaxlstm.tasks.Batch`: ``xs`` ``(T, B, 8)``; ``targets``
            ``(T, B, output_size)``, the one-hot class at each sequence's last step (the only
            step with weight 1) and zero elsewhere.
        """
        check_batch_size(batch_size)
        rng = as_rng(rng)
        B = batch_size
        cols = np.arange(B)
        lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, size=B)
        T = int(lengths.max())
        ids = rng.integers(SYMBOLS.index("a"), SYMBOLS.index("d") + 1, size=(T, B))
        ids[0] = SYMBOLS.index("E")
        ids[lengths - 1, cols] = SYMBOLS.index("B")
        label = np.zeros(B, dtype=np.int64)
        for lo, hi in POSITIONS[self.variant]:
            position = rng.integers(lo, hi + 1, size=B)
            is_y = rng.integers(0, 2, size=B)
            ids[position, cols] = SYMBOLS.index("X") + is_y
            label = 2 * label + is_y
        valid = valid_mask(lengths, T)
        targets = np.zeros((T, B, self.output_size), dtype=np.float32)
        targets[lengths - 1, cols, label] = 1.0
        weights = np.zeros((T, B), dtype=np.float32)
        weights[lengths - 1, cols] = 1.0
        return Batch(one_hot(ids, len(SYMBOLS), valid), targets, weights, lengths.astype(np.int32))

    def correct(self, predictions: Array, batch: Batch) -> Array:
        """Every output's absolute error at the sequence's last step is below 0.3.

        Args:
            predictions: ``(T, B, output_size)`` logistic outputs.
            batch: the batch they predict.

        Returns:
            ``(B,)`` bool.
        """
        return jnp.all(within_tolerance(predictions, batch, TOLERANCE), axis=0)
