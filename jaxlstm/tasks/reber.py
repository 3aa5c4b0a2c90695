"""Reber, embedded Reber (ERG) and continual embedded Reber (CERG) next-symbol prediction.

The grammar is Reber's (see Hochreiter & Schmidhuber 1997, Exp. 1, and Gers, Schmidhuber &
Cummins 2000, "Learning to Forget"): states 1..5, every branch with probability 0.5, a string is
``B`` + walk + ``E`` (:data:`REBER_TRANSITIONS`). An embedded Reber string picks ``o`` in
{T, P} and is ``B o <Reber string> o E``: the second symbol has to be remembered until the
second-to-last. The continual task (Gers et al. 2000) concatenates ERG strings into one stream
with no separator and no reset.

Inputs and targets are one-hot / multi-hot over the 7 symbols of :data:`SYMBOLS`. At every step
the target has a 1 on every legal next symbol, the outputs are logistic and the loss is squared
error. Success is Gers et al.'s (2000) criterion (``correct``, ``errors``): a symbol is right
when every output unit's absolute error is below 0.49.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxlstm.tasks.base import (
    Batch,
    as_rng,
    check_batch_size,
    check_int,
    valid_mask,
    within_tolerance,
)

__all__ = [
    "REBER_END",
    "REBER_START",
    "REBER_TRANSITIONS",
    "SYMBOLS",
    "ContinualEmbeddedReber",
    "EmbeddedReber",
    "Reber",
    "embedded_reber_string",
    "reber_string",
]

SYMBOLS = "BTPSXVE"
"""The alphabet, in the order of the one-hot input and output units."""

REBER_START = 1
"""The state the walk is in after the initial ``B``."""

REBER_END = 6
"""The state after the last branch: it emits ``E`` and the string ends."""

REBER_TRANSITIONS: dict[int, tuple[tuple[str, int], tuple[str, int]]] = {
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", REBER_END)),
    5: (("P", 4), ("V", REBER_END)),
}
"""state -> the two equally likely ``(symbol emitted, next state)`` branches."""

TOLERANCE = 0.49
"""Gers et al. (2000): a prediction is right when every output's absolute error is below this."""

_ID = {s: i for i, s in enumerate(SYMBOLS)}
_BIT = {s: 1 << i for i, s in enumerate(SYMBOLS)}
# state -> bit mask of the symbols that may follow
_NEXT = {state: _BIT[a] | _BIT[b] for state, ((a, _), (b, _)) in REBER_TRANSITIONS.items()}
_NEXT[REBER_END] = _BIT["E"]
_MULTI_HOT = ((np.arange(1 << len(SYMBOLS))[:, None] >> np.arange(len(SYMBOLS))) & 1).astype(
    np.float32
)


class _Coins:
    """Fair coin flips from ``rng``, drawn 256 at a time (one draw per flip is slow)."""

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._bits: list[int] = []

    def __call__(self) -> int:
        if not self._bits:
            self._bits = self._rng.integers(0, 2, size=256, dtype=np.int8).tolist()
        return self._bits.pop()


def _reber(flip: Callable[[], int]) -> tuple[list[int], list[int]]:
    """One Reber string: symbol ids and, per symbol, the bit mask of the legal next symbols."""
    ids, masks = [_ID["B"]], [_NEXT[REBER_START]]
    state = REBER_START
    while state != REBER_END:
        symbol, state = REBER_TRANSITIONS[state][flip()]
        ids.append(_ID[symbol])
        masks.append(_NEXT[state])
    ids.append(_ID["E"])
    masks.append(0)
    return ids, masks


def _embedded(flip: Callable[[], int]) -> tuple[list[int], list[int]]:
    """One ERG string ``B o <Reber> o E``, as :func:`_reber`; nothing follows its ``E``."""
    o = "TP"[flip()]
    ids, masks = _reber(flip)
    masks[-1] = _BIT[o]
    return (
        [_ID["B"], _ID[o], *ids, _ID[o], _ID["E"]],
        [_BIT["T"] | _BIT["P"], _BIT["B"], *masks, _BIT["E"], 0],
    )


def reber_string(rng: np.random.Generator | int) -> str:
    """Draw one Reber string.

    Args:
        rng: a NumPy generator or an int seed.

    Returns:
        The string, ``B`` to ``E``: at least 5 symbols, 8 on average.

    Example:
        >>> import numpy as np
        >>> from jaxlstm.tasks import reber_string
        >>> s = reber_string(np.random.default_rng(0))
        >>> s[0], s[-1], len(s) >= 5
        ('B', 'E', True)
    """
    ids, _ = _reber(_Coins(as_rng(rng)))
    return "".join(SYMBOLS[i] for i in ids)


def embedded_reber_string(rng: np.random.Generator | int) -> str:
    """Draw one embedded Reber string ``B o <Reber string> o E`` with ``o`` in {T, P}.

    Args:
        rng: a NumPy generator or an int seed.

    Returns:
        The string: at least 9 symbols, 12 on average.

    Example:
        >>> import numpy as np
        >>> from jaxlstm.tasks import embedded_reber_string
        >>> s = embedded_reber_string(np.random.default_rng(0))
        >>> s[1] == s[-2], s[2], s[-3]
        (True, 'B', 'E')
    """
    ids, _ = _embedded(_Coins(as_rng(rng)))
    return "".join(SYMBOLS[i] for i in ids)


def _batch(strings: list[tuple[list[int], list[int]]], last_weighted: bool) -> Batch:
    """Pad ``(ids, masks)`` strings into a time-major batch of one-hot inputs, multi-hot targets."""
    lengths = np.array([len(ids) for ids, _ in strings], dtype=np.int32)
    T, B = int(lengths.max()), len(strings)
    ids = np.zeros((T, B), dtype=np.int64)
    masks = np.zeros((T, B), dtype=np.int64)
    for b, (i, m) in enumerate(strings):
        ids[: len(i), b] = i
        masks[: len(m), b] = m
    valid = valid_mask(lengths, T)
    xs = np.eye(len(SYMBOLS), dtype=np.float32)[ids]
    xs[~valid] = 0.0
    weights = valid if last_weighted else valid_mask(lengths - 1, T)
    return Batch(xs, _MULTI_HOT[masks], weights.astype(np.float32), lengths)


class _Grammar:
    """What the three grammar tasks share: sizes, output, and the success criterion."""

    output: ClassVar[str] = "sigmoid"

    @property
    def input_size(self) -> int:
        """7: one input unit per symbol of :data:`SYMBOLS`."""
        return len(SYMBOLS)

    @property
    def output_size(self) -> int:
        """7: one output unit per symbol of :data:`SYMBOLS`."""
        return len(SYMBOLS)

    def correct(self, predictions: Array, batch: Batch) -> Array:
        """Gers et al. (2000): every output's absolute error is below 0.49 at every weighted step.

        Args:
            predictions: ``(T, B, 7)`` logistic outputs.
            batch: the batch they predict.

        Returns:
            ``(B,)`` bool, True for each string predicted without error.
        """
        return jnp.all(within_tolerance(predictions, batch, TOLERANCE), axis=0)

    def sample(self, rng: np.random.Generator | int, batch_size: int) -> Batch:
        """Draw ``batch_size`` strings of the grammar, padded to the longest.

        Args:
            rng: a NumPy generator or an int seed.
            batch_size: B, the number of strings.

        Returns:
            A :class:`~jaxlstm.tasks.Batch` with ``xs`` and ``targets`` of shape ``(T, B, 7)``.
        """
        check_batch_size(batch_size)
        flip = _Coins(as_rng(rng))
        return _batch([self._walk(flip) for _ in range(batch_size)], last_weighted=False)


@dataclasses.dataclass(frozen=True)
class Reber(_Grammar):
    """Next-symbol prediction on Reber strings (``B`` + walk + ``E``).

    The last step (``E``) has no successor: its target is all zero and its weight 0; every
    other valid step has weight 1.

    Example:
        >>> import numpy as np
        >>> from jaxlstm.tasks import Reber
        >>> task = Reber()
        >>> batch = task.sample(np.random.default_rng(0), batch_size=4)
        >>> batch.xs.shape[1:], batch.targets.shape[1:], batch.seq_lengths.dtype
        ((4, 7), (4, 7), dtype('int32'))
        >>> bool(task.correct(batch.targets, batch).all())
        True
    """

    _walk = staticmethod(_reber)


@dataclasses.dataclass(frozen=True)
class EmbeddedReber(_Grammar):
    """Next-symbol prediction on embedded Reber strings ``B o <Reber string> o E`` (ERG).

    Hochreiter & Schmidhuber (1997), Exp. 1. The inner Reber string's ``E`` is followed only by
    ``o``, the second symbol, so the net must remember it across the inner string. The last
    step (the outer ``E``) has weight 0, every other valid step weight 1.

    Example:
        >>> import numpy as np
        >>> from jaxlstm.tasks import EmbeddedReber
        >>> task = EmbeddedReber()
        >>> batch = task.sample(np.random.default_rng(0), batch_size=4)
        >>> bool(batch.seq_lengths.min() >= 9), task.output
        (True, 'sigmoid')
    """

    _walk = staticmethod(_embedded)


@dataclasses.dataclass(frozen=True)
class ContinualEmbeddedReber(_Grammar):
    """Continual embedded Reber (CERG, Gers et al. 2000): one endless stream of ERG strings.

    ERG strings are concatenated with no separator (``...BT<reber>TEBP<reber>PE...``), so the
    outer ``E`` is followed by the next string's ``B``. A stream is cut to exactly ``length``
    symbols; every step has weight 1 and a correct target, the one at the cut included.

    Attributes:
        length: the number of symbols of a stream from :meth:`sample`.

    Example:
        >>> import numpy as np
        >>> from jaxlstm.tasks import ContinualEmbeddedReber
        >>> task = ContinualEmbeddedReber(length=50)
        >>> batch, resets = task.stream(np.random.default_rng(0), batch_size=2, length=30)
        >>> batch.xs.shape, resets.shape, bool(resets[0].all())
        ((30, 2, 7), (30, 2), True)
        >>> task.errors(batch.targets, batch).any().item()
        False
    """

    length: int = 1000

    def __post_init__(self):
        check_int(
            "ContinualEmbeddedReber", "length", self.length, 1,
            "the length of a training stream, e.g. 1000 (Gers et al. test on 100,000).",
        )

    def stream(
        self, rng: np.random.Generator | int, batch_size: int, length: int
    ) -> tuple[Batch, np.ndarray]:
        """Draw ``batch_size`` independent streams of exactly ``length`` symbols.

        Args:
            rng: a NumPy generator or an int seed.
            batch_size: B, the number of streams.
            length: T, the number of symbols in each stream.

        Returns:
            ``(batch, resets)``: a :class:`~jaxlstm.tasks.Batch` with ``xs`` and ``targets`` of
            shape ``(T, B, 7)`` and weights all 1, and ``resets``, ``(T, B)`` bool, True at
            the first symbol (``B``) of each embedded string, for the "external reset"
            condition of Gers et al. (reset the state before that step). Each stream has its
            own generator seeded from ``rng``, so a shorter ``length`` gives a prefix of the
            same streams.
        """
        check_batch_size(batch_size)
        check_int("ContinualEmbeddedReber.stream", "length", length, 1, "e.g. length=1000.")
        seeds = as_rng(rng).integers(0, 2**63, size=batch_size)
        ids = np.zeros((length, batch_size), dtype=np.int64)
        masks = np.zeros((length, batch_size), dtype=np.int64)
        resets = np.zeros((length, batch_size), dtype=bool)
        for b in range(batch_size):
            flip = _Coins(np.random.default_rng(seeds[b]))
            stream_ids: list[int] = []
            stream_masks: list[int] = []
            starts: list[int] = []
            while len(stream_ids) < length:
                i, m = _embedded(flip)
                m[-1] = _BIT["B"]
                starts.append(len(stream_ids))
                stream_ids += i
                stream_masks += m
            ids[:, b] = stream_ids[:length]
            masks[:, b] = stream_masks[:length]
            resets[starts, b] = True
        xs = np.eye(len(SYMBOLS), dtype=np.float32)[ids]
        weights = np.ones((length, batch_size), dtype=np.float32)
        lengths = np.full(batch_size, length, dtype=np.int32)
        return Batch(xs, _MULTI_HOT[masks], weights, lengths), resets

    def sample(self, rng: np.random.Generator | int, batch_size: int) -> Batch:
        """The batch of :meth:`stream` with ``length=self.length`` (the resets dropped)."""
        return self.stream(rng, batch_size, self.length)[0]

    def errors(self, predictions: Array, batch: Batch) -> Array:
        """Mark the steps with a prediction error (some output's absolute error >= 0.49).

        The error-free length of stream b is the index of its first True (T if none).

        Args:
            predictions: ``(T, B, 7)`` logistic outputs.
            batch: the batch they predict.

        Returns:
            ``(T, B)`` bool, True at each weighted step predicted wrongly.
        """
        return ~within_tolerance(predictions, batch, TOLERANCE)
