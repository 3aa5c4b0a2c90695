"""
Benchmarks, plotted from the committed JSON
===========================================

``jaxlstm bench --json FILE`` times jaxlstm, Flax and PyTorch side by side in one process, in
interleaved rounds, and writes every round's seconds. This example reads the committed files
(``experiments/bench_cpu_intel.json`` from 2 cores of an Intel Xeon, and
``experiments/gpu_h200_32d188f/bench_gpu.json`` from one NVIDIA H200) and plots, per case, how
many times faster jaxlstm's default ``impl`` is than each other library: the median of the
rounds' own ratios, with their range. Above 1, jaxlstm is faster. The tables with every number
are on the Benchmarks page.
"""

import json
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

ROOT = Path.cwd()
while not (ROOT / "experiments" / "benchmarks.md").is_file():  # the repository's top, from wherever this runs
    ROOT = ROOT.parent

FILES = {"CPU": ROOT / "experiments" / "bench_cpu_intel.json",
         "GPU": ROOT / "experiments" / "gpu_h200_32d188f" / "bench_gpu.json"}
OTHERS = ("torch", "flax linen", "flax nnx")


def ratios(seconds: dict, other: str) -> tuple[float, float, float]:
    """Median and range of other/jaxlstm over the interleaved rounds."""
    ours, theirs = seconds["jaxlstm auto"], seconds[other]
    each = [b / a for a, b in zip(ours, theirs)]
    return statistics.median(each), min(each), max(each)


fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharey="row")
for row, (machine, path) in enumerate(FILES.items()):
    bench = json.loads(path.read_text())
    device = bench.get("cpu", "CPU") if bench["backend"] == "cpu" else f"{bench['devices'][0]} (H200)"
    for col, mode in enumerate(("forward", "forward+backward")):
        ax = axes[row, col]
        cases = [case for case in bench["speed"] if case["mode"] == mode]
        x = np.arange(len(cases))
        for k, other in enumerate(OTHERS):
            # A library that cannot run a case (Flax has no stacked bidirectional layer) is left out.
            found = [ratios(case["seconds"], other) if other in case["seconds"] else (np.nan,) * 3 for case in cases]
            median = np.array([f[0] for f in found])
            spread = np.array([[f[0] - f[1] for f in found], [f[2] - f[0] for f in found]])
            ax.bar(x + (k - 1) * 0.27, median, 0.27, yerr=spread, capsize=2, label=f"{other} / jaxlstm")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(x, [case["case"] for case in cases], rotation=35, ha="right", fontsize=8)
        ax.set_title(f"{machine}, {mode}: {device}, jax {bench['jax']}", fontsize=9)
        ax.set_yscale("log")
        print(f"{machine} {mode}: " + ", ".join(
            f"{case['case']} torch/jaxlstm {ratios(case['seconds'], 'torch')[0]:.2f}" for case in cases
            if "torch" in case["seconds"]))
axes[0, 0].set_ylabel("time of other / time of jaxlstm")
axes[1, 0].set_ylabel("time of other / time of jaxlstm")
axes[0, 0].legend(fontsize=8)
fig.tight_layout()
