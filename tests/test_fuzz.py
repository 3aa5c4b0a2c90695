"""Property-based tests of the public API: random sizes, batch shapes (empty and scalar ones
included), ``T = 0`` and ``1``, dtypes, variants and options.

Each property says what any call must do: return the right shapes and the values of the
independent float64 NumPy LSTM in ``reference.py``, or raise a ``ValueError``/``TypeError``
that names the argument at fault; never an XLA or other internal error, never a wrong shape.
The sizes are small (``H, I <= 4``, ``T <= 5``, at most two batch axes of at most two) because
every new shape compiles. The ``ci`` profile (``conftest.py``) bounds the examples and makes
them reproducible; ``pytest --hypothesis-profile long tests/test_fuzz.py`` runs many more.
"""

import dataclasses
import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from tolerance import assert_close
from flax import nnx
from hypothesis import assume, given
from hypothesis import strategies as st

import jaxlstm
import jaxlstm.flax
from jaxlstm import interop
from jaxlstm.options import IMPLS as ALL_IMPLS
from jaxlstm.options import REMATS

# cuDNN and the Pallas kernels compute a subset of these cases (cuDNN on a GPU only, Pallas
# interpreted on CPU, slowly): tests/test_cudnn.py and tests/test_pallas.py cover them.
IMPLS = tuple(impl for impl in ALL_IMPLS if impl not in ("cudnn", "pallas"))

sizes = st.integers(1, 4)
steps = st.integers(0, 5)
batch_shapes = st.lists(st.integers(0, 2), max_size=2).map(tuple)
seeds = st.integers(0, 2**16)
# Lengths come in several integer dtypes: each is valid, and must work with and without x64.
length_dtypes = st.sampled_from([np.int32, np.int64, np.uint8, np.int16])
# Activations the float64 reference knows.
activations = st.sampled_from(["sigmoid", "tanh", "hard_sigmoid", "softsign", "elu"])

@st.composite
def variants(draw, max_hidden=4):
    """Any valid :class:`jaxlstm.Variant`: a preset, or a random mix of its options."""
    if draw(st.booleans()):
        return jaxlstm.VARIANTS[draw(st.sampled_from(sorted(jaxlstm.VARIANTS)))]
    options = dict(
        input_gate=draw(st.booleans()), forget_gate=draw(st.booleans()), output_gate=draw(st.booleans()),
        coupled=draw(st.booleans()), input_activation=draw(st.booleans()), output_activation=draw(st.booleans()),
        peepholes=draw(st.booleans()), layer_norm=draw(st.booleans()), gate_recurrence=draw(st.booleans()),
        cell_clip=draw(st.sampled_from([None, 0.5])), proj_size=draw(st.sampled_from([None, 1, 2])),
        gate_activation=draw(activations), cell_activation=draw(activations),
    )
    options["proj_clip"] = draw(st.sampled_from([None, 0.3])) if options["proj_size"] else None
    try:
        return jaxlstm.Variant(**options)
    except ValueError:  # an impossible mix (CIFG without a forget gate, ...): refused, as it must be
        assume(False)


@functools.cache
def stack(input_size, hidden_size, num_layers=1, bidirectional=False, dtype="float64", variant=jaxlstm.Variant()):
    """Params of these sizes (cached: the same sizes recur across examples)."""
    return jaxlstm.init(jax.random.key(input_size * 100 + hidden_size), input_size, hidden_size,
                        num_layers=num_layers, bidirectional=bidirectional, variant=variant, dtype=jnp.dtype(dtype))


def normal(rng, shape, dtype=np.float64):
    return rng.normal(size=shape).astype(dtype)


def flat(a, batch):
    """``(lead, *batch, n)`` to ``(lead, B, n)``: the reference takes one batch axis."""
    return np.asarray(a, np.float64).reshape(a.shape[0], math.prod(batch), a.shape[-1])


def unflat(a, batch):
    return a.reshape(a.shape[0], *batch, a.shape[-1])


def reference_stack(params, xs, state, lengths, reverse=False):
    """The float64 reference's ``(ys, h, c)`` for a vanilla stack and ``(T, *batch, I)`` inputs."""
    batch = xs.shape[1:-1]
    h0, c0 = (None, None) if state is None else (flat(state[0], batch), flat(state[1], batch))
    lengths = None if lengths is None else np.asarray(lengths).reshape(-1)
    ys, h, c = reference.lstm(interop.to_torch(params), flat(xs, batch), h0, c0, lengths, reverse)
    return unflat(ys, batch), unflat(h, batch), unflat(c, batch)


def assert_trees_equal_shape_and_close(a, b, compared=None):
    """Equal structures, shapes and dtypes, and values equal (``compared`` None) or close as
    ``compared`` (tests/tolerance.py)."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert x.shape == y.shape and x.dtype == y.dtype, (x.shape, y.shape, x.dtype, y.dtype)
        if compared is None:
            np.testing.assert_array_equal(x, y)
        else:
            assert_close(x, y, compared)


def loss_and_outputs(run):
    """``(params, xs, state) -> ((loss, outputs), grads)``, jitted: the loss mixes every output
    (``sin`` keeps it from being linear in ``ys``) so every gradient path is exercised."""
    def loss(params, xs, state):
        ys, (h, c) = outputs = run(params, xs, state)
        return jnp.sum(jnp.sin(ys)) + jnp.sum(h * h) + jnp.sum(jnp.cos(c)), outputs

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True))


def random_state(rng, params, batch, dtype=np.float64):
    stacked = params.num_layers * params.num_directions
    return jaxlstm.LSTMState(jnp.asarray(normal(rng, (stacked, *batch, params.output_size), dtype)),
                             jnp.asarray(normal(rng, (stacked, *batch, params.state_size), dtype)))


@given(I=sizes, H=sizes, num_layers=st.integers(1, 2), bidirectional=st.booleans(), batch=batch_shapes, T=steps,
       impl=st.sampled_from(IMPLS), remat=st.sampled_from(REMATS), reverse=st.booleans(), proj=st.booleans(),
       given_state=st.booleans(), lengths=st.booleans(), length_dtype=length_dtypes, seed=seeds)
def test_lstm_equals_the_float64_reference_and_its_gradients_the_reference_impl(
        I, H, num_layers, bidirectional, batch, T, impl, remat, reverse, proj, given_state, lengths, length_dtype,
        seed):
    """``lstm`` on any stack (layers, directions, projection), batch shape, length, ``impl`` and
    ``remat``, with or without a state, ``seq_lengths`` (of any integer dtype) and ``reverse``,
    gives the reference's outputs and final state, and the gradients of ``impl="reference"``
    (``jax.grad`` of a scan of ``lstm_step``) with respect to params, xs and state."""
    reverse = reverse and not bidirectional
    variant = jaxlstm.Variant(proj_size=max(1, H - 1)) if proj else jaxlstm.Variant()
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        params = stack(I, H, num_layers, bidirectional, variant=variant)
        xs = jnp.asarray(normal(rng, (T, *batch, I)))
        state = random_state(rng, params, batch) if given_state else None
        seq_lengths = rng.integers(0, T + 1, batch).astype(length_dtype) if lengths else None

        def run(impl, remat):
            return loss_and_outputs(lambda p, x, s: jaxlstm.lstm(p, x, s, seq_lengths=seq_lengths, reverse=reverse,
                                                                 impl=impl, remat=remat))(params, xs, state)

        (_, (ys, (h, c))), grads = run(impl, remat)
        expected = reference_stack(params, xs, state, seq_lengths, reverse)
        D = params.num_directions
        assert ys.shape == (T, *batch, D * params.output_size) and h.shape == (num_layers * D, *batch, params.output_size)
        for actual, wanted in zip((ys, h, c), expected):
            assert_close(actual, wanted, "reference")
        _, expected_grads = run("reference", False)
        assert_trees_equal_shape_and_close(grads, expected_grads, "accumulated")


def segments(resets, length):
    """The ``[start, end)`` steps of each segment of one row of ``resets`` within its length."""
    starts = [0] + [t for t in range(1, length) if resets[t]]
    return list(zip(starts, starts[1:] + [length])) if length else []


def reference_with_resets(params, xs, state, resets, lengths):
    """What a packed call must give, from each segment run apart through the reference: a
    segment starts from ``state`` only where the row carries it in (forward: no reset at step 0;
    backward: the last segment), else from zeros; the row's final state is that of its last
    segment (forward) and of its first (backward); a row of length 0 keeps ``state``."""
    T, batch = xs.shape[0], xs.shape[1:-1]
    B, D = math.prod(batch), params.num_directions
    xs, resets = flat(xs, batch), np.asarray(resets).reshape(T, B)
    h0 = np.zeros((params.num_layers * D, B, params.output_size)) if state is None else flat(state[0], batch)
    c0 = np.zeros((params.num_layers * D, B, params.state_size)) if state is None else flat(state[1], batch)
    lengths = [T] * B if lengths is None else np.asarray(lengths).reshape(-1)
    sd = interop.to_torch(params)
    ys, h, c = np.zeros((T, B, D * params.output_size)), h0.copy(), c0.copy()
    for b in range(B):
        parts = segments(resets[:, b], int(lengths[b]))
        for k, (start, end) in enumerate(parts):
            carries = [(k == 0 and not resets[0, b]) if index % D == 0 else k == len(parts) - 1
                       for index in range(len(h0))]
            pick = lambda s: np.stack([s[index, b] if carries[index] else np.zeros_like(s[index, b])
                                       for index in range(len(s))])[:, None]
            y, h_seg, c_seg = reference.lstm(sd, xs[start:end, b:b + 1], pick(h0), pick(c0))
            ys[start:end, b] = y[:, 0]
            for index in range(len(h0)):
                if (index % D == 0 and k == len(parts) - 1) or (index % D == 1 and k == 0):
                    h[index, b], c[index, b] = h_seg[index, 0], c_seg[index, 0]
    return unflat(ys, batch), unflat(h, batch), unflat(c, batch)


@given(I=sizes, H=sizes, num_layers=st.integers(1, 2), bidirectional=st.booleans(), batch=batch_shapes, T=steps,
       impl=st.sampled_from(IMPLS), given_state=st.booleans(), lengths=st.booleans(), seed=seeds)
def test_resets_equal_the_segments_run_apart(I, H, num_layers, bidirectional, batch, T, impl, given_state, lengths,
                                             seed):
    """``lstm(..., resets=...)`` with random resets (and lengths) equals each segment run apart
    through the float64 reference, on every ``impl``. (The gradients of packed rows, on every
    ``remat``, are those of the separate rows: tests/test_resets.py; with noise, below.)"""
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        params = stack(I, H, num_layers, bidirectional)
        xs = jnp.asarray(normal(rng, (T, *batch, I)))
        state = random_state(rng, params, batch) if given_state else None
        resets = rng.random((T, *batch)) < 0.3
        seq_lengths = rng.integers(0, T + 1, batch) if lengths else None

        ys, (h, c) = jaxlstm.lstm(params, xs, state, seq_lengths=seq_lengths, resets=resets, impl=impl)
        for actual, wanted in zip((ys, h, c), reference_with_resets(params, xs, state, resets, seq_lengths)):
            assert_close(actual, wanted, "reference")


def variant_reference(cell, xs, h0, c0, lengths=None, reverse=False):
    """``reference.variant_lstm`` for ``(T, *batch, I)`` inputs and ``(*batch, n)`` states."""
    batch = xs.shape[1:-1]
    B = math.prod(batch)
    ys, h, c = reference.variant_lstm(cell, flat(xs, batch), np.reshape(h0, (B, h0.shape[-1])),
                                      np.reshape(c0, (B, c0.shape[-1])),
                                      None if lengths is None else np.reshape(lengths, -1), reverse)
    return unflat(ys, batch), h.reshape(*batch, h.shape[-1]), c.reshape(*batch, c.shape[-1])


@given(I=sizes, H=sizes, variant=variants(), batch=batch_shapes, T=steps, impl=st.sampled_from(IMPLS),
       reverse=st.booleans(), lengths=st.booleans(), seed=seeds)
def test_every_variant_equals_the_float64_reference(I, H, variant, batch, T, impl, reverse, lengths, seed):
    """A one-layer ``lstm`` of any variant (gates removed or coupled, peepholes, layer norm,
    clipping, projection, full gate recurrence, other activations) equals the reference's
    per-step equations of the papers, for every ``impl``, from a random state."""
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        cell = stack(I, H, variant=variant).layers[0][0]
        xs = jnp.asarray(normal(rng, (T, *batch, I)))
        h0, c0 = normal(rng, (*batch, cell.output_size)), normal(rng, (*batch, cell.state_size))
        seq_lengths = rng.integers(0, T + 1, batch) if lengths else None
        ys, (h, c) = jaxlstm.lstm(cell, xs, jaxlstm.LSTMState(jnp.asarray(h0)[None], jnp.asarray(c0)[None]),
                                  seq_lengths=seq_lengths, reverse=reverse, impl=impl)
        expected = variant_reference(cell, xs, h0, c0, seq_lengths, reverse)
        for actual, wanted in zip((ys, h[0], c[0]), expected):
            assert_close(actual, wanted, "reference")


@given(I=sizes, H=sizes, variant=variants(), batch=batch_shapes, seed=seeds)
def test_lstm_step_equals_one_step_of_the_reference(I, H, variant, batch, seed):
    """``lstm_step`` of any variant and batch shape (``()`` and empty ones included) is one step
    of the reference: ``((h', c'), y)`` with ``y == h'``, of the state's shapes."""
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        cell = stack(I, H, variant=variant).layers[0][0]
        x = normal(rng, (*batch, I))
        h0, c0 = normal(rng, (*batch, cell.output_size)), normal(rng, (*batch, cell.state_size))
        (h, c), y = jaxlstm.lstm_step(cell, jaxlstm.LSTMState(jnp.asarray(h0), jnp.asarray(c0)), jnp.asarray(x))
        ys, h_ref, c_ref = variant_reference(cell, x[None], h0, c0)
        assert_close(h, h_ref, "reference")
        assert_close(c, c_ref, "reference")
        np.testing.assert_array_equal(y, h)


@given(I=sizes, H=sizes, num_layers=st.integers(1, 2), bidirectional=st.booleans(), batch=batch_shapes,
       T=st.integers(0, 3), dtype=st.sampled_from(["float32", "bfloat16", "float16"]), impl=st.sampled_from(IMPLS),
       lengths=st.booleans(), seed=seeds)
def test_low_precision_dtypes_keep_their_dtype_and_the_reference_values(I, H, num_layers, bidirectional, batch, T,
                                                                        dtype, impl, lengths, seed):
    """In float32, bfloat16 and float16 (without x64), ``lstm`` and ``lstm_step`` return their
    inputs' dtype and shapes, and the float64 reference's values (of the same weights) within
    that dtype's precision."""
    rng = np.random.default_rng(seed)
    params = stack(I, H, num_layers, bidirectional, dtype=dtype)
    xs = jnp.asarray(normal(rng, (T, *batch, I)), dtype)
    seq_lengths = rng.integers(0, T + 1, batch).astype(np.int32) if lengths else None
    ys, (h, c) = jaxlstm.lstm(params, xs, seq_lengths=seq_lengths, impl=impl)
    assert {ys.dtype, h.dtype, c.dtype} == {jnp.dtype(dtype)}
    wide = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    for actual, wanted in zip((ys, h, c), reference_stack(wide, np.asarray(xs, np.float64), None, seq_lengths)):
        assert_close(actual, wanted, "reference")  # at the precision of its dtype
    cell = params.layers[0][0]
    zeros = jnp.zeros((*batch, H), dtype)
    (h1, c1), y1 = jaxlstm.lstm_step(cell, (zeros, zeros), xs[0] if T else jnp.zeros((*batch, I), dtype))
    assert {h1.dtype, c1.dtype, y1.dtype} == {jnp.dtype(dtype)} and h1.shape == (*batch, H)


@given(I=sizes, H=sizes, bidirectional=st.booleans(), batch=batch_shapes, T=steps, impl=st.sampled_from(IMPLS),
       remat=st.sampled_from(REMATS), dropout=st.sampled_from([0.0, 0.5]), recurrent_dropout=st.sampled_from([0.0, 0.4]),
       zoneout=st.sampled_from([0.0, 0.3, (0.2, 0.6)]), resets=st.booleans(), seed=seeds)
def test_noise_is_the_same_on_every_impl_and_remat(I, H, bidirectional, batch, T, impl, remat, dropout,
                                                   recurrent_dropout, zoneout, resets, seed):
    """With dropout, recurrent dropout and zoneout drawn from one key, every ``impl`` and
    ``remat`` gives the outputs, state and gradients of ``impl="reference"``."""
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        params = stack(I, H, 2, bidirectional)
        xs = jnp.asarray(normal(rng, (T, *batch, I)))
        state = random_state(rng, params, batch)
        noise = dict(dropout=dropout, recurrent_dropout=recurrent_dropout, zoneout=zoneout, key=jax.random.key(seed),
                     resets=rng.random((T, *batch)) < 0.3 if resets else None)

        def run(impl, remat):
            return loss_and_outputs(lambda p, x, s: jaxlstm.lstm(p, x, s, impl=impl, remat=remat, **noise))(
                params, xs, state)

        assert_trees_equal_shape_and_close(run(impl, remat), run("reference", False), "accumulated")


@given(I=sizes, H=sizes, num_layers=st.integers(1, 2), batch=batch_shapes, T=steps, impl=st.sampled_from(IMPLS),
       seed=seeds)
def test_noise_at_its_limits(I, H, num_layers, batch, T, impl, seed):
    """Zoneout of 1 for ``c`` and ``h`` keeps the state: every output of the last layer is its
    initial ``h``, and the final state is the initial one. In evaluation mode
    (``deterministic=True``) dropout and recurrent dropout vanish: the outputs are those of
    the noiseless reference."""
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        params = stack(I, H, num_layers)
        xs = jnp.asarray(normal(rng, (T, *batch, I)))
        state = random_state(rng, params, batch)
        ys, (h, c) = jaxlstm.lstm(params, xs, state, zoneout=1.0, key=jax.random.key(seed), impl=impl)
        np.testing.assert_array_equal(ys, jnp.broadcast_to(state.h[-1], ys.shape))
        np.testing.assert_array_equal(h, state.h)
        np.testing.assert_array_equal(c, state.c)
        evaluation = jaxlstm.lstm(params, xs, state, dropout=0.5 if num_layers > 1 else 0.0, recurrent_dropout=0.5,
                                  deterministic=True, impl=impl)
        for actual, wanted in zip(jax.tree.leaves(evaluation), reference_stack(params, xs, state, None)):
            assert_close(actual, wanted, "reference")


def numpy_cell(rng, I, H, variant=jaxlstm.Variant()):
    """A cell of random numpy weights (the converters take numpy), with the variant's extras."""
    G, P = len(variant.gates), variant.proj_size or H
    peep = {g: normal(rng, H) for g in variant.peephole_gates} or None
    return jaxlstm.CellParams(V=normal(rng, (P + I, G * H)), b=normal(rng, G * H), peepholes=peep,
                              proj=normal(rng, (H, P)) if variant.proj_size else None, variant=variant)


def assert_cells_equal(a, b, exact=True):
    assert jax.tree.structure(a) == jax.tree.structure(b)  # the variant is part of the structure
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert x.shape == y.shape
        if exact:
            np.testing.assert_array_equal(x, y)
        else:
            assert_close(x, y, "reordered")


@given(I=sizes, H=sizes, num_layers=st.integers(1, 2), bidirectional=st.booleans(), proj=st.booleans(), seed=seeds)
def test_stack_converters_round_trip_exactly(I, H, num_layers, bidirectional, proj, seed):
    """``from_torch(to_torch(p))`` and ``from_cudnn(to_cudnn(p), ...)`` give ``p`` back exactly,
    for any stack (with a projection, PyTorch's ``proj_size``; cuDNN refuses it, naming it)."""
    rng = np.random.default_rng(seed)
    variant = jaxlstm.Variant(proj_size=max(1, H - 1)) if proj else jaxlstm.Variant()
    out = variant.proj_size or H
    params = jaxlstm.LSTMParams(tuple(
        tuple(numpy_cell(rng, I if layer == 0 else out * (1 + bidirectional), H, variant)
              for _ in range(1 + bidirectional)) for layer in range(num_layers)))
    assert_trees_equal_shape_and_close(interop.from_torch(interop.to_torch(params)), params)
    if proj:
        with pytest.raises(ValueError, match="proj_size"):
            interop.to_cudnn(params)
    else:
        flat_weights = interop.to_cudnn(params)
        back = interop.from_cudnn(flat_weights, I, H, num_layers=num_layers, bidirectional=bidirectional)
        assert_trees_equal_shape_and_close(back, params)


def from_flax(tree, cell):
    """Flax's cell takes any activations, as ``gate_fn`` and ``activation_fn``."""
    variant = dataclasses.replace(jaxlstm.Variant(), gate_activation=cell.variant.gate_activation,
                                  cell_activation=cell.variant.cell_activation)
    return dataclasses.replace(interop.from_flax(tree), variant=variant)


CELL_CONVERTERS = {
    "flax linen": (lambda c: interop.to_flax(c, "linen"), lambda w, c: from_flax(w, c), "Flax"),
    "flax nnx": (lambda c: interop.to_flax(c, "nnx"), lambda w, c: from_flax(w, c), "Flax"),
    "flax nnx_optimized": (lambda c: interop.to_flax(c, "nnx_optimized"), lambda w, c: from_flax(w, c), "Flax"),
    "keras": (interop.to_keras, lambda w, c: interop.from_keras(w, **interop.keras_activations(c)), "Keras"),
    "equinox": (interop.to_equinox, lambda w, c: interop.from_equinox(w), "Equinox"),
    "haiku": (interop.to_haiku, lambda w, c: interop.from_haiku(w), "Haiku"),
    "tf1": (interop.to_tf1, lambda w, c: interop.from_tf1(w, cell_clip=c.variant.cell_clip,
                                                          proj_clip=c.variant.proj_clip), "TF1"),
}
# What each framework's cell has of jaxlstm's variants, said independently of the converters.
SUPPORTED = {
    "keras": lambda v: v == jaxlstm.Variant(gate_activation=v.gate_activation, cell_activation=v.cell_activation),
    "equinox": lambda v: v == jaxlstm.Variant(),
    "haiku": lambda v: v == jaxlstm.Variant(),
    "tf1": lambda v: v == jaxlstm.Variant(peepholes=v.peepholes, cell_clip=v.cell_clip, proj_size=v.proj_size,
                                          proj_clip=v.proj_clip) and (not v.peepholes or len(v.peephole_gates) == 3),
}
SUPPORTED.update({name: SUPPORTED["keras"] for name in CELL_CONVERTERS if name.startswith("flax")})


@pytest.mark.parametrize("framework", sorted(CELL_CONVERTERS))
@given(I=sizes, H=sizes, variant=variants(), seed=seeds)
def test_cell_converters_round_trip_or_name_what_the_framework_lacks(framework, I, H, variant, seed):
    """Each cell converter gives back the cell (exactly; Haiku and TF1 move a forget-gate shift,
    so within rounding) for every variant its framework has, and refuses every other with a
    ``ValueError`` naming the framework."""
    to, back, name = CELL_CONVERTERS[framework]
    assume(not (variant.layer_norm or variant.gate_recurrence))  # their extras are not drawn here
    cell = numpy_cell(np.random.default_rng(seed), I, H, variant)
    if SUPPORTED[framework](variant):
        assert_cells_equal(back(to(cell), cell), cell, exact=framework not in ("haiku", "tf1"))
    else:
        with pytest.raises(ValueError, match=name):
            to(cell)


def batch_major(a, time_major):
    return a if time_major else jnp.moveaxis(a, 0, -2)


@given(I=sizes, H=sizes, num_layers=st.integers(1, 2), bidirectional=st.booleans(), batch=batch_shapes, T=steps,
       wrapper=st.sampled_from(["nnx", "linen"]), time_major=st.booleans(), lengths=st.booleans(),
       resets=st.booleans(), integer_xs=st.booleans(), seed=seeds)
def test_flax_stack_wrappers_are_the_functional_lstm(I, H, num_layers, bidirectional, batch, T, wrapper, time_major,
                                                      lengths, resets, integer_xs, seed):
    """``jaxlstm.flax.LSTM`` (nnx) and ``jaxlstm.flax.linen.LSTM`` holding some params give what
    ``lstm`` gives with them, in either layout, with lengths and resets, for any batch shape and
    length; integer ``xs`` are promoted to the params' float32, as Flax's cells promote."""
    rng = np.random.default_rng(seed)
    params = stack(I, H, num_layers, bidirectional, dtype="float32")
    xs = rng.integers(-2, 3, (T, *batch, I)).astype(np.int32 if integer_xs else np.float32)
    seq_lengths = rng.integers(0, T + 1, batch).astype(np.int32) if lengths else None
    reset_steps = rng.random((T, *batch)) < 0.3 if resets else None
    expected = jaxlstm.lstm(params, jnp.asarray(xs, jnp.float32), seq_lengths=seq_lengths, resets=reset_steps)
    inputs = batch_major(jnp.asarray(xs), time_major)
    call = dict(seq_lengths=seq_lengths, resets=None if reset_steps is None else batch_major(
        jnp.asarray(reset_steps)[..., None], time_major)[..., 0])
    if wrapper == "nnx":
        ys, state = jaxlstm.flax.LSTM.from_params(params, time_major=time_major)(inputs, **call)
    else:
        module = jaxlstm.flax.linen.LSTM(hidden_size=H, num_layers=num_layers, bidirectional=bidirectional,
                                         time_major=time_major)
        ys, state = module.apply({"params": {"lstm_params": params}}, inputs, **call)
    assert_trees_equal_shape_and_close((ys, state), (batch_major(expected[0], time_major), expected[1]))


@given(I=sizes, H=sizes, batch=batch_shapes, T=st.integers(0, 3), wrapper=st.sampled_from(["nnx", "linen"]),
       seed=seeds)
def test_flax_cells_are_lstm_step_with_flax_carry_order(I, H, batch, T, wrapper, seed):
    """``jaxlstm.flax.LSTMCell`` (nnx) and ``jaxlstm.flax.linen.LSTMCell`` holding a cell compute
    ``lstm_step`` with Flax's ``(c, h)`` carry, one step at any batch shape, and under
    ``nnx.RNN`` / ``nn.RNN`` the outputs and final state of ``lstm`` (batch-major)."""
    rng = np.random.default_rng(seed)
    cell = stack(I, H, dtype="float32").layers[0][0]
    x = jnp.asarray(normal(rng, (*batch, I), np.float32))
    h0, c0 = (jnp.asarray(normal(rng, (*batch, H), np.float32)) for _ in range(2))
    (h_ref, c_ref), _ = jaxlstm.lstm_step(cell, (h0, c0), x)
    if wrapper == "nnx":
        module = jaxlstm.flax.LSTMCell.from_params(cell)
        (c, h), y = module((c0, h0), x)
        rnn = lambda xs: nnx.RNN(module, return_carry=True)(xs)
    else:
        module = jaxlstm.flax.linen.LSTMCell(features=H)
        variables = {"params": {"cell_params": cell}}
        (c, h), y = module.apply(variables, (c0, h0), x)
        rnn = lambda xs: nn.RNN(module, return_carry=True).apply({"params": {"cell": variables["params"]}}, xs)
    assert_trees_equal_shape_and_close((c, h, y), (c_ref, h_ref, h_ref))
    assume(len(batch) >= 1 and T >= 1)  # Flax's RNN scans axis -2 of a batch-major sequence
    xs = jnp.asarray(normal(rng, (*batch, T, I), np.float32))
    (c, h), ys = rnn(xs)
    ys_ref, (h_n, c_n) = jaxlstm.lstm(cell, jnp.moveaxis(xs, -2, 0))
    assert_trees_equal_shape_and_close((ys, h, c), (jnp.moveaxis(ys_ref, 0, -2), h_n[0], c_n[0]), "reordered")


# ----------------------------------------------------------------------------- invalid inputs


def expect_error(call, name):
    """``call()`` raises ValueError or TypeError naming ``name``; anything else fails, shown."""
    try:
        result = call()
    except (ValueError, TypeError) as error:
        assert name in str(error), f"the error does not name {name!r}: {type(error).__name__}: {error}"
    except Exception as error:  # noqa: BLE001 -- every other exception is the failure this test looks for
        pytest.fail(f"expected a ValueError/TypeError naming {name!r}; got {type(error).__name__}: {error}")
    else:
        pytest.fail(f"expected a ValueError/TypeError naming {name!r}; the call returned "
                    f"{jax.tree.map(lambda a: getattr(a, 'shape', a), result)}")


def other(draw, value, low=1, high=5):
    """An integer in ``[low, high]`` other than ``value``."""
    return draw(st.integers(low, high).filter(lambda v: v != value))


def wrong_dtype(params):
    return jax.tree.map(lambda a: a.astype(jnp.bfloat16), params)


def narrower_first_cell(params):
    """``params`` with one column fewer in the first cell's ``V``."""
    first = params.layers[0][0]
    return jaxlstm.LSTMParams(((dataclasses.replace(first, V=first.V[:, :-1]), *params.layers[0][1:]),
                               *params.layers[1:]))


def out_of_range(draw, call):
    """Lengths of which one lies outside ``[0, T]`` (a batch without sequences has none)."""
    assume(math.prod(call.batch) > 0)
    lengths = np.full(call.batch, call.T, np.int32)
    lengths.reshape(-1)[draw(st.integers(0, lengths.size - 1))] = draw(st.sampled_from([-1, call.T + 1]))
    return lengths


# Each corruption: (draw, call) -> (changed keyword arguments of lstm, the name the error must
# hold). ``call`` holds the valid arguments and their sizes.
LSTM_CORRUPTIONS = {
    "xs feature size": lambda draw, c: (dict(xs=np.ones((c.T, *c.batch, other(draw, c.I)), np.float32)), "xs"),
    "xs without time axis": lambda draw, c: (dict(xs=np.ones(draw(st.sampled_from([(), (c.I,)])), np.float32)), "xs"),
    "integer xs": lambda draw, c: (dict(xs=c.xs.astype(draw(st.sampled_from([np.int32, np.uint8, np.bool_])))), "xs"),
    "xs of another float dtype": lambda draw, c: (dict(xs=jnp.asarray(c.xs, jnp.bfloat16)), "xs"),
    "xs not an array": lambda draw, c: (dict(xs=draw(st.sampled_from([None, "xs", {"a": 1}]))), "xs"),
    "state not a pair": lambda draw, c: (dict(state=draw(st.sampled_from([c.state.h, (c.state.h,), [c.state.h, c.state.c]]))), "state"),
    "state without layer axis": lambda draw, c: (dict(state=(c.state.h[0], c.state.c[0])), "state.h"),
    "state.h of another size": lambda draw, c: (dict(state=(np.zeros((*c.state.h.shape[:-1], other(draw, c.H)), np.float32), c.state.c)), "state.h"),
    "state.c of another batch": lambda draw, c: (dict(state=(c.state.h, np.zeros((c.state.c.shape[0], other(draw, c.batch[0] if c.batch else 1, 0, 3), c.H), np.float32))), "state.c"),
    "state of another dtype": lambda draw, c: (dict(state=(c.state.h, c.state.c.astype(draw(st.sampled_from([np.int32, jnp.bfloat16]))))), "state.c"),
    "state parts not arrays": lambda draw, c: (dict(state=(None, c.state.c)), "state.h"),
    "seq_lengths of floats": lambda draw, c: (dict(seq_lengths=np.zeros(c.batch, draw(st.sampled_from([np.float32, np.bool_])))), "seq_lengths"),
    "seq_lengths of another shape": lambda draw, c: (dict(seq_lengths=np.zeros((*c.batch, 2), np.int32)), "seq_lengths"),
    "seq_lengths out of range": lambda draw, c: (dict(seq_lengths=out_of_range(draw, c)), "seq_lengths"),
    "resets not bool": lambda draw, c: (dict(resets=np.zeros((c.T, *c.batch), draw(st.sampled_from([np.int32, np.float32])))), "resets"),
    "resets of another shape": lambda draw, c: (dict(resets=np.zeros(draw(st.sampled_from([c.batch, (c.T + 1, *c.batch), (c.T, *c.batch, 1)])), bool)), "resets"),
    "params not params": lambda draw, c: (dict(params=draw(st.sampled_from([None, {"V": 1}, [c.params]]))), "params"),
    "params of another dtype": lambda draw, c: (dict(params=wrong_dtype(c.params)), "params"),
    "integer params": lambda draw, c: (dict(params=jax.tree.map(lambda a: a.astype(jnp.int32), c.params)), "params"),
    "params with a V of another shape": lambda draw, c: (dict(params=narrower_first_cell(c.params)), "params.layers[0][0].V"),
    "params with a list V": lambda draw, c: (dict(params=dataclasses.replace(c.params.layers[0][0], V=np.asarray(c.params.layers[0][0].V).tolist())), "params"),
    "impl unknown": lambda draw, c: (dict(impl=draw(st.sampled_from(["cuda", None, 1]))), "impl"),
    "remat unknown": lambda draw, c: (dict(remat=draw(st.sampled_from(["chunks", None, 2]))), "remat"),
    "unroll not positive": lambda draw, c: (dict(unroll=draw(st.sampled_from([0, -1, 1.5, "2"]))), "unroll"),
    "reverse not a bool": lambda draw, c: (dict(reverse=draw(st.sampled_from(["yes", jnp.array(True), 1]))), "reverse"),
    "dropout out of range": lambda draw, c: (dict(dropout=draw(st.sampled_from([-0.1, 1.0, float("nan"), "0.1", True])), key=jax.random.key(0)), "dropout"),
    "recurrent_dropout out of range": lambda draw, c: (dict(recurrent_dropout=draw(st.sampled_from([-0.1, 1.0, float("nan"), "0.1", True])), key=jax.random.key(0)), "recurrent_dropout"),
    "zoneout out of range": lambda draw, c: (dict(zoneout=draw(st.sampled_from([-0.1, 1.5, float("nan"), (0.1,), [0.1, 0.1], "0.1", True])), key=jax.random.key(0)), "zoneout"),
    "noise without key": lambda draw, c: (dict(zoneout=0.1), "key"),
    "noise with a bad key": lambda draw, c: (dict(recurrent_dropout=0.1, key=draw(st.sampled_from([0, "key", jax.random.split(jax.random.key(0))]))), "key"),
    "deterministic not a bool": lambda draw, c: (dict(zoneout=0.1, deterministic=draw(st.sampled_from([jnp.array(True), "yes", None]))), "deterministic"),
    "matmul_dtype not floating": lambda draw, c: (dict(matmul_dtype=draw(st.sampled_from([jnp.int8, "foo", 3]))), "matmul_dtype"),
    "precision unknown": lambda draw, c: (dict(precision=draw(st.sampled_from(["fast", 3, ("high",)]))), "precision"),
}


@dataclasses.dataclass
class Call:
    """A valid call of ``lstm``: its sizes and arguments (numpy, which ``lstm`` takes)."""

    I: int
    H: int
    T: int
    batch: tuple
    params: jaxlstm.LSTMParams
    xs: np.ndarray
    state: jaxlstm.LSTMState


@st.composite
def valid_calls(draw):
    I, H, T, batch = draw(sizes), draw(sizes), draw(st.integers(1, 4)), draw(batch_shapes)
    params = stack(I, H, draw(st.integers(1, 2)), draw(st.booleans()), dtype="float32")
    stacked = params.num_layers * params.num_directions
    state = jaxlstm.LSTMState(np.zeros((stacked, *batch, H), np.float32), np.zeros((stacked, *batch, H), np.float32))
    return Call(I, H, T, batch, params, np.ones((T, *batch, I), np.float32), state)


@pytest.mark.parametrize("corruption", sorted(LSTM_CORRUPTIONS))
@given(call=valid_calls(), data=st.data())
def test_lstm_names_the_bad_argument(corruption, call, data):
    """Any one bad argument of an otherwise valid ``lstm`` call raises ValueError or TypeError
    naming it, at trace time (before anything runs)."""
    changes, name = LSTM_CORRUPTIONS[corruption](data.draw, call)
    kwargs = dict(params=call.params, xs=call.xs, state=call.state) | changes
    expect_error(lambda: jaxlstm.lstm(kwargs.pop("params"), kwargs.pop("xs"), kwargs.pop("state"), **kwargs), name)


STEP_CORRUPTIONS = {
    "x feature size": lambda draw, c, cell: (dict(x=np.ones((*c.batch, other(draw, c.I)), np.float32)), "x"),
    "x without feature axis": lambda draw, c, cell: (dict(x=np.float32(1.0)), "x"),
    "integer x": lambda draw, c, cell: (dict(x=np.ones((*c.batch, c.I), np.int32)), "x"),
    "x not an array": lambda draw, c, cell: (dict(x=draw(st.sampled_from([None, "x"]))), "x"),
    "a whole sequence as x": lambda draw, c, cell: (dict(x=np.ones((c.T + 1, *c.batch, c.I), np.float32)), "state.h"),
    "stacked state": lambda draw, c, cell: (dict(state=(c.state.h[:1], c.state.c[:1])), "state.h"),
    "c of another size": lambda draw, c, cell: (dict(state=(c.state.h[0], np.zeros((*c.batch, other(draw, c.H)), np.float32))), "state.c"),
    "state of another dtype": lambda draw, c, cell: (dict(state=(c.state.h[0].astype(jnp.bfloat16), c.state.c[0])), "state.h"),
    "state not a pair": lambda draw, c, cell: (dict(state=c.state.h[0]), "state"),
    "a stack as params": lambda draw, c, cell: (dict(params=c.params), "params"),
    "params with a b of another shape": lambda draw, c, cell: (dict(params=dataclasses.replace(cell, b=cell.b[:-1])), "params.b"),
    "params with V None": lambda draw, c, cell: (dict(params=dataclasses.replace(cell, V=None)), "V"),
    "matmul_dtype not floating": lambda draw, c, cell: (dict(matmul_dtype=np.int16), "matmul_dtype"),
}


@pytest.mark.parametrize("corruption", sorted(STEP_CORRUPTIONS))
@given(call=valid_calls(), data=st.data())
def test_lstm_step_names_the_bad_argument(corruption, call, data):
    """Any one bad argument of an otherwise valid ``lstm_step`` call raises ValueError or
    TypeError naming it."""
    cell = call.params.layers[0][0]
    changes, name = STEP_CORRUPTIONS[corruption](data.draw, call, cell)
    kwargs = dict(params=cell, state=(call.state.h[0], call.state.c[0]), x=call.xs[0]) | changes
    expect_error(lambda: jaxlstm.lstm_step(kwargs.pop("params"), kwargs.pop("state"), kwargs.pop("x"), **kwargs), name)


bad_sizes = st.sampled_from([0, -1, 1.5, "3", True, None])
INIT_CORRUPTIONS = {
    "input_size": lambda draw: (dict(input_size=draw(bad_sizes)), "input_size"),
    "hidden_size": lambda draw: (dict(hidden_size=draw(bad_sizes)), "hidden_size"),
    "num_layers": lambda draw: (dict(num_layers=draw(bad_sizes)), "num_layers"),
    "key": lambda draw: (dict(key=draw(st.sampled_from([0, None, np.zeros(3, np.float32), jax.random.split(jax.random.key(0))]))), "key"),
    "dtype": lambda draw: (dict(dtype=draw(st.sampled_from([jnp.int32, jnp.uint8, bool, "foo", jnp.complex64]))), "dtype"),
    "init": lambda draw: (dict(init=draw(st.sampled_from(["torch", None]))), "init"),
    "variant": lambda draw: (dict(variant=draw(st.sampled_from(["LSTM", None, 3]))), "variant"),
    "forget_bias": lambda draw: (dict(forget_bias=draw(st.sampled_from(["1", None, np.ones(2)]))), "forget_bias"),
    "bidirectional": lambda draw: (dict(bidirectional=draw(st.sampled_from(["yes", None, 2]))), "bidirectional"),
    "learn_initial_state": lambda draw: (dict(learn_initial_state=draw(st.sampled_from(["yes", None, 2]))), "learn_initial_state"),
    "kernel_init": lambda draw: (dict(kernel_init=draw(st.sampled_from(["orthogonal", 1.0]))), "kernel_init"),
}


@pytest.mark.parametrize(("function", "corruption"), [
    (function, corruption) for function in ("init", "init_cell") for corruption in sorted(INIT_CORRUPTIONS)
    if function == "init" or corruption not in ("num_layers", "bidirectional")])
@given(I=sizes, H=sizes, data=st.data())
def test_init_names_the_bad_argument(function, corruption, I, H, data):
    """``init`` and ``init_cell`` with one bad argument raise ValueError or TypeError naming it."""
    changes, name = INIT_CORRUPTIONS[corruption](data.draw)
    kwargs = dict(key=jax.random.key(0), input_size=I, hidden_size=H) | changes
    expect_error(lambda: getattr(jaxlstm, function)(kwargs.pop("key"), kwargs.pop("input_size"),
                                                   kwargs.pop("hidden_size"), **kwargs), name)


FLAX_CORRUPTIONS = {
    "xs feature size": lambda draw, c: (dict(xs=np.ones((*c.batch, c.T, other(draw, c.I)), np.float32)), "xs"),
    "xs without time axis": lambda draw, c: (dict(xs=np.ones((c.I,), np.float32)), "xs"),
    "xs not an array": lambda draw, c: (dict(xs=draw(st.sampled_from([None, "xs"]))), "xs"),
    "time-major seq_lengths": lambda draw, c: (dict(seq_lengths=np.zeros((*c.batch, c.T + 1), np.int32)), "seq_lengths"),
    "resets of another shape": lambda draw, c: (dict(resets=np.zeros((c.T + 1, *c.batch), bool)), "resets"),
    "resets not bool": lambda draw, c: (dict(resets=np.zeros((*c.batch, c.T), np.float32)), "resets"),
    "state not a pair": lambda draw, c: (dict(state=c.state.h), "state"),
    "state of another batch": lambda draw, c: (dict(state=(c.state.h[:, None], c.state.c[:, None])), "state.h"),
}


@pytest.mark.parametrize("wrapper", ["nnx", "linen"])
@pytest.mark.parametrize("corruption", sorted(FLAX_CORRUPTIONS))
@given(call=valid_calls(), data=st.data())
def test_flax_wrappers_name_the_bad_argument(wrapper, corruption, call, data):
    """Both Flax stack wrappers, given one bad argument (batch-major), raise ValueError or
    TypeError naming it, as ``lstm`` does."""
    changes, name = FLAX_CORRUPTIONS[corruption](data.draw, call)
    kwargs = dict(xs=np.moveaxis(call.xs, 0, -2), state=call.state) | changes
    if wrapper == "nnx":
        module = jaxlstm.flax.LSTM.from_params(call.params)
        expect_error(lambda: module(kwargs.pop("xs"), kwargs.pop("state"), **kwargs), name)
    else:
        p = call.params
        module = jaxlstm.flax.linen.LSTM(hidden_size=p.hidden_size, num_layers=p.num_layers,
                                         bidirectional=p.bidirectional)
        expect_error(lambda: module.apply({"params": {"lstm_params": p}}, kwargs.pop("xs"), kwargs.pop("state"),
                                          **kwargs), name)
