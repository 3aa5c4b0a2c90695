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
    "dropout without a key": (dict(dropout=0.1), ValueError, r"dropout=0\.1 needs a PRNG key.*dropout=0\.0 for evaluation"),
    "unroll of zero": (dict(unroll=0), ValueError, r"unroll must be a positive integer or a bool.*got 0"),
    "remat of an unknown scheme": (dict(remat="chunks"), ValueError, r"remat must be False, True \(= 'step'\) or 'sqrt'; got 'chunks'"),
    "impl of an unknown name": (dict(impl="cudnn"), ValueError, r"impl must be one of \('auto', .*\); got 'cudnn'"),
    "integer matmul_dtype": (dict(matmul_dtype=jnp.int8), TypeError, r"matmul_dtype must be None or a floating dtype .*; got"),
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
