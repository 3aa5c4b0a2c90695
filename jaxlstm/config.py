"""Experiment configs: a TOML file loaded into frozen, typed dataclasses.

A config has the sections ``[model]``, ``[task]``, ``[optim]``, ``[train]`` and ``[eval]``; each
is a dataclass of :mod:`jaxlstm.train.settings` (re-exported here) whose fields declare every
key, its type and its default, once. ``[task]``
holds ``name`` (a key of :data:`jaxlstm.tasks.TASKS`) and that task's own options (the fields of
its dataclass). An unknown key, a wrong type or an impossible value is a ``ValueError`` or
``TypeError`` that names the file, the key and what was expected. ``Config()`` with no file is
the default experiment, the embedded Reber grammar.

Example:
    >>> cfg = load(None, ["optim.lr=0.02", "train.seeds=2"])
    >>> cfg.optim.lr, cfg.train.seeds, cfg.task.name
    (0.02, 2, 'erg')
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal

from jaxlstm import tasks
from jaxlstm.train.settings import (
    Config,
    ConfigError,
    ConfigTypeError,
    EvalConfig,
    ModelConfig,
    OptimConfig,
    TaskConfig,
    TrainConfig,
    from_json,
    to_json,
)

__all__ = [
    "Config",
    "ConfigError",
    "ConfigTypeError",
    "EvalConfig",
    "ModelConfig",
    "OptimConfig",
    "TaskConfig",
    "TrainConfig",
    "from_json",
    "load",
    "to_json",
]


_SECTIONS = {field.name: field.type for field in dataclasses.fields(Config)}


def load(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Read a TOML config (or the defaults for ``None``) and apply ``section.key=value`` overrides.

    Args:
        path: a TOML file, or None for the default experiment.
        overrides: ``"section.key=value"`` strings, the value in TOML syntax (a bare word is
            taken as a string): ``"optim.lr=1e-3"``, ``"model.variant=CIFG"``.

    Returns:
        The frozen :class:`Config`.

    Raises:
        ValueError, TypeError: naming the file (or ``--set``), the key and what was expected.
    """
    source = "defaults" if path is None else str(path)
    data: dict[str, dict[str, Any]] = {}
    if path is not None:
        try:
            with open(path, "rb") as file:
                data = tomllib.load(file)
        except FileNotFoundError:
            raise FileNotFoundError(f"config file {source} does not exist. Hint: the experiments "
                                    "are in experiments/*.toml; run `jaxlstm run` alone for the default.") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{source}: not valid TOML: {error}.") from None
    for override in overrides:
        section, key, value = _parse_override(override)
        data.setdefault(section, {})[key] = value
    where = source if not overrides else f"{source} with --set {' '.join(overrides)}"
    try:
        return _build(data)
    except ConfigTypeError as error:
        raise ConfigTypeError(f"{where}: {error}") from None
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def _parse_override(override: str) -> tuple[str, str, Any]:
    name, sep, text = override.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not key:
        raise ConfigError(
            f"--set {override!r}: expected section.key=value, e.g. --set optim.lr=1e-3."
        )
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word: a string
    return section, key, value


def _build(data: dict[str, Any]) -> Config:
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]; expected sections {sorted(_SECTIONS)}.")
    sections = {}
    for name in _SECTIONS:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{name} must be a table [{name}]; got {table!r}.")
        if name == "task":
            sections[name] = _task_section(table)
        else:
            sections[name] = _section(name, _section_class(name), table)
    return Config(**sections)


def _section_class(name: str) -> type:
    return typing.get_type_hints(Config)[name]


def _section(name: str, cls: type, table: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = [field.name for field in dataclasses.fields(cls)]
    values = {}
    for key, value in table.items():
        if key not in hints:
            raise ConfigError(f"unknown key {name}.{key}; expected one of {fields}.")
        values[key] = _checked(f"{name}.{key}", value, hints[key])
    return cls(**values)


def _task_section(table: dict[str, Any]) -> TaskConfig:
    name = table.get("name", TaskConfig.name)
    name = _checked("task.name", name, str)
    if name not in tasks.TASKS:
        raise ConfigError(f"task.name must be one of {sorted(tasks.TASKS)}; got {name!r}.")
    cls = tasks.TASKS[name]
    hints = typing.get_type_hints(cls)
    fields = [field.name for field in dataclasses.fields(cls)]
    options = {}
    for key, value in table.items():
        if key == "name":
            continue
        if key not in fields:
            raise ConfigError(f"unknown key task.{key} for task {name!r}; expected one of {['name', *fields]}.")
        options[key] = _checked(f"task.{key}", value, hints[key])
    return TaskConfig(name=name, options=tuple(sorted(options.items())))


def _checked(key: str, value: Any, expected: Any) -> Any:
    """``value`` if it has the ``expected`` type (ints are accepted as floats), else TypeError."""
    origin = typing.get_origin(expected)
    if origin is Literal:
        choices = typing.get_args(expected)
        if value not in choices or isinstance(value, bool):
            raise ConfigError(f"{key} must be one of {list(choices)}; got {value!r}.")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(expected):
            try:
                return _checked(key, value, option)
            except (ConfigError, ConfigTypeError):
                continue
        raise ConfigTypeError(f"{key} must be {_type_name(expected)}; got {value!r} ({type(value).__name__}).")
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is type(None) and value is None:
        return None
    if isinstance(expected, type) and isinstance(value, expected) and not (
        isinstance(value, bool) and expected is not bool
    ):
        return value
    raise ConfigTypeError(f"{key} must be {_type_name(expected)}; got {value!r} ({type(value).__name__}).")


def _type_name(expected: Any) -> str:
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(option) for option in typing.get_args(expected))
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    return names.get(expected, getattr(expected, "__name__", str(expected)))
