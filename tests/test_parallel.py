"""Training across devices (``[parallel]``), on 4 simulated CPU devices in a process of its own
(tests/parallel_check.py): data parallel and seed parallel runs end with the losses of a
one-device run, a 4-device checkpoint resumes on 1, the fast paths' gradient all-reduce is
outside the time loop, and sizes that do not divide by the devices are refused by name."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tolerance import assert_close, assert_trees_close


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    # A compilation cache of its own: its runs compile many of the same programs again (turned
    # on here: tests/conftest.py turns JAX's cache off for the subprocesses of the suite).
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_ENABLE_COMPILATION_CACHE": "true",
           "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4",
           "JAX_COMPILATION_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("parallel_check.py"))],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("axis", ["batch", "seeds"])
def test_four_devices_end_with_the_losses_of_one(found, axis):
    """200 steps of 4 seeds: the last logged train losses and the test losses, per seed."""
    for key in ("train_loss", "test_loss"):
        assert_close(found[axis][key], found["one"][key], "accumulated", dtype=np.float32)
    assert found[axis]["spec"] == {"batch": "P()", "seeds": "P('devices',)"}[axis]  # replicated / split
    assert found["one"]["spec"] == "None"  # one device: no mesh


def test_ppo_trains_seed_parallel(found):
    """The T-maze's PPO, its seeds split over 4 devices, ends with the params of one device."""
    one, four = found["ppo_seeds"]
    assert_trees_close(four, one, "accumulated", dtype=np.float32)


def test_a_checkpoint_of_four_devices_resumes_on_one(found):
    assert_close(found["moved"]["test_loss"], found["one"]["test_loss"], "accumulated", dtype=np.float32)


def test_the_gradient_all_reduce_is_outside_the_time_loop(found):
    """The fast paths' weight gradients are matmuls after the backward loop: their all-reduce
    comes once per step. The reference impl (a scan of lstm_step under autodiff) sums each
    step's weight gradient inside the loop, and XLA all-reduces it there, every step."""
    inside, total = found["collectives_auto"]
    assert inside == 0 and total > 0
    assert found["collectives_reference"][0] > 0


def test_bench_scaling_is_a_correctness_run_on_simulated_devices(found):
    result, table = found["scaling"]["result"], found["scaling"]["table"]
    assert result["devices"] == [1, 2, 4] and result["simulated"]
    assert all(t > 0 for t in result["seconds"]["8"]) and result["seconds"]["6"][2] is None  # 6 does not split in 4
    losses = result["loss"]["8"]
    assert_close(losses, [losses[0]] * len(losses), "accumulated", dtype=np.float32)  # any devices, one loss
    assert "a correctness run, not a measure of scaling" in table and table.count("\n| ") == 4  # header, 3 rows
    assert table.startswith("data parallel, 5 steps, I 3, H 8")


@pytest.mark.parametrize(("case", "message"), [
    ("too_many", r"^parallel\.devices is 8, but JAX sees 4 device\(s\) \(cpu\); expected at most that many\. Hint"),
    ("batch", r"^train\.batch_size is 6, which does not divide by the 4 devices of parallel\.devices; expected a "
              r"multiple of 4"),
    ("eval_batch", r"^eval\.batch_size is 30, which does not divide by the 4 devices"),
    ("seeds", r"^train\.seeds is 3, which does not divide by the 4 devices.*parallel\.axis='batch'"),
    ("environment", r"^parallel\.axis is 'batch', but task 'tmaze' is an environment.*parallel\.axis='seeds'"),
])
def test_sizes_that_do_not_divide_are_refused_by_name(found, case, message):
    import re

    assert found["errors"][case] is not None and re.search(message, found["errors"][case]), found["errors"][case]


def test_two_processes_train_one_model_and_its_checkpoint_restores_in_one(tmp_path):
    """Two `jaxlstm run` processes joined by jax.distributed on loopback (2 simulated CPU devices
    each, collectives through gloo) train one data-parallel run; it equals a one-process,
    one-device run of the same config, and its checkpoint restores in this process."""
    import socket

    import jax

    from jaxlstm.train import load, run
    from jaxlstm.train.checkpoint import Checkpoints

    with socket.socket() as free:
        free.bind(("localhost", 0))
        port = free.getsockname()[1]
    config = ["train.steps=40", "train.seeds=2", "train.batch_size=8", "train.log_every=10", "train.checkpoint_every=20",
              "eval.every=20", "eval.batch_size=32", "model.hidden_size=8"]
    joined = [*config, "parallel.processes=2", f"parallel.coordinator=localhost:{port}"]
    argv = [sys.executable, "-m", "jaxlstm", "run", *[p for o in joined for p in ("--set", o)], "--workdir",
            str(tmp_path / "two")]
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"}
    processes = [subprocess.Popen([*argv, "--process-id", str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env) for i in (0, 1)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert "solved:" in outputs[0][0] and "solved:" not in outputs[1][0]  # process 0 alone reports
    with jax.numpy_dtype_promotion("standard"):
        alone = run(load(None, config), tmp_path / "one", progress=False, echo=lambda _: None)
    checkpoints = Checkpoints(tmp_path / "two" / "checkpoints", 2)
    try:
        restored = checkpoints.restore(40, alone.state)
    finally:
        checkpoints.close()
    for a, b in zip(jax.tree.leaves(restored.params), jax.tree.leaves(alone.state.params)):
        assert_close(a, b, "accumulated")
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert_close(summary["loss"], alone.final["loss"], "accumulated", dtype=np.float32)  # float32, read from JSON
