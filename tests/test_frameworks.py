"""Weights from every framework: our forward equals the framework's own, and round trips are exact."""

import importlib.util
import os
import pathlib
import warnings

import framework_cases as fc
from tolerance import assert_close
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlstm
from jaxlstm import interop

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "frameworks.npz"


def ours(cell, case, lengths=None):
    state = jaxlstm.LSTMState(jnp.asarray(case["h0"])[None], jnp.asarray(case["c0"])[None])
    ys, (h, c) = jaxlstm.lstm(jax.tree.map(jnp.asarray, cell), jnp.asarray(case["xs"]), state,
                              seq_lengths=lengths)
    return ys, h[0], c[0]


def assert_same_forward(cell, case):
    ys, h, c = ours(cell, case)
    assert_close(ys, case["ys"], "framework")
    assert_close(h, case["h"], "framework")
    assert_close(c, case["c"], "framework")


@pytest.mark.parametrize("layout", ["linen", "linen_optimized", "nnx", "nnx_optimized"])
def test_flax(layout):
    case = fc.run_flax(layout)
    weights = fc.unflatten(case)
    cell = interop.from_flax(weights)
    assert_same_forward(cell, case)
    target = {"linen_optimized": "linen"}.get(layout, layout)
    back = interop.to_flax(cell, target)
    assert jax.tree.structure(back) == jax.tree.structure(weights)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(weights)):
        np.testing.assert_array_equal(a, b)


def test_cudnn_flat_weights_against_jax_experimental_rnn():
    case = fc.run_cudnn_reference()
    params = interop.from_cudnn(case["w"], fc.I, fc.H, num_layers=2, bidirectional=True)
    state = jaxlstm.LSTMState(jnp.asarray(case["h0"]), jnp.asarray(case["c0"]))
    ys, (h, c) = jaxlstm.lstm(jax.tree.map(jnp.asarray, params), jnp.asarray(case["xs"]), state,
                              seq_lengths=jnp.asarray(case["lengths"]))
    valid = np.arange(fc.T)[:, None] < case["lengths"][None]
    assert_close(np.asarray(ys)[valid], case["ys"][valid], "framework")
    assert_close(h, case["h"], "framework")
    assert_close(c, case["c"], "framework")
    back = interop.from_cudnn(interop.to_cudnn(params), fc.I, fc.H, num_layers=2, bidirectional=True)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)


def recorded(name):
    with np.load(FIXTURES, allow_pickle=False) as data:
        return {k[len(name) + 1:]: data[k] for k in data.files if k.startswith(name + "/")}


CONVERT = {
    "equinox": lambda w: interop.from_equinox(w),
    "haiku": lambda w: interop.from_haiku(w),
    "keras": lambda w: interop.from_keras(w),
    "keras_hard_sigmoid": lambda w: interop.from_keras(w, recurrent_activation="hard_sigmoid", activation="softsign"),
}


@pytest.mark.parametrize("name", sorted(fc.RECORDED))
def test_recorded_framework(name):
    """Against the committed record of the framework's own forward pass."""
    case = recorded(name)
    assert_same_forward(CONVERT[name](fc.unflatten(case)), case)


def run_live(name):
    """The framework's own forward pass, under its own (default) promotion and warning rules."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return fc.RECORDED[name]()


@pytest.mark.frameworks
@pytest.mark.parametrize("name", sorted(fc.RECORDED))
def test_live_framework(name):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip(name.split("_")[0])
    case = run_live(name)
    assert_same_forward(CONVERT[name](fc.unflatten(case)), case)


@pytest.mark.frameworks
def test_to_keras_with_keras_activations_builds_the_same_layer():
    """jaxlstm -> Keras: a hard-sigmoid, softsign cell in a Keras layer made from
    keras_activations, against jaxlstm's own forward pass."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    variant = jaxlstm.Variant(gate_activation="hard_sigmoid", cell_activation="softsign")
    cell = jaxlstm.init_cell(jax.random.key(4), fc.I, fc.H, variant=variant)
    xs, h0, c0 = fc._inputs(4)
    with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
        layer = keras.layers.LSTM(fc.H, return_sequences=True, return_state=True, **interop.keras_activations(cell))
        layer.build((None, None, fc.I))
        layer.set_weights(interop.to_keras(cell))
        ys, h, c = layer(xs.swapaxes(0, 1), initial_state=[h0, c0])
    expected = ours(cell, dict(xs=xs, h0=h0, c0=c0))
    for a, b in zip((np.asarray(ys).swapaxes(0, 1), h, c), expected):
        assert_close(a, b, "framework")


@pytest.mark.frameworks
def test_recorded_cases_are_current():
    """Inputs in the record are today's; where all three frameworks import, so are the outputs."""
    for name in fc.RECORDED:
        case = recorded(name)
        xs, h0, c0 = fc._inputs(0)
        np.testing.assert_array_equal(case["xs"], xs)
        np.testing.assert_array_equal(case["h0"], h0)
    if not all(importlib.util.find_spec(m) for m in ("equinox", "haiku", "keras")):
        pytest.skip("equinox, dm-haiku and keras are not all installed")  # the record stands in
    for name in fc.RECORDED:
        for key, value in run_live(name).items():
            assert_close(recorded(name)[key], value, "reordered", err_msg=f"{name}/{key}")


def cells():
    key = jax.random.key(0)
    return {
        "vanilla": jaxlstm.init_cell(key, 3, 4),
        "peephole_clip": jaxlstm.init_cell(key, 3, 4, variant=jaxlstm.Variant(peepholes=True, cell_clip=2.0)),
        "projection": jaxlstm.init_cell(key, 3, 4, variant=jaxlstm.Variant(proj_size=2, proj_clip=0.5)),
    }


@pytest.mark.parametrize(("to", "back"), [
    (interop.to_keras, interop.from_keras),
    (interop.to_equinox, interop.from_equinox),
    (lambda p: interop.to_flax(p, "linen"), interop.from_flax),
    (lambda p: interop.to_flax(p, "nnx"), interop.from_flax),
    (lambda p: interop.to_flax(p, "nnx_optimized"), interop.from_flax),
])
def test_exact_round_trips(to, back):
    cell = jax.tree.map(np.asarray, cells()["vanilla"])
    again = back(to(cell))
    for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(cell)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    weights = to(cell)
    for a, b in zip(jax.tree.leaves(to(again)), jax.tree.leaves(weights)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["vanilla", "peephole_clip", "projection"])
def test_run_time_forget_bias_round_trips_to_one_ulp(name):
    """Haiku and TF1 add the forget bias at run time: moving it in and out of the stored bias is
    exact up to the rounding of that shift."""
    cell = jax.tree.map(np.asarray, cells()[name])
    pairs = [(interop.to_tf1, interop.from_tf1)]
    if name == "vanilla":
        pairs.append((interop.to_haiku, interop.from_haiku))
    for to, back in pairs:
        kwargs = {"peephole_clip": {"cell_clip": 2.0}, "projection": {"proj_clip": 0.5}}.get(name, {})
        again = back(to(cell), **kwargs)
        assert again.variant == cell.variant
        for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(cell)):
            np.testing.assert_allclose(a, b, rtol=0, atol=np.finfo(np.float32).eps)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: interop.from_flax({"cell": {}}), r"params of a Flax RNN: pass its cell's params"),
    (lambda: interop.from_flax({"dense": {}}), r"tree has keys \['dense'\]; expected a Flax LSTM cell's params"),
    (lambda: interop.from_keras([np.zeros((2, 12)), np.zeros((3, 8))]), r"recurrent_kernel has shape \(3, 8\); expected \(3, 12\)"),
    (lambda: interop.from_haiku({"w": 1}), r"params has no 'lstm/linear'"),
    (lambda: interop.from_cudnn(np.zeros(10), 2, 3), r"weights has 10 numbers; expected 84"),
    (lambda: interop.from_tf1({"kernel": np.zeros((5, 12)), "bias": np.zeros(12), "w_i_diag": np.zeros(3)}),
     r"some of .* but not all three"),
    (lambda: interop.to_keras(jaxlstm.init(jax.random.key(0), 2, 3, num_layers=2)), r"Keras holds one cell; got a stack of 2 layers"),
    (lambda: interop.to_equinox(jaxlstm.init_cell(jax.random.key(0), 2, 3, variant="CIFG")), r"Equinox's LSTM cell is the vanilla cell"),
    (lambda: interop.to_tf1(jaxlstm.init_cell(jax.random.key(0), 2, 3, variant="layer_norm")), r"TF1 LSTMCell has peepholes, cell_clip and projections but no other variant"),
])
def test_converter_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
