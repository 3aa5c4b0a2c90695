#!/usr/bin/env bash
# The GPU check, in one process per step, on a machine whose python3 has jax with CUDA, flax,
# torch, pytest, hypothesis and pytest-xdist (no install, no network; the checkout on PYTHONPATH).
# From the repository root:
#   bash experiments/gpu_check.sh [OUTDIR] [WORKERS]
# 1. the whole test suite, as CPU machines run it, in WORKERS parallel pytest workers (default 8)
#    sharing the GPU (XLA_PYTHON_CLIENT_PREALLOCATE=false): the float32 equalities at the GPU's
#    default matmul precision (TF32) under tests/tolerance.py's rule, the cuDNN tests (marker
#    gpu: impl="cudnn" against "fused", values and gradients), the live comparisons with torch
#    and onnxruntime where they are installed;
# 2. experiments/cudnn_bisect.py: which configurations make impl="cudnn"'s gradients differ
#    from "fused"'s, with XLA's command buffers on and off (OUTDIR/cudnn_bisect.log, .json);
# 3. jaxlstm bench with every impl including "cudnn" and "pallas", jax.experimental.rnn's cuDNN
#    LSTM called directly, torch's cuDNN LSTM on the same GPU, Flax, bfloat16 matmuls, and an
#    ensemble of 64 small LSTMs vmapped against one call per network;
# 4. the same at the step-bound sizes with XLA's while loops as CUDA graphs (command buffers),
#    the cheap alternative to the Pallas kernels (OUTDIR/bench_gpu_while_graphs.*).
# It writes OUTDIR/gpu_suite.log, OUTDIR/cudnn_bisect.*, OUTDIR/bench_gpu.json and OUTDIR/bench_gpu.log (OUTDIR
# defaults to $OUT, then .); it goes on to the benchmark when tests fail, and exits with pytest's
# status.
set -uo pipefail
out="${1:-${OUT:-.}}"
workers="${2:-8}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
python3 -c "import jax; print('backend', jax.default_backend(), jax.devices())"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
python3 -m pytest -q -p no:cacheprovider -n "$workers" --durations=20 2>&1 | tee "$out/gpu_suite.log"
tests=${PIPESTATUS[0]}
python3 experiments/cudnn_bisect.py --json "$out/cudnn_bisect.json" 2>&1 | tee "$out/cudnn_bisect.log"
python3 -m jaxlstm bench --cases 0,2,3,4,5,8,9,10 --impls auto,fused,hoisted,cudnn,pallas --bf16 --ensemble 64 \
    --rounds 3 --min-seconds 0.1 --json "$out/bench_gpu.json" 2>&1 | tee "$out/bench_gpu.log"
XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_enable_command_buffer=+WHILE" python3 -m jaxlstm bench --cases 0,4,9,10 \
    --impls auto,fused,hoisted,pallas --rounds 3 --min-seconds 0.1 --json "$out/bench_gpu_while_graphs.json" 2>&1 \
    | tee "$out/bench_gpu_while_graphs.log"
exit "$tests"
