"""The settings of an experiment: frozen, typed dataclasses, one per section of a config.

Each field declares a key, its type and its default, once; ``__post_init__`` refuses impossible
values with a message naming the key. ``Config()`` is the default experiment, the embedded Reber
grammar. :mod:`jaxlstm.config` reads them from TOML files; the trainer reads them from here.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Literal

from jaxlstm import tasks
from jaxlstm.variant import VARIANTS

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
        impl: the ``jaxlstm.lstm`` implementation.
        param_budget: if positive, ``hidden_size`` is ignored and the network (LSTM and
            readout) gets the largest hidden size whose parameter count is at most this, so
            that variants compare at equal budgets (Greff et al. 2017).
    """

    hidden_size: int = 16
    num_layers: int = 1
    variant: str = "vanilla"
    init: Literal["pytorch", "keras", "flax"] = "pytorch"
    forget_bias: float = 1.0
    input_bias: float = 0.0
    shortcut: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    impl: Literal["auto", "reference", "fused", "hoisted"] = "auto"
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
        external_reset: stream tasks: zero the state at the first symbol of every embedded
            string, in training and test (Gers et al. 2000's "external reset"; it runs the
            step by step reference path, a scan of ``jaxlstm.lstm_step``).
        log_every: steps between metric lines.
        checkpoint_every: steps between checkpoints (and at the end).
        keep_checkpoints: the newest checkpoints kept.
    """

    steps: int = 2000
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

    def __post_init__(self):
        for key in ("steps", "batch_size", "seeds", "max_length", "tbptt", "chunks_per_stream", "log_every",
                    "checkpoint_every", "keep_checkpoints"):
            _require(getattr(self, key) >= 1, f"train.{key}", "a positive integer", getattr(self, key))
        _require(self.seed >= 0, "train.seed", ">= 0", self.seed)


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
class Config:
    """A whole experiment. ``Config()`` is the default one: embedded Reber, 16 seeds at once."""

    model: ModelConfig = ModelConfig()
    task: TaskConfig = TaskConfig()
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()

    def __post_init__(self):
        try:
            task = self.task.make()
        except (TypeError, ValueError) as error:
            raise ConfigError(f"task: {error}") from None
        if self.train.external_reset:
            _require(hasattr(task, "stream"), "train.external_reset", "false for a task of separate "
                     f"sequences (it resets the strings of a stream such as 'cerg'); task {self.task.name!r}",
                     True)
            noise = self.model.dropout or self.model.recurrent_dropout or self.model.zoneout
            _require(not noise, "train.external_reset", "false with dropout, recurrent_dropout or zoneout "
                     "(its step-by-step path has no training-time noise)", True)


def to_json(config: Config) -> str:
    """The resolved config as JSON (every key, defaults included), as written into a workdir."""
    data = dataclasses.asdict(config)
    data["task"] = {"name": config.task.name, **dict(config.task.options)}
    return json.dumps(data, indent=2, sort_keys=True)


def from_json(text: str) -> Config:
    """The :class:`Config` that :func:`to_json` wrote."""
    data = json.loads(text)
    task = data.pop("task")
    sections = {name: cls(**data[name]) for name, cls in
                (("model", ModelConfig), ("optim", OptimConfig), ("train", TrainConfig), ("eval", EvalConfig))}
    name = task.pop("name")
    return Config(task=TaskConfig(name=name, options=tuple(sorted(task.items()))), **sections)
