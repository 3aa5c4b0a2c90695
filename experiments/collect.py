"""Copy each finished run from experiments/runs/ into experiments/results/ (which is committed)
and print one Markdown line per run, with its provenance, for experiments/README.md.

    python experiments/collect.py

A run is copied only when its summary.json records the commit it was run from and that the
tree was clean then; otherwise nothing is copied and the script exits with status 1, naming the
run. Copied: summary.json, config.json, curves.png, the evaluation lines of metrics.jsonl (as
evals.jsonl: the test metrics at every evaluation; the training lines are left out for size)
and, where the run has one, sample.txt (text drawn by `jaxlstm sample`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
FILES = ("summary.json", "config.json", "curves.png")
OPTIONAL = ("sample.txt",)


class Refused(Exception):
    """A run that cannot back a committed number."""


def check(name: str, summary: dict) -> dict:
    """The run's provenance; raises :class:`Refused`, naming the run, when it cannot back a row."""
    provenance = summary.get("provenance")
    if not isinstance(provenance, dict) or "commit" not in provenance or "clean" not in provenance:
        raise Refused(
            f"run {name!r}: summary.json has no provenance (commit, clean); expected a run of a "
            "jaxlstm that records it. Hint: rerun it from a clean commit."
        )
    if provenance["commit"] is None:
        raise Refused(
            f"run {name!r}: summary.json records no commit (jaxlstm was not imported from a git "
            "checkout). Hint: rerun it with an editable install of a clean checkout."
        )
    if provenance["clean"] is not True:
        raise Refused(
            f"run {name!r}: it was run from a dirty tree (uncommitted changes to tracked files at "
            f"commit {provenance['commit'][:12]}); its numbers may come from code that is in no "
            "commit. Hint: commit, then rerun it."
        )
    return provenance


def evals(metrics: Path) -> str:
    """The lines of a metrics file that record an evaluation, as they are."""
    lines = metrics.read_text().splitlines() if metrics.exists() else []
    return "".join(text + "\n" for text in lines if text.strip() and json.loads(text)["kind"] == "eval")


def line(name: str, summary: dict) -> str:
    """One Markdown row: the run's headline numbers, then its provenance."""
    provenance = summary["provenance"]
    seeds = summary["seeds"]
    solved = [s for s, ok in zip(seeds, summary["solved"]) if ok]
    parts = [f"{sum(summary['solved'])} of {len(seeds)} solved"]
    if "error_free_length" in summary:
        lengths = sorted(summary["error_free_length"])
        parts.append(f"median error-free length {lengths[len(lengths) // 2]:.0f}")
        parts.append(f"median max |c| {sorted(summary['c_max'])[len(seeds) // 2]:.3g}")
    if "bits_per_char" in summary:
        parts.append("bits/char " + ", ".join(f"{b:.3f}" for b in summary["bits_per_char"]))
    at = [s for s in summary["solved_at"] if s is not None]
    if at:
        parts.append(f"median solved at step {sorted(at)[len(at) // 2]}")
    parts.append(f"H = {summary['hidden_size']}, {summary['param_count']} params")
    made = (f"{provenance['commit'][:7]}, clean, {provenance['wall_seconds']:.0f} s, "
            f"jax {provenance.get('jax')}")
    return f"| {name} | " + "; ".join(parts) + f" | solved: {solved} | {made} |"


def main(argv: list[str] | None = None) -> int:
    """Check every run, then copy and tabulate them; the exit status is 1 if one is refused."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=HERE / "runs", help="the runs (experiments/runs)")
    parser.add_argument("--results", type=Path, default=HERE / "results",
                        help="where they are copied (experiments/results)")
    args = parser.parse_args(argv)
    runs = sorted(p for p in args.runs.iterdir() if (p / "summary.json").exists()) if args.runs.is_dir() else []
    summaries = {}
    try:
        for run in runs:
            summaries[run] = json.loads((run / "summary.json").read_text())
            check(run.name, summaries[run])
    except Refused as refused:
        print(f"collect.py: refused: {refused}", file=sys.stderr)
        return 1
    for run, summary in summaries.items():
        target = args.results / run.name
        target.mkdir(parents=True, exist_ok=True)
        for name in FILES + tuple(n for n in OPTIONAL if (run / n).exists()):
            shutil.copy(run / name, target / name)
        (target / "evals.jsonl").write_text(evals(run / "metrics.jsonl"))
        print(line(run.name, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
