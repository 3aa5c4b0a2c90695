"""Seeded, deterministic data for the experiments: the LSTM papers' tasks, text, an environment
for reinforcement learning, and sequences read from your own files (``"files"``).

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
from jaxlstm.tasks.files import FileDataError, Files
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
    "FileDataError",
    "Files",
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
    "register",
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
    "files": Files,
}
"""name -> task class: the names that a config's ``[task] name`` and :func:`make_task` use;
:func:`register` adds your own."""


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


def register(name: str, cls: type) -> None:
    """Make your own task class known by ``name``, as the built-in ones are: configs (``[task]
    name = ...``, with the class's fields as further keys), :func:`make_task` and
    :func:`jaxlstm.train.run` then build it. Register it again in the process that resumes the
    run, before the run's config is read.

    Args:
        name: the task's name in configs.
        cls: a frozen dataclass (its fields are the task's options, each with a default) with
            the :class:`Task` protocol: ``output``, ``input_size``, ``output_size``,
            ``sample(rng, batch_size) -> Batch`` and ``correct(predictions, batch)``.

    Raises:
        ValueError: a name already taken by another class, or not an identifier.
        TypeError: a class that is not a dataclass or lacks part of the protocol.

    Example:
        >>> import dataclasses
        >>> from jaxlstm.tasks import Adding, register, make_task
        >>> @dataclasses.dataclass(frozen=True)
        ... class ShortAdding(Adding):
        ...     length: int = 20
        >>> register("short_adding", ShortAdding)
        >>> make_task("short_adding").length
        20
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a task's name must be an identifier; got {name!r}. Hint: register('my_task', MyTask).")
    if TASKS.get(name, cls) is not cls:
        raise ValueError(f"the task name {name!r} is taken by {TASKS[name].__name__}; expected a new name.")
    if not dataclasses.is_dataclass(cls) or not isinstance(cls, type):
        raise TypeError(f"a task class must be a dataclass (its fields are the task's options); got {cls!r}. "
                        "Hint: decorate it with @dataclasses.dataclass(frozen=True).")
    missing = [a for a in ("output", "input_size", "output_size", "sample", "correct") if not hasattr(cls, a)
               and a not in {f.name for f in dataclasses.fields(cls)}]
    if missing:
        raise TypeError(f"task class {cls.__name__} lacks {missing} of the Task protocol (jaxlstm.tasks.Task); "
                        "expected output, input_size, output_size, sample(rng, batch_size) and "
                        "correct(predictions, batch).")
    TASKS[name] = cls
