"""The unigram baselines of the text task, beside which experiments/README.md sets the LSTM's
bits per character; written to experiments/results/unigram.json with its provenance.

    python experiments/unigram.py

- ``train_unigram_on_held_out``: the cross-entropy, in bits per character, of the held-out
  characters under the training split's character frequencies: what a model that knows only
  the training text's frequencies scores on the held-out text (no character of the held-out
  split is absent from the training split, so no smoothing is needed).
- ``train_unigram_on_eval_windows``: the same on the targets of the held-out windows that the
  text run evaluates (``experiments/text.toml``'s test set), the characters of its bits/char.
- ``held_out_entropy``: the entropy of the held-out split's own character frequencies, a bound
  no unigram model reaches on it without having seen it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from jaxlstm.tasks import CharText
from jaxlstm.train import load, provenance
from jaxlstm.train.data import Data

HERE = Path(__file__).parent


def bits(counts: np.ndarray, probabilities: np.ndarray) -> float:
    """The cross-entropy in bits of characters counted ``counts`` under ``probabilities``."""
    seen = counts > 0
    if np.any(probabilities[seen] == 0):
        raise ValueError("a character to be scored has probability 0; expected every one seen")
    return float(-(counts[seen] * np.log2(probabilities[seen])).sum() / counts.sum())


def main() -> dict:
    """Compute the three figures, write them with their provenance, and return them."""
    started, tic = provenance.source(), time.perf_counter()
    size = CharText().input_size
    train = np.bincount(CharText(split="train").data, minlength=size)
    held_out = np.bincount(CharText(split="valid").data, minlength=size)
    batch, _ = Data(load(HERE / "text.toml", [])).test_set()
    targets = np.argmax(batch.targets, axis=-1)[batch.weights > 0]
    windows = np.bincount(targets, minlength=size)
    result = {
        "vocabulary_size": size,
        "train_characters": int(train.sum()),
        "held_out_characters": int(held_out.sum()),
        "eval_window_characters": int(windows.sum()),
        "train_unigram_on_held_out": bits(held_out, train / train.sum()),
        "train_unigram_on_eval_windows": bits(windows, train / train.sum()),
        "held_out_entropy": bits(held_out, held_out / held_out.sum()),
        "provenance": provenance.record(started, time.perf_counter() - tic),
    }
    (HERE / "results" / "unigram.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
