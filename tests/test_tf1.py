"""TF1 ``LSTMCell`` weights: our forward equals TensorFlow's own, and the round trip gives them back.

Against ``fixtures/tf1_lstm.npz``, the record of TensorFlow's ``tf.compat.v1.nn.rnn_cell.LSTMCell``
made by ``tools/make_tf1_fixture.py`` (TensorFlow is not needed here).
"""

import importlib.util
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlstm
from jaxlstm import interop
from tolerance import assert_close

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "tf1_lstm.npz"
SCRIPT = ROOT / "tools" / "make_tf1_fixture.py"


def load_all():
    with np.load(FIXTURE, allow_pickle=False) as data:
        cases = {}
        for key in data.files:
            name, rest = key.split("/", 1)
            cases.setdefault(name, {})[rest] = data[key]
    return cases


CASES = load_all()


def weights(case):
    return {k[len("w|"):]: v for k, v in case.items() if k.startswith("w|")}


def option(case, key):
    value = float(case[key])
    return None if math.isnan(value) else value


def options(case):
    return {key: option(case, key) for key in ("forget_bias", "cell_clip", "proj_clip")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_tf1_forward_matches_tensorflow(name):
    case = CASES[name]
    w = weights(case)
    cell = interop.from_tf1(w, **options(case))
    assert cell.variant.peepholes == ("w_i_diag" in w)
    assert cell.variant.proj_size == (w["projection/kernel"].shape[1] if "projection/kernel" in w else None)
    # TF's state is LSTMStateTuple(c, h); ours is LSTMState(h, c), stacked over one layer.
    state = jaxlstm.LSTMState(jnp.asarray(case["h0"])[None], jnp.asarray(case["c0"])[None])
    ys, (h, c) = jaxlstm.lstm(jax.tree.map(jnp.asarray, cell), jnp.asarray(case["xs"]), state)
    assert_close(ys, case["ys"], "framework")
    assert_close(h[0], case["h"], "framework")
    assert_close(c[0], case["c"], "framework")


@pytest.mark.parametrize("name", sorted(CASES))
def test_tf1_round_trip_gives_back_tensorflow_weights(name):
    """Exact but for the forget-gate bias, which moves in and out by ``forget_bias`` (float32)."""
    case = CASES[name]
    w, opts = weights(case), options(case)
    back = interop.to_tf1(interop.from_tf1(w, **opts), forget_bias=opts["forget_bias"])
    assert sorted(back) == sorted(w)
    for key, value in w.items():
        assert back[key].dtype == value.dtype == np.float32, key
        if key != "bias":
            np.testing.assert_array_equal(back[key], value, err_msg=key)
    H = w["bias"].shape[0] // 4
    forget = np.arange(4 * H) // H == 2  # TF's gate order is i, j, f, o
    np.testing.assert_array_equal(back["bias"][~forget], w["bias"][~forget])
    np.testing.assert_allclose(back["bias"][forget], w["bias"][forget], rtol=0, atol=np.finfo(np.float32).eps)


def test_fixture_holds_the_cases_the_script_defines():
    spec = importlib.util.spec_from_file_location("make_tf1_fixture", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)  # imports TensorFlow only in main()
    assert sorted(CASES) == sorted(script.CASES)
    for name, kwargs in script.CASES.items():
        case = CASES[name]
        expected = {"forget_bias": 1.0, "cell_clip": None, "proj_clip": None}
        expected |= {k: v for k, v in kwargs.items() if k in expected}
        got = options(case)
        for key, value in expected.items():
            assert (got[key] is None) if value is None else got[key] == pytest.approx(value), (name, key)
        w = weights(case)
        assert ("w_i_diag" in w) == kwargs.get("use_peepholes", False), name
        assert ("projection/kernel" in w) == ("num_proj" in kwargs), name
        P = kwargs.get("num_proj", script.H)
        assert case["xs"].shape == (script.T, script.B, script.I), name
        assert case["ys"].shape == (script.T, script.B, P), name
        assert w["kernel"].shape == (script.I + P, 4 * script.H), name
