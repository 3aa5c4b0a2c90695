#!/usr/bin/env bash
# The GPU check of experiments/benchmarks.md, in one process per step, on a machine whose python3
# has jax with CUDA, flax and torch (no install, no network). From the repository root:
#   bash experiments/gpu_check.sh [OUTDIR]
# 1. the cuDNN equality tests (tests/test_cudnn.py, marker gpu: impl="cudnn" against "fused",
#    values and gradients), if pytest and hypothesis are there;
# 2. jaxlstm bench with every impl including "cudnn", jax.experimental.rnn's cuDNN LSTM called
#    directly, torch's cuDNN LSTM on the same GPU, Flax, bfloat16 matmuls, and an ensemble of 64
#    small LSTMs vmapped against one call per network.
# It writes OUTDIR/gpu_tests.log, OUTDIR/bench_gpu.json and OUTDIR/bench_gpu.log (OUTDIR
# defaults to $OUT, then .).
set -euo pipefail
out="${1:-${OUT:-.}}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c "import jax; print('backend', jax.default_backend(), jax.devices())"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
if python3 -c "import pytest, hypothesis" 2>/dev/null; then
    python3 -m pytest -o addopts="" -q -p no:cacheprovider -m gpu tests/test_cudnn.py 2>&1 | tee "$out/gpu_tests.log"
else
    echo "pytest or hypothesis missing: the cuDNN tests did not run" | tee "$out/gpu_tests.log"
fi
python3 -m jaxlstm bench --impls auto,reference,fused,hoisted,cudnn --bf16 --ensemble 64 --rounds 3 \
    --min-seconds 0.1 --json "$out/bench_gpu.json" 2>&1 | tee "$out/bench_gpu.log"
