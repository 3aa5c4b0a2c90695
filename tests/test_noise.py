"""Variational recurrent dropout and zoneout: their equations, every path, and their masks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from tolerance import assert_close

import jaxlstm
from jaxlstm import kernel, sequence
from jaxlstm.interop import to_torch

T, B, I, H = 7, 3, 4, 5


def setup(seed=0, dtype=jnp.float64):
    cell = jaxlstm.init_cell(jax.random.key(seed), I, H, dtype=dtype)
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.normal(size=(T, B, I)), dtype)
    h0, c0 = (jnp.asarray(rng.normal(size=(B, H)), dtype) for _ in range(2))
    noise = kernel.Noise(
        recurrent=jnp.asarray((rng.random((B, H)) > 0.3) / 0.7, dtype),
        keep_h=jnp.asarray(rng.random((T, B, H)) < 0.3),
        keep_c=jnp.asarray(rng.random((T, B, H)) < 0.5),
    )
    return cell, xs, h0, c0, noise


def numpy_lstm(cell, xs, h0, c0, lengths, step):
    """A float64 loop per sequence and step: ``step(t, n, h, c, weights)`` gives ``(h, c)``."""
    sd = to_torch(cell)
    weights = [np.asarray(sd[k + "_l0"], np.float64) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    ys = np.zeros((T, B, H))
    h_n, c_n = np.zeros((B, H)), np.zeros((B, H))
    for n in range(B):
        h, c = np.asarray(h0[n]), np.asarray(c0[n])
        for t in range(lengths[n]):
            h, c = step(t, n, h, c, weights, np.asarray(xs[t, n]))
            ys[t, n] = h
        h_n[n], c_n[n] = h, c
    return ys, h_n, c_n


def numpy_noisy_lstm(cell, xs, h0, c0, noise, lengths):
    """The equations: ``h(t-1) * m`` enters the matmul (Gal & Ghahramani); zoned-out units keep
    their previous value (Krueger et al.)."""
    def step(t, n, h, c, weights, x):
        h_new, c_new = reference.step(weights, h * np.asarray(noise.recurrent[n]), c, x)
        return np.where(noise.keep_h[t, n], h, h_new), np.where(noise.keep_c[t, n], c, c_new)

    return numpy_lstm(cell, xs, h0, c0, lengths, step)


def test_equations(x64):
    cell, xs, h0, c0, noise = setup()
    lengths = [7, 3, 0]
    mask = jnp.arange(T)[:, None] < jnp.array(lengths)[None]
    expected = numpy_noisy_lstm(cell, xs, h0, c0, noise, lengths)
    for impl in ("reference", "fused", "hoisted"):
        ys, (h, c) = kernel.run(cell, xs, jaxlstm.LSTMState(h0, c0), mask, reverse=False, unroll=1,
                                remat="none", impl=impl, noise=noise)
        for a, b in zip((ys, h, c), expected):
            assert_close(a, b, "reference", err_msg=impl)


def numpy_expected_zoneout(cell, xs, h0, c0, rates, lengths):
    """Zoneout at evaluation (Krueger et al. 2016): each step mixes the previous state and the
    fresh update by the rates, ``h(t) = z_h h(t-1) + (1 - z_h) h~(t)``, likewise ``c``."""
    z_c, z_h = rates

    def step(t, n, h, c, weights, x):
        h_new, c_new = reference.step(weights, h, c, x)
        return z_h * h + (1 - z_h) * h_new, z_c * c + (1 - z_c) * c_new

    return numpy_lstm(cell, xs, h0, c0, lengths, step)


@pytest.mark.parametrize("impl", ["reference", "fused", "hoisted"])
@pytest.mark.parametrize("remat", [False, "step", "sqrt"])
def test_zoneout_at_evaluation_is_its_expectation(x64, impl, remat):
    cell, xs, h0, c0, _ = setup(4)
    lengths = [7, 3, 0]
    expected = numpy_expected_zoneout(cell, xs, h0, c0, (0.5, 0.05), lengths)
    ys, (h, c) = jaxlstm.lstm(cell, xs, jaxlstm.LSTMState(h0[None], c0[None]), seq_lengths=jnp.array(lengths),
                              zoneout=(0.5, 0.05), deterministic=True, impl=impl, remat=remat)
    for a, b in zip((ys, h[0], c[0]), expected):
        assert_close(a, b, "reference")


@pytest.mark.parametrize("which", ["recurrent", "zoneout", "both", "expectation"])
def test_gradients_of_every_path_equal_the_reference(x64, which):
    cell, xs, h0, c0, noise = setup(1)
    if which == "recurrent":
        noise = kernel.Noise(recurrent=noise.recurrent)
    elif which == "zoneout":
        noise = kernel.Noise(keep_h=noise.keep_h, keep_c=noise.keep_c)
    elif which == "expectation":
        noise = kernel.Noise(rate_h=jnp.full((1, H), 0.3), rate_c=jnp.full((1, H), 0.6))
    mask = jnp.arange(T)[:, None] < jnp.array([7, 2, 5])[None]

    def grads(impl, remat, reverse, cell, xs, h0, c0):
        def f(cell, xs, h0, c0):
            ys, (h, c) = kernel.run(cell, xs, jaxlstm.LSTMState(h0, c0), mask, reverse=reverse, unroll=1,
                                    remat=remat, impl=impl, noise=noise)
            return jnp.sum(jnp.sin(ys)) + jnp.sum(h * c)
        return jax.grad(f, argnums=(0, 1, 2, 3))(cell, xs, h0, c0)

    paths = [("fused", "none"), ("hoisted", "none"), ("fused", "step"), ("hoisted", "sqrt")]
    every = lambda *args: [[grads(impl, remat, reverse, *args) for impl, remat in [("reference", "none"), *paths]]
                           for reverse in (False, True)]
    for expected, *got in jax.jit(every)(cell, xs, h0, c0):  # one compilation for all ten
        for path, answer in zip(paths, got):
            for a, b in zip(jax.tree.leaves(answer), jax.tree.leaves(expected)):
                assert_close(a, b, "accumulated", err_msg=str(path))


def test_variants_take_noise_too(x64):
    cell = jaxlstm.init_cell(jax.random.key(2), I, H, variant="peephole", dtype=jnp.float64)
    _, xs, h0, c0, noise = setup(2)

    def value_and_grads(impl):
        def f(cell):
            ys, _ = kernel.run(cell, xs, jaxlstm.LSTMState(h0, c0), None, reverse=False, unroll=1,
                               remat="none", impl=impl, noise=noise)
            return jnp.sum(jnp.sin(ys))
        return jax.tree.leaves(jax.value_and_grad(f)(cell))

    for a, b in zip(value_and_grads("fused"), value_and_grads("reference")):
        assert_close(a, b, "accumulated")


def test_deterministic_mode_and_the_key():
    params = jaxlstm.init(jax.random.key(0), I, H, num_layers=2, bidirectional=True)
    xs = jax.random.normal(jax.random.key(1), (T, B, I))
    plain, _ = jaxlstm.lstm(params, xs)
    off, _ = jaxlstm.lstm(params, xs, recurrent_dropout=0.0, zoneout=0.0, key=jax.random.key(2))
    np.testing.assert_array_equal(off, plain)
    # evaluation needs no key: dropout and recurrent dropout are off, zoneout is its expectation
    evaluated, _ = jaxlstm.lstm(params, xs, dropout=0.3, recurrent_dropout=0.4, deterministic=True)
    np.testing.assert_array_equal(evaluated, plain)
    expected, _ = jaxlstm.lstm(params, xs, zoneout=0.3, deterministic=True)
    assert not np.allclose(expected, plain)
    with_key, _ = jaxlstm.lstm(params, xs, zoneout=0.3, key=jax.random.key(3), deterministic=True)
    np.testing.assert_array_equal(with_key, expected)
    for options in (dict(recurrent_dropout=0.4), dict(zoneout=0.3), dict(zoneout=(0.5, 0.05))):
        one, _ = jaxlstm.lstm(params, xs, key=jax.random.key(3), **options)
        same, _ = jaxlstm.lstm(params, xs, key=jax.random.key(3), **options)
        other, _ = jaxlstm.lstm(params, xs, key=jax.random.key(4), **options)
        np.testing.assert_array_equal(one, same)
        assert not np.allclose(one, plain) and not np.allclose(one, other)


def test_masks_one_per_sequence_and_rates():
    keys = jax.random.split(jax.random.key(0), 2)
    noise = sequence._noise(keys, 0, 400, (50,), (64, 64, 64), jnp.float32, 0.25, 0.5, 0.05)
    assert noise.recurrent.shape == (50, 64)  # one mask per sequence, no time axis: every step
    assert abs(float((noise.recurrent == 0).mean()) - 0.25) < 0.02
    assert_close(np.unique(noise.recurrent), [0.0, 1 / 0.75], "reference")
    assert noise.keep_c.shape == (400, 50, 64)
    assert abs(float(noise.keep_c.mean()) - 0.5) < 0.01 and abs(float(noise.keep_h.mean()) - 0.05) < 0.01
    other = sequence._noise(keys, 1, 400, (50,), (64, 64, 64), jnp.float32, 0.25, 0.5, 0.05)
    assert not np.array_equal(noise.recurrent, other.recurrent)  # each layer-direction its own


@pytest.mark.parametrize(("options", "match"), [
    (dict(recurrent_dropout=1.0, key=jax.random.key(0)), r"recurrent_dropout must lie in \[0, 1\); got 1\.0"),
    (dict(zoneout=(0.5,), key=jax.random.key(0)), r"zoneout must be a rate in \[0, 1\] or a pair \(z_c, z_h\)"),
    (dict(zoneout=1.5, key=jax.random.key(0)), r"zoneout must be a rate in \[0, 1\]"),
    (dict(recurrent_dropout=0.1), r"recurrent_dropout=0\.1 and zoneout=0\.0 need a PRNG key"),
])
def test_errors(options, match):
    params = jaxlstm.init(jax.random.key(0), I, H)
    with pytest.raises(ValueError, match=match):
        jaxlstm.lstm(params, jnp.ones((T, B, I)), **options)


def test_fgr_gate_activations_are_not_mixed_at_evaluation(x64):
    """At evaluation FGR's carried gate activations are the fresh ones, whatever the rate of c."""
    cell = jaxlstm.init_cell(jax.random.key(3), I, H, variant="FGR", dtype=jnp.float64)
    _, xs, h0, c0, _ = setup(3)
    c0 = jnp.concatenate([c0, jnp.full((B, 3 * H), 0.5)], axis=-1)
    state = jaxlstm.LSTMState(h0[None], c0[None])
    _, (h, c) = jaxlstm.lstm(cell, xs[:1], state, zoneout=(0.9, 0.2), deterministic=True)
    (h_new, c_new), _ = jaxlstm.lstm_step(cell, jaxlstm.LSTMState(h0, c0), xs[0])
    assert_close(c[0, :, H:], c_new[:, H:], "reordered")
    assert_close(c[0, :, :H], 0.9 * c0[:, :H] + 0.1 * c_new[:, :H], "reordered")
    assert_close(h[0], 0.2 * h0 + 0.8 * h_new, "reordered")


def test_fgr_gate_activations_are_never_zoned_out(x64):
    """FGR carries i, f, o (t-1) after c in the state; zoneout keeps units of c, not of those."""
    cell = jaxlstm.init_cell(jax.random.key(3), I, H, variant="FGR", dtype=jnp.float64)
    _, xs, h0, c0, _ = setup(3)
    c0 = jnp.concatenate([c0, jnp.full((B, 3 * H), 0.5)], axis=-1)
    state = jaxlstm.LSTMState(h0[None], c0[None])
    run = lambda impl, cell: jaxlstm.lstm(cell, xs[:1], state, zoneout=(0.9, 0.0), key=jax.random.key(1), impl=impl)
    _, (_, c) = run("fused", cell)
    kept = c[0] == c0
    assert kept[:, :H].mean() > 0.6 and not kept[:, H:].any()
    loss = lambda impl: jax.grad(lambda cell: jnp.sum(jnp.sin(run(impl, cell)[1].c)))(cell)
    for a, b in zip(jax.tree.leaves(loss("fused")), jax.tree.leaves(loss("reference"))):
        assert_close(a, b, "accumulated")
