"""Faults a run meets, and what it does: a non-finite loss or gradient stops it (or the update is
skipped), non-finite data are refused before they are trained on, a damaged checkpoint or one of
another model is refused leaving the run untouched, and a run killed at any moment resumes to
the params of an uninterrupted run, bit for bit; a signal is never swallowed, and it stops a
run at a step boundary."""

import gc
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import signal
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlstm.cli import main
from jaxlstm.tasks import Adding, Batch
from jaxlstm.train import (CheckpointError, ConfigError, DataError, Interrupted, NonFiniteError, interrupt, load,
                           report, run)
from jaxlstm.train.checkpoint import Checkpoints
from jaxlstm.train.loop import _build, _check_finite
from jaxlstm.train.step import checked_update


pytestmark = pytest.mark.usefixtures("standard_promotion")


def quiet(_):
    pass


def snapshot(directory):
    """Every file under ``directory`` and its bytes: what "left untouched" compares."""
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_checked_update_flags_each_leaf_and_skips_as_apply_if_finite():
    params = {"a": jnp.ones(3), "b": jnp.ones((2, 2))}
    optimizer = optax.adam(0.1)
    opt_state = optimizer.init(params)
    good = {"a": jnp.full(3, 0.5), "b": jnp.full((2, 2), -0.5)}
    bad = {"a": good["a"], "b": good["b"].at[1, 0].set(jnp.nan)}
    updates, expected_state = optimizer.update(good, opt_state, params)
    expected = optax.apply_updates(params, updates)
    for skip in (False, True):
        new, state, flags = checked_update(optimizer, jnp.float32(1.0), good, opt_state, params, skip_nonfinite=skip)
        assert flags.tolist() == [False, False, False]
        for a, b in zip(jax.tree.leaves((new, state)), jax.tree.leaves((expected, expected_state))):
            np.testing.assert_array_equal(a, b)
    new, state, flags = checked_update(optimizer, jnp.float32(1.0), bad, opt_state, params, skip_nonfinite=True)
    assert flags.tolist() == [False, False, True]  # the loss, then the leaves in tree order: a, b
    for a, b in zip(jax.tree.leaves((new, state)), jax.tree.leaves((params, opt_state))):
        np.testing.assert_array_equal(a, b)  # nothing moved, the step count included
    _, _, flags = checked_update(optimizer, jnp.float32(jnp.inf), good, opt_state, params, skip_nonfinite=False)
    assert flags.tolist() == [True, False, False]


def test_the_stop_names_the_first_flagged_step_seed_and_leaf():
    cfg = load(None, ["train.seeds=3", "train.seed=10"])
    parts = types.SimpleNamespace(config=cfg, seeds=np.array([10, 11, 12]), checked=("loss", "['lstm'].V", "['w']"))
    clean = {"nonfinite": np.zeros((3, 3), bool), "loss": np.ones(3)}
    flagged = {"nonfinite": np.zeros((3, 3), bool), "loss": np.array([1.0, 2.0, 3.0])}
    flagged["nonfinite"][2, 1] = flagged["nonfinite"][1, 2] = True
    checkpoints = types.SimpleNamespace(latest_step=lambda: 40)
    with pytest.raises(NonFiniteError, match=r"^the gradient of params\['w'\] is not finite in train step 42 of seed "
                                             r"11 \(loss 2\.0\); .*its newest checkpoint, step 40, is kept") as error:
        _check_finite(parts, [(40, clean), (41, flagged), (42, flagged)], checkpoints)
    assert error.value.checkpoint == 40
    skipping = types.SimpleNamespace(**{**vars(parts), "config": load(None, ["train.on_nonfinite=skip"])})
    _check_finite(skipping, [(41, flagged)], checkpoints)  # skipped updates are counted, not raised


BLOWS_UP = ["--set", "task.name=adding", "--set", "task.length=12", "--set", "train.max_length=13", "--set",
            "optim.optimizer=sgd", "--set", "optim.lr=1e4", "--set", "optim.clip_norm=0", "--set", "train.steps=12",
            "--set", "train.log_every=1", "--set", "train.checkpoint_every=1", "--set", "eval.every=100", "--set",
            "eval.batch_size=8", "--set", "model.hidden_size=4", "--seeds", "2"]


def test_a_nonfinite_loss_stops_the_run_keeping_the_last_good_checkpoint_and_skip_goes_on(tmp_path, capsys):
    workdir = tmp_path / "run"
    assert main(["run", *BLOWS_UP, "--workdir", str(workdir)]) == 1
    error, command = capsys.readouterr().err.strip().splitlines()
    found = re.match(r"jaxlstm run: error: the loss is not finite in train step (\d+) of seed (\d) \(loss (nan|inf)\); "
                     r"expected finite values, so the run stopped there and its newest checkpoint, step (\d+), is kept",
                     error)
    assert found, error
    step, kept = int(found[1]), int(found[4])
    assert kept == step - 1 == Checkpoints(workdir / "checkpoints", 2).latest_step()
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == kept and all(np.isfinite(r["loss"]).all() for r in records)
    prefix = "jaxlstm run: to go on from there, skipping such updates: "
    assert command.startswith(prefix) and command.endswith("--resume --set train.on_nonfinite=skip")
    assert main(shlex.split(command[len(prefix):])[1:]) == 0
    assert "resuming with train.on_nonfinite = 'skip' (was 'stop')" in capsys.readouterr().out
    summary = json.loads((workdir / "summary.json").read_text())
    strict = lambda constant: pytest.fail(f"metrics.jsonl holds {constant}, which is not JSON")
    records = [json.loads(line, parse_constant=strict) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    skipped = np.sum([r["skipped"] for r in records if r["kind"] == "train"], axis=0)
    assert summary["skipped_updates"] == skipped.tolist() and skipped.sum() > 0
    assert json.loads((workdir / "config.json").read_text())["train"]["on_nonfinite"] == "skip"


SAMPLE = Adding.sample


def with_nan(where, position):
    """Adding.sample, with a NaN at ``position`` of the inputs of the batches ``where`` picks."""

    def patched(self, rng, batch_size):
        batch = SAMPLE(self, rng, batch_size)
        if where(batch_size):
            xs = batch.xs.copy()
            xs[position] = np.nan
            batch = Batch(xs, *batch[1:])
        return batch

    return patched


ADDING = ["task.name=adding", "task.length=12", "train.max_length=13", "train.steps=4", "train.seeds=2",
          "eval.batch_size=8", "train.batch_size=4", "model.hidden_size=4"]


def test_nonfinite_data_are_refused_with_their_position(tmp_path, monkeypatch):
    monkeypatch.setattr(Adding, "sample", with_nan(lambda b: b == 8, (3, 5, 1)))  # the test set
    with pytest.raises(DataError, match=r"^the test set \(task 'adding'\) holds a non-finite value: xs\[3, 5, 1\] is "
                                        r"nan \(axes t, b, \.\.\.\); expected finite numbers\. Hint"):
        run(load(None, ADDING), tmp_path / "test", progress=False, echo=quiet)
    assert not (tmp_path / "test" / "checkpoints").exists() and not (tmp_path / "test" / "metrics.jsonl").exists()
    monkeypatch.setattr(Adding, "sample", with_nan(lambda b: b == 4, (2, 3, 0)))  # every training batch
    with pytest.raises(DataError, match=r"^the training batch of step 0 \(task 'adding'\) holds a non-finite value: "
                                        r"xs\[0, 2, 3, 0\] is nan \(axes seed, t, b, \.\.\.\)"):
        run(load(None, ADDING), tmp_path / "train", progress=False, echo=quiet)


def test_refusals_name_what_is_wrong_and_leave_the_run_untouched(tmp_path):
    cfg = load(None, ADDING)
    run(cfg, tmp_path / "run", progress=False, echo=quiet)
    run(load(None, [*ADDING, "model.hidden_size=5"]), tmp_path / "other", progress=False, echo=quiet)
    checkpoint = tmp_path / "run" / "checkpoints" / "4"
    arrays = lambda c: sorted((p for p in c.rglob("*") if p.is_file() and p.parent.name == "d"),
                              key=lambda p: p.stat().st_size)

    def truncated(c):
        data = arrays(c)[-1]
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])

    def flipped(c):
        data = arrays(c)[-1]
        flip = bytearray(data.read_bytes())
        flip[len(flip) // 2] ^= 0xFF
        data.write_bytes(bytes(flip))

    def another_model(c):
        shutil.rmtree(c)
        shutil.copytree(tmp_path / "other" / "checkpoints" / "4", c)

    def unknown_key(c):
        config = json.loads((tmp_path / "case" / "config.json").read_text())
        config["model"]["size"] = 3
        (tmp_path / "case" / "config.json").write_text(json.dumps(config))

    cases = [
        (truncated, CheckpointError, r"checkpoint step 4 in .*checkpoints/4 is damaged: its file state/(.*/)?d/\w+ has "
                                     r"\d+ bytes, expected \d+\. Hint: move .*checkpoints/4 out of"),
        (flipped, CheckpointError, r"checkpoint step 4 in .*checkpoints/4 is damaged: its file state/(.*/)?d/\w+ differs "
                                   r"from the file written \(its SHA-256 does not match\)"),
        (another_model, CheckpointError, r"holds another model: params\.lstm\.layers\.0\.0\.V has shape \(2, 7, "
                                         r"20\) and dtype float32 there; expected shape \(2, 6, 16\) and dtype float32"),
        (unknown_key, ConfigError, r"config\.json.*model.*size"),
    ]
    for damage, error, message in cases:
        case = tmp_path / "case"
        shutil.rmtree(case, ignore_errors=True)
        shutil.copytree(tmp_path / "run", case)
        damage(case / checkpoint.relative_to(tmp_path / "run"))
        before = snapshot(case)
        with pytest.raises(error, match=message):
            run(cfg, case, resume=True, progress=False, echo=quiet)
        assert snapshot(case) == before, damage.__name__


KILLED = ["train.steps=120", "train.log_every=5", "train.checkpoint_every=5", "eval.every=60", "eval.batch_size=16",
          "model.hidden_size=4", "train.seeds=2"]


def test_stopped_at_random_moments_it_resumes_to_the_params_of_an_uninterrupted_run(tmp_path):
    """SIGKILL while starting (importing, compiling), SIGKILL in the middle of a checkpoint
    write, Ctrl-C and SIGTERM at random moments: after each the run resumes, and it ends with
    the params of a run never stopped, bit for bit. A stopped run's last line says what was
    saved and how to resume, with exit code 130 (SIGINT) or 143 (SIGTERM) and no traceback or
    "Exception ignored". The stopped run runs on the CPU (the random moments are measured
    there), so the uninterrupted one does too: on an H200 the test once compared it with a run
    on the GPU, a different program, and the params differed by TF32's rounding."""
    rng = random.Random(15)
    workdir = tmp_path / "stopped"
    checkpoints = workdir / "checkpoints"

    def start():
        resume = ["--resume"] if (workdir / "config.json").exists() else []
        argv = [sys.executable, "-m", "jaxlstm", "run", *[p for o in KILLED for p in ("--set", o)],
                "--workdir", str(workdir), *resume]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "JAX_PLATFORMS": "cpu"})
        assert process.stdout.readline().startswith("jaxlstm run: ")  # the run begins: Python has started
        return process

    def wait_for(process, ready):
        while not ready():
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.0005)

    def writing():  # orbax writes a checkpoint into a temporary directory, renamed when complete
        return checkpoints.exists() and any(not p.name.isdigit() for p in checkpoints.iterdir())

    process = start()
    time.sleep(rng.uniform(0.0, 3.0))
    process.kill()
    process.communicate()
    for _ in range(10):  # again if the checkpoint was complete before the kill came
        process = start()
        wait_for(process, writing)
        process.kill()
        process.communicate()
        if writing():
            break
    else:
        pytest.fail("no kill came while a checkpoint was being written")
    for name, code, within in (("SIGINT", 130, (0.0, 1.0)), ("SIGTERM", 143, (1.0, 4.0))):  # compiling; any time
        process = start()
        time.sleep(rng.uniform(*within))
        process.send_signal(getattr(signal, name))
        _, err = process.communicate(timeout=120)
        if process.returncode == 0:
            continue  # it ended before the signal came
        # One line of ours; orbax may log (absl) about a checkpoint an earlier kill left half deleted.
        lines = [line for line in err.strip().splitlines() if not line.startswith("WARNING:absl:")]
        assert process.returncode == code and "Traceback" not in err and "Exception ignored" not in err, err
        assert len(lines) == 1, err
        assert re.search(r"(its newest checkpoint is step \d+|no checkpoint was written yet) in .*; resume with: "
                         r"jaxlstm run .*--resume$", lines[0]), err
    process = start()
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    with jax.default_device(jax.devices("cpu")[0]):
        whole = run(load(None, KILLED), tmp_path / "whole", progress=False, echo=quiet)
    assert {d.platform for leaf in jax.tree.leaves(whole.state) for d in leaf.devices()} == {"cpu"}
    stopped = Checkpoints(checkpoints, 2)
    try:
        resumed = stopped.restore(120, whole.state)
    finally:
        stopped.close()
    for a, b in zip(jax.tree.leaves(whole.state), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(a, b)
    assert json.loads((workdir / "summary.json").read_text())["correct"] == whole.final["correct"]


@pytest.mark.gpu
@pytest.mark.skipif(jax.default_backend() != "gpu", reason="needs a GPU; the test above stops and resumes CPU runs")
def test_on_a_gpu_a_run_resumed_in_a_new_process_ends_as_an_uninterrupted_one_bit_for_bit(tmp_path):
    """Across processes a GPU run is bit-exact under XLA_FLAGS=--xla_gpu_deterministic_ops=true
    (docs/guides/training.md): no autotuning picks another kernel in the new process,
    and no reduction adds in another order. The run is stopped by Ctrl-C after its first
    checkpoint and resumed in a new process; another process runs it whole."""
    flags = " ".join([os.environ.get("XLA_FLAGS", ""), "--xla_gpu_deterministic_ops=true"]).strip()
    env = {**os.environ, "XLA_FLAGS": flags, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}

    def argv(workdir, *extra):
        return [sys.executable, "-m", "jaxlstm", "run", *[p for o in KILLED for p in ("--set", o)],
                "--workdir", str(workdir), *extra]

    stopped = subprocess.Popen(argv(tmp_path / "stopped"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    while not (tmp_path / "stopped" / "checkpoints" / "5").is_dir():
        assert stopped.poll() is None, stopped.communicate()[1]
        time.sleep(0.01)
    stopped.send_signal(signal.SIGINT)
    _, err = stopped.communicate(timeout=120)
    assert stopped.returncode == 130 and "resume with:" in err, err  # stopped, not ended
    for workdir, extra in ((tmp_path / "stopped", ["--resume"]), (tmp_path / "whole", [])):
        ended = subprocess.run(argv(workdir, *extra), capture_output=True, text=True, env=env, timeout=300)
        assert ended.returncode == 0, ended.stderr
    parts = _build(load(None, KILLED))
    template = parts.init(parts.seeds)
    finals = []
    for workdir in ("stopped", "whole"):
        checkpoints = Checkpoints(tmp_path / workdir / "checkpoints", 2)
        try:
            finals.append(checkpoints.restore(120, template))
        finally:
            checkpoints.close()
    for a, b in zip(*map(jax.tree.leaves, finals)):
        np.testing.assert_array_equal(a, b)


APPEND = report.append_metrics


def at_step(monkeypatch, step, action):
    """Call ``action()`` once the train metrics line of ``step`` is written (in the middle of
    that step: its evaluation and checkpoint come after)."""

    def append_then_act(path, record):
        APPEND(path, record)
        if record["kind"] == "train" and record["step"] == step:
            action()

    monkeypatch.setattr(report, "append_metrics", append_then_act)


def latest_checkpoint(workdir):
    checkpoints = Checkpoints(workdir / "checkpoints", 2)
    try:
        return checkpoints.latest_step()
    finally:
        checkpoints.close()


def handlers():
    return {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}


def metrics_lines(workdir):
    text = (workdir / "metrics.jsonl").read_text()
    assert text.endswith("\n")  # no line cut short
    return [json.loads(line) for line in text.splitlines()]


STOPPED = [*ADDING, "train.log_every=1", "train.checkpoint_every=2"]


def test_a_signal_inside_a_garbage_collection_callback_stops_the_run_at_the_next_step(tmp_path, capfd, monkeypatch):
    """Issue 26: the SIGTERM handler raised, and when Python ran it inside a garbage-collection
    callback (JAX registers one) the exception was printed as "Exception ignored" and dropped,
    and the run went on. The handler now only records the signal: the run stops before the
    next step, exit 143 with one line. A second signal of one kind ends the run at once."""
    unraisable, before = [], handlers()
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def exit_raises(code):  # os._exit would end pytest
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", exit_raises)

    def in_gc_callback(phase, info):
        if phase == "start":
            signal.raise_signal(signal.SIGTERM)  # the handler runs inside the callback

    def collect():
        gc.callbacks.append(in_gc_callback)
        try:
            gc.collect()
        finally:
            gc.callbacks.remove(in_gc_callback)

    at_step(monkeypatch, 2, collect)
    workdir = tmp_path / "run"
    argv = ["run", *[p for o in STOPPED for p in ("--set", o)], "--workdir", str(workdir)]
    with pytest.raises(SystemExit) as ended:
        main(argv)
    err = capfd.readouterr().err
    assert ended.value.code == 143 and unraisable == [] and "Exception ignored" not in err, err
    prefix = f"jaxlstm run: stopped by SIGTERM; its newest checkpoint is step 2 in {workdir}; resume with: "
    [line] = err.splitlines()
    assert line == prefix + shlex.join(["jaxlstm", *argv, "--resume"])
    assert [r["step"] for r in metrics_lines(workdir)] == [1, 2]
    assert latest_checkpoint(workdir) == 2

    def twice():
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)

    at_step(monkeypatch, 3, twice)
    with pytest.raises(SystemExit) as ended:
        main([*argv, "--resume"])
    out, err = capfd.readouterr()
    assert ended.value.code == 130 and f"resumed {workdir} at step 2 of 4" in out
    assert err == f"jaxlstm run: stopped by a second Ctrl-C (SIGINT); its newest checkpoint is step 2 in {workdir}; " \
                  f"resume with: {shlex.join(['jaxlstm', *argv, '--resume'])}\n"
    assert handlers() == before


def test_a_flag_set_at_a_step_stops_after_it_and_the_run_resumes_to_an_uninterrupted_one(tmp_path, monkeypatch):
    """Inside ``interrupt.catching`` a signal at step 3 stops the run before step 4: the metrics
    end with step 3, its checkpoint is step 2; resumed, the run ends as one never stopped.
    Without it (``run`` from Python) the run leaves the caller's handlers as they are."""
    cfg, before = load(None, STOPPED), handlers()
    at_step(monkeypatch, 3, lambda: signal.raise_signal(signal.SIGINT))
    with interrupt.catching(lambda signum: pytest.fail("one signal only")):
        with pytest.raises(Interrupted, match="^stopped by Ctrl-C \\(SIGINT\\)$") as stopped:
            run(cfg, tmp_path / "stopped", progress=False, echo=quiet)
    assert stopped.value.exit_code == 130
    assert [r["step"] for r in metrics_lines(tmp_path / "stopped")] == [1, 2, 3]
    assert latest_checkpoint(tmp_path / "stopped") == 2
    interrupt.check()  # outside the block: no flag

    def handlers_unchanged():
        assert handlers() == before

    at_step(monkeypatch, 3, handlers_unchanged)
    resumed = run(cfg, tmp_path / "stopped", resume=True, progress=False, echo=quiet)
    whole = run(cfg, tmp_path / "whole", progress=False, echo=quiet)
    for a, b in zip(jax.tree.leaves(whole.state), jax.tree.leaves(resumed.state)):
        np.testing.assert_array_equal(a, b)
    timeless = lambda workdir: [{k: v for k, v in r.items() if k not in report.TIMES} for r in metrics_lines(workdir)]
    assert timeless(tmp_path / "stopped") == timeless(tmp_path / "whole")
