"""The trainer: every task's shrunk config learns; resume is bit-exact; vmapped seeds equal
seeds run alone; the step compiles once; truncated BPTT carries the state without its gradient."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest
from tolerance import assert_close

import jaxlstm
from jaxlstm.train import ConfigError, Model, load, model, report, run
from jaxlstm.train.data import Data
from jaxlstm.train.step import init_state, make_eval_step, make_optimizer, make_train_step


pytestmark = pytest.mark.usefixtures("standard_promotion")


SHRUNK = {
    "reber": [],
    "erg": [],
    "cerg": ["train.tbptt=10", "train.chunks_per_stream=3", "eval.stream_length=60", "eval.batch_size=8"],
    "adding": ["task.length=12", "train.max_length=13"],
    "temporal_order": ["train.max_length=110", "train.batch_size=8", "eval.batch_size=16"],
    "copy": ["task.delay=5", "task.length=3", "train.max_length=11"],
    "text": ["task.seq_len=20", "train.max_length=20", "eval.batch_size=8"],
}


def shrunk(name, *more, steps=30):
    return load(None, [f"task.name={name}", f"train.steps={steps}", "train.seeds=2", "train.log_every=5",
                       "train.checkpoint_every=10", "eval.every=10", "eval.batch_size=32",
                       "model.hidden_size=8", *SHRUNK[name], *more])


# Each path through the trainer: separate sequences (erg, adding, copy), a stream (cerg), a
# held-out text (text); reber and temporal_order differ from these in their data alone, which
# tests/test_tasks.py checks.
@pytest.mark.parametrize("name", ["erg", "cerg", "adding", "copy", "text"])
def test_every_task_learns_and_writes_its_files(tmp_path, name):
    cfg = shrunk(name)
    backend = matplotlib.get_backend()
    matplotlib.use("pdf")  # the caller's choice, which report.plot must not change
    try:
        check_run_and_files(tmp_path, cfg)
    finally:
        matplotlib.use(backend)


def check_run_and_files(tmp_path, cfg):
    result = run(cfg, tmp_path / "run", progress=False, echo=lambda _: None)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train] == [5, 10, 15, 20, 25, 30]
    assert np.all(np.array(train[-1]["loss"]) < np.array(train[0]["loss"])), train
    network = Model.for_task(cfg.model, cfg.task.make())
    initial = jax.jit(jax.vmap(lambda s: network.init(jax.random.key(s))))(jnp.arange(2))
    for before, after in zip(jax.tree.leaves(initial), jax.tree.leaves(result.state.params)):
        assert np.all(np.any(np.asarray(before != after).reshape(2, -1), axis=1))
    for file in ("config.json", "curves.png", "summary.json"):
        assert (tmp_path / "run" / file).stat().st_size > 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and len(summary["correct"]) == 2
    assert "solved: " in result.table
    assert {"commit", "clean", "jax", "flax", "platform", "wall_seconds"} <= set(summary["provenance"])
    assert matplotlib.get_backend() == "pdf"  # the plot left the caller's backend as it was


def params_of(result):
    return jax.tree.leaves(result.state)


def test_resume_ends_with_the_params_of_an_uninterrupted_run_bit_for_bit(tmp_path):
    cfg = shrunk("erg", "model.dropout=0.0", "model.zoneout=0.1", steps=25)
    whole = run(cfg, tmp_path / "whole", progress=False, echo=lambda _: None)
    run(cfg, tmp_path / "parts", progress=False, stop_after=15, echo=lambda _: None)  # checkpoint at 15
    resumed = run(cfg, tmp_path / "parts", resume=True, progress=False, echo=lambda _: None)
    for a, b in zip(params_of(whole), params_of(resumed)):
        np.testing.assert_array_equal(a, b)
    def records(name):  # the metric lines without their times
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k not in report.TIMES} for line in lines]

    assert records("parts") == records("whole")


def test_stream_resume_is_bit_exact_too(tmp_path):
    """With external resets inside the chunks and training-time noise."""
    cfg = shrunk("cerg", "train.external_reset=true", "model.zoneout=0.1", "model.recurrent_dropout=0.1", steps=8)
    whole = run(cfg, tmp_path / "whole", progress=False, echo=lambda _: None)
    run(cfg, tmp_path / "parts", progress=False, stop_after=4, echo=lambda _: None)
    resumed = run(cfg, tmp_path / "parts", resume=True, progress=False, echo=lambda _: None)
    for a, b in zip(params_of(whole), params_of(resumed)):
        np.testing.assert_array_equal(a, b)


def test_vmapped_seeds_equal_the_same_seeds_trained_one_at_a_time(tmp_path):
    together = run(shrunk("erg", steps=10), tmp_path / "together", progress=False, echo=lambda _: None)
    for seed in (0, 1):
        alone = run(shrunk("erg", "train.seeds=1", f"train.seed={seed}", steps=10), tmp_path / f"alone{seed}",
                    progress=False, echo=lambda _: None)
        for a, b in zip(jax.tree.leaves(together.state.params), jax.tree.leaves(alone.state.params)):
            assert_close(a[seed], b[0], "accumulated")


def test_the_train_step_compiles_once(tmp_path, compilations):
    counts = []
    for steps in (5, 10, 40):  # the first run also compiles what every later run finds compiled
        del compilations[:]
        run(shrunk("erg", "eval.every=1000", "train.checkpoint_every=1000", steps=steps), tmp_path / f"r{steps}",
            progress=False, echo=lambda _: None)
        counts.append(len(compilations))
    assert counts[1] == counts[2] > 0


def test_truncated_bptt_carries_the_state_without_its_gradient():
    cfg = shrunk("cerg")
    data = Data(cfg)
    network = Model.for_task(cfg.model, data.task)
    optimizer = make_optimizer(cfg.optim, 10)
    state = init_state(jnp.int32(0), network, optimizer, cfg.train.batch_size)
    step = jax.jit(make_train_step(network, optimizer, stream=True))
    batch, resets = data.train_batch(0)
    chunk1 = jax.tree.map(lambda a: jnp.asarray(a[0]), batch)
    chunk2 = jax.tree.map(lambda a: jnp.asarray(a[0]), data.train_batch(1)[0])
    assert resets[:, 0].all() and not resets[:, 1:].any() and not data.train_batch(1)[1].any()
    params0 = state.params
    state1, _ = step(state, chunk1, jnp.asarray(resets[0]))
    _, expected = network.apply(params0, chunk1.xs)
    assert_close(state1.carry.c, expected.c, "reordered")

    def loss(params, initial):
        logits, _ = network.apply(params, chunk2.xs, initial)
        return model.loss(logits, chunk2, "sigmoid")

    no_reset = jnp.zeros(resets.shape[1:], bool)
    for chunk_resets, initial in ((no_reset, state1.carry), (no_reset.at[0].set(True), None)):
        state2, metrics = step(state1, chunk2, chunk_resets)
        value, grads = jax.value_and_grad(loss)(state1.params, initial)
        assert_close(metrics["loss"], value, "reordered")
        assert_close(metrics["grad_norm"], jaxlstm_global_norm(grads), "accumulated")


def jaxlstm_global_norm(tree):
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(tree)))


def test_a_new_run_refuses_a_used_workdir_and_resume_needs_the_same_config(tmp_path):
    cfg = shrunk("erg", steps=5)
    run(cfg, tmp_path / "run", progress=False, echo=lambda _: None)
    with pytest.raises(FileExistsError, match=r"workdir .*run is not empty; .*Hint: pass --resume"):
        run(cfg, tmp_path / "run", progress=False, echo=lambda _: None)
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match=r"holds a run of another config than the one given; expected the same "
                                          r"config to resume it\. They differ in model\.hidden_size: saved 8, given 9; "
                                          r"train\.steps: saved 5, given 6\."):
        run(shrunk("erg", "model.hidden_size=9", steps=6), tmp_path / "run", resume=True, progress=False,
            echo=lambda _: None)
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == before  # left untouched
    with pytest.raises(FileNotFoundError, match=r"--resume needs a run in workdir .*elsewhere, but it has no config"):
        run(cfg, tmp_path / "elsewhere", resume=True, progress=False, echo=lambda _: None)


def test_sequences_longer_than_max_length(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.max_length is 48, but 100 batches in a row of task 'adding' "
                                          r"had a longer sequence \(1\d\d steps\).*--set train\.max_length=N"):
        run(load(None, ["task.name=adding", "train.steps=2"]), tmp_path / "r", progress=False, echo=lambda _: None)


def test_external_resets_restart_the_state_inside_a_chunk():
    """After a reset the network's outputs no longer depend on what came before it, nor on the
    carried state; before the first one they do. With a learned initial state."""
    cfg = shrunk("cerg", "train.external_reset=true", "train.tbptt=40", "model.learn_initial_state=true")
    data = Data(cfg)
    network = Model.for_task(cfg.model, data.task)
    params = network.init(jax.random.key(0))
    params = {**params, "lstm": jax.tree.map(lambda a: a + 0.25, params["lstm"])}  # h0, c0 away from zero
    batch, resets = data.train_batch(0)
    xs, resets = jnp.asarray(batch.xs[0]), jnp.asarray(resets[0])
    assert resets[0].all() and resets[1:].any(axis=0).all()  # strings start inside the chunk
    last = int(jnp.max(jnp.where(resets, jnp.arange(xs.shape[0])[:, None], 0)))  # the latest string start
    apply = jax.jit(lambda xs, carried, resets: network.apply(params, xs, carried, resets=resets)[0])
    carried = jax.tree.map(lambda a: a + 1.0, network.initial_state(params, xs.shape[1]))
    other = xs.at[:last].set(jnp.roll(xs[:last], 1, axis=1))  # other symbols before it
    logits = apply(xs, carried, resets)
    for b in range(xs.shape[1]):
        k = int(jnp.max(jnp.where(resets[:, b], jnp.arange(xs.shape[0]), 0)))  # row b's last string start
        changed = apply(xs.at[:k, b].set(other[:k, b]), network.initial_state(params, xs.shape[1]), resets)
        assert_close(changed[k:, b], logits[k:, b], "reordered")
    no_resets = apply(xs, carried, resets.at[1:].set(False))
    assert not np.allclose(no_resets[last:], logits[last:], atol=1e-4)
    np.testing.assert_array_equal(no_resets[:2], logits[:2])


def test_stream_evaluation_counts_errors_like_the_whole_sequence_forward():
    cfg = shrunk("cerg", "eval.stream_length=80", "eval.batch_size=5")
    data = Data(cfg)
    task = data.task
    network = Model.for_task(cfg.model, task)
    params = network.init(jax.random.key(1))
    batch, resets = data.test_set()
    metrics = jax.jit(make_eval_step(network, task))(params, jax.tree.map(jnp.asarray, batch), jnp.asarray(resets))
    logits, _ = network.apply(params, jnp.asarray(batch.xs))
    errors = np.asarray(task.errors(model.predictions(logits, "sigmoid"), batch))
    first = np.where(errors.any(0), errors.argmax(0), errors.shape[0])
    assert_close(metrics["error_free_length"], first.mean(), "reordered")
    assert_close(metrics["wrong_symbols"], errors.sum(0).mean(), "reordered")
    assert bool(metrics["solved"]) == (not errors.any())
    assert_close(metrics["loss"], model.step_losses(logits, batch.targets, "sigmoid").mean(), "reordered")
    prefixes = jax.jit(jax.vmap(lambda T: jaxlstm.lstm(params["lstm"], jnp.asarray(batch.xs),
                                                       seq_lengths=jnp.full((5,), T))[1].c))(jnp.arange(1, 81))
    assert_close(metrics["c_max"], jnp.abs(prefixes).max(), "reordered")


def test_external_reset_config_errors():
    with pytest.raises(ConfigError, match=r"train\.external_reset must be false for a task of separate sequences"):
        load(None, ["train.external_reset=true"])


@pytest.mark.parametrize("variant", ["vanilla", "CIFG", "FGR"])
def test_param_budget_picks_the_largest_hidden_size_within_it(variant):
    config = load(None, ["model.param_budget=3000", f"model.variant={variant}", "model.shortcut=true"])
    network = Model.for_task(config.model, config.task.make())
    params = network.init(jax.random.key(0))
    count = sum(leaf.size for leaf in jax.tree.leaves(params))
    assert params["lstm"].hidden_size == network.hidden_size
    bigger = dataclasses.replace(network, hidden_size=network.hidden_size + 1)
    assert count == network.param_count <= 3000 < bigger.param_count


def test_input_bias_shifts_the_input_gate_only():
    base = load(None, ["model.variant=lstm1997"])
    shifted = load(None, ["model.variant=lstm1997", "model.input_bias=-3"])
    a, b = (Model.for_task(cfg.model, cfg.task.make()).init(jax.random.key(0))["lstm"].layers[0][0]
            for cfg in (base, shifted))
    H = a.hidden_size
    np.testing.assert_array_equal(b.b - a.b, np.concatenate([np.full(H, -3.0), np.zeros(H), np.zeros(H)]))
    with pytest.raises(ConfigError, match=r"model\.input_bias must be 0 for the variant 'NIG'"):
        load(None, ["model.variant=NIG", "model.input_bias=-1"])


def test_the_model_runs_in_the_configured_dtype(tmp_path):
    cfg = shrunk("erg", "model.dtype=bfloat16", "train.seeds=1", "eval.batch_size=4", steps=2)
    result = run(cfg, tmp_path / "run", progress=False, echo=lambda _: None)
    # Mixed precision: bfloat16 matmul operands; params and the carried state stay in float32.
    assert {leaf.dtype for leaf in jax.tree.leaves(result.state.params)} == {jnp.dtype(jnp.float32)}
    assert result.state.carry.h.dtype == result.state.carry.c.dtype == jnp.float32
    assert np.isfinite(result.final["loss"]).all()
    network = Model.for_task(cfg.model, cfg.task.make())
    params = jax.tree.map(lambda a: a[0], result.state.params)
    xs = jnp.asarray(np.random.default_rng(0).normal(size=(6, 3, network.input_size)), jnp.float32)
    low, state = network.apply(params, xs)
    full, _ = Model.for_task(dataclasses.replace(cfg.model, dtype="float32"), cfg.task.make()).apply(params, xs)
    assert low.dtype == state.c.dtype == jnp.float32
    assert 0 < float(jnp.max(jnp.abs(low - full))) < 0.1  # the matmuls ran in bfloat16, nothing else
    with pytest.raises(ConfigError, match="model.dtype is 'float64', but JAX runs in 32 bits"):
        Model.for_task(load(None, ["model.dtype=float64"]).model, cfg.task.make())
