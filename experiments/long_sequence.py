"""A sequence of 100,000 steps trains in bounded memory with ``remat="sqrt"``: peak memory of
the loss and its gradients under every ``remat`` scheme, and a few adam steps at T = 100,000.

    python experiments/long_sequence.py            # writes experiments/long_sequence.json

Batch 4, input size 8, hidden size 64, ``impl="fused"`` at every T (what ``impl="auto"`` picks
at these sizes from T = 10,000 up). The loss is the mean squared error of the first unit of
every output against the previous step's first input (a one-step recall). Each configuration
runs in a fresh subprocess, so that no peak is another's, and reports:

- ``xla``: XLA's own plan for the compiled ``jax.value_and_grad`` (compiled, not run): the
  bytes of its temporary buffers, arguments and outputs;
- ``saved_bytes``: what the forward pass of ``jaxlstm.lstm`` saves for the backward pass (the
  residuals of ``jax.vjp``), less the params and inputs that the caller holds anyway;
- ``rss``: the subprocess's peak resident memory (``ru_maxrss``) after compiling and after
  running the step once, less that of a baseline subprocess that only imports jax and makes the
  same inputs (one per T).

``remat=False`` saves the four gates and the state of every step, ``6 B H`` floats a step:
O(T). ``"sqrt"`` saves the state at the start of about sqrt(T) chunks: O(sqrt(T)). What every
scheme still holds per step is the loss's: the outputs ``ys`` and their cotangent (``B H`` floats
a step each) and the inputs' gradient. T = 99,856 = 316² (``"sqrt"`` only) has no padding to
whole chunks, unlike T = 100,000 (316 chunks of 317 steps, 172 of them padding).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxlstm
from jaxlstm import kernel
from jaxlstm.train import provenance

HERE = Path(__file__).parent
B, I, H = 4, 8, 64
IMPL = "fused"
STEPS = (1_000, 10_000, 100_000)
REMATS = (False, "step", "sqrt")
SQUARE = 316**2  # a T that "sqrt" splits into whole chunks
TRAIN_STEPS, TRAIN_T, LEARNING_RATE = 3, 100_000, 1e-2
MIB = 2**20


def inputs(T: int):
    """The params, inputs ``(T, B, I)`` and targets ``(T, B)`` of a run over ``T`` steps."""
    params = jaxlstm.init(jax.random.key(0), I, H)
    xs = jnp.asarray(np.random.default_rng(0).normal(size=(T, B, I)), jnp.float32)
    targets = jnp.concatenate([jnp.zeros((1, B)), xs[:-1, :, 0]])
    return jax.block_until_ready((params, xs, targets))


def loss_fn(remat):
    def loss(params, xs, targets):
        ys, _ = jaxlstm.lstm(params, xs, remat=remat, impl=IMPL)
        return jnp.mean(jnp.square(ys[..., 0] - targets))

    return loss


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def nbytes(tree) -> int:
    return sum(math.prod(a.shape) * a.dtype.itemsize for a in jax.tree.leaves(tree))


def baseline(T: int) -> dict:
    inputs(T)
    return {"rss_peak_bytes": peak_rss_bytes()}


def gradients(T: int, remat) -> dict:
    """Compile and run ``value_and_grad`` of the loss once; its memory, plan and measured."""
    params, xs, targets = inputs(T)
    lstm_ys = lambda p, x: jaxlstm.lstm(p, x, remat=remat, impl=IMPL)[0]
    residuals = jax.eval_shape(lambda p, x: jax.vjp(lstm_ys, p, x)[1], params, xs)
    start = time.perf_counter()
    compiled = jax.jit(jax.value_and_grad(loss_fn(remat))).lower(params, xs, targets).compile()
    compile_seconds = time.perf_counter() - start
    after_compile = peak_rss_bytes()
    plan = compiled.memory_analysis()
    start = time.perf_counter()
    value, grads = jax.block_until_ready(compiled(params, xs, targets))
    return {
        "xla": {"temp_bytes": plan.temp_size_in_bytes, "argument_bytes": plan.argument_size_in_bytes,
                "output_bytes": plan.output_size_in_bytes},
        "saved_bytes": nbytes(residuals) - nbytes((params, xs)),
        "rss_peak_after_compile_bytes": after_compile,
        "rss_peak_bytes": peak_rss_bytes(),
        "loss": float(value),
        "finite": bool(np.isfinite(value) and all(jnp.isfinite(g).all() for g in jax.tree.leaves(grads))),
        "compile_seconds": compile_seconds,
        "run_seconds": time.perf_counter() - start,
    }


def train(T: int, steps: int) -> dict:
    """``steps`` adam steps on the loss over ``T`` steps with ``remat="sqrt"``."""
    params, xs, targets = inputs(T)
    optimizer = optax.adam(LEARNING_RATE)

    def train_step(params, opt_state, xs, targets):
        loss, grads = jax.value_and_grad(loss_fn("sqrt"))(params, xs, targets)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    opt_state = optimizer.init(params)
    start = time.perf_counter()
    compiled = jax.jit(train_step).lower(params, opt_state, xs, targets).compile()
    compile_seconds = time.perf_counter() - start
    plan = compiled.memory_analysis()
    losses, seconds = [], []
    for _ in range(steps):
        start = time.perf_counter()
        params, opt_state, loss = jax.block_until_ready(compiled(params, opt_state, xs, targets))
        seconds.append(time.perf_counter() - start)
        losses.append(float(loss))
    return {
        "xla": {"temp_bytes": plan.temp_size_in_bytes, "argument_bytes": plan.argument_size_in_bytes,
                "output_bytes": plan.output_size_in_bytes},
        "losses": losses,
        "finite": bool(np.isfinite(losses).all()),
        "compile_seconds": compile_seconds,
        "step_seconds": seconds,
        "rss_peak_bytes": peak_rss_bytes(),
    }


def measure(task: dict) -> dict:
    """Run one task in a fresh Python process and return what it reports."""
    done = subprocess.run([sys.executable, __file__, "--task", json.dumps(task)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.splitlines()[-1])


def scaling(rows: list[dict], key) -> dict:
    """For each remat: how much ``key(row)`` grows from T to 10 T (10 for O(T), 3.16 for
    O(sqrt(T))), over the ``STEPS``."""
    out = {}
    for remat in REMATS:
        by_T = {row["T"]: key(row) for row in rows if row["remat"] == str(remat)}
        out[str(remat)] = {f"{a}->{b}": by_T[b] / by_T[a] for a, b in zip(STEPS, STEPS[1:])}
    return out


def main(path: Path = HERE / "long_sequence.json") -> dict:
    started, tic = provenance.source(), time.perf_counter()
    baselines = {T: measure({"kind": "baseline", "T": T}) for T in (*STEPS, SQUARE)}
    rows = []
    for T, remat in [(T, remat) for T in STEPS for remat in REMATS] + [(SQUARE, "sqrt")]:
        row = {"T": T, "remat": str(remat), "chunk": kernel._chunk_size(T) if remat == "sqrt" else None,
               **measure({"kind": "gradients", "T": T, "remat": remat})}
        row["rss_above_baseline_bytes"] = row["rss_peak_bytes"] - baselines[T]["rss_peak_bytes"]
        row["xla_total_bytes"] = sum(row["xla"].values())
        rows.append(row)
        print(f"T={T} remat={remat}: XLA temp+args+out {row['xla_total_bytes'] / MIB:.1f} MiB, saved "
              f"{row['saved_bytes'] / MIB:.2f} MiB, peak RSS above baseline {row['rss_above_baseline_bytes'] / MIB:.0f}"
              f" MiB, {row['run_seconds']:.2f} s", flush=True)
    trained = measure({"kind": "train", "T": TRAIN_T, "steps": TRAIN_STEPS})
    trained["rss_above_baseline_bytes"] = trained["rss_peak_bytes"] - baselines[TRAIN_T]["rss_peak_bytes"]
    print(f"{TRAIN_STEPS} adam steps at T={TRAIN_T}, remat='sqrt': losses {trained['losses']}, "
          f"{sum(trained['step_seconds']):.1f} s after {trained['compile_seconds']:.1f} s compiling, peak RSS above "
          f"baseline {trained['rss_above_baseline_bytes'] / MIB:.0f} MiB", flush=True)
    result = {
        "setup": {"batch": B, "input_size": I, "hidden_size": H, "impl": IMPL, "dtype": "float32",
                  "loss": "mean((ys[..., 0] - xs[t-1, :, 0])**2)"},
        "baselines": {str(T): b for T, b in baselines.items()},
        "gradients": rows,
        "scaling_10x_T": {
            "xla_total": scaling(rows, lambda row: row["xla_total_bytes"]),
            "saved": scaling(rows, lambda row: row["saved_bytes"]),
            "rss_above_baseline": scaling(rows, lambda row: row["rss_above_baseline_bytes"]),
        },
        "train": {"T": TRAIN_T, "remat": "sqrt", "optimizer": f"adam({LEARNING_RATE})", "steps": TRAIN_STEPS,
                  **trained},
        "provenance": provenance.record(started, time.perf_counter() - tic),
    }
    path.write_text(json.dumps(result, indent=1) + "\n")
    return result


def run_task(task: dict) -> dict:
    if task["kind"] == "baseline":
        return baseline(task["T"])
    if task["kind"] == "gradients":
        return gradients(task["T"], task["remat"])
    return train(task["T"], task["steps"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", help="one measurement as JSON (what main runs in each subprocess)")
    args = parser.parse_args()
    if args.task:
        print(json.dumps(run_task(json.loads(args.task))))
    else:
        main()
