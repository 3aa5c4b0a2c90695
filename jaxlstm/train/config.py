"""Experiment configs: frozen, typed dataclasses, one per section, read from TOML or JSON.

A config has the sections ``[model]``, ``[task]``, ``[optim]``, ``[train]``, ``[eval]``,
``[ppo]`` (for environment tasks) and ``[parallel]`` (devices); each
is a dataclass here whose fields declare every key, its type and its default, once. ``[task]``
holds ``name`` (a key of :data:`jaxlstm.tasks.TASKS`) and that task's own options (the fields of
its dataclass). ``Config()`` is the default experiment, the embedded Reber grammar.

Every config goes through one validation path, :func:`from_dict`, whether it comes from a TOML
file with ``--set`` overrides (:func:`load`), from a run's ``config.json`` (:func:`from_json`)
or from Python: each key's type is checked against its field, then each section's
``__post_init__`` refuses impossible values and :class:`Config` the impossible combinations.
An error is a :class:`ConfigError` or :class:`ConfigTypeError` naming the source, the key and
what was expected.

Example:
    >>> cfg = load(None, ["optim.lr=0.02", "train.seeds=2"])
    >>> cfg.optim.lr, cfg.train.seeds, cfg.task.name
    (0.02, 2, 'erg')
    >>> from_json(to_json(cfg)) == cfg
    True
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal

from jaxlstm import tasks
from jaxlstm.options import Impl, Init, Remat
from jaxlstm.tasks import StreamTask
from jaxlstm.variant import VARIANTS

__all__ = [
    "Config",
    "ConfigError",
    "ConfigTypeError",
    "EvalConfig",
    "ModelConfig",
    "OptimConfig",
    "PPOConfig",
    "ParallelConfig",
    "TaskConfig",
    "TrainConfig",
    "from_dict",
    "from_json",
    "load",
    "to_dict",
    "to_json",
]


class ConfigError(ValueError):
    """A config value that cannot be used; the message names the file and the key."""


class ConfigTypeError(TypeError):
    """A config value of the wrong type; the message names the file and the key."""


def _require(condition: bool, key: str, expected: str, value: object) -> None:
    if not condition:
        raise ConfigError(f"{key} must be {expected}; got {value!r}.")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The network: an LSTM stack and a linear readout to the task's outputs.

    Attributes:
        hidden_size: units per layer.
        num_layers: stacked LSTM layers.
        variant: a preset of ``jaxlstm.VARIANTS`` (``"vanilla"``, ``"lstm1997"``, ``"CIFG"``, ...).
        init: ``"pytorch"``, ``"keras"`` or ``"flax"`` (see :func:`jaxlstm.init`).
        forget_bias: added to the forget gate's bias at init.
        input_bias: added to the input gate's bias at init: Hochreiter & Schmidhuber (1997)
            start it negative (-3 and -6 on the adding problem) so that the cells, with no
            forget gate, do not drift to saturation before they learn to use their input.
        shortcut: the inputs also feed the readout directly (Gers et al. 2000's network).
        dropout: between layers, in training only.
        recurrent_dropout: variational dropout of the recurrence, in training only.
        zoneout: zoneout rate of ``c`` and ``h`` in training; evaluation uses its expectation.
        impl, remat: the ``jaxlstm.lstm`` implementation and rematerialisation.
        learn_initial_state: the LSTM learns its initial state ``h0, c0`` (see
            :func:`jaxlstm.init`), where every sequence, stream and reset starts.
        dtype: ``"float32"``, ``"float64"`` (which needs ``JAX_ENABLE_X64=1``): the params',
            the state's and the computation's dtype; or ``"bfloat16"``: mixed precision, the
            operands of every matmul in bfloat16 (accumulated in float32, ``jaxlstm.lstm``'s
            ``matmul_dtype``), the params, the LSTM state and the gate arithmetic in float32.
        param_budget: if positive, ``hidden_size`` is ignored and the network (LSTM and
            readout) gets the largest hidden size whose parameter count is at most this, so
            that variants compare at equal budgets (Greff et al. 2017).
    """

    hidden_size: int = 16
    num_layers: int = 1
    variant: str = "vanilla"
    init: Init = "pytorch"
    forget_bias: float = 1.0
    input_bias: float = 0.0
    shortcut: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    impl: Impl = "auto"
    remat: Remat = False
    learn_initial_state: bool = False
    dtype: Literal["float32", "bfloat16", "float64"] = "float32"
    param_budget: int = 0

    def __post_init__(self):
        _require(self.param_budget >= 0, "model.param_budget", ">= 0 (0: use hidden_size)", self.param_budget)
        _require(self.hidden_size >= 1, "model.hidden_size", "a positive integer", self.hidden_size)
        _require(self.num_layers >= 1, "model.num_layers", "a positive integer", self.num_layers)
        _require(self.variant in VARIANTS, "model.variant", f"one of {sorted(VARIANTS)}", self.variant)
        _require(not self.input_bias or "i" in VARIANTS[self.variant].gates, "model.input_bias",
                 f"0 for the variant {self.variant!r}, which has no input-gate weights", self.input_bias)
        for key in ("dropout", "recurrent_dropout", "zoneout"):
            value = getattr(self, key)
            _require(0.0 <= value < 1.0, f"model.{key}", "in [0, 1)", value)
        _require(self.impl != "cudnn", "model.impl", "one the trainer can vmap over its seeds (cuDNN's kernel has "
                 "no batching rule): 'auto', 'fused', 'hoisted', 'pallas' or 'reference'", self.impl)


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """The task: ``name`` and the options of its dataclass in :mod:`jaxlstm.tasks`.

    Attributes:
        name: one of :data:`jaxlstm.tasks.TASKS` (``"erg"``, ``"cerg"``, ``"adding"``, ...).
        options: that task's own keys from the ``[task]`` table, checked against its fields.
    """

    name: str = "erg"
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        _require(self.name in tasks.TASKS, "task.name", f"one of {sorted(tasks.TASKS)}", self.name)

    def make(self, **changes: Any) -> tasks.Task:
        """The task object, with ``changes`` applied over the configured options."""
        return tasks.make_task(self.name, **{**dict(self.options), **changes})


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """The optax optimizer.

    Attributes:
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"`` (with ``momentum``, Nesterov when
            ``nesterov``) or ``"rmsprop"``.
        lr: the peak learning rate.
        momentum: SGD's momentum.
        nesterov: SGD with Nesterov momentum (Greff et al. 2017).
        weight_decay: AdamW's decoupled weight decay.
        clip_norm: clip the gradients' global norm to this, or 0 for no clipping.
        schedule: ``"constant"``, ``"cosine"`` (to zero over ``train.steps``) or
            ``"exponential"`` (``lr * decay_rate ** step``, Gers et al.'s sequential decay).
        warmup_steps: linear warm-up from 0 before the schedule.
        decay_rate: the per-step factor of the exponential schedule.
    """

    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    clip_norm: float = 1.0
    schedule: Literal["constant", "cosine", "exponential"] = "constant"
    warmup_steps: int = 0
    decay_rate: float = 1.0

    def __post_init__(self):
        _require(self.lr > 0 and math.isfinite(self.lr), "optim.lr", "a positive number", self.lr)
        _require(0.0 <= self.momentum < 1.0, "optim.momentum", "in [0, 1)", self.momentum)
        _require(self.weight_decay >= 0, "optim.weight_decay", ">= 0", self.weight_decay)
        _require(self.clip_norm >= 0, "optim.clip_norm", ">= 0 (0 turns clipping off)", self.clip_norm)
        _require(self.warmup_steps >= 0, "optim.warmup_steps", ">= 0", self.warmup_steps)
        _require(0.0 < self.decay_rate <= 1.0, "optim.decay_rate", "in (0, 1]", self.decay_rate)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training loop.

    Attributes:
        steps: optimizer steps.
        batch_size: sequences (or streams) per step and seed.
        seeds: networks trained at once, ``jax.vmap``-ed over the seed axis; seed ``s`` of a
            run is ``seed + s``, so the seeds of a run equal the same seeds run one at a time.
        seed: the first seed.
        max_length: every batch is padded to this many steps, so the step compiles once;
            a batch with a longer sequence is drawn again from the next numbers of the same
            generator (for the Reber grammars this trims the tail of a geometric length).
        tbptt: for stream tasks (``"cerg"``): the chunk length of truncated BPTT. The state is
            carried from chunk to chunk with ``stop_gradient``.
        chunks_per_stream: stream tasks: chunks before a new training stream starts from a
            zero state.
        reset_state: stream tasks: start every chunk from a zero state instead of carrying it.
        external_reset: stream tasks: reset the state (to zero, or the learned initial
            state) at the first symbol of every embedded string, in training and test (Gers et
            al. 2000's "external reset"), with ``jaxlstm.lstm``'s ``resets``.
        log_every: steps between metric lines.
        checkpoint_every: steps between checkpoints (and at the end).
        keep_checkpoints: the newest checkpoints kept.
        on_nonfinite: what a NaN or infinite loss or gradient does: ``"stop"`` the run,
            naming the step, the seed and the first such leaf, with the newest checkpoint kept;
            or ``"skip"`` the update (as ``optax.apply_if_finite`` does), counting the skips in
            the metrics (``skipped``) and in ``summary.json`` (``skipped_updates``). A resumed
            run may change it (as the ``[parallel]`` keys).
        compilation_cache: where :func:`jaxlstm.train.run` keeps JAX's persistent compilation
            cache, from which a second run of the same config reads its compiled programs
            instead of compiling them again. ``"auto"``: the cache JAX is already configured
            with (``JAX_COMPILATION_CACHE_DIR`` or ``jax.config``), its settings left as they
            are, or where it has none (nor is turned off), ``$XDG_CACHE_HOME/jaxlstm/xla``
            (``~/.cache/jaxlstm/xla`` where that is unset), in a directory per CPU model
            (:func:`jaxlstm.train.loop.user_cache_dir`). A directory (``~`` is the home
            directory; a relative one is taken from the current directory): that one. ``""``:
            none for this run. Where the run sets the cache (a directory, or ``"auto"`` without
            JAX's own), it caches every program, however small or quick to compile, and puts
            JAX's settings back when it ends. Whoever can write into the directory can make
            the runs that read it execute their code: keep it where only you write. A resumed
            run may change it (as the ``[parallel]`` keys).
    """

    steps: int = 1500
    batch_size: int = 32
    seeds: int = 16
    seed: int = 0
    max_length: int = 48
    tbptt: int = 50
    chunks_per_stream: int = 20
    reset_state: bool = False
    external_reset: bool = False
    log_every: int = 25
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    on_nonfinite: Literal["stop", "skip"] = "stop"
    compilation_cache: str = "auto"

    def __post_init__(self):
        for key in ("steps", "batch_size", "seeds", "max_length", "tbptt", "chunks_per_stream", "log_every",
                    "checkpoint_every", "keep_checkpoints"):
            _require(getattr(self, key) >= 1, f"train.{key}", "a positive integer", getattr(self, key))
        _require(self.seed >= 0, "train.seed", ">= 0", self.seed)
        _check_cache(self.compilation_cache)


def _check_cache(cache: str) -> None:
    """Refuse a ``train.compilation_cache`` that is surely a slip, not the directory it would
    name: a word for "off", "auto" in capitals, or spaces around the name."""
    word = cache.strip().lower()
    if word in _NO_CACHE:
        hint = 'compilation_cache = "" (--set train.compilation_cache=) turns the cache off'
    elif word == "auto" and cache != "auto":
        hint = 'write "auto" in lower case'
    elif cache != cache.strip():
        hint = f"write the directory without the spaces around it: {cache.strip()!r}"
    else:
        return
    raise ConfigError(f'train.compilation_cache must be "auto", a directory, or "" for no persistent '
                      f"compilation cache; got {cache!r}. Hint: {hint}.")


_NO_CACHE = ("off", "none", "no", "false", "0", "disabled", "disable")
"""Words that mean "no cache", refused as ``train.compilation_cache`` (they would name a directory)."""


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Evaluation on a fixed test set, drawn once from ``seed``.

    Attributes:
        every: steps between evaluations (and at the end).
        batch_size: test sequences (streams for ``"cerg"``, windows for ``"text"``).
        stream_length: stream tasks: symbols per test stream.
        seed: the test set's seed, apart from the training seeds.
    """

    every: int = 250
    batch_size: int = 256
    stream_length: int = 2000
    seed: int = 1_000_003

    def __post_init__(self):
        for key in ("every", "batch_size", "stream_length"):
            _require(getattr(self, key) >= 1, f"eval.{key}", "a positive integer", getattr(self, key))


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """Proximal policy optimisation (Schulman et al. 2017) for environment tasks
    (:class:`~jaxlstm.tasks.EnvTask`, ``"tmaze"``); each of ``train.steps`` is one update.

    Attributes:
        num_envs: environments run at once (vmapped) per seed.
        rollout: steps of every environment per update; episodes end and restart inside it.
        epochs: passes over each rollout.
        minibatches: each pass splits the environments into this many groups, each a batch of
            whole sequences from the rollout's start (the LSTM's state there, and its resets).
        gamma: the discount.
        gae_lambda: the generalised advantage estimate's lambda (Schulman et al. 2016).
        clip: the clipping of the probability ratio.
        value_coef: the value loss's weight.
        entropy_coef: the entropy bonus's weight.

    The optimizer steps ``epochs * minibatches`` times per update, and its schedule (and
    ``optim.warmup_steps``) counts those steps: a cosine schedule decays over all
    ``train.steps * epochs * minibatches`` of them.
    """

    num_envs: int = 64
    rollout: int = 128
    epochs: int = 4
    minibatches: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.01

    @property
    def updates_per_step(self) -> int:
        """The optimizer's steps per train step: one per minibatch of every epoch."""
        return self.epochs * self.minibatches

    def __post_init__(self):
        for key in ("num_envs", "rollout", "epochs", "minibatches"):
            _require(getattr(self, key) >= 1, f"ppo.{key}", "a positive integer", getattr(self, key))
        _require(self.num_envs % self.minibatches == 0, "ppo.minibatches",
                 f"a divisor of ppo.num_envs = {self.num_envs}", self.minibatches)
        for key in ("gamma", "gae_lambda"):
            _require(0.0 <= getattr(self, key) <= 1.0, f"ppo.{key}", "in [0, 1]", getattr(self, key))
        for key in ("clip", "value_coef", "entropy_coef"):
            _require(getattr(self, key) >= 0.0, f"ppo.{key}", ">= 0", getattr(self, key))


@dataclasses.dataclass(frozen=True)
class ParallelConfig:
    """How a run spreads over devices: JAX's sharding over a one-axis ``jax.sharding.Mesh``
    (:mod:`jaxlstm.train.parallel`).

    Attributes:
        devices: the devices to use: 0 for all of them, 1 for one (no sharding).
        axis: ``"batch"``, data parallel: the params and the optimizer state replicated, every
            batch (and the test set) split across the devices, the gradients summed across them
            once per step; or ``"seeds"``: each device trains its share of the vmapped seeds,
            nothing exchanged.
        processes: the processes (hosts) of one run: 1, or more, which
            ``jax.distributed.initialize`` joins before anything else runs; each process is
            started alike, with its ``--process-id`` (or none, where JAX reads it from the
            cluster: a TPU pod slice, SLURM, Open MPI). ``devices`` then counts the devices
            of all of them.
        coordinator: ``"host:port"`` of process 0, for ``processes`` above 1 (``""``: from the
            cluster, or the environment variable ``JAX_COORDINATOR_ADDRESS``).

    Every key may change when a run resumes (a checkpoint restores onto any devices).
    """

    devices: int = 0
    axis: Literal["batch", "seeds"] = "batch"
    processes: int = 1
    coordinator: str = ""

    def __post_init__(self):
        _require(self.devices >= 0, "parallel.devices", ">= 0 (0: all devices)", self.devices)
        _require(self.processes >= 1, "parallel.processes", "a positive integer", self.processes)


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole experiment. ``Config()`` is the default one: embedded Reber, 16 seeds at once."""

    model: ModelConfig = ModelConfig()
    task: TaskConfig = TaskConfig()
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    ppo: PPOConfig = PPOConfig()
    parallel: ParallelConfig = ParallelConfig()

    def __post_init__(self):
        try:
            task = self.task.make()
        except (TypeError, ValueError) as error:
            raise ConfigError(f"task: {error}") from None
        if self.train.external_reset:
            _require(isinstance(task, StreamTask), "train.external_reset", "false for a task of separate "
                     f"sequences (it resets the strings of a stream such as 'cerg'); task {self.task.name!r}",
                     True)


def to_dict(config: Config) -> dict[str, dict[str, Any]]:
    """The config as the tables of a TOML file: every key, defaults included."""
    data = dataclasses.asdict(config)
    data["task"] = {"name": config.task.name, **dict(config.task.options)}
    return data


def to_json(config: Config) -> str:
    """The resolved config as JSON (every key, defaults included), as written into a workdir."""
    return json.dumps(to_dict(config), indent=2, sort_keys=True)


def from_json(text: str, source: str = "config.json") -> Config:
    """The :class:`Config` of a JSON text that :func:`to_json` wrote, checked as :func:`load`
    checks a TOML file (``source`` names it in the errors)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{source}: not valid JSON: {error}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object of config sections; got {type(data).__name__}.")
    return from_dict(data, source)


def load(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Read a TOML config (or the defaults for ``None``) and apply ``section.key=value`` overrides.

    Args:
        path: a TOML file, or None for the default experiment.
        overrides: ``"section.key=value"`` strings, the value in TOML syntax (a bare word is
            taken as a string): ``"optim.lr=1e-3"``, ``"model.variant=CIFG"``.

    Returns:
        The frozen :class:`Config`.

    Raises:
        ConfigError, ConfigTypeError: naming the file (or ``--set``), the key and what was
            expected; FileNotFoundError for a missing file.
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
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {section} must be a table [{section}]; got {table!r}.")
        table[key] = value
    return from_dict(data, source if not overrides else f"{source} with --set {' '.join(overrides)}")


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


def from_dict(data: dict[str, Any], source: str = "a dict") -> Config:
    """The one way a config is built: the tables of a TOML file (missing keys take their
    defaults), every key's type checked against its field, then every value and combination
    checked by the dataclasses. Errors name ``source``."""
    try:
        return _build(data)
    except ConfigTypeError as error:
        raise ConfigTypeError(f"{source}: {error}") from None
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


_SECTIONS = {field.name: field.type for field in dataclasses.fields(Config)}


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
    if origin is tuple and typing.get_args(expected)[1:] == (Ellipsis,):  # a TOML array of one type
        if not isinstance(value, (list, tuple)):
            raise ConfigTypeError(f"{key} must be {_type_name(expected)}; got {value!r} ({type(value).__name__}).")
        item = typing.get_args(expected)[0]
        return tuple(_checked(f"{key}[{i}]", v, item) for i, v in enumerate(value))
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
    if typing.get_origin(expected) is tuple:
        return f"a list of {_type_name(typing.get_args(expected)[0]).split(' ', 1)[-1]}s"
    return names.get(expected, getattr(expected, "__name__", str(expected)))
