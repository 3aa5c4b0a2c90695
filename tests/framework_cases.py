"""Forward passes of other frameworks' LSTMs, for the interop tests.

Each ``run_*`` builds the framework's own LSTM with its own random weights, runs it on one
seeded input and returns, as numpy: its weights in its own layout (under ``w|``), the input
``xs`` (T, B, I), the initial ``h0``, ``c0`` (B, H) and its outputs ``ys`` (T, B, H), ``h``,
``c``. Flax and ``jax.experimental.rnn`` always import; Equinox, Haiku and Keras are recorded in
``fixtures/frameworks.npz`` by ``tools/make_framework_fixtures.py``.
"""

import numpy as np

T, B, I, H = 6, 3, 4, 5


def _inputs(seed):
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(T, B, I)).astype(np.float32)
    h0, c0 = (rng.normal(size=(B, H)).astype(np.float32) for _ in range(2))
    return xs, h0, c0


def _flatten(tree, prefix="w"):
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}|{k}"))
        else:
            out[f"{prefix}|{k}"] = np.asarray(v)
    return out


def unflatten(case, prefix="w|"):
    """The nested weights of a case; keys are joined with "|" (Haiku's own names hold "/")."""
    tree = {}
    for key, value in case.items():
        if key.startswith(prefix):
            node = tree
            *parents, leaf = key[len(prefix):].split("|")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
    return tree


def _result(weights, xs, h0, c0, ys, h, c):
    return {**_flatten(weights), "xs": xs, "h0": h0, "c0": c0, "ys": np.asarray(ys), "h": np.asarray(h), "c": np.asarray(c)}


def run_flax(layout, seed=0):
    import jax
    import jax.numpy as jnp
    import flax.linen as nn
    from flax import nnx

    xs, h0, c0 = _inputs(seed)
    if layout in ("linen", "linen_optimized"):
        cell = nn.LSTMCell(H) if layout == "linen" else nn.OptimizedLSTMCell(H)
        rnn = nn.RNN(cell, time_major=True, return_carry=True)
        variables = rnn.init(jax.random.key(seed), jnp.asarray(xs))
        # Flax initialises biases at zero: draw them too, so the bias mapping is tested.
        params = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(seed + 1), a.shape), variables)
        (c, h), ys = rnn.apply(params, jnp.asarray(xs), initial_carry=(c0, h0))
        weights = jax.tree.map(np.asarray, params["params"]["cell"])
    else:
        make = nnx.LSTMCell if layout == "nnx" else nnx.OptimizedLSTMCell
        cell = make(I, H, rngs=nnx.Rngs(seed))
        pure = nnx.to_pure_dict(nnx.state(cell, nnx.Param))
        pure = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(seed + 1), a.shape), pure)
        state = nnx.state(cell, nnx.Param)
        nnx.replace_by_pure_dict(state, pure)
        nnx.update(cell, state)
        (c, h), ys = nnx.RNN(cell, time_major=True, return_carry=True)(jnp.asarray(xs), initial_carry=(c0, h0))
        weights = jax.tree.map(np.asarray, pure)
    return _result(weights, xs, h0, c0, ys, h, c)


def run_cudnn_reference(seed=0, num_layers=2, bidirectional=True):
    """``jax.experimental.rnn.lstm_ref``: the pure-JAX reference of its cuDNN LSTM (CPU too)."""
    import jax
    import jax.numpy as jnp
    from jax.experimental import rnn

    xs, _, _ = _inputs(seed)
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(seed + 2)
    h0, c0 = (rng.normal(size=(num_layers * D, B, H)).astype(np.float32) for _ in range(2))
    weights = rnn.init_lstm_weight(jax.random.key(seed), I, H, num_layers, bidirectional)
    W_ih, W_hh, b_ih, b_hh = rnn.unpack_lstm_weights(weights, I, H, num_layers, bidirectional)
    lengths = jnp.array([T, 2, 4], jnp.int32)
    ys, h, c = rnn.lstm_ref(jnp.asarray(xs).swapaxes(0, 1), h0, c0, W_ih, W_hh, b_ih, b_hh, lengths,
                            input_size=I, hidden_size=H, num_layers=num_layers, dropout=0.0,
                            bidirectional=bidirectional)
    return {"w": np.asarray(weights), "xs": xs, "h0": h0, "c0": c0, "lengths": np.asarray(lengths),
            "ys": np.asarray(ys).swapaxes(0, 1), "h": np.asarray(h), "c": np.asarray(c)}


def run_equinox(seed=0):
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    xs, h0, c0 = _inputs(seed)
    cell = eqx.nn.LSTMCell(I, H, key=jax.random.key(seed))

    def sequence(xs, h, c):
        (h, c), ys = jax.lax.scan(lambda s, x: (cell(x, s),) * 2, (h, c), xs)
        return ys[0], h, c

    ys, h, c = jax.vmap(sequence, in_axes=(1, 0, 0), out_axes=(1, 0, 0))(jnp.asarray(xs), h0, c0)
    weights = {"weight_ih": cell.weight_ih, "weight_hh": cell.weight_hh, "bias": cell.bias}
    return _result(weights, xs, h0, c0, ys, h, c)


def run_haiku(seed=0):
    import haiku as hk
    import jax
    import jax.numpy as jnp

    xs, h0, c0 = _inputs(seed)

    def forward(xs, h0, c0):
        return hk.dynamic_unroll(hk.LSTM(H), xs, hk.LSTMState(h0, c0), time_major=True)

    model = hk.without_apply_rng(hk.transform(forward))
    params = model.init(jax.random.key(seed), jnp.asarray(xs), h0, c0)
    params = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(seed + 1), a.shape), params)
    ys, state = model.apply(params, jnp.asarray(xs), h0, c0)
    return _result({k: dict(v) for k, v in params.items()}, xs, h0, c0, ys, state.hidden, state.cell)


def run_keras(seed=0, **activations):
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    xs, h0, c0 = _inputs(seed)
    keras.utils.set_random_seed(seed)
    layer = keras.layers.LSTM(H, return_sequences=True, return_state=True, **activations)
    ys, h, c = layer(xs.swapaxes(0, 1), initial_state=[h0, c0])
    kernel, recurrent, bias = layer.get_weights()
    bias = bias + np.random.default_rng(seed).normal(size=bias.shape).astype(np.float32) * 0.1
    layer.set_weights([kernel, recurrent, bias])
    ys, h, c = layer(xs.swapaxes(0, 1), initial_state=[h0, c0])
    weights = {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias}
    return _result(weights, xs, h0, c0, np.asarray(ys).swapaxes(0, 1), h, c)


def run_keras_hard_sigmoid(seed=0):
    """Keras's LSTM with the hard-sigmoid gates of many Keras models, and a softsign cell."""
    return run_keras(seed, recurrent_activation="hard_sigmoid", activation="softsign")


RECORDED = {"equinox": run_equinox, "haiku": run_haiku, "keras": run_keras,
            "keras_hard_sigmoid": run_keras_hard_sigmoid}
