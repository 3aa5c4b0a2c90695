"""The batch every task returns, the interface every task has, and the helpers they share.

Every task generates its data with NumPy on the host, time-major, from an explicit
``np.random.Generator`` (or an int seed): the same seed gives the same batch, and no task reads
NumPy's global RNG. A task's ``correct`` is written with ``jax.numpy`` only, so it can be jitted
or vmapped next to the model; it also takes NumPy arrays.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import jax.numpy as jnp
import numpy as np
from jax import Array

__all__ = ["Batch", "EnvTask", "HeldOutTask", "StreamTask", "Task", "TextTask"]


class Batch(NamedTuple):
    """One time-major batch of sequences, padded to the longest one.

    Attributes:
        xs: ``(T, B, input_size)`` float32 inputs, zero past each sequence's end.
        targets: ``(T, B, output_size)`` float32 targets: one-hot, multi-hot or values.
        weights: ``(T, B)`` float32, 1 where the loss and the success criterion count, else 0.
        seq_lengths: ``(B,)`` int32, the number of valid steps of each sequence.
    """

    xs: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    seq_lengths: np.ndarray


class Task(Protocol):
    """What the trainer reads from a task (every class of :mod:`jaxlstm.tasks` has it)."""

    output: str

    @property
    def input_size(self) -> int: ...

    @property
    def output_size(self) -> int: ...

    def sample(self, rng: np.random.Generator | int, batch_size: int) -> Batch: ...

    def correct(self, predictions: Array, batch: Batch) -> Array: ...


@runtime_checkable
class StreamTask(Task, Protocol):
    """A task that is one endless stream per sequence (``"cerg"``): the trainer cuts it into
    chunks for truncated BPTT, carries the state from chunk to chunk, and evaluates whole test
    streams symbol by symbol."""

    def stream(self, rng: np.random.Generator | int, batch_size: int, length: int) -> tuple[Batch, np.ndarray]:
        """``(batch, starts)``: streams of ``length`` symbols, and ``(T, B)`` bool, True at the
        first symbol of every string inside them (where an external reset resets)."""
        ...

    def errors(self, predictions: Array, batch: Batch) -> Array:
        """``(T, B)`` bool, True at each weighted step predicted wrongly."""
        ...


@runtime_checkable
class EnvTask(Protocol):
    """An environment for reinforcement learning, written in JAX (``"tmaze"``): the trainer runs
    PPO on it, with an LSTM policy over vmapped copies. ``output`` is ``"actor_critic"``: the
    network's ``output_size`` is ``num_actions`` logits and one value."""

    output: str
    num_actions: int

    @property
    def input_size(self) -> int: ...

    @property
    def output_size(self) -> int: ...

    @property
    def max_steps(self) -> int:
        """The longest an episode lasts."""
        ...

    def reset(self, key: Array) -> tuple:
        """``(state, observation)`` of a new episode."""
        ...

    def step(self, state, action: Array) -> tuple:
        """``(state, observation, reward, done, success)`` after one action."""
        ...


@runtime_checkable
class HeldOutTask(Task, Protocol):
    """A task whose test set is drawn from held-out data rather than from fresh draws."""

    def held_out(self) -> Task:
        """The same task over its held-out data."""
        ...


@runtime_checkable
class TextTask(HeldOutTask, Protocol):
    """A task over characters: its losses are also reported in bits per character, and a
    trained model can write text (``jaxlstm sample``)."""

    @property
    def vocab(self) -> str: ...

    def encode(self, text: str) -> np.ndarray: ...

    def decode(self, ids: np.ndarray) -> str: ...


def as_rng(rng: np.random.Generator | int) -> np.random.Generator:
    """Return ``rng`` if it is a ``Generator``, else a new one seeded with the int ``rng``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a np.random.Generator or an int seed; got {type(rng).__name__}. "
        "Hint: pass np.random.default_rng(seed)."
    )


def check_int(owner: str, name: str, value: object, minimum: int, hint: str) -> None:
    """Raise unless ``value`` is an int ``>= minimum``; the message names ``owner.name``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be an int; got {value!r}. Hint: {hint}")
    if value < minimum:
        raise ValueError(f"{owner}.{name} must be >= {minimum}; got {value}. Hint: {hint}")


def check_choice(owner: str, name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise unless ``value`` is one of ``choices``; the message names ``owner.name``."""
    if value not in choices:
        raise ValueError(
            f"{owner}.{name} must be one of {list(choices)}; got {value!r}. "
            f"Hint: {name}={choices[0]!r} is the default."
        )


def one_hot(ids: np.ndarray, n: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Float32 one-hot of the int array ``ids`` over ``n`` classes; all-zero where not ``valid``."""
    out = np.eye(n, dtype=np.float32)[ids]
    if valid is not None:
        out[~valid] = 0.0
    return out


def valid_mask(seq_lengths: np.ndarray, T: int) -> np.ndarray:
    """``(T, B)`` bool, True at the valid steps ``t < seq_lengths[b]``."""
    return np.arange(T)[:, None] < seq_lengths[None, :]


def within_tolerance(predictions: Array, batch: Batch, tolerance: float) -> Array:
    """``(T, B)`` bool: every output's absolute error is below ``tolerance``, or the weight is 0.

    Args:
        predictions: ``(T, B, output_size)`` post-activation outputs.
        batch: the batch they predict.
        tolerance: the largest absolute error (exclusive) that still counts as right.
    """
    predictions = jnp.asarray(predictions)
    targets = jnp.asarray(batch.targets, dtype=predictions.dtype)
    ok = jnp.all(jnp.abs(predictions - targets) < tolerance, axis=-1)
    return ok | (jnp.asarray(batch.weights) == 0)


def check_batch_size(batch_size: object) -> None:
    """Raise unless ``batch_size`` is a positive int."""
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool):
        raise TypeError(f"batch_size must be an int; got {batch_size!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}. Hint: use e.g. 32.")
