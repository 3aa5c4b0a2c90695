"""What the nnx and Linen wrappers share: Flax's conventions (computation ``dtype`` with input
promotion, ``gate_fn`` and ``activation_fn``, ``carry_init``), the batch-major layout, the checks
a wrapper adds to those of :func:`jaxlstm.lstm`, and Flax's ``(c, h)`` carry around
:func:`jaxlstm.lstm_step`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax.nnx.nn import dtypes
from jax import Array

import jaxlstm
from jaxlstm._validate import as_array, as_state
from jaxlstm.params import CellParams, LSTMParams, LSTMState
from jaxlstm.variant import Variant, as_variant

PromoteDtype = Callable[..., tuple]


def variant_with(variant: Variant | str, gate_fn: Callable | None, activation_fn: Callable | None) -> Variant:
    """``variant`` with Flax's ``gate_fn`` and ``activation_fn``, where given."""
    variant = as_variant(variant)
    changes = {}
    if gate_fn is not None:
        changes["gate_activation"] = gate_fn
    if activation_fn is not None:
        changes["cell_activation"] = activation_fn
    return dataclasses.replace(variant, **changes) if changes else variant


def promote(arrays: tuple, params, dtype, promote_dtype: PromoteDtype = dtypes.promote_dtype):
    """Flax's input promotion: ``arrays`` (None kept) and ``params`` cast to the computation
    dtype, ``dtype`` or, for None, the one ``promote_dtype`` infers from them all (as Flax's
    ``promote_dtype``: the promoted type, made floating), so int32 inputs run in float32 and
    float32 inputs in a float32 cell whatever their source. ``(arrays, params)`` come back."""
    leaves, tree = jax.tree.flatten(params)
    present = [a for a in arrays if a is not None]
    with jax.numpy_dtype_promotion("standard"):  # an explicit promotion, also under "strict"
        cast = list(promote_dtype((*present, *leaves), dtype=dtype))
    out = [None if a is None else cast.pop(0) for a in arrays]
    return tuple(out), jax.tree.unflatten(tree, cast)


def noisy(dropout: float, recurrent_dropout: float, zoneout: float | tuple[float, float]) -> bool:
    """Whether any training-time noise is on (and a dropout key is needed while training)."""
    rates = zoneout if isinstance(zoneout, tuple) else (zoneout,)
    return bool(dropout or recurrent_dropout or any(rates))


def check_rank(xs: object, time_major: bool) -> Array:
    """``xs`` as an array of at least two axes, the time axis and the features."""
    xs = as_array("xs", xs)
    if xs.ndim < 2:
        layout = "(T, *batch, input_size)" if time_major else "(*batch, T, input_size)"
        raise ValueError(
            f"xs has shape {tuple(xs.shape)}; expected {layout}, a sequence with at least a time "
            "axis and a feature axis. Hint: for one unbatched sequence of T steps pass shape "
            "(T, input_size); for a single step use xs[None]."
        )
    return xs


def run(
    params: LSTMParams,
    xs: object,
    state: tuple[Array, Array] | None,
    seq_lengths: Array | None,
    *,
    resets: Array | None = None,
    time_major: bool,
    deterministic: bool,
    key: Array | None,
    dropout: float,
    recurrent_dropout: float,
    zoneout: float | tuple[float, float],
    dtype=None,
    **options,
) -> tuple[Array, LSTMState]:
    """:func:`jaxlstm.lstm` on ``xs`` in the wrapper's layout; ``deterministic`` is its evaluation
    mode (no dropout, zoneout's expectation). ``xs``, the state and the params are promoted to
    the computation ``dtype`` first (see :func:`promote`); ``ys`` and the state come back in it.

    ``xs`` is ``(*batch, T, I)``, or ``(T, *batch, I)`` with ``time_major``; ``resets`` is
    ``(*batch, T)`` or ``(T, *batch)`` alike, and ``ys`` comes back in the layout of ``xs``.
    ``options`` are the remaining keywords of :func:`jaxlstm.lstm`.
    """
    xs = check_rank(xs, time_major)
    seq_lengths = None if seq_lengths is None else as_array("seq_lengths", seq_lengths)
    resets = None if resets is None else as_array("resets", resets)
    if not time_major:
        _check_batch_major(params, xs, seq_lengths, resets)
        xs = jnp.moveaxis(xs, -2, 0)
        resets = None if resets is None else jnp.moveaxis(resets, -1, 0)
    h0 = c0 = None
    if state is not None:
        h0, c0 = as_state(state)
    (xs, h0, c0), params = promote((xs, h0, c0), params, dtype)
    state = None if state is None else LSTMState(h0, c0)
    ys, state = jaxlstm.lstm(
        params,
        xs,
        state,
        seq_lengths=seq_lengths,
        resets=resets,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        zoneout=zoneout,
        key=None if deterministic else key,
        deterministic=bool(deterministic),
        **options,
    )
    return (ys if time_major else jnp.moveaxis(ys, 0, -2)), state


def _check_batch_major(params: LSTMParams, xs: Array, seq_lengths: object, resets: object) -> None:
    """The checks whose messages would name the transposed ``xs`` if ``lstm`` made them."""
    I = params.input_size
    if xs.shape[-1] != I:
        raise ValueError(
            f"xs has shape {tuple(xs.shape)}; expected (*batch, T, {I}): its last axis must be the "
            f"params' input size {I}. Hint: check input_size, or whether the features are on the "
            "last axis."
        )
    if resets is not None and tuple(jnp.shape(resets)) != tuple(xs.shape[:-1]):
        hint = ""
        if xs.ndim >= 3 and tuple(jnp.shape(resets)) == (xs.shape[-2], *xs.shape[:-2]):
            hint = " resets looks time-major: pass resets.swapaxes(0, 1), or build the module with time_major=True."
        raise ValueError(
            f"resets has shape {tuple(jnp.shape(resets))}; expected (*batch, T) = {tuple(xs.shape[:-1])}, "
            f"the shape of xs {tuple(xs.shape)} without its features: True where a new segment "
            f"starts.{hint}"
        )
    if seq_lengths is None:
        return
    shape, batch = tuple(jnp.shape(seq_lengths)), tuple(xs.shape[:-2])
    if shape != batch:
        hint = ""
        if xs.ndim >= 3 and shape == tuple(xs.shape[1:-1]):
            hint = " xs looks time-major (T, *batch, features): build the module with time_major=True."
        raise ValueError(
            f"seq_lengths has shape {shape}; expected the batch shape {batch} of xs, which has "
            f"shape {tuple(xs.shape)} = (*batch, T, features): one length per sequence.{hint}"
        )


def stack_step(module, state: tuple[Array, Array], x: object, reset: object, time_major: bool,
               **call) -> tuple[LSTMState, Array]:
    """One step of a stack wrapper, ``(state, x) -> (state, y)``, as a ``T = 1`` call of the
    module (measured as fast as a loop of :func:`jaxlstm.lstm_step` over the layers:
    ``jaxlstm bench``'s ``stream``); ``x`` is ``(*batch, I)``, ``reset`` ``(*batch,)`` or None."""
    x = step_input(x)
    axis = 0 if time_major else x.ndim - 1
    reset = None if reset is None else jnp.expand_dims(jnp.asarray(reset), axis)
    ys, state = module(jnp.expand_dims(x, axis), state, resets=reset, **call)
    return state, jnp.squeeze(ys, axis)


def check_features(name: str, x: Array, params: LSTMParams | CellParams, layout: str) -> None:
    """The last axis of the input ``name`` is the params' input size; ``layout`` is the expected
    shape with ``{}`` for it."""
    I = params.input_size
    if x.shape[-1] != I:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)}; expected {layout.format(I)}: its last axis must be "
            f"the input size {I} of the module's params. Hint: the params were made (by init) for "
            f"inputs of {I} features; check whether the features are on the last axis."
        )


def check_step_shape(input_shape: object) -> None:
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 1:
        raise ValueError(
            f"input_shape must be the shape of one step's input, (*batch, input_size); got "
            f"{input_shape!r}. Hint: initialize_carry(x[:, 0].shape) for batch-major xs."
        )


def step_input(x: object) -> Array:
    """One step's input ``x`` as an array with a feature axis."""
    x = as_array("x", x)
    if x.ndim < 1:
        raise ValueError(
            f"x has shape {tuple(x.shape)}; expected (*batch, input_size), one time step with a "
            "feature axis. Hint: x[None] for a single feature."
        )
    return x


def step(
    cell: CellParams,
    carry: object,
    x: object,
    *,
    dtype,
    matmul_dtype,
    precision,
    promote_dtype: PromoteDtype = dtypes.promote_dtype,
) -> tuple[tuple[Array, Array], Array]:
    """:func:`jaxlstm.lstm_step` with Flax's carry order, ``((c, h), x) -> ((c', h'), h')``, and
    Flax's dtypes: the step runs in the computation dtype (``dtype``, or promoted from ``x``,
    the carry and the params), and the new carry and output have the promoted type of the
    carry's dtype and that one, as Flax's cells give them."""
    x = step_input(x)
    if x.shape[-1] != cell.input_size:
        raise ValueError(
            f"x has shape {tuple(x.shape)}; expected (*batch, {cell.input_size}), one time step "
            f"with the cell's {cell.input_size} input features. Hint: a whole sequence goes "
            "through flax's RNN(cell), which scans the cell over the time axis."
        )
    if not isinstance(carry, (tuple, list)) or len(carry) != 2:
        raise TypeError(
            f"carry must be a pair (c, h), as from initialize_carry; got {type(carry).__name__}."
        )
    c, h = (as_array(f"carry's {name}", part) for name, part in zip("ch", carry))
    batch = tuple(x.shape[:-1])
    expected = ((*batch, cell.state_size), (*batch, cell.output_size))
    if (tuple(c.shape), tuple(h.shape)) != expected:
        raise ValueError(
            f"carry (c, h) has shapes ({tuple(c.shape)}, {tuple(h.shape)}); expected {expected} "
            f"for x of shape {tuple(x.shape)}. Hint: Flax's carry is (c, h), c first (jaxlstm's "
            "LSTMState is (h, c)); make it with cell.initialize_carry(x.shape)."
        )
    (x_, c_, h_), cell = promote((x, c, h), cell, dtype, promote_dtype)
    (h_, c_), _ = jaxlstm.lstm_step(cell, LSTMState(h_, c_), x_, matmul_dtype=matmul_dtype,
                                  precision=precision)
    with jax.numpy_dtype_promotion("standard"):
        c_, h_ = c_.astype(jnp.promote_types(c.dtype, c_.dtype)), h_.astype(jnp.promote_types(h.dtype, h_.dtype))
    return (c_, h_), h_


def carry(
    cell: CellParams, input_shape: tuple[int, ...], keys: tuple[Array, Array] | None, carry_init, dtype
) -> tuple[Array, Array]:
    """Flax's carry ``(c, h)`` for a step input of ``input_shape = (*batch, I)``: ``carry_init``
    (``(key, shape, dtype) -> array``; zeros for None) called for ``c``, then ``h``, with one
    key of ``keys`` each, in the params' dtype ``dtype`` (Flax's ``param_dtype``)."""
    check_step_shape(input_shape)
    batch = tuple(input_shape[:-1])
    shapes = ((*batch, cell.state_size), (*batch, cell.output_size))
    if carry_init is None:
        return tuple(jnp.zeros(shape, dtype) for shape in shapes)
    if keys is None:
        raise ValueError(
            "initialize_carry got a carry_init but no rngs to call it with; expected rngs, e.g. "
            "cell.initialize_carry(x.shape, nnx.Rngs(0)). Hint: the default zero carry needs none."
        )
    return tuple(jnp.asarray(carry_init(key, shape, dtype)) for key, shape in zip(keys, shapes))
