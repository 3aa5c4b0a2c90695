"""Write ``tests/fixtures/tf1_lstm.npz``: TensorFlow's own TF1 ``LSTMCell`` forward passes.

Run from the repository root with TensorFlow and tf_keras installed (in a venv of its own, e.g.
``pip install tensorflow-cpu tf_keras numpy``): ``python tools/make_tf1_fixture.py``.

The committed fixture was made with TensorFlow 2.21.0 and tf_keras 2.21.0 (numpy 2.4.6). Since
TF 2.16 ``tf.compat.v1.nn.rnn_cell.LSTMCell`` is only available with Keras 2 (``tf_keras``,
selected by ``TF_USE_LEGACY_KERAS=1``, which ``main`` sets); under Keras 3 the attribute raises
``AttributeError: `LSTMCell` is not available with Keras 3``. The class is still the TF1 cell
(``tf_keras.src.layers.rnn.legacy_cells.LSTMCell``, same variables and equations).

For each case in ``CASES`` the cell builds its own seeded random weights (TF's initializer; the
bias, which TF initialises to zeros, is overwritten with TF random values so that its layout is
tested too) and is called step by step in eager mode on a seeded sequence from a non-zero state.
Keys are ``CASE/w|NAME`` (the variable names without the cell's scope, e.g. ``w|kernel``,
``w|projection/kernel``), ``CASE/xs`` (T, B, I), ``CASE/h0``, ``CASE/c0``, ``CASE/ys`` (T, B, P),
``CASE/h``, ``CASE/c``, and ``CASE/forget_bias``, ``CASE/cell_clip``, ``CASE/proj_clip`` as 0-d
arrays (NaN for None). Float32, numeric arrays only.
"""

import os
import pathlib

import numpy as np

PATH = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tf1_lstm.npz"
T, B, I, H, P = 5, 3, 4, 5, 3

# Keyword arguments of LSTMCell(H, **kwargs) for each case.
CASES = {
    "plain": {},
    "peepholes": {"use_peepholes": True},
    "projection": {"num_proj": P},
    "projection_clip": {"num_proj": P, "proj_clip": 0.3},
    "cell_clip": {"cell_clip": 0.5},
    "forget_bias": {"forget_bias": 0.7},
    "peepholes_cell_clip": {"use_peepholes": True, "cell_clip": 0.5},
    "all": {"use_peepholes": True, "cell_clip": 0.5, "num_proj": P, "proj_clip": 0.3,
            "forget_bias": 0.7},
}


def run_case(tf, seed, kwargs):
    tf.random.set_seed(seed)
    cell = tf.compat.v1.nn.rnn_cell.LSTMCell(
        H, initializer=tf.compat.v1.random_uniform_initializer(-1.0, 1.0, seed=seed), **kwargs)
    rng = np.random.default_rng(seed)
    out = kwargs.get("num_proj", H)
    xs = rng.normal(size=(T, B, I)).astype(np.float32)
    h0 = rng.normal(size=(B, out)).astype(np.float32)
    c0 = rng.normal(size=(B, H)).astype(np.float32)
    cell.build((B, I))
    [bias] = [v for v in cell.variables if v.name.endswith("/bias:0")]
    bias.assign(tf.random.uniform(bias.shape, -1.0, 1.0, seed=seed))
    state = tf.compat.v1.nn.rnn_cell.LSTMStateTuple(tf.constant(c0), tf.constant(h0))
    ys = []
    for x in xs:
        y, state = cell(tf.constant(x), state)
        ys.append(y.numpy())
    c, h = state
    arrays = {f"w|{v.name.split(':')[0].split('/', 1)[1]}": v.numpy() for v in cell.variables}
    arrays |= {"xs": xs, "h0": h0, "c0": c0, "ys": np.stack(ys), "h": h.numpy(), "c": c.numpy()}
    for key, default in (("forget_bias", 1.0), ("cell_clip", None), ("proj_clip", None)):
        value = kwargs.get(key, default)
        arrays[key] = np.array(np.nan if value is None else value, np.float32)
    return arrays


def main():
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tf.compat.v1.nn.rnn_cell needs Keras 2 (tf_keras)
    import tensorflow as tf

    arrays = {}
    for seed, (name, kwargs) in enumerate(CASES.items()):
        for key, value in run_case(tf, seed, kwargs).items():
            assert value.dtype == np.float32, (name, key, value.dtype)
            arrays[f"{name}/{key}"] = value
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {len(arrays)} arrays for {len(CASES)} cases to {PATH} with TensorFlow {tf.__version__}")


if __name__ == "__main__":
    main()
