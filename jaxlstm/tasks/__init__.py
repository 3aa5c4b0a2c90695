"""Seeded, deterministic data for the experiments: the LSTM papers' tasks, text, and an
environment for reinforcement learning.

Every supervised task is a frozen dataclass of its options with ``input_size``, ``output_size``,
``output`` (``"sigmoid"``, ``"linear"`` or ``"softmax"``), ``sample(rng, batch_size) -> Batch``
(NumPy, time-major) and ``correct(predictions, batch)``, the paper's per-sequence success
criterion in ``jax.numpy`` (the :class:`Task` protocol; :class:`StreamTask`,
:class:`HeldOutTask` and :class:`TextTask` add what some of them have). The T-maze is an
:class:`EnvTask`: ``reset`` and ``step`` in JAX. :func:`make_task` builds any of them by its
name in :data:`TASKS`.
"""

from __future__ import annotations

import dataclasses

from jaxlstm.tasks.adding import Adding
from jaxlstm.tasks.base import Batch, EnvTask, HeldOutTask, StreamTask, Task, TextTask
from jaxlstm.tasks.copy import Copy
from jaxlstm.tasks.reber import (
    ContinualEmbeddedReber,
    EmbeddedReber,
    Reber,
    embedded_reber_string,
    reber_string,
)
from jaxlstm.tasks.temporal_order import TemporalOrder
from jaxlstm.tasks.text import CharText, text
from jaxlstm.tasks.tmaze import TMaze

__all__ = [
    "TASKS",
    "Adding",
    "Batch",
    "CharText",
    "ContinualEmbeddedReber",
    "Copy",
    "EmbeddedReber",
    "EnvTask",
    "HeldOutTask",
    "Reber",
    "StreamTask",
    "Task",
    "TextTask",
    "TMaze",
    "TemporalOrder",
    "embedded_reber_string",
    "make_task",
    "reber_string",
    "text",
]

TASKS: dict[str, type] = {
    "reber": Reber,
    "erg": EmbeddedReber,
    "cerg": ContinualEmbeddedReber,
    "adding": Adding,
    "temporal_order": TemporalOrder,
    "copy": Copy,
    "text": CharText,
    "tmaze": TMaze,
}
"""name -> task class, the names that configs and :func:`make_task` use."""


def make_task(name: str, **options: object) -> Task:
    """Build the task called ``name`` in :data:`TASKS` with the given options.

    Args:
        name: a key of :data:`TASKS`.
        **options: fields of that task's dataclass; the others keep their defaults.

    Returns:
        The task.

    Raises:
        ValueError: for an unknown name, or an impossible option value.
        TypeError: for an option the task does not have.

    Example:
        >>> from jaxlstm.tasks import make_task
        >>> make_task("adding", length=200)
        Adding(length=200, form='1997')
    """
    if name not in TASKS:
        raise ValueError(
            f"unknown task {name!r}; expected one of {list(TASKS)}. Hint: the names are the "
            "keys of jaxlstm.tasks.TASKS."
        )
    cls = TASKS[name]
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = [key for key in options if key not in fields]
    if unknown:
        raise TypeError(
            f"task {name!r} ({cls.__name__}) has no option {unknown[0]!r}; its options are "
            f"{fields}."
        )
    return cls(**options)
