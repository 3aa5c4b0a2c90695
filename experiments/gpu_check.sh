#!/usr/bin/env bash
# The GPU check of experiments/benchmarks.md: jaxlstm (every impl) against Flax, PyTorch on the
# GPU and cuDNN through jax.experimental.rnn, in one process. Run from the repository root on a
# machine whose python3 has jax with CUDA, flax and torch (no install, no network):
#   bash experiments/gpu_check.sh [OUTDIR]
# It writes OUTDIR/bench_gpu.json and OUTDIR/bench_gpu.log (OUTDIR defaults to $OUT, then .).
set -euo pipefail
out="${1:-${OUT:-.}}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c "import jax; print('backend', jax.default_backend(), jax.devices())"
python3 -m jaxlstm bench --impls auto,reference,fused,hoisted --rounds 3 --min-seconds 0.1 \
    --json "$out/bench_gpu.json" 2>&1 | tee "$out/bench_gpu.log"
