"""Print the tables of experiments/README.md from the committed files in experiments/results/.

    python experiments/tables.py

Every number of the tables, and of the sentences around them, is computed here from the
summary.json, config.json, evals.jsonl and sample.txt that experiments/collect.py copied there
(and unigram.json, written by experiments/unigram.py); nothing is typed in by hand. Each row ends
with the commit it was run from and the run's wall time. A file whose provenance is missing or
records a dirty tree is refused, as by experiments/collect.py (exit status 1, naming it).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from collect import Refused, check

RESULTS = Path(__file__).parent / "results"
GREFF = ("greff_vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR")


def load(name: str) -> tuple[dict, dict]:
    """The summary and config of the run ``name``."""
    run = RESULTS / name
    summary = json.loads((run / "summary.json").read_text())
    check(name, summary)
    return summary, json.loads((run / "config.json").read_text())


def evals(name: str) -> list[dict]:
    """The evaluation records of the run ``name``, in order."""
    return [json.loads(line) for line in (RESULTS / name / "evals.jsonl").read_text().splitlines() if line]


def made(summary: dict) -> str:
    """The provenance cells of a row: commit and wall time."""
    return f"`{summary['provenance']['commit'][:7]}` | {duration(summary['provenance']['wall_seconds'])}"


def duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def significant(value: float) -> str:
    """``value`` to three significant digits, with thousands separators: 98,300 or 48.4."""
    return f"{float(f'{value:.3g}'):,g}"


def seeds_where(summary: dict, solved: bool) -> list[int]:
    return [s for s, ok in zip(summary["seeds"], summary["solved"]) if bool(ok) == solved]


def to_success(summary: dict, config: dict) -> str:
    """Median and range of the training sequences seen when each solving seed first solved it."""
    steps = [s for s in summary["solved_at"] if s is not None]
    per_step = config["train"]["batch_size"]
    if not steps:
        return "-"
    median = statistics.median(steps)
    return (f"median {median * per_step:,.0f} (step {median:,.0f} x {per_step}; range "
            f"{min(steps) * per_step:,}-{max(steps) * per_step:,})")


def erg() -> list[str]:
    summary, config = load("erg")
    solved, seeds = len(seeds_where(summary, True)), len(summary["seeds"])
    return [f"| erg | {config['model']['hidden_size']} cells, {summary['param_count']} params | "
            f"{solved} of {seeds} ({solved / seeds:.0%}); not solved: seeds {seeds_where(summary, False)} | "
            f"{to_success(summary, config)} | {made(summary)} |"]


def cerg() -> list[str]:
    rows = []
    for name in ("cerg_forget", "cerg_lstm1997", "cerg_lstm1997_reset"):
        summary, _ = load(name)
        lengths, solved, nets = summary["error_free_length"], summary["solved"], len(summary["seeds"])
        good = [n for n, ok in zip(lengths, solved) if not ok and n > 1000]
        rest = [n for n, ok in zip(lengths, solved) if not ok and n <= 1000]
        group = lambda g: f"{len(g) / nets:.0%} ⟨{statistics.mean(g):,.0f}⟩" if g else "0%"
        rows.append(f"| {name} | {sum(map(bool, solved)) / nets:.0%} | {group(good)} | {group(rest)} | "
                    f"{significant(statistics.median(summary['c_max']))} | {made(summary)} |")
    return rows


def adding() -> list[str]:
    rows = []
    for name in ("adding100", "adding500"):
        summary, config = load(name)
        test = config["eval"]["batch_size"]
        wrong = {s: round((1 - c) * test) for s, c in zip(summary["seeds"], summary["correct"])}
        solved = seeds_where(summary, True)
        unsolved = {s: w for s, w in wrong.items() if s not in solved}
        losses = dict(zip(summary["seeds"], summary["loss"]))
        rows.append(
            f"| {config['task']['length']} | {len(solved)} of {len(summary['seeds'])} (seeds {solved}) | "
            f"0 for the solved seeds; unsolved: {unsolved or '-'} | {to_success(summary, config)} | "
            f"final test loss of unsolved seeds: {({s: round(losses[s], 4) for s in unsolved}) or '-'} | "
            f"{made(summary)} |"
        )
    return rows


def greff() -> list[str]:
    rows = []
    baseline = statistics.mean(load("greff-greff_vanilla")[0]["bits_per_char"])
    for variant in GREFF:
        summary, _ = load(f"greff-{variant}")
        bits = summary["bits_per_char"]
        rows.append(f"| `{variant}` | {summary['hidden_size']} | {summary['param_count']:,} | "
                    + ", ".join(f"{b:.3f}" for b in bits)
                    + f" | {statistics.mean(bits):.3f} | {statistics.mean(bits) - baseline:+.3f} | "
                    f"{max(bits) - min(bits):.3f} | {made(summary)} |")
    walls = [load(f"greff-{variant}")[0]["provenance"]["wall_seconds"] for variant in GREFF]
    rows.append(f"wall time per variant {duration(min(walls))} to {duration(max(walls))}, "
                f"{duration(sum(walls))} in all")
    return rows


def text() -> list[str]:
    summary, _ = load("text")
    unigram = json.loads((RESULTS / "unigram.json").read_text())
    check("unigram.json", unigram)
    steps = ", ".join(f"{r['bits_per_char'][0]:.3f} at step {r['step']:,}" for r in evals("text"))
    return [
        f"| text | {summary['param_count']:,} params | {summary['bits_per_char'][0]:.3f} | {made(summary)} |",
        f"held-out bits/char at every evaluation: {steps}",
        f"training text's unigram on the held-out split: {unigram['train_unigram_on_held_out']:.3f} bits/char "
        f"({unigram['held_out_characters']:,} characters); on the evaluated windows' targets: "
        f"{unigram['train_unigram_on_eval_windows']:.3f} ({unigram['eval_window_characters']:,}); the held-out "
        f"split's own unigram entropy: {unigram['held_out_entropy']:.3f}; train split "
        f"{unigram['train_characters']:,} characters; {unigram['vocabulary_size']} distinct characters "
        f"(unigram.json: `{unigram['provenance']['commit'][:7]}`)",
        "sample.txt:",
        (RESULTS / "text" / "sample.txt").read_text(),
    ]


def tmaze() -> list[str]:
    """One row per corridor length of the T-maze sweep (experiments/tmaze.sh)."""
    runs = sorted((p.name for p in RESULTS.glob("tmaze-*")), key=lambda name: int(name.split("-")[1]))
    rows = []
    for name in runs:
        summary, config = load(name)
        ppo, solved = config["ppo"], seeds_where(summary, True)
        at = [s for s in summary["solved_at"] if s is not None]
        per_update = ppo["num_envs"] * ppo["rollout"]
        first = (f"median {statistics.median(at):,.0f} (range {min(at)}-{max(at)}; "
                 f"{statistics.median(at) * per_update:,.0f} steps of experience)" if at else "-")
        rows.append(f"| {config['task']['length']} | {ppo['rollout']} | {len(solved)} of {len(summary['seeds'])} | "
                    f"{first} | {statistics.mean(summary['correct']):.1%} | {made(summary)} |")
    return rows


def japanese_vowels() -> list[str]:
    """The LSTM's test accuracy on the archive's split, each seed, beside the archive's
    baselines as experiments/nn_baselines.py computes them."""
    summary, _ = load("japanese_vowels")
    baselines = json.loads((RESULTS / "japanese_vowels_baselines.json").read_text())
    check("japanese_vowels_baselines.json", baselines)
    seeds = ", ".join(f"{c:.3f}" for c in summary["correct"])
    rows = [f"| LSTM, {summary['param_count']:,} params | {statistics.mean(summary['correct']):.3f} (seeds: {seeds}) "
            f"| {made(summary)} |"]
    cases = baselines["test_cases"]
    rows += [f"| {name} | {value:.3f} ({round(value * cases)} of {cases}) | "
             f"`{baselines['provenance']['commit'][:7]}` | {duration(baselines['provenance']['wall_seconds'])} |"
             for name, value in baselines["accuracy"].items()]
    return rows


def airline() -> list[str]:
    """The held-out months' one-step-ahead forecasts: each LSTM seed and the baselines
    (experiments/forecast.py)."""
    summary, _ = load("airline")
    scores = json.loads((RESULTS / "airline_forecast.json").read_text())
    check("airline_forecast.json", scores)
    return [f"| {name} | {s['rmse']:.1f} | {s['mae']:.1f} | {s['mape']:.1%} | "
            f"`{scores['provenance']['commit'][:7]}` |" for name, s in scores["scores"].items()] + [
        f"(the run: {summary['param_count']:,} params, {made(summary)}; {scores['held_out_steps']} held-out months "
        f"from month {scores['first_held_out']})"]


def default() -> list[str]:
    summary, config = load("default")
    return [f"| default (`jaxlstm run`) | {sum(map(bool, summary['solved']))} of {len(summary['seeds'])} | "
            f"{to_success(summary, config)} | {made(summary)} |"]


def main() -> int:
    sections = (("default", default), ("ERG", erg), ("CERG", cerg), ("adding", adding), ("Greff", greff),
                ("text", text), ("T-maze", tmaze), ("Japanese Vowels", japanese_vowels), ("airline", airline))
    try:
        tables = [f"## {title}\n" + "\n".join(rows()) for title, rows in sections]
    except Refused as refused:
        print(f"tables.py: refused: {refused}", file=sys.stderr)
        return 1
    print("\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
