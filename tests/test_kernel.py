"""Every implementation and remat scheme equals the plain scan of ``lstm_step``: values and grads."""

import functools
import itertools

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, assert_trees_close

import jaxlstm
from jaxlstm import kernel
from jaxlstm.cell import Matmul

H, I = 5, 3


@functools.cache
def value_and_grads(impl, remat, reverse, T, batch, lengths, unroll=1, seed=0):
    """The loss, outputs and gradients of one path (cached: each reference serves every path)."""
    cell = jaxlstm.init_cell(jax.random.key(seed), I, H)
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.normal(size=(T, *batch, I)), jnp.float32)
    state = jaxlstm.LSTMState(*(jnp.asarray(rng.normal(size=(*batch, H)), jnp.float32) for _ in range(2)))
    weights = [jnp.asarray(rng.normal(size=shape), jnp.float32) for shape in [(T, *batch, H), batch + (H,), batch + (H,)]]
    mask = None
    if lengths is not None:
        mask = jnp.arange(T).reshape((T,) + (1,) * len(batch)) < jnp.asarray(lengths)[None]

    def loss(cell, xs, state):
        ys, (h, c) = kernel.run(cell, xs, state, mask, reverse=reverse, unroll=unroll, remat=remat, impl=impl)
        terms = (ys * weights[0], h * weights[1], jnp.sin(c) * weights[2])
        return sum(jnp.sum(t) for t in terms), ((ys, h, c), sum(jnp.sum(jnp.abs(t)) for t in terms))

    (value, (outputs, scale)), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True))(cell, xs, state)
    return jax.tree.leaves((value, outputs, grads)), float(scale)


def assert_paths_equal(got, expected):
    """The outputs (leaves 1 to 3) to reordering; the loss (leaf 0, a sum over every output, far
    smaller than its terms: at their scale) and the gradients to accumulation."""
    (got, _), (expected, scale) = got, expected
    assert_trees_close(got[1:4], expected[1:4], "reordered")
    assert_close(got[0], expected[0], "accumulated", scale=scale, err_msg="the loss")
    assert_trees_close(got[4:], expected[4:], "accumulated")


IMPLS = [pair for pair in itertools.product(["reference", "fused", "hoisted"], ["none", "step", "sqrt"])
         if pair != ("reference", "none")]  # every other path, against the plain scan
SHAPES = [  # T, batch, lengths
    (7, (4,), None),
    (10, (4,), (10, 3, 0, 7)),
    (1, (2,), None),
    (5, (), None),
    (6, (2, 3), ((6, 1, 0), (2, 6, 5))),
    (0, (3,), None),
]


# Every path on the shapes with lengths; on the others, each impl and a remat scheme once.
CASES = [(impl, remat, shape) for shape in SHAPES for impl, remat in IMPLS
         if shape[2] is not None or (impl, remat) in {("fused", "step"), ("hoisted", "sqrt")}]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(("impl", "remat", "shape"), CASES)
def test_equals_reference(impl, remat, shape, reverse):
    T, batch, lengths = shape
    expected = value_and_grads("reference", "none", reverse, T, batch, lengths)
    assert_paths_equal(value_and_grads(impl, remat, reverse, T, batch, lengths), expected)


@pytest.mark.parametrize("impl", ["fused", "hoisted"])
def test_unroll_equals_reference(impl):
    expected = value_and_grads("reference", "none", False, 9, (3,), (9, 4, 1))
    for unroll in (2, 4, True):
        assert_paths_equal(value_and_grads(impl, "none", False, 9, (3,), (9, 4, 1), unroll=unroll), expected)


def test_chunk_size_is_about_sqrt_T():
    assert [kernel._chunk_size(T) for T in (1, 2, 4, 5, 100, 101, 1000)] == [1, 2, 2, 3, 10, 11, 32]


@pytest.mark.parametrize(("impl", "remat"), [("fused", "none"), ("hoisted", "none"), ("fused", "sqrt"), ("hoisted", "step")])
def test_bfloat16_matmuls_equal_the_reference_with_the_same_policy(impl, remat):
    """Every path casts its matmul operands to bfloat16, forward and backward, and keeps float32
    state, outputs and gradients: equal to the reference with the same policy up to float32
    summation order, and near the float32 answer to bfloat16 precision."""
    expected = value_and_grads_policy("reference", "none", jnp.bfloat16)
    got = value_and_grads_policy(impl, remat, jnp.bfloat16)
    exact = value_and_grads_policy("reference", "none", None)
    for a, b, c in zip(got, expected, exact):
        assert a.dtype == jnp.float32
        assert_close(a, b, "accumulated")  # a float32 rounding apart can round to bfloat16 apart
        assert_close(a, c, "reference", dtype=jnp.bfloat16)
    assert any(not np.allclose(a, c, rtol=1e-6, atol=1e-7) for a, c in zip(got, exact))  # bf16 did act


def value_and_grads_policy(impl, remat, matmul_dtype, T=8, batch=(4,)):
    cell = jaxlstm.init_cell(jax.random.key(11), I, H)
    rng = np.random.default_rng(11)
    xs = jnp.asarray(rng.normal(size=(T, *batch, I)), jnp.float32)
    state = jaxlstm.LSTMState(*(jnp.asarray(rng.normal(size=(*batch, H)), jnp.float32) for _ in range(2)))

    def loss(cell, xs):
        ys, (h, c) = kernel.run(cell, xs, state, None, reverse=False, unroll=1, remat=remat, impl=impl,
                                how=Matmul(matmul_dtype))
        return jnp.sum(jnp.sin(ys)) + jnp.sum(h * c), ys

    (value, ys), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(cell, xs)
    return jax.tree.leaves((value, ys, grads))


def dot_dtypes(jaxpr, found):
    """The operand dtypes of every ``dot_general`` in ``jaxpr`` and the jaxprs inside it."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            found.append(tuple(str(v.aval.dtype) for v in eqn.invars))
        for inner in jax.extend.core.jaxprs_in_params(eqn.params):
            dot_dtypes(inner, found)
    return found


@pytest.mark.parametrize("variant", ["vanilla", "peephole", "FGR", "LSTMP"])
def test_bfloat16_policy_leaves_no_matmul_of_mixed_dtypes(variant):
    """Read the jaxpr of the gradient: every matmul of every path and remat, forward and
    backward, multiplies bfloat16 by bfloat16 (the state and the products stay float32)."""
    variant = jaxlstm.Variant(proj_size=2) if variant == "LSTMP" else variant
    params = jaxlstm.init(jax.random.key(0), I, H, variant=variant)
    xs = jnp.ones((4, 2, I))
    for impl, remat in itertools.product(["reference", "fused", "hoisted"], [False, "step", "sqrt"]):
        loss = lambda p, xs: jnp.sum(jaxlstm.lstm(p, xs, impl=impl, remat=remat, matmul_dtype=jnp.bfloat16)[0])
        jaxpr = jax.make_jaxpr(jax.grad(loss, argnums=(0, 1)))(params, xs).jaxpr
        found = dot_dtypes(jaxpr, [])
        assert len(found) >= 3  # the forward matmul, and the input and weight gradients
        assert set(found) == {("bfloat16", "bfloat16")}, (impl, remat, found)
    cell = params.layers[0][0]
    step_loss = lambda cell, h, c, x: jnp.sum(jaxlstm.lstm_step(cell, (h, c), x, matmul_dtype=jnp.bfloat16)[1])
    state = jaxlstm.lstm(params, xs)[1]
    jaxpr = jax.make_jaxpr(jax.grad(step_loss, argnums=(0, 1, 2, 3)))(cell, state.h[0], state.c[0], xs[0]).jaxpr
    assert set(dot_dtypes(jaxpr, [])) == {("bfloat16", "bfloat16")}


def casts_in_loops(jaxpr, found, in_loop=False):
    """The shapes of every cast to bfloat16 inside a ``scan`` body of ``jaxpr``, nested ones too."""
    for eqn in jaxpr.eqns:
        if in_loop and eqn.primitive.name == "convert_element_type" and eqn.params["new_dtype"] == jnp.bfloat16:
            found.append(eqn.invars[0].aval.shape)
        for inner in jax.extend.core.jaxprs_in_params(eqn.params):
            casts_in_loops(inner, found, in_loop or eqn.primitive.name == "scan")
    return found


@pytest.mark.parametrize("impl, remat", [("fused", False), ("hoisted", False), ("fused", "step"), ("hoisted", "sqrt")])
def test_bfloat16_weights_are_cast_once_not_at_every_step(impl, remat):
    """A weight cast inside the time loop is read in float32 at every step (on a GPU the cast
    fuses into the matmul): the fast paths' loops multiply by weights cast before them, forward
    and backward; only the state and the gradients flowing back in time are cast per step."""
    params = jaxlstm.init(jax.random.key(0), I, H)
    loss = lambda p, xs: jnp.sum(jaxlstm.lstm(p, xs, impl=impl, remat=remat, matmul_dtype=jnp.bfloat16)[0])
    jaxpr = jax.make_jaxpr(jax.grad(loss))(params, jnp.ones((4, 2, I))).jaxpr
    weights = {(H + I, 4 * H), (H, 4 * H), (4 * H, H)}
    found = casts_in_loops(jaxpr, [])
    assert found and not weights & set(found), found  # per-step casts remain: (2, H + I), (2, 4H), ...


@pytest.mark.parametrize("impl", ["reference", "fused", "hoisted"])
@pytest.mark.parametrize("matmul_dtype", [None, jnp.bfloat16])
def test_precision_reaches_every_matmul_forward_and_backward(impl, matmul_dtype):
    cell = jaxlstm.init_cell(jax.random.key(0), I, H, variant=jaxlstm.Variant(proj_size=2))
    xs = jnp.ones((3, 2, I))
    loss = lambda cell, xs: jnp.sum(jaxlstm.lstm(cell, xs, impl=impl, matmul_dtype=matmul_dtype, precision="highest")[0])
    jaxpr = str(jax.make_jaxpr(jax.grad(loss, argnums=(0, 1)))(cell, xs))
    assert jaxpr.count("dot_general") >= 6  # the step's and the projection's, both ways
    assert jaxpr.count("dot_general") == jaxpr.count("precision=(Precision.HIGHEST, Precision.HIGHEST)")


def test_precision_errors():
    cell = jaxlstm.init_cell(jax.random.key(0), I, H)
    with pytest.raises(ValueError, match=r"precision must be None, a jax.lax.Precision or one of 'default', 'high', "
                                         r"'highest' \(or a pair of them, one per operand\); got 'quick'"):
        jaxlstm.lstm(cell, jnp.ones((3, 2, I)), precision="quick")
    with pytest.raises(ValueError, match=r"precision must be None"):
        jaxlstm.lstm_step(cell, jaxlstm.LSTMState(jnp.zeros(H), jnp.zeros(H)), jnp.ones(I), precision=3)
