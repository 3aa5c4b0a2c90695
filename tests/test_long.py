"""Long sequences: the cell state over 100,000 steps, and ``remat="sqrt"`` on a long one.

Inputs of 100 at every step saturate the input gate and the block input, so each step adds
about ±1 to ``c``. Without a forget gate (the 1997 LSTM), or with one that the inputs saturate
open (``f = 1`` in float32), ``c`` then grows by about one a step: still finite after 100,000
steps, but unbounded. With a forget gate whose activation stays below ``f_max < 1``,
``|c| <= 1 / (1 - f_max)`` at every step; with ``cell_clip``, ``|c| <= cell_clip`` at every step.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close

import jaxlstm
from jaxlstm import kernel

T_LONG = 100_000
B, I, H = 2, 3, 8


def driven(variant, forget_from_x=True):
    """A cell and ``T_LONG`` steps of inputs of 100; with ``forget_from_x=False`` the forget gate
    sees ``h`` only (its input weights zero), so its activation stays below one."""
    cell = jaxlstm.init_cell(jax.random.key(0), I, H, variant=variant)
    if not forget_from_x:
        cell = dataclasses.replace(cell, V=cell.V.at[H:, H : 2 * H].set(0.0))
    return cell, jnp.full((T_LONG, B, I), 100.0)


@jax.jit
def largest_c(cell, xs):
    """``max |c(t)|`` over every step and unit (a scan of ``lstm_step`` that keeps only the
    running maximum), whether every ``c(t)`` was finite, and the final state."""

    def body(carry, x):
        state, top, finite = carry
        state, _ = jaxlstm.lstm_step(cell, state, x)
        c = jnp.abs(state.c)
        return (state, jnp.maximum(top, c.max()), finite & jnp.isfinite(c).all()), None

    start = (cell.initial_state((B,)), jnp.float32(0), jnp.bool_(True))
    (state, top, finite), _ = jax.lax.scan(body, start, xs)
    return top, finite, state


@pytest.mark.parametrize("variant", ["lstm1997", "vanilla"])
def test_without_a_forget_gate_or_with_it_saturated_open_c_grows_by_one_a_step(variant):
    top, finite, _ = largest_c(*driven(variant))
    assert finite and top > 0.9 * T_LONG


def test_the_forget_gate_bounds_c_at_every_step():
    cell, xs = driven("vanilla", forget_from_x=False)
    # |h| <= 1, so the forget gate's pre-activation is at most sum |U_f| + b_f for each unit.
    U_f, b_f = cell.V[:H, H : 2 * H], cell.b[H : 2 * H]
    f_max = float(jax.nn.sigmoid(jnp.abs(U_f).sum(axis=0) + b_f).max())
    top, finite, state = largest_c(cell, xs)
    assert finite and 1.0 < top <= 1.0 / (1.0 - f_max)
    _, (_, c) = jaxlstm.lstm(cell, xs)  # the library's own loop ends in the same state
    assert_close(c[0], state.c, "accumulated")


@pytest.mark.parametrize("forget_gate", [False, True])
def test_cell_clip_bounds_c_at_every_step(forget_gate):
    clip = 3.0
    cell, xs = driven(jaxlstm.Variant(forget_gate=forget_gate, cell_clip=clip))
    top, finite, state = largest_c(cell, xs)
    assert finite and top == clip
    _, (_, c) = jaxlstm.lstm(cell, xs)
    assert_close(c[0], state.c, "accumulated")


def value_and_grads(T, remat):
    """The loss, outputs and gradients of ``lstm`` over ``T`` steps with ``remat``, on a batch
    with variable lengths and resets (so chunks start inside segments and past sequences' ends)."""
    params = jaxlstm.init(jax.random.key(1), I, H)
    rng = np.random.default_rng(1)
    xs = jnp.asarray(rng.normal(size=(T, 3, I)), jnp.float32)
    weights = jnp.asarray(rng.normal(size=(T, 3, H)), jnp.float32)
    lengths = jnp.array([T, T // 2, 1])
    resets = jnp.asarray(rng.random((T, 3)) < 0.01)

    def loss(params, xs):
        ys, (h, c) = jaxlstm.lstm(params, xs, seq_lengths=lengths, resets=resets, remat=remat, impl="fused")
        return jnp.sum(ys * weights) + jnp.sum(h) + jnp.sum(jnp.sin(c)), ys

    (value, ys), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(params, xs)
    return jax.tree.leaves((value, ys, grads))


def test_sqrt_equals_no_remat_over_997_steps():
    """997 is prime: 32 chunks of 32 steps, the last 27 of them padding."""
    assert kernel._chunk_size(997) == 32
    for got, expected in zip(value_and_grads(997, "sqrt"), value_and_grads(997, False)):
        assert_close(got, expected, "accumulated")


def memory(T, remat):
    """What the forward pass of ``lstm`` saves for the backward pass, less the params and
    inputs, and XLA's temporary buffers for the loss and its gradients: in bytes, compiled,
    not run (so exact, not a measurement)."""
    params = jaxlstm.init(jax.random.key(0), I, H)
    xs = jax.ShapeDtypeStruct((T, B, I), jnp.float32)
    f = lambda params, xs: jaxlstm.lstm(params, xs, remat=remat, impl="fused")[0]
    residuals = jax.eval_shape(lambda p, x: jax.vjp(f, p, x)[1], params, xs)
    nbytes = lambda tree: sum(a.size * a.dtype.itemsize for a in jax.tree.leaves(tree))
    loss = lambda params, xs: jnp.sum(f(params, xs))
    compiled = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(params, xs).compile()
    return nbytes(residuals) - nbytes((params, xs)), compiled.memory_analysis().temp_size_in_bytes


def test_sqrt_saves_the_state_of_about_sqrt_T_steps_at_T_10000():
    T, unit = 10_000, B * H * 4  # unit: the bytes of one step's h (or c) for the batch
    saved_none, temp_none = memory(T, False)
    saved_sqrt, temp_sqrt = memory(T, "sqrt")
    assert saved_none >= 6 * T * unit  # h, c and the four gates of every step
    chunks = T // kernel._chunk_size(T)
    assert saved_sqrt == 2 * (chunks + 1) * unit  # h, c at each chunk's start, and the initial ones
    # The outputs and their cotangent (one unit a step each) are the loss's, under any remat.
    assert temp_sqrt < 3 * T * unit < temp_none / 3
