"""Copy each finished run's summary and curves from experiments/runs/ into experiments/results/
(which is committed) and print one Markdown line per run, for experiments/README.md.

    python experiments/collect.py
"""

import json
import shutil
from pathlib import Path

HERE = Path(__file__).parent


def line(name: str, summary: dict) -> str:
    seeds = summary["seeds"]
    solved = [s for s, ok in zip(seeds, summary["solved"]) if ok]
    parts = [f"{summary['solved_fraction']:.0%} of {len(seeds)} solved"]
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
    parts.append(f"{summary['wall_seconds']:.0f} s of training")
    return f"| {name} | " + "; ".join(parts) + f" | solved: {solved} |"


def main() -> None:
    for run in sorted((HERE / "runs").iterdir()):
        summary_path = run / "summary.json"
        if not summary_path.exists():
            continue
        target = HERE / "results" / run.name
        target.mkdir(parents=True, exist_ok=True)
        for name in ("summary.json", "curves.png", "config.json"):
            shutil.copy(run / name, target / name)
        print(line(run.name, json.loads(summary_path.read_text())))


if __name__ == "__main__":
    main()
