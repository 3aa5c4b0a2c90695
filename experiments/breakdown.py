"""Where the time of ``jaxlstm.lstm`` goes on this CPU: its matmuls timed alone against the rest.

For each configuration of issue 18 (float32, one layer, the impl ``auto`` picks), in interleaved
rounds in one process, the median over rounds of:

- ``forward``: ``lstm`` alone; ``forward+backward``: the gradient of ``sum(ys)`` with respect to
  the params and the inputs (as ``jaxlstm bench``);
- ``fwd matmuls``: the forward's matmuls alone, at the same shapes, inside the same kind of loop
  (fused: one ``[h, x] @ V`` per step, scanned; hoisted: ``x @ W`` once, then ``h @ U`` per step);
- ``bwd loop matmul``: the backward loop's ``dz @ U.T`` per step, scanned;
- ``bwd matmuls after the loop``: the weight gradient ``[H_prev, X].T @ dZ`` and the input
  gradient ``dZ @ W.T``, each one large matmul;
- ``h @ U floor``: the scan of the recurrent matmul alone under autodiff (``jaxlstm bench``'s floor).

The rest of each pass (its time less its matmuls) is the gate arithmetic, the stores and reads of
the saved activations, the zero-filling of loop buffers and the loop's own overhead, whose split
the compiled HLO and a ``jax.profiler`` trace show (see experiments/benchmarks.md).

Run from the repository root: ``python experiments/breakdown.py [--rounds 5] [--json PATH]``.
``--matmuls`` instead times each configuration's two per-step matmuls, forward ``[h, x] @ V`` and
backward ``dz @ U.T``, T calls in a row, in JAX (``lax.map``, jitted), torch (``torch.mm``, MKL on
x86) and numpy (its bundled OpenBLAS), and prints each one's GFLOP/s. ``--faults`` instead counts,
per forward+backward call, the page faults and the system CPU time they cost (XLA:CPU's buffers come
fresh from the kernel at every call). ``--trace B/T/I/H`` instead profiles that configuration's
forward+backward with ``jax.profiler`` and prints, for each compiled operation (named as in the
compiled HLO, which ``--hlo PATH`` writes), its time per call summed over the threads that ran it.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxlstm
from jaxlstm import kernel
from jaxlstm.bench import interleaved
from jaxlstm.train import provenance

CASES = [(32, 100, 64, 128), (32, 100, 256, 256), (64, 200, 512, 512), (16, 500, 128, 1024), (1, 1000, 32, 64),
         (256, 50, 128, 256)]


def programs(B, T, I, H):
    """``(impl, {name: (jitted function, its arguments)})`` for one configuration."""
    rng = np.random.default_rng(0)
    params = jaxlstm.init(jax.random.key(0), I, H)
    V, b = params.layers[0][0].V, params.layers[0][0].b
    xs = jnp.asarray(rng.normal(size=(T, B, I)), jnp.float32)
    h0 = jnp.zeros((B, H))
    dZ = jnp.asarray(rng.normal(size=(T, B, 4 * H)), jnp.float32)
    impl = kernel.auto_impl(xs.shape, params.layers[0][0], 4)

    def fused_loop(V, xs):
        step = lambda h, x: ((jnp.concatenate([h, x], -1) @ V + b)[:, :H],) * 2
        return jax.lax.scan(step, h0, xs)[1]

    def hoisted_loop(V, xs):
        xw = xs @ V[H:] + b
        return jax.lax.scan(lambda h, x: ((h @ V[:H] + x)[:, :H],) * 2, h0, xw)[1]

    def backward_loop(V, dZ):
        U_T = V[:H].T
        return jax.lax.scan(lambda d, dz: ((dz + jnp.tile(d, 4)) @ U_T,) * 2, h0, dZ)[1]

    def after_loop(V, xs, hs, dZ):
        flat = dZ.reshape(-1, 4 * H)
        return hs.reshape(-1, H).T @ flat, xs.reshape(-1, I).T @ flat, flat @ V[H:].T

    def floor(V):
        U = V[:H]
        return jax.lax.scan(lambda h, _: (jnp.tanh(h @ U)[:, :H],) * 2, h0, length=T)[1]

    hs = jnp.asarray(rng.normal(size=(T, B, H)), jnp.float32)
    calls = {
        "forward": (jax.jit(lambda p, x: jaxlstm.lstm(p, x, impl=impl)[0]), (params, xs)),
        "forward+backward": (jax.jit(jax.grad(lambda p, x: jnp.sum(jaxlstm.lstm(p, x, impl=impl)[0]),
                                              argnums=(0, 1))), (params, xs)),
        "fwd matmuls": (jax.jit(fused_loop if impl == "fused" else hoisted_loop), (V, xs)),
        "bwd loop matmul": (jax.jit(backward_loop), (V, dZ)),
        "bwd matmuls after the loop": (jax.jit(after_loop), (V, xs, hs, dZ)),
        "h @ U floor": (jax.jit(jax.grad(lambda V: jnp.sum(floor(V)))), (V,)),
    }
    return impl, calls


def warmed(calls):
    """Name -> a function of no arguments running that call, compiled and run twice already."""
    made = {}
    for name, (f, args) in calls.items():
        made[name] = lambda f=f, args=args: jax.block_until_ready(f(*args))
        made[name]()
        made[name]()
    return made


def trace(case, hlo_path=None, calls=5, top=30):
    """Print the operations of one configuration's forward+backward by their time per call."""
    grad, args = programs(*case)[1]["forward+backward"]
    f = warmed({"forward+backward": (grad, args)})["forward+backward"]
    with tempfile.TemporaryDirectory() as directory:
        with jax.profiler.trace(directory, create_perfetto_trace=True):
            for _ in range(calls):
                f()
        path = glob.glob(f"{directory}/**/*.trace.json.gz", recursive=True)[0]
        events = json.load(gzip.open(path))["traceEvents"]
    total, count = collections.Counter(), collections.Counter()
    for event in events:
        if event.get("ph") == "X" and not event["name"].startswith(("$", "Thunk", "Slinky", "PjitFunction")):
            total[event["name"]] += event.get("dur", 0)
            count[event["name"]] += 1
    print(f"{'ms per call':>12} {'runs per call':>14}  operation")
    for name, us in total.most_common(top):
        print(f"{us / calls / 1e3:12.3f} {count[name] / calls:14.0f}  {name}")
    if hlo_path:
        with open(hlo_path, "w") as out:
            out.write(grad.lower(*args).compile().as_text())


def matmul_rates(rounds: int, min_seconds: float) -> None:
    """Print the GFLOP/s of each configuration's two per-step matmuls, T calls in a row, in JAX
    (``lax.map`` in one program), torch (``torch.mm``: MKL on x86) and numpy (its bundled
    OpenBLAS, the BLAS a wheel could carry): forward ``[h, x] @ V`` and backward ``dz @ U.T``."""
    import torch

    print("| B/T/I/H | matmul | JAX GFLOP/s | torch GFLOP/s | numpy GFLOP/s | torch / JAX | numpy / JAX |")
    print("|---|---|---|---|---|---|---|")
    for B, T, I, H in CASES:
        rng = np.random.default_rng(0)
        for name, (K, N) in {"[h, x] @ V": (H + I, 4 * H), "dz @ U.T": (4 * H, H)}.items():
            a = rng.normal(size=(T, B, K)).astype(np.float32)
            w = (rng.normal(size=(K, N)) / np.sqrt(K)).astype(np.float32)
            per_step = jax.jit(lambda a, w: jax.lax.map(lambda x: x @ w, a))
            a_jax, w_jax = jnp.asarray(a), jnp.asarray(w)
            a_torch, w_torch = torch.from_numpy(a), torch.from_numpy(w)
            made = {"jax": lambda: jax.block_until_ready(per_step(a_jax, w_jax)),
                    "torch": lambda: [torch.mm(a_torch[t], w_torch) for t in range(T)],
                    "numpy": lambda: [a[t] @ w for t in range(T)]}
            for f in made.values():
                f()
            times = interleaved(made, rounds, min_seconds)
            rate = {who: 2 * T * B * K * N / statistics.median(t) / 1e9 for who, t in times.items()}
            print(f"| {B}/{T}/{I}/{H} | `{name}` {B}×{K}×{N} | {rate['jax']:.0f} | {rate['torch']:.0f} | "
                  f"{rate['numpy']:.0f} | {rate['torch'] / rate['jax']:.2f} | {rate['numpy'] / rate['jax']:.2f} |",
                  flush=True)


def page_faults(calls: int = 10) -> None:
    """Print, per forward+backward call of each configuration, its wall time, the minor page
    faults (fresh memory the kernel maps in and zeroes) and the CPU time in the kernel against
    that in the process itself, from ``resource.getrusage`` around ``calls`` calls."""
    import resource

    print("| B/T/I/H | ms per call | page faults per call | MiB faulted in | system CPU ms | user CPU ms |")
    print("|---|---|---|---|---|---|")
    for case in CASES:
        f = warmed({"forward+backward": programs(*case)[1]["forward+backward"]})["forward+backward"]
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for _ in range(calls):
            f()
        after, seconds = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - start
        faults = (after.ru_minflt - before.ru_minflt) / calls
        print(f"| {'/'.join(map(str, case))} | {seconds / calls * 1e3:.1f} | {faults:.0f} | "
              f"{faults * resource.getpagesize() / 2**20:.0f} | {(after.ru_stime - before.ru_stime) / calls * 1e3:.1f} | "
              f"{(after.ru_utime - before.ru_utime) / calls * 1e3:.1f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.2)
    parser.add_argument("--json", default=None)
    parser.add_argument("--trace", default=None, metavar="B/T/I/H")
    parser.add_argument("--hlo", default=None, metavar="PATH")
    parser.add_argument("--matmuls", action="store_true")
    parser.add_argument("--faults", action="store_true")
    args = parser.parse_args()
    if args.faults:
        return page_faults()
    if args.matmuls:
        return matmul_rates(args.rounds, args.min_seconds)
    if args.trace:
        return trace(tuple(int(n) for n in args.trace.split("/")), args.hlo)
    started = provenance.source()
    environment = provenance.environment()
    print(f"CPU: {environment['cpu']}; jax {environment['jax']}; {args.rounds} rounds; ms, medians")
    print("| B/T/I/H | impl | forward | fwd matmuls | fwd rest | backward | bwd loop matmul | bwd matmuls after "
          "the loop | bwd rest | h @ U floor (fwd+bwd) | matmul GFLOP/s |")
    print("|" + "---|" * 11)
    rows = []
    for case in CASES:
        impl, calls = programs(*case)
        times = interleaved(warmed(calls), args.rounds, args.min_seconds)
        ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        B, T, I, H = case
        flops = 2 * T * B * 4 * H * 3 * (H + I)  # forward [h, x] @ V; backward dz @ U.T, dV, dX
        row = {"case": "/".join(map(str, case)), "impl": impl, "ms": ms,
               "spread": {name: [min(t) * 1e3, max(t) * 1e3] for name, t in times.items()},
               "matmul_gflops_per_s": flops / 1e9 / (ms["fwd matmuls"] + ms["bwd loop matmul"]
                                                     + ms["bwd matmuls after the loop"]) * 1e3}
        rows.append(row)
        backward = ms["forward+backward"] - ms["forward"]
        fwd_rest = ms["forward"] - ms["fwd matmuls"]
        bwd_rest = backward - ms["bwd loop matmul"] - ms["bwd matmuls after the loop"]
        print(f"| {row['case']} | {impl} | {ms['forward']:.1f} | {ms['fwd matmuls']:.1f} | {fwd_rest:.1f} | "
              f"{backward:.1f} | {ms['bwd loop matmul']:.1f} | {ms['bwd matmuls after the loop']:.1f} | "
              f"{bwd_rest:.1f} | {ms['h @ U floor']:.1f} | {row['matmul_gflops_per_s']:.0f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"commit": started.commit, "clean": started.clean, **environment, "rounds": args.rounds,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
