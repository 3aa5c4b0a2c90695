"""Leaving Python with ``jax.export``: ``lstm`` and the Flax wrappers export with symbolic batch
and time under every ``impl``; the exported function, serialized and read back, equals the
direct call at other sizes (the params and the state, jaxlstm's own pytree types, travel
through serialization); lowering for CPU, CUDA and TPU succeeds on this CPU-only machine."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_trees_close
from jax import export

import jaxlstm
from jaxlstm.options import IMPLS as ALL_IMPLS

# cuDNN sizes its workspace, and the Pallas kernels their grid, from static shapes:
# tests/test_cudnn.py and tests/test_pallas.py test that symbolic shapes are refused.
IMPLS = tuple(impl for impl in ALL_IMPLS if impl not in ("cudnn", "pallas"))

# (T, B) of the calls after export: other sizes than any traced, T = 1 and B = 1 (symbolic
# dimensions are at least 1).
SIZES = [(7, 5), (1, 2), (4, 1)]


def inputs(T, B, I, seed=0):
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.normal(size=(T, B, I)), jnp.float32)
    lengths = jnp.asarray(rng.integers(0, T + 1, size=B), jnp.int32)
    resets = jnp.asarray(rng.random((T, B)) < 0.2)
    return xs, lengths, resets


def assert_same(got, want):
    assert_trees_close(got, want, "reordered")


@pytest.mark.parametrize("impl", IMPLS)
def test_lstm_exports_serializes_and_equals_the_direct_call(impl):
    params = jaxlstm.init(jax.random.key(0), 3, 4, num_layers=2, bidirectional=True, variant="peephole")
    f = jax.jit(lambda p, xs, n, r: jaxlstm.lstm(p, xs, seq_lengths=n, resets=r, impl=impl, remat="step"))
    t, b = export.symbolic_shape("t, b")
    shapes = (jax.ShapeDtypeStruct((t, b, 3), jnp.float32), jax.ShapeDtypeStruct((b,), jnp.int32),
              jax.ShapeDtypeStruct((t, b), jnp.bool_))
    exported = export.deserialize(export.export(f)(params, *shapes).serialize())
    for T, B in SIZES:
        got = exported.call(params, *inputs(T, B, 3))
        assert isinstance(got[1], jaxlstm.LSTMState)
        assert_same(got, f(params, *inputs(T, B, 3)))


@pytest.mark.parametrize("impl", IMPLS)
def test_lowering_for_cpu_cuda_and_tpu_on_a_cpu_machine(impl):
    """No CPU-only construct: the same export lowers for every platform, forward and gradient."""
    params = jaxlstm.init(jax.random.key(0), 3, 4)
    t, b = export.symbolic_shape("t, b")
    xs = jax.ShapeDtypeStruct((t, b, 3), jnp.float32)
    forward = jax.jit(lambda p, xs: jaxlstm.lstm(p, xs, impl=impl))
    grad = jax.jit(jax.grad(lambda p, xs: jnp.sum(jaxlstm.lstm(p, xs, impl=impl)[0])))
    for f in (forward, grad):
        exported = export.export(f, platforms=("cpu", "cuda", "tpu"))(params, xs)
        assert exported.platforms == ("cpu", "cuda", "tpu") and "stablehlo" in exported.mlir_module()


def test_what_cannot_export_says_why():
    params = jaxlstm.init(jax.random.key(0), 3, 4)
    t, b = export.symbolic_shape("t, b")
    with pytest.raises(ValueError, match=r"remat='sqrt' needs a static number of steps.*symbolic T \(t, .*"
                                         r"Hint: remat='step'"):
        export.export(jax.jit(lambda p, xs: jaxlstm.lstm(p, xs, remat="sqrt")))(
            params, jax.ShapeDtypeStruct((t, b, 3), jnp.float32))
    custom = jaxlstm.init(jax.random.key(0), 3, 4, variant=jaxlstm.Variant(cell_activation=jnp.sin))
    exported = export.export(jax.jit(lambda p, xs: jaxlstm.lstm(p, xs)))(custom, jax.ShapeDtypeStruct((2, b, 3),
                                                                                                          jnp.float32))
    with pytest.raises(TypeError, match=r"a Variant with a custom cell_activation .* cannot be serialized by jax\.export"):
        exported.serialize()


def test_the_flax_stacks_export_with_symbolic_batch_and_time():
    from flax import nnx

    import jaxlstm.flax.linen as jl
    from jaxlstm.flax import LSTM

    t, b = export.symbolic_shape("t, b")
    xs = jax.ShapeDtypeStruct((b, t, 3), jnp.float32)  # batch-major, as the wrappers' default
    graph, state = nnx.split(LSTM(3, 4, num_layers=2, rngs=nnx.Rngs(0)))

    leaves, tree = jax.tree.flatten(state)

    def nnx_call(weights, xs):  # an nnx module's arrays as a list: what serializes
        return nnx.merge(graph, jax.tree.unflatten(tree, weights))(xs)

    nnx_call = jax.jit(nnx_call)
    linen = jl.LSTM(4, num_layers=2)
    variables = linen.init(jax.random.key(0), jnp.ones((2, 5, 3)))
    linen_call = jax.jit(linen.apply)
    for call, weights in ((nnx_call, leaves), (linen_call, variables)):
        exported = export.deserialize(export.export(call)(weights, xs).serialize())
        for T, B in SIZES:
            x = inputs(T, B, 3)[0].swapaxes(0, 1)
            assert_same(exported.call(weights, x), call(weights, x))
