"""Outputs, final state and gradients equal ``torch.nn.LSTM``'s with the same weights.

Live against torch where it imports; against the committed fixtures (made by
``tools/make_torch_fixtures.py`` from the same cases) everywhere.
"""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch_cases
from tolerance import assert_close

import jaxlstm
from jaxlstm.interop import from_torch, to_torch

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "torch_lstm.npz"


def fixture(name):
    with np.load(FIXTURES, allow_pickle=False) as data:
        prefix = f"{name}/"
        return {k[len(prefix):]: data[k] for k in data.files if k.startswith(prefix)}


def jaxlstm_answers(case, packed):
    """Our outputs and gradients for the case, gradients in torch's layout and names."""
    params = jax.tree.map(jnp.asarray, from_torch({k[2:]: v for k, v in case.items() if k.startswith("w/")}))
    lengths = jnp.asarray(case["lengths"], jnp.int32) if packed else None

    def loss(params, xs, h0, c0):
        ys, (h_n, c_n) = jaxlstm.lstm(params, xs, jaxlstm.LSTMState(h0, c0), seq_lengths=lengths)
        total = jnp.sum(ys * case["gy"]) + jnp.sum(h_n * case["gh"]) + jnp.sum(c_n * case["gc"])
        return total, (ys, h_n, c_n)

    grads, (ys, h_n, c_n) = jax.grad(loss, argnums=(0, 1, 2, 3), has_aux=True)(
        params, case["xs"], case["h0"], case["c0"]
    )
    answers = {"ys": ys, "h_n": h_n, "c_n": c_n, "grad/xs": grads[1], "grad/h0": grads[2], "grad/c0": grads[3]}
    for key, value in to_torch(grads[0]).items():
        # d loss / d b is the gradient of both of torch's biases, which enter only as their sum.
        source = key.replace("bias_hh", "bias_ih")
        answers[f"grad/{key}"] = to_torch(grads[0])[source] if source != key else value
    return {k: np.asarray(v) for k, v in answers.items()}


def compare(case, reference, packed):
    ours = jaxlstm_answers(case, packed)
    expected = {k: v for k, v in reference.items() if k in ours}
    assert sorted(expected) == sorted(ours)
    for key in ours:
        assert_close(ours[key], expected[key], "accumulated" if key.startswith("grad/") else "framework", err_msg=key)


@pytest.mark.parametrize("name", sorted(torch_cases.CASES))
def test_equals_torch_fixture(name):
    data = fixture(name)
    packed = torch_cases.CASES[name][2] is not None
    compare(data, data, packed)


@pytest.mark.frameworks
@pytest.mark.parametrize("name", sorted(torch_cases.CASES))
def test_equals_torch_live(name):
    pytest.importorskip("torch")
    packed = torch_cases.CASES[name][2] is not None
    compare(torch_cases.inputs(name), torch_cases.torch_reference(name), packed)


@pytest.mark.frameworks
@pytest.mark.parametrize("name", sorted(torch_cases.CASES))
def test_fixture_is_current(name):
    """The committed fixture holds today's cases and, where torch imports, today's answers."""
    data = fixture(name)
    for key, value in torch_cases.inputs(name).items():
        np.testing.assert_array_equal(data[key], value, err_msg=key)
    pytest.importorskip("torch")
    for key, value in torch_cases.torch_reference(name).items():
        assert_close(data[key], value, "accumulated" if key.startswith("grad/") else "reordered", err_msg=key)
