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


@pytest.fixture(scope="module")
def found():
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"}
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("parallel_check.py"))],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("axis", ["batch", "seeds"])
def test_four_devices_end_with_the_losses_of_one(found, axis):
    """200 steps of 4 seeds: the last logged train losses and the test losses, per seed."""
    for key in ("train_loss", "test_loss"):
        np.testing.assert_allclose(found[axis][key], found["one"][key], rtol=1e-4)
    assert found[axis]["spec"] == {"batch": "P()", "seeds": "P('devices',)"}[axis]  # replicated / split
    assert found["one"]["spec"] == "None"  # one device: no mesh


def test_a_checkpoint_of_four_devices_resumes_on_one(found):
    np.testing.assert_allclose(found["moved"]["test_loss"], found["one"]["test_loss"], rtol=1e-4)


def test_the_gradient_all_reduce_is_outside_the_time_loop(found):
    """The fast paths' weight gradients are matmuls after the backward loop: their all-reduce
    comes once per step. The reference impl (a scan of lstm_step under autodiff) sums each
    step's weight gradient inside the loop, and XLA all-reduces it there, every step."""
    inside, total = found["collectives_auto"]
    assert inside == 0 and total > 0
    assert found["collectives_reference"][0] > 0


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
