"""Which configurations make ``impl="cudnn"``'s gradients differ from ``impl="fused"``'s, on a GPU.

On an H200 (jax 0.11.2, commit b4e9ea7) one test failed: a 2-layer unidirectional stack with a
learned initial state and lengths, whose cuDNN weight gradients were wrong (a relative 41, not
rounding), while 1 layer, 2 bidirectional layers with a given state, and 2 layers with dropout
between them all agreed. That case differs from the passing ones in two ways at once: the
initial state comes from params (broadcast over the batch), and the second layer reads the
first layer's cuDNN output directly. This script separates the two, and runs each case twice:
as XLA compiles it by default, and with XLA's command buffers (CUDA graphs) off, which replay
a custom call's host-side work only as it was when captured.

    python3 experiments/cudnn_bisect.py [--json PATH]

prints one line per case: the largest difference between the two impls' gradients of each
part (relative to that part's largest value) and whether it is past TF32-free rounding (both
run at ``precision="highest"``). The command-buffer half runs in a subprocess with
``XLA_FLAGS=--xla_gpu_enable_command_buffer=``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

import jaxlstm

T, B, I, H = 6, 5, 3, 4
BOUND = 2.0**10 * 2.0**-23  # the suite's "accumulated" float32 tolerance (tests/tolerance.py)


def case(num_layers: int, state: str, lengths: bool, between: str, seed: int = 0):
    """Params, inputs, the given state (or None) and the lengths of one case."""
    del between  # how grads() calls the layers
    params = jaxlstm.init(jax.random.key(seed), I, H, num_layers=num_layers,
                          learn_initial_state=state.startswith("learned"))
    rng = np.random.default_rng(seed)
    if state == "learned random":  # the learned state away from zero
        params = jax.tree_util.tree_map_with_path(
            lambda path, a: jnp.asarray(rng.normal(size=a.shape), a.dtype)
            if jax.tree_util.keystr(path).endswith(("h0", "c0")) else a, params)
    xs = jnp.asarray(rng.normal(size=(T, B, I)), jnp.float32)
    given = None
    if state == "given":
        given = jaxlstm.LSTMState(*(jnp.asarray(rng.normal(size=(num_layers, B, H)), jnp.float32) for _ in range(2)))
    seq_lengths = jnp.asarray([0, T, 3, 1, 5], jnp.int32) if lengths else None
    return params, xs, given, seq_lengths


def grads(impl: str, params, xs, state, seq_lengths, between: str):
    def loss(params, xs, state):
        if between == "direct":
            ys, (h, c) = jaxlstm.lstm(params, xs, state, seq_lengths=seq_lengths, impl=impl, precision="highest")
        else:  # each layer called alone, an elementwise op between them (as dropout puts one)
            h_all, c_all, layer_input = [], [], xs
            for index, layer in enumerate(params.layers):
                single = jaxlstm.LSTMParams((layer,))
                entering = None if state is None else jaxlstm.LSTMState(state.h[index:index + 1],
                                                                        state.c[index:index + 1])
                layer_input, (h, c) = jaxlstm.lstm(single, layer_input, entering, seq_lengths=seq_lengths,
                                                   impl=impl, precision="highest")
                layer_input = layer_input * 1.0000001
                h_all.append(h)
                c_all.append(c)
            ys, h, c = layer_input, jnp.concatenate(h_all), jnp.concatenate(c_all)
        weights = jnp.arange(ys.size, dtype=ys.dtype).reshape(ys.shape) / ys.size
        return jnp.sum(ys * weights) + jnp.sum(jnp.sin(h)) + jnp.sum(c * c)

    argnums = (0, 1) if state is None else (0, 1, 2)
    return jax.jit(jax.grad(loss, argnums=argnums))(params, xs, state)


def compare(a, b) -> dict[str, float]:
    out = {}
    for (path, x), y in zip(jax.tree_util.tree_flatten_with_path(b)[0], jax.tree.leaves(a), strict=True):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        scale = max(float(np.max(np.abs(x))) if x.size else 0.0, 1e-30)
        out[jax.tree_util.keystr(path)] = float(np.max(np.abs(x - y))) / scale if x.size else 0.0
    return out


def cases():
    for num_layers, state, lengths, between in itertools.product(
            (1, 2), ("given", "zero", "learned zero", "learned random"), (True, False), ("direct", "apart")):
        if num_layers == 1 and between == "apart":
            continue
        yield dict(num_layers=num_layers, state=state, lengths=lengths, between=between)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results here (the second half to PATH's stem + .nocb.json)")
    parser.add_argument("--no-subprocess", action="store_true", help="this process's XLA flags only")
    args = parser.parse_args()
    if jax.default_backend() != "gpu":
        sys.exit(f"cudnn_bisect: needs a CUDA GPU; the default backend is {jax.default_backend()}")
    flags = os.environ.get("XLA_FLAGS", "")
    print(f"jax {jax.__version__}, {jax.devices()[0].device_kind}, XLA_FLAGS={flags!r}", flush=True)
    results = []
    for options in cases():
        params, xs, state, seq_lengths = case(**options)
        worst = compare(grads("cudnn", params, xs, state, seq_lengths, options["between"]),
                        grads("fused", params, xs, state, seq_lengths, options["between"]))
        bad = {k: v for k, v in worst.items() if v > BOUND}
        results.append(dict(options, xla_flags=flags, worst=worst, wrong=sorted(bad)))
        print(f"{'WRONG' if bad else 'ok   '} {options}: "
              + ", ".join(f"{k} {v:.1e}" for k, v in sorted(bad.items(), key=lambda kv: -kv[1])[:4]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if not args.no_subprocess:
        print("--- again, with XLA's command buffers off ---", flush=True)
        env = {**os.environ, "XLA_FLAGS": f"{flags} --xla_gpu_enable_command_buffer=".strip()}
        extra = ["--json", os.path.splitext(args.json)[0] + ".nocb.json"] if args.json else []
        subprocess.run([sys.executable, __file__, "--no-subprocess", *extra], env=env, check=False)


if __name__ == "__main__":
    main()
