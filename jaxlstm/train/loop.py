"""A whole run: train several seeds at once, evaluate, log, checkpoint, resume, report.

A run writes into its workdir::

    config.json      the resolved config (every key, defaults included)
    metrics.jsonl    one line per log step ({"kind": "train"}) and per evaluation ("eval")
    checkpoints/     orbax checkpoints of the vmapped train state, the newest kept
    curves.png       the learning curves
    summary.json     the final test metrics per seed, the fraction of seeds that solved it, how
                     long the train step took to compile and the steps to run, and its
                     provenance (commit, versions, platform, wall time: :mod:`.provenance`)

A train line holds, per seed, the window's mean of each train metric, and two times:
``seconds`` since the loop started (compiling included), and ``steps_per_second``, the
window's steps over the time they took to run (compiling, logging, evaluating and
checkpointing left out: :class:`~jaxlstm.train.report.StepClock`); the progress bar shows the
latter too. A run keeps its compiled programs in JAX's persistent compilation cache, so that a
second run of the same config compiles nothing (``train.compilation_cache``).

Every batch and every noise key is a function of (seed, step), so a run resumed from a
checkpoint ends with the params of an uninterrupted run, bit for bit. Inside
:func:`jaxlstm.train.interrupt.catching` (the ``jaxlstm run`` command), a SIGINT or SIGTERM stops
the run at its next boundary with :class:`~jaxlstm.train.interrupt.Interrupted`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.compilation_cache import compilation_cache

from jaxlstm.tasks import EnvTask, Task, TextTask
from jaxlstm.train import interrupt, parallel, ppo, provenance, report
from jaxlstm.train.checkpoint import Checkpoints
from jaxlstm.train.config import Config, ConfigError, from_json, to_dict, to_json
from jaxlstm.train.data import Data
from jaxlstm.train.model import Model
from jaxlstm.train.step import TrainState, init_state, make_eval_step, make_optimizer, make_train_step

__all__ = ["RESUMABLE", "NonFiniteError", "Result", "default_workdir", "run", "user_cache_dir"]


class NonFiniteError(FloatingPointError):
    """A train step's loss or gradient was NaN or infinite, and ``train.on_nonfinite`` is
    ``"stop"``: the run ended there, its newest checkpoint (``checkpoint``, None if none was
    written) kept, nothing after it saved."""

    def __init__(self, message: str, checkpoint: int | None):
        super().__init__(message)
        self.checkpoint = checkpoint


@dataclasses.dataclass(frozen=True)
class Result:
    """What :func:`run` returns.

    Attributes:
        workdir: where the run wrote its files.
        state: the final train state (a ``PPOState`` for environment tasks), with a leading
            seed axis.
        final: the last evaluation, ``{metric: [value per seed]}``.
        solved_at: per seed, the first evaluated step at which it solved the task, or None.
        table: the summary table, as printed.
    """

    workdir: Path
    state: TrainState
    final: dict
    solved_at: list
    table: str


def run(config: Config, workdir: str | Path, *, resume: bool = False, progress: bool | None = None,
        stop_after: int | None = None, echo: Callable[[str], None] = print, process_id: int | None = None) -> Result:
    """Train ``config.train.seeds`` networks at once, vmapped over the seed axis.

    The parts, in order: ``_prepare`` the workdir, ``_build`` what the config
    describes (data or environment, model, optimizer, the jitted steps), ``_start`` from scratch or the
    newest checkpoint, ``_train`` (evaluating, logging and checkpointing as it goes), and
    ``_report``; all of them with JAX's persistent compilation cache that
    ``train.compilation_cache`` names (``_compilation_cache``), JAX's own settings put back
    at the end.

    Inside :func:`jaxlstm.train.interrupt.catching`, a SIGINT or SIGTERM stops the run at the
    next of these boundaries: once the workdir is prepared, once the parts are built, before
    each step (so once the start state is made or restored, and once the step before has
    written its metrics line, evaluation and checkpoint) and before the report. Outside it the
    signals act as usual.

    Args:
        config: the experiment.
        workdir: the run's directory. A new run needs it empty or absent; ``resume`` continues
            the run there from its newest checkpoint, with the config it was started with
            (only the keys in :data:`RESUMABLE` may change).
        resume: continue the run in ``workdir``.
        progress: show a progress bar: None shows it on a terminal only.
        stop_after: end after this many steps in all (checkpointed), as if interrupted there;
            for resuming later (tests use it).
        echo: where the run's messages go.
        process_id: this process's index in a run of ``parallel.processes`` processes (None:
            from the cluster); every process runs ``run`` alike, and process 0 alone writes
            the run's files and messages (the checkpoints are written by all).

    Returns:
        A :class:`Result`.

    Raises:
        jaxlstm.train.interrupt.Interrupted: a signal came inside ``interrupt.catching``; what
            was saved before it is complete.
    """
    parallel.join(config, process_id)
    if not parallel.primary():
        echo, progress = (lambda _: None), False
    with _compilation_cache(config.train.compilation_cache, echo):
        started, start_time = provenance.source(), time.perf_counter()
        workdir = Path(workdir)
        _prepare(workdir, config, resume, echo)
        interrupt.check()
        if started.clean is False:
            echo(f"note: the checkout at {started.commit[:12]} has uncommitted changes to tracked files; "
                 "summary.json will record clean: false, and experiments/collect.py refuses such runs")
        parts = _build(config)
        _keep_fitted(parts.task, workdir, resume)
        interrupt.check()
        checkpoints = Checkpoints(workdir / "checkpoints", config.train.keep_checkpoints)
        try:
            state, start = _start(parts, checkpoints, workdir, resume, echo)
            end = config.train.steps if stop_after is None else min(config.train.steps, stop_after)
            tic = time.perf_counter()
            state, timing = _train(parts, state, start, end, checkpoints, workdir / "metrics.jsonl", progress)
        finally:
            checkpoints.close()
        interrupt.check()
        parallel.barrier("trained")
        summary = {"step": end, "wall_seconds": round(time.perf_counter() - tic, 1), **timing.summary()}
        if timing.steps:
            echo(timing.message())
        return _report(parts, state, workdir, summary, started, start_time, echo)


def user_cache_dir() -> Path:
    """Where ``train.compilation_cache = "auto"`` keeps the compiled programs when JAX has no
    cache of its own: ``$XDG_CACHE_HOME/jaxlstm/xla/MACHINE``, or ``~/.cache/jaxlstm/xla/MACHINE``
    where that variable is unset or not an absolute path (which the XDG base directory
    specification says to ignore). ``MACHINE`` names the architecture and CPU model (with a
    short hash of them): XLA compiles for the CPU it runs on, and a home directory shared by
    machines of other CPUs must not hand one of them code for another's instructions.

    Example:
        >>> from jaxlstm.train.loop import user_cache_dir
        >>> user_cache_dir().parts[-3:-1]
        ('jaxlstm', 'xla')
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    machine = f"{platform.machine()} {provenance.cpu_model() or 'unknown CPU'}"
    name = f"{platform.machine() or 'machine'}-{hashlib.sha256(machine.encode()).hexdigest()[:12]}"
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "jaxlstm" / "xla" / name


_CACHE_FLAGS = ("jax_enable_compilation_cache", "jax_compilation_cache_dir",
                "jax_persistent_cache_min_compile_time_secs", "jax_persistent_cache_min_entry_size_bytes")
"""JAX's settings of its persistent compilation cache that a run may set, and puts back."""


@contextlib.contextmanager
def _compilation_cache(setting: str, echo) -> Iterator[None]:
    """JAX's persistent compilation cache as ``train.compilation_cache`` says, inside the block.

    ``"auto"`` leaves JAX's settings as they are where JAX has a cache directory or its cache
    turned off (by ``JAX_COMPILATION_CACHE_DIR``, ``JAX_ENABLE_COMPILATION_CACHE`` or
    ``jax.config``), and otherwise takes :func:`user_cache_dir`, or, where that cannot be made,
    no cache (with a note: the cache is never why a run fails); a directory is made if absent;
    ``""`` turns the cache off. A directory set here caches every program (JAX's defaults skip
    those that compile in under a second, which are most of a small run's). JAX opens its
    cache at the first compilation after a reset, so the cache is reset on the way in and out.

    Raises:
        ConfigError: the directory named cannot be made.
    """
    before = {name: getattr(jax.config, name) for name in _CACHE_FLAGS}
    if setting == "":
        wanted = {**before, "jax_enable_compilation_cache": False}
    elif setting == "auto" and (before["jax_compilation_cache_dir"] or not before["jax_enable_compilation_cache"]):
        wanted = before
    else:
        directory = user_cache_dir() if setting == "auto" else Path(setting).expanduser()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            if setting != "auto":
                raise ConfigError(
                    f"train.compilation_cache: cannot make the directory {directory} for the compilation cache "
                    f"({error.strerror}); expected a directory this user can write. Hint: name another one, or "
                    '"" (--set train.compilation_cache=) for no cache.') from None
            echo(f"note: no compilation cache for this run: cannot make {directory} ({error.strerror}); "
                 "set train.compilation_cache to a directory to keep one")
            directory = None
        wanted = before if directory is None else {
            "jax_enable_compilation_cache": True, "jax_compilation_cache_dir": str(directory),
            "jax_persistent_cache_min_compile_time_secs": 0.0, "jax_persistent_cache_min_entry_size_bytes": -1}
    if wanted == before:
        yield
        return
    _set_cache(wanted)
    try:
        yield
    finally:
        _set_cache(before)


def _set_cache(flags: dict) -> None:
    for name, value in flags.items():
        jax.config.update(name, value)
    compilation_cache.reset_cache()


class _Timing(NamedTuple):
    """Where a run's train loop spent its time, in this process (a resumed run's last part).

    Attributes:
        compile_seconds: lowering and compiling the train step (or reading it back from the
            compilation cache); None when no step ran.
        train_seconds: running the train steps (:class:`~jaxlstm.train.report.StepClock`).
        steps: the steps run.
    """

    compile_seconds: float | None
    train_seconds: float
    steps: int

    def summary(self) -> dict:
        """The entries of ``summary.json``: ``compile_seconds``, ``train_seconds`` and
        ``steps_per_second`` (None without steps)."""
        rate = self.steps / self.train_seconds if self.steps and self.train_seconds > 0 else None
        return {"compile_seconds": None if self.compile_seconds is None else round(self.compile_seconds, 3),
                "train_seconds": round(self.train_seconds, 3),
                "steps_per_second": None if rate is None else round(rate, 3)}

    def message(self) -> str:
        """One line for the run's output."""
        rate = self.steps / self.train_seconds if self.train_seconds > 0 else math.inf
        return (f"the train step: {self.compile_seconds:.2f} s to compile (or read back from the compilation "
                f"cache), then {self.steps} steps in {self.train_seconds:.2f} s, {rate:.4g} steps/s")


@dataclasses.dataclass(frozen=True)
class _Parts:
    """What a config describes, built once: the task, the network, the jitted steps (vmapped
    over seeds), what each train step reads, and the test set.

    Attributes:
        inputs: ``step -> tuple``, the train step's arguments after the state (a supervised
            task's batch and resets; nothing for an environment, whose data is in the state).
        checked: the names of what the train step's ``nonfinite`` metric flags: ``"loss"``,
            then the gradient of each params leaf (``"['lstm'].layers[0][0].V"``, ...).
    """

    config: Config
    task: Task | EnvTask
    model: Model
    seeds: jax.Array
    init: Callable
    train_step: Callable
    inputs: Callable[[int], tuple]
    eval_step: Callable
    test_set: tuple
    checked: tuple[str, ...]


def _build(config: Config) -> _Parts:
    """Supervised tasks train on batches of :class:`~jaxlstm.train.data.Data`; environment
    tasks (:class:`~jaxlstm.tasks.EnvTask`) train by PPO (:mod:`jaxlstm.train.ppo`)."""
    task = config.task.make()
    model = Model.for_task(config.model, task)
    train_cfg = config.train
    seeds = jnp.arange(train_cfg.seed, train_cfg.seed + train_cfg.seeds, dtype=jnp.int32)
    skip = train_cfg.on_nonfinite == "skip"
    place = parallel.placement(config, environment=isinstance(task, EnvTask))
    if isinstance(task, EnvTask):
        optimizer = make_optimizer(config.optim, train_cfg.steps * config.ppo.updates_per_step)
        init = lambda seed: ppo.init_state(seed, model, optimizer, task, config.ppo)
        train_step = ppo.make_train_step(model, optimizer, task, config.ppo, skip_nonfinite=skip)
        inputs, input_shardings = lambda step: (), ()
        eval_step = ppo.make_eval_step(model, task, config.eval.batch_size)
        test_set = (jax.random.key(config.eval.seed),)
    else:
        data = Data(config)
        optimizer = make_optimizer(config.optim, train_cfg.steps)
        init = lambda seed: init_state(seed, model, optimizer, train_cfg.batch_size)
        train_step = make_train_step(model, optimizer, stream=data.streams, skip_nonfinite=skip)
        input_shardings = place.train_inputs()
        inputs = lambda step: tuple(place.put(data.train_batch(step), input_shardings))
        eval_step = make_eval_step(model, task)
        test_set = data.test_set()
    test_shardings = place.test_set(test_set)
    test_set = tuple(place.put(test_set, test_shardings))
    state = place.state(jax.eval_shape(jax.vmap(init), seeds))
    params, metrics = (None, None) if state is None else (state.params, place.replicated)
    in_axes = (0,) + (None,) * len(test_set)
    leaves = jax.tree_util.tree_flatten_with_path(jax.eval_shape(model.init, jax.random.key(0)))[0]
    checked = ("loss", *(jax.tree_util.keystr(path) for path, _ in leaves))
    return _Parts(config, task, model, seeds, jax.jit(jax.vmap(init), in_shardings=place.seeds(), out_shardings=state),
                  jax.jit(jax.vmap(train_step), in_shardings=(state, *input_shardings), out_shardings=(state, metrics),
                          donate_argnums=0), inputs,
                  jax.jit(jax.vmap(eval_step, in_axes=in_axes), in_shardings=(params, *test_shardings),
                          out_shardings=metrics), test_set, checked)


def _start(parts: _Parts, checkpoints: Checkpoints, workdir: Path, resume: bool, echo) -> tuple[TrainState, int]:
    """The state to train from and its step: fresh, or the newest checkpoint of a resumed run
    (whose metrics past that step are dropped, to be written again; all of them, when it has
    no checkpoint)."""
    state = parts.init(parts.seeds)
    if not resume:
        return state, 0
    start = checkpoints.latest_step() or 0  # a run stopped before its first checkpoint starts again
    if start:
        state = checkpoints.restore(start, state)
    metrics_path = workdir / "metrics.jsonl"
    if parallel.primary():
        records = [r for r in report.read_metrics(metrics_path) if r["step"] <= start]
        report.write_atomic(metrics_path, "".join(json.dumps(r) + "\n" for r in records))
    echo(f"resumed {workdir} at step {start} of {parts.config.train.steps}")
    return state, start


def _train(parts: _Parts, state: TrainState, start: int, end: int, checkpoints: Checkpoints, metrics_path: Path,
           progress: bool | None) -> tuple[TrainState, _Timing]:
    """Steps ``start`` to ``end``: log every ``train.log_every``, evaluate every ``eval.every``,
    checkpoint every ``train.checkpoint_every`` and at ``end``; before each step, stop if a
    signal came (:func:`jaxlstm.train.interrupt.check`), so that a stop never leaves a step
    half recorded. The train step is compiled ahead of its first call (``jit``'s ``lower``
    and ``compile``, whose program the calls then run), timed apart from the steps.

    Every step's ``nonfinite`` flags are read before anything from it is logged, evaluated or
    saved (not after each step, which would wait for the device every step): with
    ``train.on_nonfinite = "stop"`` the first flagged step raises :class:`NonFiniteError`
    before it reaches the metrics or a checkpoint."""
    from tqdm.auto import tqdm

    train_cfg, steps = parts.config.train, parts.config.train.steps
    bar = tqdm(total=steps, initial=start, disable=None if progress is None else not progress,
               desc=parts.config.task.name, unit="step", dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")  # our rate, not tqdm's
    window, tic, clock, compile_seconds = [], time.perf_counter(), report.StepClock(), None
    try:
        for step in range(start, end):
            interrupt.check()
            if step == start:  # the first batch (its data compiled too) and the step's compilation: start-up
                with clock.paused():
                    inputs = parts.inputs(step)
                    compile_seconds = _compile(parts.train_step, (state, *inputs), bar)
            else:
                inputs = parts.inputs(step)
            state, metrics = parts.train_step(state, *inputs)
            clock.count()
            window.append((step, metrics))
            done = step + 1
            saves = done % train_cfg.checkpoint_every == 0 or done == end
            logs = done % train_cfg.log_every == 0 or done == steps or saves  # a resume loses no line
            evaluates = done % parts.config.eval.every == 0 or done == steps
            if logs or evaluates or saves:
                jax.block_until_ready(metrics)  # the steps' time ends when their results are there
                with clock.paused():
                    _check_finite(parts, window, checkpoints)
                    if logs:
                        logged, rate = _window_metrics([m for _, m in window]), clock.lap()
                        window = []
                        if parallel.primary():
                            report.append_metrics(metrics_path, {
                                "kind": "train", "step": done, **logged, "seconds": round(time.perf_counter() - tic, 3),
                                "steps_per_second": None if rate is None else round(rate, 3)})
                        loss = np.mean([v for v in logged["loss"] if v is not None] or [np.nan])
                        bar.set_postfix({"loss": f"{loss:.4f}", "steps/s": "-" if rate is None else f"{rate:.3g}"})
                    if evaluates:
                        evaluated = _evaluate(parts, state)  # on every process: the test set is split across them
                        if parallel.primary():
                            report.append_metrics(metrics_path, {"kind": "eval", "step": done, **evaluated})
                    if saves:
                        checkpoints.save(done, state)
            bar.update(1)
    finally:
        bar.close()
    return state, _Timing(compile_seconds, clock.seconds, clock.steps)  # the last step logs: every step is counted


def _compile(train_step, args: tuple, bar) -> float:
    """Compile ``train_step`` for ``args`` (or read it back from the compilation cache), saying
    so on the progress bar; the seconds it took."""
    bar.set_postfix_str("compiling the train step")
    tic = time.perf_counter()
    train_step.lower(*args).compile()
    seconds = time.perf_counter() - tic
    bar.set_postfix_str(f"compiled in {seconds:.1f} s")
    return seconds


def _check_finite(parts: _Parts, window: list[tuple[int, dict]], checkpoints: Checkpoints) -> None:
    """Raise :class:`NonFiniteError` for the first step of ``window`` whose loss or gradient
    was not finite, unless such updates are skipped."""
    if parts.config.train.on_nonfinite == "skip":
        return
    for step, metrics in window:
        flags = np.asarray(metrics["nonfinite"])  # (seeds, 1 + leaves)
        if flags.any():
            index, leaf = (int(i[0]) for i in np.nonzero(flags))
            seed, latest = int(parts.seeds[index]), checkpoints.latest_step()
            what = "the loss" if leaf == 0 else f"the gradient of params{parts.checked[leaf]}"
            loss = float(np.asarray(metrics["loss"])[index])
            kept = "no checkpoint was written yet" if latest is None else f"its newest checkpoint, step {latest}, is kept"
            raise NonFiniteError(
                f"{what} is not finite in train step {step + 1} of seed {seed} (loss {loss}); "
                f"expected finite values, so the run stopped there and {kept}. Hint: lower "
                "optim.lr, set optim.clip_norm, or check the task's data; or skip such updates "
                "with --set train.on_nonfinite=skip.", latest)


def _window_metrics(window: list[dict]) -> dict:
    """The train metrics of a log line: per seed, each metric's mean over the window's steps
    where it is finite (None where none is), and the sum of the updates skipped."""
    logged = {}
    for key in window[0]:
        values = np.stack([np.asarray(m[key]) for m in window]).astype(np.float64)
        if key == "skipped":
            logged[key] = values.sum(axis=0).astype(int).tolist()
        elif key != "nonfinite":
            finite = np.isfinite(values)
            sums, counts = np.where(finite, values, 0.0).sum(axis=0), finite.sum(axis=0)
            logged[key] = [float(t / n) if n else None for t, n in zip(sums, counts)]
    return logged


def _evaluate(parts: _Parts, state: TrainState) -> dict:
    metrics = {k: np.asarray(v).tolist() for k, v in parts.eval_step(state.params, *parts.test_set).items()}
    if isinstance(parts.task, TextTask):
        metrics["bits_per_char"] = [loss / math.log(2) for loss in metrics["loss"]]
    return metrics


def _report(parts: _Parts, state: TrainState, workdir: Path, summary: dict, started, start_time: float,
            echo) -> Result:
    """The curves, ``summary.json`` and the printed table, from the metrics on disk."""
    config, seeds = parts.config, parts.seeds.tolist()
    records = report.read_metrics(workdir / "metrics.jsonl")
    if parallel.primary():
        report.plot(records, workdir / "curves.png", f"{config.task.name}, {config.train.seeds} seeds")
    evals = [r for r in records if r["kind"] == "eval"]
    final = evals[-1] if evals else _evaluate(parts, state)
    solved_at = [next((r["step"] for r in evals if r["solved"][s]), None) for s in range(config.train.seeds)]
    table = report.summary_table(final, seeds, solved_at)
    skipped = np.sum([r["skipped"] for r in records if r["kind"] == "train"], axis=0, dtype=int)
    times = {k: v for k, v in summary.items() if k != "step"}  # the wall time and the _Timing
    summary = {"step": summary["step"], "seeds": seeds, "solved_fraction": float(np.mean(final["solved"])),
               "hidden_size": parts.model.hidden_size, "param_count": parts.model.param_count,
               **times, "solved_at": solved_at,
               "skipped_updates": np.broadcast_to(skipped, len(seeds)).tolist(),
               **{k: v for k, v in final.items() if k not in ("kind", "step")},
               "provenance": provenance.record(started, time.perf_counter() - start_time)}
    if parallel.primary():
        report.write_atomic(workdir / "summary.json", json.dumps(summary, indent=2) + "\n")
    echo(table)
    echo(f"wrote {workdir / 'metrics.jsonl'}, {workdir / 'curves.png'}, {workdir / 'summary.json'}")
    return Result(workdir, state, final, solved_at, table)


RESUMABLE = ("train.on_nonfinite", "train.compilation_cache", "parallel.devices", "parallel.axis", "parallel.processes",
             "parallel.coordinator")
"""The config keys a resumed run may change: they change no saved state, only what comes next
(a checkpoint restores onto any devices; the compilation cache holds programs, not results)."""


def _prepare(workdir: Path, config: Config, resume: bool, echo) -> None:
    """Check the workdir for a new or a resumed run, and write the resolved config (every
    process checks; process 0 writes, once all have checked)."""
    config_path = workdir / "config.json"
    if resume:
        if not config_path.exists():
            raise FileNotFoundError(
                f"--resume needs a run in workdir {workdir}, but it has no config.json. Hint: "
                "start a new run with --workdir, or point --resume at an earlier run's workdir."
            )
        saved = from_json(config_path.read_text(), str(config_path))
        differences = _differences(saved, config)
        if any(key not in RESUMABLE for key, _, _ in differences):
            differ = "; ".join(f"{key}: saved {old!r}, given {new!r}" for key, old, new in differences)
            raise ConfigError(
                f"workdir {workdir} holds a run of another config than the one given; expected "
                f"the same config to resume it. They differ in {differ}. Saved: {config_path}. Hint: "
                "resume with the same config file and --set options, or start a new run in a new workdir."
            )
        parallel.barrier("checked")
        if differences and parallel.primary():
            report.write_atomic(config_path, to_json(config) + "\n")
            echo("resuming with " + "; ".join(f"{key} = {new!r} (was {old!r})" for key, old, new in differences))
        return
    if workdir.exists() and any(workdir.iterdir()):
        raise FileExistsError(
            f"workdir {workdir} is not empty; a new run needs an empty or new directory, so that "
            "nothing saved there is lost. Hint: pass --resume to continue that run, or another "
            "--workdir."
        )
    parallel.barrier("checked")
    if parallel.primary():
        workdir.mkdir(parents=True, exist_ok=True)
        report.write_atomic(config_path, to_json(config) + "\n")
    parallel.barrier("prepared")


def _keep_fitted(task, workdir: Path, resume: bool) -> None:
    """Write what ``task`` learned from its training split (``fitted()``, if it has one) into
    the workdir's :data:`~jaxlstm.train.report.DATA_FILE`; a resumed run must find the same
    there, else its checkpoints were trained on other data."""
    if not hasattr(task, "fitted") or not parallel.primary():
        return
    path, fitted = workdir / report.DATA_FILE, json.dumps(task.fitted(), indent=1) + "\n"
    if resume and path.exists() and path.read_text() != fitted:
        raise ConfigError(
            f"the data of workdir {workdir} changed since its run started: {path} (the training split's "
            "normalisation and classes) differs from what the task's files give now; expected the same data "
            "to resume. Hint: restore the data files, or start a new run in a new workdir."
        )
    report.write_atomic(path, fitted)


def _differences(saved: Config, given: Config) -> list[tuple[str, object, object]]:
    """``(section.key, saved value, given value)`` for every key whose values differ (a key
    that only one of them sets shows the other's as None)."""
    a, b = to_dict(saved), to_dict(given)
    keys = sorted({(section, key) for d in (a, b) for section, table in d.items() for key in table})
    return [(f"{section}.{key}", a[section].get(key), b[section].get(key)) for section, key in keys
            if a[section].get(key) != b[section].get(key)]


def default_workdir(config_name: str) -> Path:
    """``runs/<name>-<date>-<time>``: a fresh directory for each run."""
    return Path("runs") / f"{config_name}-{time.strftime('%Y%m%d-%H%M%S')}"
