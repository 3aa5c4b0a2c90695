"""Every user error raises at trace time with the argument, expected and actual value, and a hint."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlstm

T, B, I, H = 5, 3, 4, 6
PARAMS = jaxlstm.init(jax.random.key(0), I, H, num_layers=2)
XS = jnp.ones((T, B, I))
STATE = jaxlstm.LSTMState(jnp.zeros((2, B, H)), jnp.zeros((2, B, H)))


def with_dtype(params, dtype, where=lambda cell: cell.b):
    """Params with one leaf (by default the first bias) cast to ``dtype``."""
    cell = params.layers[0][0]
    field = "b" if where(cell) is cell.b else "V"
    cell = dataclasses.replace(cell, **{field: where(cell).astype(dtype)})
    return jaxlstm.LSTMParams(((cell,),) + params.layers[1:])


CASES = {
    "feature size": (
        dict(xs=jnp.ones((T, B, 8))), ValueError,
        r"xs has shape \(5, 3, 8\); expected \(T, \*batch, 4\).*input size 4.*Hint",
    ),
    "batch-major xs seen through seq_lengths": (
        dict(xs=jnp.ones((B, T, I)), seq_lengths=jnp.array([5, 5, 5])), ValueError,
        r"seq_lengths has shape \(3,\); expected the batch shape \(5,\).*batch-major.*xs\.swapaxes\(0, 1\)",
    ),
    "batch-major xs seen through the state": (
        dict(xs=jnp.ones((B, T, I)), state=STATE), ValueError,
        r"state\.h has shape \(2, 3, 6\); expected .* = \(2, 5, 6\).*batch-major.*xs\.swapaxes\(0, 1\)",
    ),
    "state without the layer axis": (
        dict(state=jaxlstm.LSTMState(jnp.zeros((B, H)), jnp.zeros((B, H)))), ValueError,
        r"state\.h has shape \(3, 6\); expected \(num_layers \* num_directions, \*batch, hidden_size\) = "
        r"\(2, 3, 6\).*stacked over layers.*jnp\.stack of 2",
    ),
    "state of one layer without the layer axis": (
        dict(params=jaxlstm.init(jax.random.key(0), I, H), state=jaxlstm.LSTMState(jnp.zeros((B, H)), jnp.zeros((B, H)))),
        ValueError, r"state\.h has shape \(3, 6\); expected .* = \(1, 3, 6\).*LSTMState\(h\[None\], c\[None\]\)",
    ),
    "state of the wrong hidden size": (
        dict(state=jaxlstm.LSTMState(STATE.h, jnp.zeros((2, B, 5)))), ValueError,
        r"state\.c has shape \(2, 3, 5\); expected .* = \(2, 3, 6\)",
    ),
    "state of the wrong dtype": (
        dict(state=jaxlstm.LSTMState(STATE.h, STATE.c.astype(jnp.bfloat16))), TypeError,
        r"state\.c has dtype bfloat16; expected the params' dtype float32\. Hint: state\.c\.astype",
    ),
    "state that is not a pair": (
        dict(state=STATE.h), TypeError, r"state must be a pair \(h, c\).*got .*Array.*h first",
    ),
    "state that is a list of three": (
        dict(state=[STATE.h, STATE.c, STATE.c]), TypeError,
        r"state must be a pair \(h, c\), e\.g\. jaxlstm\.LSTMState\(h, c\) or \[h, c\]; got a list of length 3\..*h first",
    ),
    "seq_lengths of the wrong shape": (
        dict(seq_lengths=jnp.array([1, 2])), ValueError,
        r"seq_lengths has shape \(2,\); expected the batch shape \(3,\) of xs, which has shape \(5, 3, 4\)"
        r".*one length per sequence",
    ),
    "non-integer seq_lengths": (
        dict(seq_lengths=jnp.array([1.0, 2.0, 3.0])), TypeError,
        r"seq_lengths has dtype float32; expected an integer dtype\. Hint: seq_lengths\.astype",
    ),
    "negative seq_lengths": (
        dict(seq_lengths=jnp.array([1, -2, 3])), ValueError,
        r"seq_lengths must lie in \[0, T\] = \[0, 5\]; got values from -2 to 3\. Hint",
    ),
    "seq_lengths above T": (
        dict(seq_lengths=np.array([1, 6, 3])), ValueError,
        r"seq_lengths must lie in \[0, T\] = \[0, 5\]; got values from 1 to 6",
    ),
    "integer xs": (
        dict(xs=jnp.ones((T, B, I), jnp.int32)), TypeError,
        r"xs has dtype int32; expected a floating dtype, the params' float32\. Hint: xs\.astype.*one_hot",
    ),
    "xs of another float dtype": (
        dict(xs=jnp.ones((T, B, I), jnp.bfloat16)), TypeError,
        r"xs has dtype bfloat16 but params have dtype float32.*Hint: xs\.astype\(jnp\.float32\)",
    ),
    "xs without a time axis": (
        dict(xs=jnp.ones(I)), ValueError, r"xs has shape \(4,\); expected \(T, \*batch, 4\).*lstm_step",
    ),
    "params of mixed dtypes": (
        dict(params=with_dtype(PARAMS, jnp.bfloat16)), TypeError,
        r"params mix dtypes \['bfloat16', 'float32'\]; expected one floating dtype.*Hint",
    ),
    "params of the wrong type": (
        dict(params={"V": PARAMS.layers[0][0].V}), TypeError,
        r"params must be the LSTMParams of jaxlstm\.init.*got dict.*from_torch",
    ),
    "params whose layers do not fit": (
        dict(params=jaxlstm.LSTMParams((PARAMS.layers[0], jaxlstm.init(jax.random.key(1), 2, H).layers[0]))),
        ValueError, r"params\.layers\[1\]\[0\]\.V has shape \(8, 24\); expected \(6 \+ 6, 24\)",
    ),
    "reverse with a bidirectional stack": (
        dict(params=jaxlstm.init(jax.random.key(0), I, H, bidirectional=True), state=None, reverse=True),
        ValueError, r"reverse=True with a bidirectional stack.*Hint",
    ),
    "dropout out of range": (dict(dropout=1.0), ValueError, r"dropout must lie in \[0, 1\); got 1\.0"),
    "dropout without a key": (dict(dropout=0.1), ValueError, r"dropout=0\.1 needs a PRNG key.*deterministic=True for evaluation"),
    "unroll of zero": (dict(unroll=0), ValueError, r"unroll must be a positive integer or a bool.*got 0"),
    "remat of an unknown scheme": (dict(remat="chunks"), ValueError, r"remat must be one of \(False, True, 'step', 'sqrt'\) \(True is 'step'\); got 'chunks'"),
    "impl of an unknown name": (dict(impl="tpu"), ValueError, r"impl must be one of \('auto', .*\); got 'tpu'"),
    "integer matmul_dtype": (dict(matmul_dtype=jnp.int8), TypeError, r"matmul_dtype must be None or a floating dtype .*; got"),
    "deterministic that is not a bool": (
        dict(zoneout=0.1, deterministic=jnp.array(True)), TypeError,
        r"deterministic must be a Python bool \(static: it selects the computation\); got .*Hint",
    ),
}


def call(params=PARAMS, xs=XS, state=None, **kwargs):
    return jaxlstm.lstm(params, xs, state, **kwargs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_error(case):
    kwargs, error, match = CASES[case]
    with pytest.raises(error, match=match):
        call(**kwargs)


@pytest.mark.parametrize("case", ["feature size", "state without the layer axis", "integer xs",
                                  "seq_lengths of the wrong shape", "non-integer seq_lengths"])
def test_error_under_jit_is_raised_at_trace_time(case):
    kwargs, error, match = CASES[case]
    params = kwargs.pop("params", PARAMS)
    with pytest.raises(error, match=match):
        jax.jit(lambda p, kw: call(p, **kw))(params, kwargs)


def test_seq_lengths_values_are_not_checked_when_traced():
    ys, _ = jax.jit(lambda n: call(seq_lengths=n))(jnp.array([T, 2, 0]))
    assert ys.shape == (T, B, H)


def test_lstm_takes_a_list_state_as_lstm_step_does():
    h, c = jax.random.normal(jax.random.key(2), (2, *STATE.h.shape))
    for run in (call, jax.jit(call)):
        ys, final = run(state=jaxlstm.LSTMState(h, c))
        ys_list, final_list = run(state=[h, c])
        assert isinstance(final_list, jaxlstm.LSTMState)
        np.testing.assert_array_equal(ys_list, ys)
        np.testing.assert_array_equal(final_list.h, final.h)
        np.testing.assert_array_equal(final_list.c, final.c)


# ---------------------------------------------------------------- lstm_step

CELL = PARAMS.layers[0][0]
STEP_STATE = jaxlstm.LSTMState(jnp.zeros((B, H)), jnp.zeros((B, H)))
X = jnp.ones((B, I))
FGR = jaxlstm.init_cell(jax.random.key(1), I, H, variant="FGR")
LSTMP = jaxlstm.init_cell(jax.random.key(1), I, H, variant=jaxlstm.Variant(proj_size=2))

STEP_CASES = {
    "a stack where a cell is expected": (
        dict(params=PARAMS), TypeError,
        r"params is an LSTMParams stack of 2 layer\(s\) with 1 direction\(s\); lstm_step takes the "
        r"CellParams of one layer and direction\. Hint: params\.layers\[l\]\[d\].*jaxlstm\.lstm\(params, x\[None\]",
    ),
    "params of the wrong type": (
        dict(params={"V": CELL.V}), TypeError, r"params must be the CellParams of jaxlstm\.init_cell.*got dict",
    ),
    "a cell whose V and b do not fit": (
        dict(params=dataclasses.replace(CELL, b=CELL.b[:-1])), ValueError,
        r"params\.b has shape \(23,\); expected \(4H,\) = \(24,\) for the gates ifgo",
    ),
    "x of the wrong feature size": (
        dict(x=jnp.ones((B, I + 1))), ValueError,
        r"x has shape \(3, 5\); expected \(\*batch, 4\): its last axis must be the cell's input size 4\. Hint",
    ),
    "x without a feature axis": (dict(x=jnp.ones(())), ValueError, r"x has shape \(\); expected \(\*batch, 4\).*x\[None\]"),
    "x and state of different batch shapes": (
        dict(x=jnp.ones((2, I))), ValueError,
        r"state\.h has shape \(3, 6\); expected \(\*batch, hidden_size\) = \(2, 6\) for x of shape \(2, 4\)\. "
        r"x has the batch shape \(2,\) and state\.h \(3,\): they must be equal",
    ),
    "c of the wrong size": (
        dict(state=jaxlstm.LSTMState(STEP_STATE.h, jnp.zeros((B, H - 1)))), ValueError,
        r"state\.c has shape \(3, 5\); expected \(\*batch, hidden_size\) = \(3, 6\)",
    ),
    "lstm's stacked state": (
        dict(state=jaxlstm.LSTMState(STEP_STATE.h[None], STEP_STATE.c[None])), ValueError,
        r"state\.h has shape \(1, 3, 6\); expected .* = \(3, 6\).*without the leading layer axis.*LSTMState\(h\[k\], c\[k\]\)",
    ),
    "a whole sequence": (
        dict(x=jnp.ones((T, B, I))), ValueError,
        r"state\.h has shape \(3, 6\); expected .* = \(5, 3, 6\).*x looks like a whole sequence.*x\[t\].*jaxlstm\.lstm",
    ),
    "Flax's carry order with a projection": (
        dict(params=LSTMP, state=(jnp.zeros((B, H)), jnp.zeros((B, 2)))), ValueError,
        r"state\.h has shape \(3, 6\); expected \(\*batch, proj_size\) = \(3, 2\).*h and c look swapped",
    ),
    "FGR's c without the gate activations": (
        dict(params=FGR), ValueError,
        r"state\.c has shape \(3, 6\); expected \(\*batch, state_size\) = \(3, 24\).*previous gate activations",
    ),
    "integer x": (dict(x=jnp.ones((B, I), jnp.int32)), TypeError, r"x has dtype int32; expected a floating dtype.*one_hot"),
    "x of another float dtype": (
        dict(x=X.astype(jnp.bfloat16)), TypeError, r"x has dtype bfloat16 but params have dtype float32.*Hint: x\.astype",
    ),
    "state of another dtype": (
        dict(state=jaxlstm.LSTMState(STEP_STATE.h.astype(jnp.bfloat16), STEP_STATE.c)), TypeError,
        r"state\.h has dtype bfloat16; expected the params' dtype float32\. Hint: state\.h\.astype",
    ),
    "state that is not a pair": (dict(state=STEP_STATE.h), TypeError, r"state must be a pair \(h, c\).*h first"),
    "state that is a list of one": (
        dict(state=[STEP_STATE.h]), TypeError, r"state must be a pair \(h, c\).*or \[h, c\]; got a list of length 1",
    ),
    "integer matmul_dtype": (dict(matmul_dtype=jnp.int8), TypeError, r"matmul_dtype must be None or a floating dtype"),
}


def step(params=CELL, state=STEP_STATE, x=X, **kwargs):
    return jaxlstm.lstm_step(params, state, x, **kwargs)


@pytest.mark.parametrize("case", sorted(STEP_CASES))
def test_lstm_step_error(case):
    kwargs, error, match = STEP_CASES[case]
    with pytest.raises(error, match=match):
        step(**kwargs)


@pytest.mark.parametrize("case", ["x of the wrong feature size", "x and state of different batch shapes",
                                  "c of the wrong size", "a stack where a cell is expected"])
def test_lstm_step_error_under_jit_is_raised_at_trace_time(case):
    kwargs, error, match = STEP_CASES[case]
    args = {"params": CELL, "state": STEP_STATE, "x": X, **kwargs}
    with pytest.raises(error, match=match):
        jax.jit(jaxlstm.lstm_step)(args["params"], args["state"], args["x"])


def test_lstm_does_not_run_the_step_checks_in_its_loop(monkeypatch):
    """The loops scan the unvalidated step: lstm checks its inputs once, up front."""
    def refuse(*args):
        raise AssertionError("lstm called the checks of lstm_step")

    monkeypatch.setattr(jaxlstm._validate, "check_step", refuse)
    monkeypatch.setattr(jaxlstm._validate, "check_cell", refuse)
    for impl in ("reference", "fused", "hoisted"):
        jax.grad(lambda p: call(p, impl=impl)[0].sum())(PARAMS)


# ---------------------------------------------------------------- init and the converters

@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: jaxlstm.init(0, I, H), TypeError, r"key must be one PRNG key, e\.g\. jax\.random\.key\(0\); got int\. Hint"),
    (lambda: jaxlstm.init(jax.random.split(jax.random.key(0)), I, H), TypeError,
     r"key must be one PRNG key.*got an array of dtype key<fry> and shape \(2,\).*keys\[i\]"),
    (lambda: jaxlstm.init_cell(jnp.zeros(3), I, H), TypeError, r"key must be one PRNG key.*dtype float32 and shape \(3,\)"),
    (lambda: jaxlstm.init(jax.random.key(0), I, H, bidirectional="yes"), TypeError,
     r"bidirectional must be True or False; got 'yes'"),
    (lambda: jaxlstm.init(jax.random.key(0), I, H, forget_bias="1"), TypeError,
     r"forget_bias must be a real number such as 1\.0; got '1'"),
    (lambda: jaxlstm.interop.to_torch({"weight_ih_l0": np.zeros((4, 2))}), TypeError,
     r"params must be jaxlstm's LSTMParams \(jaxlstm\.init\) or CellParams \(jaxlstm\.init_cell\); got dict\. "
     r"Hint: to bring PyTorch's weights into jaxlstm, use the matching from_ converter"),
    (lambda: jaxlstm.interop.to_keras([np.zeros((2, 4))]), TypeError, r"params must be jaxlstm's LSTMParams.*got list.*Keras"),
    (lambda: jaxlstm.interop.to_tf1(PARAMS), ValueError, r"TF1 LSTMCell holds one cell; got a stack of 2 layers"),
])
def test_init_and_converter_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
