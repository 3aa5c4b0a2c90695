"""PyTorch weight conversion: exact round trips, the two-bias rule, prefixes and errors."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close

import jaxlstm
from jaxlstm.interop import from_torch, to_torch

STACKS = [(1, False), (2, False), (1, True), (3, True)]


@pytest.mark.parametrize(("num_layers", "bidirectional"), STACKS)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_from_torch_of_to_torch_is_exact(num_layers, bidirectional, dtype):
    params = jaxlstm.init(jax.random.key(0), 3, 4, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype)
    back = from_torch(to_torch(params))
    assert jax.tree.structure(back) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))


@pytest.mark.parametrize(("num_layers", "bidirectional"), STACKS)
def test_torch_layout_names_and_shapes(num_layers, bidirectional):
    H, I = 4, 3
    D = 2 if bidirectional else 1
    state_dict = to_torch(jaxlstm.init(jax.random.key(0), I, H, num_layers=num_layers, bidirectional=bidirectional))
    expected = {}
    for layer in range(num_layers):
        for suffix in [""] + (["_reverse"] if bidirectional else []):
            name = f"_l{layer}{suffix}"
            expected |= {f"weight_ih{name}": (4 * H, I if layer == 0 else D * H), f"weight_hh{name}": (4 * H, H),
                         f"bias_ih{name}": (4 * H,), f"bias_hh{name}": (4 * H,)}
    assert {k: v.shape for k, v in state_dict.items()} == expected


def torch_like_state_dict(rng, prefix=""):
    shapes = {"weight_ih_l0": (8, 3), "weight_hh_l0": (8, 2), "bias_ih_l0": (8,), "bias_hh_l0": (8,)}
    return {prefix + k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}


def test_two_biases_become_their_sum():
    sd = torch_like_state_dict(np.random.default_rng(0))
    params = from_torch(sd)
    np.testing.assert_array_equal(params.layers[0][0].b, sd["bias_ih_l0"] + sd["bias_hh_l0"])
    np.testing.assert_array_equal(params.layers[0][0].V, np.concatenate([sd["weight_hh_l0"].T, sd["weight_ih_l0"].T]))
    back = to_torch(params)
    np.testing.assert_array_equal(back["weight_ih_l0"], sd["weight_ih_l0"])
    np.testing.assert_array_equal(back["weight_hh_l0"], sd["weight_hh_l0"])
    np.testing.assert_array_equal(back["bias_ih_l0"], sd["bias_ih_l0"] + sd["bias_hh_l0"])
    np.testing.assert_array_equal(back["bias_hh_l0"], np.zeros(8, np.float32))


def test_prefix_and_missing_biases():
    sd = torch_like_state_dict(np.random.default_rng(1), prefix="encoder.lstm.")
    sd["decoder.weight"] = np.zeros((2, 2), np.float32)
    without_bias = {k: v for k, v in sd.items() if "bias" not in k}
    params = from_torch(without_bias, prefix="encoder.lstm.")
    np.testing.assert_array_equal(params.layers[0][0].b, np.zeros(8, np.float32))
    assert params.layers[0][0].V.shape == (5, 8)


@pytest.mark.parametrize(
    ("state_dict", "match"),
    [
        ({"decoder.weight": np.zeros(2)}, r"entry 'decoder\.weight' that is not a torch\.nn\.LSTM weight.*prefix="),
        ({"weight_hr_l0": np.zeros((2, 4))}, r"state_dict lacks \['weight_ih_l0', 'weight_hh_l0'\]"),
        ({"weight_ih_l0": np.zeros((8, 3)), "weight_hh_l0": np.zeros((8, 1)), "weight_hr_l0": np.zeros((1, 3))},
         r"weight_hr_l0 has shape \(1, 3\); expected \(proj_size, H\) = \(1, 2\)"),
        ({"weight_ih_l0": np.zeros((8, 3))}, r"state_dict lacks \['weight_hh_l0'\]"),
        ({}, r"no torch\.nn\.LSTM weights under prefix ''"),
        ({"weight_ih_l0": np.zeros((8, 3)), "weight_hh_l0": np.zeros((8, 3))},
         r"weight_hh_l0 has shape \(8, 3\) and weight_ih_l0 \(8, 3\); expected \(4H, H\) \(or \(4H, proj_size\)\) and \(4H, I\)"),
    ],
)
def test_from_torch_errors(state_dict, match):
    with pytest.raises(ValueError, match=match):
        from_torch(state_dict)


@pytest.mark.frameworks
@pytest.mark.parametrize("proj_size", [0, 2])
@pytest.mark.parametrize(("num_layers", "bidirectional"), STACKS)
def test_to_torch_loads_into_torch_and_runs_the_same(num_layers, bidirectional, proj_size):
    torch = pytest.importorskip("torch")
    params = jaxlstm.init(jax.random.key(2), 3, 4, num_layers=num_layers, bidirectional=bidirectional,
                          variant=jaxlstm.Variant(proj_size=proj_size or None))
    module = torch.nn.LSTM(3, 4, num_layers=num_layers, bidirectional=bidirectional, proj_size=proj_size)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch(params).items()}, strict=True)
    xs = np.random.default_rng(2).normal(size=(5, 2, 3)).astype(np.float32)
    with torch.no_grad(), warnings.catch_warnings():  # projections are "not supported with oneDNN"
        warnings.simplefilter("ignore", UserWarning)
        ys_torch, (h_torch, c_torch) = module(torch.from_numpy(xs))
    ys, (h, c) = jaxlstm.lstm(params, jnp.asarray(xs))
    assert_close(ys, ys_torch.numpy(), "framework")
    assert_close(h, h_torch.numpy(), "framework")
    assert_close(c, c_torch.numpy(), "framework")
    back = from_torch(module.state_dict())
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)
