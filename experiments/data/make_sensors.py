"""Writes sensors.csv, the example data file of the "files" task: 60 recordings of a 3-axis
sensor (columns ax, ay, az), 16 to 40 steps each, one row per step, labelled with what was
recorded: 0 still (noise around gravity), 1 walking (a slow swing), 2 shaking (a fast one).

    python experiments/data/make_sensors.py   # from the top of the repository; seeded, so the
                                              # file it writes is the committed one
"""

import csv
from pathlib import Path

import numpy as np


def recording(rng: np.random.Generator, label: int) -> np.ndarray:
    t = np.arange(rng.integers(16, 41))
    noise = rng.normal(scale=0.05, size=(len(t), 3))
    gravity = np.array([0.0, 0.0, 1.0])
    if label == 0:
        return gravity + noise
    period = rng.uniform(8, 12) if label == 1 else rng.uniform(2.5, 3.5)
    amplitude = rng.uniform(0.3, 0.6)
    phase = rng.uniform(0, 2 * np.pi)
    swing = amplitude * np.sin(2 * np.pi * t / period + phase)
    return gravity + np.stack([swing, 0.5 * swing, 0.2 * swing], axis=1) + noise


def main() -> None:
    rng = np.random.default_rng(2026)
    path = Path(__file__).with_name("sensors.csv")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "label", "ax", "ay", "az"])
        for i in range(60):
            label = i % 3
            for row in recording(rng, label):
                writer.writerow([f"rec{i:02d}", label, *(f"{v:.4f}" for v in row)])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
