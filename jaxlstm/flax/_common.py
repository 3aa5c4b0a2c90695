"""What the nnx and Linen wrappers share: the batch-major layout, the checks a wrapper adds to
those of :func:`jaxlstm.lstm`, and Flax's ``(c, h)`` carry around :func:`jaxlstm.lstm_step`."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

import jaxlstm
from jaxlstm.params import LSTMState
from jaxlstm.params import CellParams, LSTMParams


def noisy(dropout: float, recurrent_dropout: float, zoneout: float | tuple[float, float]) -> bool:
    """Whether any training-time noise is on (and a dropout key is needed while training)."""
    rates = zoneout if isinstance(zoneout, tuple) else (zoneout,)
    return bool(dropout or recurrent_dropout or any(rates))


def check_rank(xs: object, time_major: bool) -> Array:
    """``xs`` as an array of at least two axes, the time axis and the features."""
    xs = jnp.asarray(xs)
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
    time_major: bool,
    deterministic: bool,
    key: Array | None,
    dropout: float,
    recurrent_dropout: float,
    zoneout: float | tuple[float, float],
    **options,
) -> tuple[Array, LSTMState]:
    """:func:`jaxlstm.lstm` on ``xs`` in the wrapper's layout; ``deterministic`` is its evaluation
    mode (no dropout, zoneout's expectation).

    ``xs`` is ``(*batch, T, I)``, or ``(T, *batch, I)`` with ``time_major``; ``ys`` comes back in
    the same layout. ``options`` are the remaining keywords of :func:`jaxlstm.lstm`.
    """
    xs = check_rank(xs, time_major)
    if not time_major:
        _check_batch_major(params, xs, seq_lengths)
        xs = jnp.moveaxis(xs, -2, 0)
    ys, state = jaxlstm.lstm(
        params,
        xs,
        state,
        seq_lengths=seq_lengths,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        zoneout=zoneout,
        key=None if deterministic else key,
        deterministic=bool(deterministic),
        **options,
    )
    return (ys if time_major else jnp.moveaxis(ys, 0, -2)), state


def _check_batch_major(params: LSTMParams, xs: Array, seq_lengths: object) -> None:
    """The checks whose messages would name the transposed ``xs`` if ``lstm`` made them."""
    I = params.input_size
    if xs.shape[-1] != I:
        raise ValueError(
            f"xs has shape {tuple(xs.shape)}; expected (*batch, T, {I}): its last axis must be the "
            f"params' input size {I}. Hint: check input_size, or whether the features are on the "
            "last axis."
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


def step_input(x: object) -> Array:
    """One step's input ``x`` as an array with a feature axis."""
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError(
            f"x has shape {tuple(x.shape)}; expected (*batch, input_size), one time step with a "
            "feature axis. Hint: x[None] for a single feature."
        )
    return x


def step(cell: CellParams, carry: object, x: object, matmul_dtype) -> tuple[tuple[Array, Array], Array]:
    """:func:`jaxlstm.lstm_step` with Flax's carry order: ``((c, h), x) -> ((c', h'), h')``."""
    x = step_input(x)
    dtype = jnp.dtype(cell.V.dtype)
    if x.shape[-1] != cell.input_size:
        raise ValueError(
            f"x has shape {tuple(x.shape)}; expected (*batch, {cell.input_size}), one time step "
            f"with the cell's {cell.input_size} input features. Hint: a whole sequence goes "
            "through flax's RNN(cell), which scans the cell over the time axis."
        )
    if x.dtype != dtype:
        raise TypeError(
            f"x has dtype {x.dtype} but the cell's params have dtype {dtype}; expected the same "
            f"dtype. Hint: x.astype(jnp.{dtype})."
        )
    if not isinstance(carry, (tuple, list)) or len(carry) != 2:
        raise TypeError(
            f"carry must be a pair (c, h), as from initialize_carry; got {type(carry).__name__}."
        )
    c, h = (jnp.asarray(part) for part in carry)
    batch = tuple(x.shape[:-1])
    expected = ((*batch, cell.state_size), (*batch, cell.output_size))
    if (tuple(c.shape), tuple(h.shape)) != expected:
        raise ValueError(
            f"carry (c, h) has shapes ({tuple(c.shape)}, {tuple(h.shape)}); expected {expected} "
            f"for x of shape {tuple(x.shape)}. Hint: Flax's carry is (c, h), c first (jaxlstm's "
            "LSTMState is (h, c)); make it with cell.initialize_carry(x.shape)."
        )
    (h, c), y = jaxlstm.lstm_step(cell, LSTMState(h, c), x, matmul_dtype=matmul_dtype)
    return (c, h), y


def zero_carry(cell: CellParams, input_shape: tuple[int, ...]) -> tuple[Array, Array]:
    """Flax's zero carry ``(c, h)`` for a step input of ``input_shape = (*batch, I)``."""
    batch, dtype = tuple(input_shape[:-1]), cell.V.dtype
    return jnp.zeros((*batch, cell.state_size), dtype), jnp.zeros((*batch, cell.output_size), dtype)
