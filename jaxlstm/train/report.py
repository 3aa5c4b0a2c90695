"""What a run shows: metric lines (JSONL), learning-curve plots (PNG), the summary table, and
how fast it trains (:class:`StepClock`)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["DATA_FILE", "TIMES", "StepClock", "append_metrics", "plot", "read_metrics", "summary_table", "write_atomic"]

TIMES = ("seconds", "steps_per_second")
"""The fields of a train metrics line that time the run (wall time since the loop started, steps
per second over the line's window): the ones that differ between two runs of one config."""


class StepClock:
    """The wall time of a run's train steps alone: it runs from the start of the loop and is
    paused around what the loop does besides (compiling, logging, evaluating, checkpointing),
    so that its steps per second are those of training.

    The train step returns before the device has run it: the loop waits for a step's results
    before it pauses the clock, so that the time of every step counted falls in its window.

    Attributes:
        steps: the steps counted in all.
        seconds: the seconds they took in all.

    Example:
        >>> from jaxlstm.train.report import StepClock
        >>> clock = StepClock()
        >>> clock.count(3)
        >>> with clock.paused():
        ...     rate = clock.lap()
        >>> clock.steps, rate > 0, clock.lap() is None
        (3, True, True)
    """

    def __init__(self):
        self.steps, self.seconds = 0, 0.0
        self._window_steps, self._window_seconds = 0, 0.0
        self._since: float | None = time.perf_counter()

    def count(self, steps: int = 1) -> None:
        """Count ``steps`` more train steps in the window."""
        self._window_steps += steps

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Leave the time inside the block out (a block inside a paused one changes nothing)."""
        if self._since is None:
            yield
            return
        self._window_seconds += time.perf_counter() - self._since
        self._since = None
        try:
            yield
        finally:
            self._since = time.perf_counter()

    def lap(self) -> float | None:
        """Steps per second in the window since the last lap (None for a window without a step
        or without time), and a new window."""
        steps, seconds = self._window_steps, self._window_seconds
        if self._since is not None:
            seconds += time.perf_counter() - self._since
            self._since = time.perf_counter()
        self.steps, self.seconds = self.steps + steps, self.seconds + seconds
        self._window_steps, self._window_seconds = 0, 0.0
        return steps / seconds if steps and seconds > 0 else None


DATA_FILE = "data.json"
"""What a run keeps of its data beside its checkpoints, for a task that learns something from
its training split (the ``"files"`` task's ``fitted()``: normalisation and class names), which
``jaxlstm predict`` reads."""


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``path`` whole or not at all: into a temporary file beside it, then renamed over
    it, so that a run killed at any moment leaves the old file or the new one, never part."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(partial, path)


def append_metrics(path: Path, record: dict) -> None:
    """Add one JSON line to the metrics file; a NaN or infinite value (a seed whose params
    diverged) is written as null, which JSON has, not as NaN, which it has not."""
    with open(path, "a") as file:
        file.write(json.dumps(_finite_or_none(record), allow_nan=False) + "\n")


def _finite_or_none(value):
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_metrics(path: Path) -> list[dict]:
    """Every record of a metrics file, in order; a last line cut short by a killed run (no
    newline at its end) is left out."""
    if not path.exists():
        return []
    lines = path.read_text().split("\n")[:-1]  # what follows the last newline is incomplete or empty
    return [json.loads(line) for line in lines if line.strip()]


def plot(records: list[dict], path: Path, title: str) -> None:
    """Learning curves: the training loss per seed (the mean return of the episodes that
    ended, for environment tasks) and, per evaluation, the fraction of test sequences (or
    episodes) the criterion counts as right.

    Drawn on a :class:`~matplotlib.figure.Figure` with its own Agg canvas, so pyplot's backend
    and figures, which belong to the caller, are left as they were."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    fig = Figure(figsize=(11, 4))
    FigureCanvasAgg(fig)
    ax_loss, ax_correct = fig.subplots(1, 2)
    curve = "return" if train and "return" in train[0] else "loss"
    seeds = len(train[0][curve]) if train else 0
    for s in range(seeds):
        values = [float("nan") if r[curve][s] is None else r[curve][s] for r in train]  # None: all skipped
        ax_loss.plot([r["step"] for r in train], values, lw=1, label=f"seed {s}")
        if evals:
            ax_correct.plot([r["step"] for r in evals], [r["correct"][s] for r in evals], lw=1, marker=".")
    if curve == "return":
        ax_loss.set(xlabel="update", ylabel="return of the episodes ended", title=title)
    else:
        ax_loss.set(xlabel="step", ylabel="training loss", yscale="log", title=title)
    ax_correct.set(xlabel="step", ylabel="test sequences right", ylim=(-0.02, 1.02), title="success criterion")
    if 0 < seeds <= 10:
        ax_loss.legend(fontsize="small")
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=100)
    write_atomic(path, image.getvalue())


def summary_table(final: dict, seeds: list[int], solved_at: list[int | None]) -> str:
    """The per-seed table at the end of a run, and the fraction of seeds that solved the task."""
    columns = [("seed", seeds)]
    if "loss" in final:
        columns.append(("test loss", final["loss"]))
    if "return" in final:
        columns.append(("return", final["return"]))
    columns.append(("right", final["correct"]))
    if "error_free_length" in final:
        columns.append(("error-free length", final["error_free_length"]))
        columns.append(("max |c|", final["c_max"]))
    if "bits_per_char" in final:
        columns.append(("bits/char", final["bits_per_char"]))
    columns += [("solved", ["yes" if s else "no" for s in final["solved"]]),
                ("solved at step", ["-" if s is None else s for s in solved_at])]
    cells = [[_format(v) for v in values] for _, values in columns]
    widths = [max(len(name), *(len(c) for c in col)) for (name, _), col in zip(columns, cells)]
    lines = ["  ".join(name.rjust(w) for (name, _), w in zip(columns, widths))]
    for row in zip(*cells):
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    solved = sum(bool(s) for s in final["solved"])
    lines.append(f"solved: {solved} of {len(seeds)} seeds ({solved / len(seeds):.0%})")
    return "\n".join(lines)


def _format(value) -> str:
    if value is None:  # not a finite number
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
