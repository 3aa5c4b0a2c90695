"""The time-series classification archives' standard baselines on a train/test pair of files:
the majority class, and one nearest neighbour (1-NN) under dynamic time warping over all the
dimensions at once (DTW_D, full window) and under Euclidean distance (ED, on the series
zero-padded to the longest), as in Bagnall et al., "The UEA multivariate time series
classification archive, 2018" (arXiv:1811.00075). Read with jaxlstm's own reader, unnormalised.

    python experiments/nn_baselines.py TRAIN TEST [--json PATH]

e.g. with sktime installed (pip install -e '.[data]'):

    python experiments/nn_baselines.py sktime:datasets/data/JapaneseVowels/JapaneseVowels_TRAIN.ts \\
        sktime:datasets/data/JapaneseVowels/JapaneseVowels_TEST.ts --json experiments/results/japanese_vowels_baselines.json
"""

import argparse
import collections
import json
import time

import numpy as np

from jaxlstm.tasks.files import read_sequences
from jaxlstm.train import provenance


def dtw_d(queries: list[np.ndarray], references: list[np.ndarray]) -> np.ndarray:
    """``(Q, R)`` dependent DTW distances (squared Euclidean frame costs, no window), every pair
    of one query length and one reference length computed at once."""
    out = np.empty((len(queries), len(references)))
    groups_q, groups_r = collections.defaultdict(list), collections.defaultdict(list)
    for i, q in enumerate(queries):
        groups_q[len(q)].append(i)
    for j, r in enumerate(references):
        groups_r[len(r)].append(j)
    for n, qi in groups_q.items():
        q = np.stack([queries[i] for i in qi])                              # (a, n, F)
        for m, rj in groups_r.items():
            r = np.stack([references[j] for j in rj])                      # (b, m, F)
            cost = ((q[:, None, :, None] - r[None, :, None]) ** 2).sum(-1)  # (a, b, n, m)
            acc = np.full((len(qi), len(rj), n + 1, m + 1), np.inf)
            acc[:, :, 0, 0] = 0.0
            for s in range(1, n + 1):
                for t in range(1, m + 1):
                    best = np.minimum(np.minimum(acc[:, :, s - 1, t], acc[:, :, s, t - 1]), acc[:, :, s - 1, t - 1])
                    acc[:, :, s, t] = cost[:, :, s - 1, t - 1] + best
            out[np.ix_(qi, rj)] = acc[:, :, n, m]
    return out


def euclidean(queries: list[np.ndarray], references: list[np.ndarray]) -> np.ndarray:
    T = max(len(s) for s in queries + references)
    pad = lambda seqs: np.stack([np.pad(s, ((0, T - len(s)), (0, 0))) for s in seqs]).reshape(len(seqs), -1)
    q, r = pad(queries), pad(references)
    return (q * q).sum(1)[:, None] - 2 * q @ r.T + (r * r).sum(1)[None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--json", help="also write the accuracies here, with their provenance")
    args = parser.parse_args()
    started, start = provenance.source(), time.perf_counter()
    train, test = read_sequences(args.train), read_sequences(args.test)
    train_labels, test_labels = np.asarray(train.labels), np.asarray(test.labels)
    majority = collections.Counter(train.labels).most_common(1)[0][0]
    accuracy = {"majority class": float(np.mean(test_labels == majority))}
    for name, distance in (("1-NN ED", euclidean), ("1-NN DTW_D", dtw_d)):
        nearest = np.argmin(distance(list(test.values), list(train.values)), axis=1)
        accuracy[name] = float(np.mean(train_labels[nearest] == test_labels))
    for name, value in accuracy.items():
        print(f"{name}: {value:.4f} of {len(test_labels)} test cases")
    if args.json:
        record = {"train": args.train, "test": args.test, "test_cases": len(test_labels), "accuracy": accuracy,
                  "provenance": provenance.record(started, time.perf_counter() - start)}
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
