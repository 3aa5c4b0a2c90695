"""``impl="cudnn"``: cuDNN's fused LSTM (``jax.experimental.rnn.lstm``) equals the fused path,
values and gradients, and everything it cannot compute is refused with the impl to use.

cuDNN runs on a CUDA GPU only. Without one, the same equalities run with the kernel replaced
by ``jax.experimental.rnn.lstm_ref``, its reference in plain JAX, which takes the same flat
weights: that checks everything :mod:`jaxlstm.cudnn` does around the kernel (the packing of the
weights, the batch-major layout, the backward direction reversed within each length, rows of
length 0, the state in and out). The ``gpu`` cases run cuDNN itself, and skip elsewhere.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_trees_close
from jax.experimental import rnn

import jaxlstm
from jaxlstm import cudnn
from jaxlstm.interop import to_cudnn

ON_GPU = cudnn._has_cudnn()


def reference_kernel(x, h_0, c_0, weights, seq_lengths, *, input_size, hidden_size, num_layers, dropout,
                     bidirectional, precision):
    """``jax.experimental.rnn.lstm``'s signature, computed by its reference ``lstm_ref``."""
    del precision  # lstm_ref multiplies at the default precision, exact in float32 on CPU
    unpacked = rnn.unpack_lstm_weights(weights, input_size, hidden_size, num_layers, bidirectional)
    return rnn.lstm_ref(x, h_0, c_0, *unpacked, seq_lengths, input_size, hidden_size, num_layers, dropout,
                        bidirectional)


@pytest.fixture(params=["lstm_ref", pytest.param("cudnn", marks=pytest.mark.gpu)])
def kernel(request, monkeypatch):
    """The kernel ``impl="cudnn"`` calls: cuDNN itself, or its reference on any backend."""
    if request.param == "cudnn":
        if not ON_GPU:
            pytest.skip("cuDNN needs a CUDA GPU; none here (the lstm_ref cases check the rest)")
    else:
        monkeypatch.setattr(cudnn, "_kernel", reference_kernel)
        monkeypatch.setattr(cudnn, "_has_cudnn", lambda: True)
    return request.param


def case(num_layers, bidirectional, batch=(5,), T=6, I=3, H=4, seed=0, learn_initial_state=False):
    params = jaxlstm.init(jax.random.key(seed), I, H, num_layers=num_layers, bidirectional=bidirectional,
                          learn_initial_state=learn_initial_state)
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.normal(size=(T, *batch, I)), jnp.float32)
    lengths = jnp.asarray(rng.integers(0, T + 1, size=batch), jnp.int32)
    if lengths.size >= 2:
        lengths = lengths.reshape(-1).at[:2].set(jnp.array([0, T])).reshape(batch)  # the two ends
    directions = 2 if bidirectional else 1
    state = tuple(jnp.asarray(rng.normal(size=(num_layers * directions, *batch, H)), jnp.float32)
                  for _ in range(2))
    return params, xs, lengths, jaxlstm.LSTMState(*state)


def outputs_and_grads(impl, params, xs, state, **options):
    """``lstm``'s outputs and final state, and the gradients of a loss of all of them."""
    def loss(params, xs, state):
        ys, (h, c) = outputs = jaxlstm.lstm(params, xs, state, impl=impl, precision="highest", **options)
        weights = jnp.arange(ys.size, dtype=ys.dtype).reshape(ys.shape) / ys.size  # every output counts
        return jnp.sum(ys * weights) + jnp.sum(jnp.sin(h)) + jnp.sum(c * c), outputs

    return jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True))(params, xs, state)


STACKS = [(1, False, (5,), False), (1, False, (5,), True), (2, True, (5,), True), (1, True, (2, 3), True)]


@pytest.mark.parametrize("num_layers, bidirectional, batch, with_lengths", STACKS,
                         ids=["1 layer", "lengths", "2 layers bidirectional", "bidirectional batch (2, 3)"])
def test_values_and_gradients_equal_the_fused_path(kernel, num_layers, bidirectional, batch, with_lengths):
    """Lengths include 0 and T; the initial state is random, so a length-0 row must return it."""
    params, xs, lengths, state = case(num_layers, bidirectional, batch)
    options = dict(seq_lengths=lengths if with_lengths else None)
    assert_trees_close(outputs_and_grads("cudnn", params, xs, state, **options),
                       outputs_and_grads("fused", params, xs, state, **options), "accumulated")


@pytest.mark.parametrize("options", [dict(reverse=True), dict(dropout=0.5, key=jax.random.key(1)), dict()],
                         ids=["reverse", "dropout between layers", "learned initial state"])
def test_the_options_it_supports_equal_the_fused_path(kernel, options):
    params, xs, lengths, _ = case(1 if "reverse" in options else 2, False, learn_initial_state=not options)
    grads = [outputs_and_grads(impl, params, xs, None, seq_lengths=lengths, **options) for impl in ("cudnn", "fused")]
    assert_trees_close(*grads, "accumulated")


def test_empty_batch_and_no_steps_return_the_initial_state(kernel):
    for batch, T in (((0,), 4), ((3,), 0)):
        params, xs, _, state = case(1, True, batch=batch, T=T)
        assert_trees_close(jaxlstm.lstm(params, xs, state, impl="cudnn"), jaxlstm.lstm(params, xs, state, impl="fused"))


def test_the_packed_weights_are_the_interop_layout():
    params = jaxlstm.init(jax.random.key(0), 3, 4)
    np.testing.assert_array_equal(cudnn.pack(params.layers[0][0]), to_cudnn(params))


REFUSALS = [
    (dict(variant="peephole"), {}, "standard LSTM cell only"),
    (dict(dtype=jnp.bfloat16), {}, "float32 only"),
    ({}, dict(matmul_dtype=jnp.bfloat16), "float32 operands only"),
    ({}, dict(precision="default"), "precision None or 'high'"),
    ({}, dict(resets=jnp.zeros((6, 5), bool)), "resets"),
    ({}, dict(zoneout=0.1, deterministic=True), "no recurrent dropout or zoneout"),
    ({}, dict(recurrent_dropout=0.1, key=jax.random.key(0)), "no recurrent dropout or zoneout"),
    ({}, dict(remat="step"), "remat='step'"),
    ({}, dict(unroll=2), "unroll=2"),
    ({}, dict(unroll=True), "unroll=True"),
]


@pytest.mark.parametrize("init_options, options, message", REFUSALS, ids=[m for _, _, m in REFUSALS])
def test_what_cudnn_cannot_compute_is_refused_with_the_impl_to_use(monkeypatch, init_options, options, message):
    monkeypatch.setattr(cudnn, "_has_cudnn", lambda: True)
    params = jaxlstm.init(jax.random.key(0), 3, 4, **init_options)
    xs = jnp.ones((6, 5, 3), params.layers[0][0].V.dtype)
    with pytest.raises(ValueError, match=rf"impl='cudnn' .*{message}.*Hint: impl='fused'"):
        jaxlstm.lstm(params, xs, impl="cudnn", **options)


@pytest.mark.skipif(ON_GPU, reason="this machine has cuDNN")
def test_without_a_gpu_it_is_refused():
    with pytest.raises(ValueError, match=r"impl='cudnn' needs a CUDA GPU with cuDNN; the default backend is cpu"):
        jaxlstm.lstm(jaxlstm.init(jax.random.key(0), 3, 4), jnp.ones((6, 5, 3)), impl="cudnn")


def test_symbolic_shapes_are_refused(monkeypatch):
    monkeypatch.setattr(cudnn, "_has_cudnn", lambda: True)
    params = jaxlstm.init(jax.random.key(0), 3, 4)
    xs = jax.ShapeDtypeStruct((*jax.export.symbolic_shape("t, b"), 3), jnp.float32)
    with pytest.raises(ValueError, match=r"impl='cudnn' needs static shapes"):
        jax.export.export(jax.jit(lambda p, xs: jaxlstm.lstm(p, xs, impl="cudnn")))(params, xs)


@pytest.mark.gpu
@pytest.mark.skipif(not ON_GPU, reason="cuDNN needs a CUDA GPU; none here")
def test_on_gpu_auto_keeps_the_fused_scan_and_cudnn_exports_at_static_shapes():
    params, xs, lengths, state = case(2, True)
    f = jax.jit(lambda p, xs, n: jaxlstm.lstm(p, xs, seq_lengths=n, impl="cudnn"))
    with pytest.raises(ValueError, match="custom calls whose targets have no compatibility guarantees"):
        jax.export.export(f)(params, xs, lengths)
    exported = jax.export.export(f, disabled_checks=cudnn.EXPORT_CHECKS)(params, xs, lengths)
    exported = jax.export.deserialize(exported.serialize())
    assert_trees_close(exported.call(params, xs, lengths), f(params, xs, lengths))
    assert jaxlstm.kernel.auto_impl(xs.shape, params.layers[0][0], 4, jax.default_backend()) == "fused"
