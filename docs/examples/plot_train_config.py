"""
Training from a config, on your own file
========================================

``jaxlstm run`` trains what a TOML config describes; the same from Python is
``jaxlstm.train.load`` and ``jaxlstm.train.run``. This example trains, shrunk to a few seconds,
the example config ``experiments/sensors.toml`` (a CSV of 60 recordings of a 3-axis sensor,
3 classes), reads the run's metrics back, and runs the trained network over new recordings
with ``predict``, which uses the run's saved normalisation.
"""

import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from jaxlstm.train import load, run
from jaxlstm.train.predict import predict

ROOT = Path.cwd()
while not (ROOT / "experiments" / "sensors.toml").is_file():  # the repository's top, from wherever this runs
    ROOT = ROOT.parent

config = load(ROOT / "experiments" / "sensors.toml", [
    f'task.path="{(ROOT / "experiments" / "data" / "sensors.csv").as_posix()}"',
    "train.steps=150", "train.seeds=2", "train.log_every=10", "eval.every=50",
    'train.compilation_cache=""'])
workdir = Path(tempfile.mkdtemp()) / "sensors"
result = run(config, workdir, progress=False, echo=lambda line: None)
print(result.table)

# %%
# Every log step is a line of ``metrics.jsonl``.
lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
train = [line for line in lines if line.get("kind", "train") == "train" and "loss" in line]
steps = [line["step"] for line in train]
losses = np.asarray([line["loss"] for line in train])
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(steps, losses.reshape(len(steps), -1))
ax.set_xlabel("step")
ax.set_ylabel("training loss, per seed")
fig.tight_layout()

# %%
# New recordings, in the training data's units: the run's normalisation is applied for us.
rng = np.random.default_rng(0)
recordings = [rng.normal(0, 0.05, (30, 3)).astype(np.float32),
              np.sin(np.linspace(0, 12, 30))[:, None].repeat(3, 1).astype(np.float32)]
predictions = predict(workdir, recordings)
print(predictions)
