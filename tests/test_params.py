"""``init`` and ``init_cell``: layout, the two schemes, the forget bias, and pytree behaviour."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from tolerance import assert_close

import jaxlstm


def test_stack_layout():
    params = jaxlstm.init(jax.random.key(0), 5, 7, num_layers=3, bidirectional=True)
    assert (params.num_layers, params.num_directions, params.bidirectional) == (3, 2, True)
    assert (params.input_size, params.hidden_size) == (5, 7)
    shapes = [[(cell.V.shape, cell.b.shape) for cell in layer] for layer in params.layers]
    assert shapes == [[((12, 28), (28,))] * 2] + [[((21, 28), (28,))] * 2] * 2
    cells = [cell for layer in params.layers for cell in layer]
    for a in range(len(cells)):  # each layer and direction draws from its own key
        for b in range(a + 1, len(cells)):
            assert not np.array_equal(cells[a].V[:7], cells[b].V[:7])


def test_pytorch_init_range_and_forget_bias():
    H = 64
    cell = jaxlstm.init_cell(jax.random.key(1), 32, H, forget_bias=1.0)
    bound = 1 / math.sqrt(H)
    V, b = np.asarray(cell.V), np.asarray(cell.b)
    assert np.abs(V).max() <= bound and np.abs(V).max() > 0.95 * bound
    assert abs(V.mean()) < 0.01 and abs(V.std() - bound / math.sqrt(3)) < 0.01  # uniform's std
    forget = b[H : 2 * H] - 1.0
    others = np.concatenate([b[:H], b[2 * H :]])
    assert np.abs(forget).max() <= bound and np.abs(others).max() <= bound
    assert abs(forget.mean()) < 0.05


def test_forget_bias_is_added_to_the_forget_slice_only():
    key = jax.random.key(2)
    plain = jaxlstm.init_cell(key, 3, 4, forget_bias=0.0)
    shifted = jaxlstm.init_cell(key, 3, 4, forget_bias=2.5)
    np.testing.assert_array_equal(plain.V, shifted.V)
    assert_close(shifted.b - plain.b, [0.0] * 4 + [2.5] * 4 + [0.0] * 8, "reference")


def test_keras_init():
    I, H = 5, 8
    cell = jaxlstm.init_cell(jax.random.key(3), I, H, init="keras", forget_bias=1.0)
    U, W = np.asarray(cell.V[:H]), np.asarray(cell.V[H:])
    assert_close(U @ U.T, np.eye(H), "reference")  # orthogonal rows, as Keras
    limit = math.sqrt(6 / (I + 4 * H))  # Glorot-uniform over (I, 4H)
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.8 * limit
    np.testing.assert_array_equal(cell.b, np.repeat([0.0, 1.0, 0.0, 0.0], H))


def test_dtype():
    params = jaxlstm.init(jax.random.key(0), 2, 3, num_layers=2, dtype=jnp.bfloat16)
    assert {leaf.dtype for leaf in jax.tree.leaves(params)} == {jnp.dtype(jnp.bfloat16)}


def test_params_are_plain_pytrees():
    """grad, vmap (several seeds at once) and optax take the params as they are."""
    keys = jax.random.split(jax.random.key(0), 3)
    seeds = jax.vmap(lambda k: jaxlstm.init(k, 2, 3, num_layers=2))(keys)
    assert seeds.layers[1][0].V.shape == (3, 6, 12)
    params = jaxlstm.init(jax.random.key(0), 2, 3)
    xs = jnp.ones((4, 2))
    grads = jax.grad(lambda p: jnp.sum(jaxlstm.lstm(p, xs)[0]))(params)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    optimizer = optax.adam(1e-2)
    with jax.numpy_dtype_promotion("standard"):  # optax's own code mixes int and float scalars
        updates, _ = optimizer.update(grads, optimizer.init(params), params)
    new = optax.apply_updates(params, updates)
    assert isinstance(new, jaxlstm.LSTMParams)
    assert not np.array_equal(new.layers[0][0].V, params.layers[0][0].V)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(input_size=0), ValueError, r"input_size must be a positive integer; got 0"),
        (dict(hidden_size=2.5), ValueError, r"hidden_size must be a positive integer; got 2.5"),
        (dict(num_layers=0), ValueError, r"num_layers must be a positive integer; got 0"),
        (dict(init="xavier"), ValueError, r"init must be one of \('pytorch', 'keras', 'flax'\); got 'xavier'"),
        (dict(dtype=jnp.int32), TypeError, r"dtype must be a floating dtype .*; got int32"),
    ],
)
def test_init_errors(kwargs, error, match):
    args = dict(input_size=2, hidden_size=3) | kwargs
    with pytest.raises(error, match=match):
        jaxlstm.init(jax.random.key(0), **args)
