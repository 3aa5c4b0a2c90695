"""ONNX: a stack exported as standard ``LSTM`` nodes runs in onnxruntime to jaxlstm's outputs and
final state (``tolerance.py``'s ``"framework"``) for plain, bidirectional, 2-layer and peephole
stacks, in both forms: ``X`` alone (full lengths from a zero state, as a PyTorch LSTM exports)
and with the state inputs (lengths and a given state, and lengths of 0 from a zero state); the
model declares the lowest IR version its opset needs; an older onnxruntime (the python that
``JAXLSTM_OLD_ONNXRUNTIME_PYTHON`` names) runs both forms too; ``from_onnx`` reads the weights
back exactly from both; what has no ONNX form is refused; ``jaxlstm export`` writes a trained
run's network, readout included, in both forms. onnx and onnxruntime are an optional extra
(``jaxlstm[onnx]``): these tests skip without them."""

import json
import os
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, assert_trees_close

import jaxlstm
from jaxlstm.interop import from_onnx, to_onnx

pytestmark = pytest.mark.frameworks

STACKS = {
    "plain": dict(),
    "bidirectional": dict(bidirectional=True),
    "2 layers": dict(num_layers=2),
    "peephole": dict(variant="peephole"),
    "2 layers bidirectional peephole": dict(num_layers=2, bidirectional=True, variant="peephole"),
}

OLD_ONNXRUNTIME = "JAXLSTM_OLD_ONNXRUNTIME_PYTHON"

# Run in the older onnxruntime's own python: the model file, its inputs (an .npz) and where to
# write its outputs (an .npz, by output name) are the arguments.
OLD_RUNTIME_SCRIPT = """
import sys
import numpy as np
import onnxruntime
model, inputs, outputs = sys.argv[1:]
run = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
feed = dict(np.load(inputs))
np.savez(outputs, **dict(zip([o.name for o in run.get_outputs()], run.run(None, feed))))
"""


def session(model):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def stack_and_inputs(name):
    """The stack ``name`` (input size 3, hidden size 4), ``xs`` (6, 5, 3) and a random state."""
    params = jaxlstm.init(jax.random.key(1), 3, 4, **STACKS[name])
    rng = np.random.default_rng(0)
    rows = params.num_layers * params.num_directions
    xs = rng.normal(size=(6, 5, 3)).astype(np.float32)
    h0, c0 = (rng.normal(size=(rows, 5, 4)).astype(np.float32) for _ in range(2))
    return params, xs, (h0, c0)


def assert_runs_to_lstm(outputs, want_ys, want_state):
    ys, h, c = outputs
    assert_trees_close((ys, h, c), (want_ys, want_state.h, want_state.c), "framework")


@pytest.mark.parametrize("name", sorted(STACKS))
def test_onnxruntime_runs_the_exported_stack_on_X_alone(name):
    pytest.importorskip("onnx")
    params, xs, _ = stack_and_inputs(name)
    model = to_onnx(params)
    assert [i.name for i in model.graph.input] == ["X"]
    assert [o.name for o in model.graph.output] == ["Y", "Y_h", "Y_c"]
    assert_runs_to_lstm(session(model).run(None, {"X": xs}), *jaxlstm.lstm(params, xs))
    for a, b in zip(jax.tree.leaves(from_onnx(model)), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(STACKS))
def test_onnxruntime_runs_the_exported_stack_with_state_inputs(name):
    pytest.importorskip("onnx")
    params, xs, (h0, c0) = stack_and_inputs(name)
    model = to_onnx(params, state_inputs=True)
    assert [i.name for i in model.graph.input] == ["X", "sequence_lens", "initial_h", "initial_c"]
    run = session(model)
    zeros = np.zeros_like(h0)
    # onnxruntime ends a length-0 row in zeros, not in its initial state (as jaxlstm and
    # torch.nn.LSTM do): the same only from a zero state.
    for lengths, state in (([6, 3, 2, 1, 5], (h0, c0)), ([6, 0, 2, 1, 0], (zeros, zeros))):
        lengths = np.array(lengths, np.int32)
        outputs = run.run(None, {"X": xs, "sequence_lens": lengths, "initial_h": state[0], "initial_c": state[1]})
        assert_runs_to_lstm(outputs, *jaxlstm.lstm(params, xs, jaxlstm.LSTMState(*state), seq_lengths=lengths))
    for a, b in zip(jax.tree.leaves(from_onnx(model)), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("state_inputs", [False, True])
def test_the_model_declares_the_lowest_ir_version_its_opset_needs(state_inputs):
    onnx = pytest.importorskip("onnx")
    model = to_onnx(jaxlstm.init(jax.random.key(0), 3, 4), state_inputs=state_inputs)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 14)]
    assert model.ir_version == onnx.helper.find_min_ir_version_for(model.opset_import)
    assert model.ir_version < onnx.IR_VERSION  # not the installed onnx's newest, which older runtimes refuse
    onnx.checker.check_model(model)


@pytest.mark.parametrize("state_inputs", [False, True], ids=["X alone", "state inputs"])
def test_an_older_onnxruntime_runs_the_exported_stack(state_inputs, tmp_path):
    python = os.environ.get(OLD_ONNXRUNTIME)
    if not python:
        pytest.skip(f"{OLD_ONNXRUNTIME} is unset: set it to the python of a virtual environment with an older "
                    "onnxruntime and numpy (.ci/run makes one with onnxruntime==1.20.1) to run the exported "
                    "models there")
    onnx = pytest.importorskip("onnx")
    params, xs, (h0, c0) = stack_and_inputs("2 layers bidirectional peephole")
    lengths = np.array([6, 3, 2, 1, 5], np.int32)
    if state_inputs:
        feed = {"X": xs, "sequence_lens": lengths, "initial_h": h0, "initial_c": c0}
        want_ys, want = jaxlstm.lstm(params, xs, jaxlstm.LSTMState(h0, c0), seq_lengths=lengths)
    else:
        feed = {"X": xs}
        want_ys, want = jaxlstm.lstm(params, xs)
    onnx.save(to_onnx(params, state_inputs=state_inputs), tmp_path / "model.onnx")
    np.savez(tmp_path / "inputs.npz", **feed)
    ran = subprocess.run([python, "-c", OLD_RUNTIME_SCRIPT, tmp_path / "model.onnx", tmp_path / "inputs.npz",
                          tmp_path / "outputs.npz"], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, f"{python} (onnxruntime) failed on the model:\n{ran.stderr}"
    with np.load(tmp_path / "outputs.npz") as outputs:
        assert_runs_to_lstm([outputs[k] for k in ("Y", "Y_h", "Y_c")], want_ys, want)


def test_what_onnx_cannot_hold_is_refused():
    pytest.importorskip("onnx")
    for variant in ("CIFG", "NFG", "layer_norm", jaxlstm.Variant(proj_size=2), jaxlstm.Variant(cell_clip=3.0)):
        params = jaxlstm.init(jax.random.key(0), 3, 4, variant=variant)
        with pytest.raises(ValueError, match=r"ONNX's LSTM operator has the vanilla and the peephole cell only; "
                                             r"params\.layers\[0\]\[0\] has Variant\("):
            to_onnx(params)
    learned = jaxlstm.init(jax.random.key(0), 3, 4, learn_initial_state=True)
    with pytest.raises(ValueError, match="ONNX's LSTM has no learned initial state"):
        to_onnx(learned)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A workdir of a 3-step run with seeds 4 and 5 and a shortcut readout."""
    pytest.importorskip("onnx")
    from jaxlstm.train import load, run

    workdir = tmp_path_factory.mktemp("export") / "run"
    with jax.numpy_dtype_promotion("standard"):
        run(load(None, ["train.steps=3", "train.seeds=2", "train.seed=4", "model.hidden_size=4", "eval.batch_size=4",
                        "model.shortcut=true"]), workdir, progress=False, echo=lambda _: None)
    return workdir


def run_of_seed_5(workdir):
    """The run's model, the params of seed 5 (its second) and one-hot inputs (9, 3, I)."""
    from jaxlstm.train.restore import load_params

    _, model, params = load_params(workdir)
    params = jax.tree.map(lambda a: a[1], params)
    xs = np.eye(model.input_size, dtype=np.float32)[np.random.default_rng(0).integers(0, model.input_size, (9, 3))]
    return model, params, xs


@pytest.mark.parametrize("state_inputs", [False, True], ids=["X alone", "state inputs"])
def test_onnx_of_run_exports_the_network_and_its_readout(trained_run, state_inputs):
    from jaxlstm.train.export import onnx_of_run

    model, params, xs = run_of_seed_5(trained_run)
    exported = onnx_of_run(trained_run, seed=5, state_inputs=state_inputs)
    feed = {"X": xs}
    if state_inputs:
        zeros = np.zeros((1, 3, 4), np.float32)
        feed |= {"sequence_lens": np.full(3, 9, np.int32), "initial_h": zeros, "initial_c": zeros}
    assert [i.name for i in exported.graph.input] == list(feed)
    assert [o.name for o in exported.graph.output] == ["Y", "Y_h", "Y_c", "logits"]
    logits, _ = model.apply(params, jnp.asarray(xs))
    assert_close(session(exported).run(["logits"], feed)[0], logits, "framework")


def test_jaxlstm_export_writes_a_trained_run(trained_run, capsys):
    from jaxlstm.cli import main

    onnx = pytest.importorskip("onnx")
    assert main(["export", "--workdir", str(trained_run), "--seed", "5"]) == 0
    assert "(inputs X; outputs Y, Y_h, Y_c, logits)" in capsys.readouterr().out
    model, params, xs = run_of_seed_5(trained_run)
    exported = onnx.load(trained_run / "model.onnx")
    assert [i.name for i in exported.graph.input] == ["X"]
    logits, _ = model.apply(params, jnp.asarray(xs))
    assert_close(session(exported).run(["logits"], {"X": xs})[0], logits, "framework")
    four = trained_run / "four.onnx"
    assert main(["export", "--workdir", str(trained_run), "--seed", "5", "--state-inputs", "--output", str(four)]) == 0
    assert "(inputs X, sequence_lens, initial_h, initial_c; outputs" in capsys.readouterr().out
    assert [i.name for i in onnx.load(four).graph.input] == ["X", "sequence_lens", "initial_h", "initial_c"]
    assert main(["export", "--workdir", str(trained_run), "--seed", "9"]) == 2
    assert "seed is 9; expected one of the run's seeds 4..5" in capsys.readouterr().err
    assert json.loads((trained_run / "config.json").read_text())["model"]["shortcut"] is True
