"""ONNX: a stack exported as standard ``LSTM`` nodes runs in onnxruntime to jaxlstm's outputs and
final state (1e-5) for plain, bidirectional, 2-layer and peephole stacks with lengths and a
given state (and lengths of 0 from a zero state); ``from_onnx`` reads the weights back exactly; what has no ONNX form
is refused; ``jaxlstm export`` writes a trained run's network, readout included. onnx and
onnxruntime are an optional extra (``jaxlstm[onnx]``): these tests skip without them."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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


def session(model):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", sorted(STACKS))
def test_onnxruntime_runs_the_exported_stack_to_our_outputs(name):
    pytest.importorskip("onnx")
    params = jaxlstm.init(jax.random.key(1), 3, 4, **STACKS[name])
    run = session(to_onnx(params))
    rng = np.random.default_rng(0)
    rows = params.num_layers * params.num_directions
    xs = rng.normal(size=(6, 5, 3)).astype(np.float32)
    h0, c0 = (rng.normal(size=(rows, 5, 4)).astype(np.float32) for _ in range(2))
    zeros = np.zeros_like(h0)
    # onnxruntime ends a length-0 row in zeros, not in its initial state (as jaxlstm and
    # torch.nn.LSTM do): the same only from a zero state.
    for lengths, state in (([6, 3, 2, 1, 5], (h0, c0)), ([6, 0, 2, 1, 0], (zeros, zeros))):
        lengths = np.array(lengths, np.int32)
        ys, h, c = run.run(None, {"X": xs, "sequence_lens": lengths, "initial_h": state[0], "initial_c": state[1]})
        want_ys, want = jaxlstm.lstm(params, xs, jaxlstm.LSTMState(*state), seq_lengths=lengths)
        for got, expected in ((ys, want_ys), (h, want.h), (c, want.c)):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(jax.tree.leaves(from_onnx(to_onnx(params))), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)


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


def test_jaxlstm_export_writes_a_trained_run(tmp_path, capsys):
    pytest.importorskip("onnx")
    from jaxlstm.cli import main
    from jaxlstm.train import load, run
    from jaxlstm.train.restore import load_params

    workdir = tmp_path / "run"
    with jax.numpy_dtype_promotion("standard"):
        run(load(None, ["train.steps=3", "train.seeds=2", "train.seed=4", "model.hidden_size=4", "eval.batch_size=4",
                        "model.shortcut=true"]), workdir, progress=False, echo=lambda _: None)
    assert main(["export", "--workdir", str(workdir), "--seed", "5"]) == 0
    assert "wrote " in capsys.readouterr().out
    import onnx

    config, model, params = load_params(workdir)
    params = jax.tree.map(lambda a: a[1], params)  # seed 5, the run's second
    xs = np.eye(model.input_size, dtype=np.float32)[np.random.default_rng(0).integers(0, model.input_size, (9, 3))]
    zeros = np.zeros((1, 3, 4), np.float32)
    outputs = session(onnx.load(workdir / "model.onnx")).run(
        ["logits"], {"X": xs, "sequence_lens": np.full(3, 9, np.int32), "initial_h": zeros, "initial_c": zeros})
    logits, _ = model.apply(params, jnp.asarray(xs))
    np.testing.assert_allclose(outputs[0], logits, rtol=1e-5, atol=1e-5)
    assert main(["export", "--workdir", str(workdir), "--seed", "9"]) == 2
    assert "seed is 9; expected one of the run's seeds 4..5" in capsys.readouterr().err
    assert json.loads((workdir / "config.json").read_text())["model"]["shortcut"] is True
