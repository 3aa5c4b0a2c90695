"""The adding problem: Hochreiter & Schmidhuber (1997), Exp. 4, and its modern form.

Each step is a pair ``(value, marker)``; at the end of the sequence the net outputs the sum of
the two marked values.

``form="1997"`` (the paper's rules, followed exactly):

- values are drawn from U[-1, 1]; markers are 1.0, 0.0 or -1.0;
- the length is drawn uniformly from ``[T, T + T // 10]`` (both ends included);
- X1: one of the first ten pairs is marked (marker 1);
- X2: one of the first ``T/2 - 1`` still-unmarked pairs is marked;
- every other marker is 0, except the first and the last pair's, which are -1;
- if the first pair gets marked, its value (X1) is set to 0;
- the target is ``0.5 + (X1 + X2) / 4``, given only at the last step;
- a sequence is correct if the absolute error at the end is below 0.04.

Interpretations (the paper leaves these open):

- "the first T/2 - 1 still-unmarked pairs": list the pairs in time order, leave out the one
  marked X1, and take the first ``T // 2 - 1`` of that list; X2 is uniform over them. So X2 is
  at position ``<= T // 2 - 1`` and never on X1.
- X2 may land on the first pair too (when X1 is elsewhere). "If the first pair gets marked, X1
  is set to 0" is read as: whichever draw marks the first pair, its value is set to 0, in the
  input and in the target. A marked first pair has marker 1, not -1.
- Lengths use ``T // 10`` for ``T/10``. Positions are 0-based array indices.

``form="modern"`` (Le et al. 2015; Arjovsky et al. 2016): values from U[0, 1], markers in
{0, 1}, one marked pair uniform in each half (``[0, T//2)`` and ``[T//2, T)``), fixed length
``T``, target ``X1 + X2`` at the last step, squared error. The papers report the MSE (always
predicting 1 gives about 0.167); :meth:`Adding.correct` keeps the 1997 criterion, absolute
error below 0.04, for both forms.
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
    check_int,
    valid_mask,
    within_tolerance,
)

__all__ = ["Adding"]

TOLERANCE = 0.04
"""A sequence is correct when the absolute error at its end is below this."""


@dataclasses.dataclass(frozen=True)
class Adding:
    """The adding problem: 2 inputs ``(value, marker)``, 1 linear output at the last step.

    Attributes:
        length: T. ``form="1997"``: the minimal length, lengths are uniform in
            ``[T, T + T // 10]`` (the paper uses 100, 500, 1000); ``form="modern"``: the fixed
            length.
        form: ``"1997"`` (Hochreiter & Schmidhuber) or ``"modern"`` (Le et al. 2015); see the
            module docstring for the rules of each.

    Example:
        >>> import numpy as np
        >>> from jaxlstm.tasks import Adding
        >>> task = Adding(length=20)
        >>> batch = task.sample(np.random.default_rng(0), batch_size=3)
        >>> batch.xs.shape[1:], batch.targets.shape[1:], task.output
        ((3, 2), (3, 1), 'linear')
        >>> (batch.xs[..., 1] == 1).sum(axis=0).tolist()
        [2, 2, 2]
        >>> task.correct(batch.targets, batch).tolist()
        [True, True, True]
    """

    length: int = 100
    form: str = "1997"

    output: ClassVar[str] = "linear"

    def __post_init__(self):
        check_choice("Adding", "form", self.form, ("1997", "modern"))
        minimum = 12 if self.form == "1997" else 2
        check_int(
            "Adding", "length", self.length, minimum,
            f"form={self.form!r} needs T >= {minimum}"
            + (
                " (X1 in the first ten pairs, before the last pair, and T/2 - 1 >= 5 candidates"
                " for X2); the paper uses T = 100, 500, 1000."
                if self.form == "1997"
                else " (one marked pair in each half), e.g. T = 100."
            ),
        )

    @property
    def input_size(self) -> int:
        """2: the value and the marker."""
        return 2

    @property
    def output_size(self) -> int:
        """1: the (scaled) sum."""
        return 1

    def sample(self, rng: np.random.Generator | int, batch_size: int) -> Batch:
        """Draw ``batch_size`` sequences, padded to the longest.

        Args:
            rng: a NumPy generator or an int seed.
            batch_size: B, the number of sequences.

        Returns:
            A :class:`~jaxlstm.tasks.Batch`: ``xs`` ``(T, B, 2)``, ``targets`` ``(T, B, 1)``,
            zero except at each sequence's last step, which is the only step with weight 1.
        """
        check_batch_size(batch_size)
        rng = as_rng(rng)
        T, B = self.length, batch_size
        cols = np.arange(B)
        if self.form == "1997":
            lengths = rng.integers(T, T + T // 10 + 1, size=B)
            values = rng.uniform(-1.0, 1.0, size=(int(lengths.max()), B))
            first = rng.integers(0, 10, size=B)
            # the r-th pair in time order once the pair marked X1 is left out
            r = rng.integers(0, T // 2 - 1, size=B)
            second = r + (r >= first)
            markers = np.zeros_like(values)
            markers[0] = -1.0
            markers[lengths - 1, cols] = -1.0
            values[0, (first == 0) | (second == 0)] = 0.0
            target = 0.5 + (values[first, cols] + values[second, cols]) / 4.0
        else:
            lengths = np.full(B, T)
            values = rng.uniform(0.0, 1.0, size=(T, B))
            first = rng.integers(0, T // 2, size=B)
            second = rng.integers(T // 2, T, size=B)
            markers = np.zeros_like(values)
            target = values[first, cols] + values[second, cols]
        markers[first, cols] = 1.0
        markers[second, cols] = 1.0
        valid = valid_mask(lengths, values.shape[0])
        xs = np.stack([values, markers], axis=-1).astype(np.float32)
        xs[~valid] = 0.0
        targets = np.zeros((values.shape[0], B, 1), dtype=np.float32)
        targets[lengths - 1, cols, 0] = target
        weights = np.zeros((values.shape[0], B), dtype=np.float32)
        weights[lengths - 1, cols] = 1.0
        return Batch(xs, targets, weights, lengths.astype(np.int32))

    def correct(self, predictions: Array, batch: Batch) -> Array:
        """The absolute error at the sequence's last step is below 0.04 (both forms).

        Args:
            predictions: ``(T, B, 1)`` linear outputs.
            batch: the batch they predict.

        Returns:
            ``(B,)`` bool.
        """
        return jnp.all(within_tolerance(predictions, batch, TOLERANCE), axis=0)
