"""The LSTM over a sequence: ``lstm_step`` lifted with ``jax.lax.scan``.

Adds what a sequence needs on top of the step: a zero (or learned) initial state by default,
resets of the state inside a sequence, reverse direction, variable lengths with PyTorch's
PackedSequence semantics, multi-layer and bidirectional stacks, inter-layer and recurrent
dropout, zoneout and rematerialisation. Inputs are validated once, up
front, from shapes and dtypes only.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
import jax
import jax.numpy as jnp
from jax import Array

from jaxlstm import _validate, cudnn, kernel, pallas
from jaxlstm.cell import Matmul
from jaxlstm.options import Impl, Remat
from jaxlstm.params import CellParams, LSTMParams, LSTMState, initial_state

__all__ = ["lstm"]


def lstm(
    params: LSTMParams | CellParams,
    xs: Array,
    state: tuple[Array, Array] | list[Array] | None = None,
    *,
    seq_lengths: Array | None = None,
    resets: Array | None = None,
    reverse: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    zoneout: float | tuple[float, float] = 0.0,
    key: Array | None = None,
    deterministic: bool = False,
    unroll: int | bool = 1,
    remat: Remat = False,
    impl: Impl = "auto",
    matmul_dtype=None,
    precision=None,
) -> tuple[Array, LSTMState]:
    """Run an LSTM stack over a time-major sequence, as ``torch.nn.LSTM`` does.

    Args:
        params: ``LSTMParams`` from :func:`jaxlstm.init`, or one ``CellParams`` (a 1-layer,
            unidirectional stack).
        xs: ``(T, *batch, input_size)``, time-major. ``T = 0`` returns empty ``ys`` and the
            initial state.
        state: the initial ``(h, c)`` (an ``LSTMState``, or a tuple or list ``[h, c]``, as
            :func:`jaxlstm.lstm_step` takes), each ``(num_layers * num_directions, *batch, H)``
            (``h`` has ``proj_size`` units with a projection; with FGR ``c`` has
            ``params.state_size = (1 + K) * H`` units: ``c[..., :H]`` is the cell state and
            ``c[..., H:]`` the previous step's activations of the ``K`` gates of i, f, o that
            have weights, ``H`` each in ``V``'s gate order, zero at the start), indexed
            ``layer * num_directions + direction`` like ``torch.nn.LSTM``'s ``(h_0, c_0)``.
            By default the initial state of the params: zeros, or with
            ``init(..., learn_initial_state=True)`` the learned ``h0, c0`` of each cell (see
            :func:`jaxlstm.initial_state`).
        seq_lengths: ``(*batch,)`` integers in ``[0, T]``: the valid length of each sequence.
            Outputs past a sequence's end are zero, its final state is the state after its own
            last step, the backward direction starts at its own end, and a length of 0 returns
            the initial state. The values are checked when concrete; traced under ``jit`` they
            are not, and act as if clipped to ``[0, T]``.
        resets: ``(T, *batch)`` booleans, True where a new segment starts: the state entering
            that step, in every layer and direction, is replaced by the params' initial state
            (zeros, or the learned ``h0, c0``; not ``state``, which is where step 0 starts).
            For episodes that end inside a rollout (reinforcement learning) and for several
            sequences packed into one row. The backward direction of a bidirectional stack
            restarts at each segment's end, so a packed row gives the outputs, final state and
            gradients of its segments run apart (its final state is that of the last segment,
            and of the first segment for the backward direction). Resets past a sequence's
            ``seq_lengths`` do nothing.
        reverse: run a unidirectional stack from the last step to the first; ``ys`` stay
            aligned with ``xs``.
        dropout: the probability of zeroing each output of every layer but the last (as
            ``torch.nn.LSTM(dropout=...)`` in training mode); needs ``key``, unless ``deterministic``.
        recurrent_dropout: variational dropout of the recurrence (Gal & Ghahramani 2016): each
            unit of ``h(t-1)`` is zeroed, where it enters the matmul, with this probability,
            by one mask per sequence, layer and direction, the same at every step (the kept
            units scaled by ``1 / (1 - p)``). Needs ``key``, unless ``deterministic``.
        zoneout: Krueger et al. (2016): at each step each unit keeps its previous value with
            this probability instead of updating; a pair ``(z_c, z_h)`` gives the rates for
            ``c`` and ``h`` apart (the paper's 0.5 and 0.05 for language models). Needs
            ``key``, unless ``deterministic``.
        key: the PRNG key for ``dropout``, ``recurrent_dropout`` and ``zoneout``.
        deterministic: evaluation mode, as Flax's ``deterministic``: no dropout and no
            recurrent dropout, and zoneout replaced by its expectation (Krueger et al. 2016),
            ``h(t) = z_h h(t-1) + (1 - z_h) h~(t)`` and ``c(t) = z_c c(t-1) + (1 - z_c) c~(t)``
            at every step, where ``h~, c~`` are the cell's fresh update; no key is needed.
            Evaluate a model trained with zoneout with its training rates and
            ``deterministic=True``: with ``zoneout=0`` it would be a different model.
        unroll: passed to ``jax.lax.scan``: how many steps each loop iteration runs.
        remat: trade compute for memory in the backward pass. ``False`` saves the gates and
            state of every step; ``True`` or ``"step"`` saves only the state and recomputes
            the gates; ``"sqrt"`` saves the state at the start of about sqrt(T) chunks and
            reruns each chunk's forward pass before its backward pass.
        impl: how the loop is computed; every choice gives the same values and gradients.
            ``"reference"`` is ``jax.lax.scan`` of :func:`jaxlstm.lstm_step` under autodiff;
            ``"fused"`` runs the same step with a hand-written backward pass; ``"hoisted"``
            computes ``x @ W + b`` for all steps before the loop; ``"cudnn"`` runs cuDNN's
            fused LSTM (``jax.experimental.rnn``) on a CUDA GPU, for the standard float32 cell
            without resets, noise, ``remat`` or ``unroll`` (refused otherwise, with the impl to
            use), and neither vmaps nor has a forward-mode derivative (see
            :mod:`jaxlstm.cudnn`). ``"pallas"`` runs both time loops of each layer as
            Pallas kernels that keep every step on chip (for step-bound sizes: small batch
            or hidden size), on a GPU, and interpreted (slowly) on CPU, for the standard
            float32 cell up to hidden size 256 without noise, ``remat`` or ``unroll``; it
            takes lengths, resets, state, ``reverse`` and bfloat16 matmuls, vmaps, and has no
            forward-mode derivative (see :mod:`jaxlstm.pallas`). ``"auto"`` picks, on CPU, ``"hoisted"`` for the vanilla
            cell when the ``(T, *batch, 4H)`` buffer of input projections is at most 2 MiB,
            else ``"fused"``: the fastest as measured in ``experiments/benchmarks.md``; on
            other backends (by ``jax.default_backend()`` at trace time) and for symbolic
            shapes, ``"fused"``: on a GPU from measurements on an H200, on TPU a fixed choice
            (see :func:`jaxlstm.kernel.auto_impl`).
        matmul_dtype: None (the params' dtype), or a lower precision such as ``jnp.bfloat16``
            for the operands of every matmul, forward and backward, accumulated in the params'
            dtype; the state, the gate arithmetic and the gradients stay in the params' dtype.
            For accelerators with fast bfloat16 matrix units. Reverse-mode only, on every
            ``impl`` (see :class:`jaxlstm.cell.Matmul`).
        precision: None, or a ``jax.lax.Precision`` or its name (``"highest"``, ...) for every
            matmul, forward and backward, as ``jnp.matmul``'s. None is JAX's default: exact
            float32 on CPU, TF32 for float32 matmuls on a GPU (as cuDNN's LSTM), bfloat16
            passes on TPU; ``"highest"`` is exact float32 everywhere (docs/guides/impl_precision.md, "Precision").

    Returns:
        ``(ys, state)``: ``ys`` of shape ``(T, *batch, num_directions * output_size)``, the
        last layer's outputs (forward then backward features; ``output_size`` is ``proj_size``
        with a projection, else ``H``); ``state`` the final ``LSTMState(h, c)``, stacked like
        the initial state.

    Example:
        >>> import jax, jax.numpy as jnp, jaxlstm
        >>> params = jaxlstm.init(jax.random.key(0), 4, 8, num_layers=2, bidirectional=True)
        >>> xs = jnp.ones((10, 3, 4))                        # (T, batch, input_size)
        >>> ys, (h, c) = jaxlstm.lstm(params, xs, seq_lengths=jnp.array([10, 7, 0]))
        >>> ys.shape, h.shape
        ((10, 3, 16), (4, 3, 8))
    """
    params = _validate.as_stack(params)
    xs = _validate.check_xs(params, xs)
    remat, impl = _validate.check_options(params, reverse, dropout, key, deterministic, unroll, remat, impl,
                                          xs.shape[0])
    zoneout_c, zoneout_h = _validate.check_noise(recurrent_dropout, zoneout, key, deterministic)
    if deterministic:
        dropout = recurrent_dropout = 0.0
    how = Matmul(*_validate.check_matmul(matmul_dtype, precision))
    if impl == "auto":
        impl = kernel.auto_impl(xs.shape, params.layers[0][0], xs.dtype.itemsize, jax.default_backend())
    if state is not None:
        state = _validate.check_state(params, xs, state)
    if seq_lengths is not None:
        seq_lengths = _validate.check_seq_lengths(xs, seq_lengths)
    if resets is not None:
        resets = _validate.check_resets(xs, resets)
    noise = bool(zoneout_c or zoneout_h or (recurrent_dropout and not deterministic))
    if impl == "cudnn":
        cudnn.check(params, xs, resets=resets, noise=noise, unroll=unroll, remat=remat, how=how)
    if impl == "pallas":
        pallas.check(params, xs, noise=noise, unroll=unroll, remat=remat)
    if dropout > 0.0 and params.num_layers == 1:
        warnings.warn(
            "dropout acts between layers and has no effect on a 1-layer stack "
            f"(got dropout={dropout}, num_layers=1).",
            UserWarning,
            stacklevel=2,
        )
    options = _Options(reverse, float(dropout), float(recurrent_dropout), zoneout_c, zoneout_h, bool(deterministic),
                       unroll, remat, impl, how)
    return _lstm(options, params, xs, state, seq_lengths, resets, key)


@dataclasses.dataclass(frozen=True)
class _Options:
    """The validated static options of one :func:`lstm` call (hashable: ``jit`` keys on them)."""

    reverse: bool
    dropout: float
    recurrent_dropout: float
    zoneout_c: float
    zoneout_h: float
    deterministic: bool
    unroll: int | bool
    remat: str
    impl: str
    how: Matmul


@functools.partial(jax.jit, static_argnums=0)
def _lstm(options: _Options, params: LSTMParams, xs: Array, state: LSTMState | None, seq_lengths: Array | None,
          resets: Array | None, key: Array | None) -> tuple[Array, LSTMState]:
    """:func:`lstm` after its checks. Jitted, so that a call outside ``jit`` compiles once per
    shape and option set instead of dispatching (and compiling) its loops op by op; inside an
    outer ``jit`` it is inlined."""
    batch = xs.shape[1:-1]
    directions = params.num_directions
    if state is None:
        state = initial_state(params, batch)
    mask = None
    if seq_lengths is not None:
        steps = jnp.arange(xs.shape[0], dtype=seq_lengths.dtype).reshape((-1,) + (1,) * len(batch))
        mask = steps < seq_lengths[None]  # (T, *batch): True where the step is in the sequence

    hs, cs = [], []
    layer_input = xs
    keys = (None,) * 3 if key is None else jax.random.split(key, 3)
    for l, layer in enumerate(params.layers):
        if l > 0 and options.dropout > 0.0:
            layer_input = _dropout(jax.random.fold_in(keys[0], l), layer_input, options.dropout)
        outputs = []
        for d, cell in enumerate(layer):
            index = l * directions + d
            sizes = (cell.output_size, cell.hidden_size, cell.state_size)
            if options.deterministic:
                noise = _expected_zoneout(sizes, xs.dtype, options.zoneout_c, options.zoneout_h)
            else:
                noise = _noise(keys[1:], index, xs.shape[0], batch, sizes, xs.dtype, options.recurrent_dropout,
                               options.zoneout_c, options.zoneout_h)
            entering, reverse = LSTMState(state.h[index], state.c[index]), options.reverse or d == 1
            if options.impl == "cudnn":  # checked up front: no resets, no noise
                ys, (h, c) = cudnn.run(cell, layer_input, entering, mask, reverse=reverse, how=options.how)
            else:
                ys, (h, c) = kernel.run(cell, layer_input, entering, mask, resets=resets,
                                        reset_state=None if resets is None else cell.initial_state(batch),
                                        reverse=reverse, unroll=options.unroll, remat=options.remat,
                                        impl=options.impl, how=options.how, noise=noise)
            outputs.append(ys)
            hs.append(h)
            cs.append(c)
        layer_input = outputs[0] if directions == 1 else jnp.concatenate(outputs, axis=-1)
    return layer_input, LSTMState(jnp.stack(hs), jnp.stack(cs))


def _noise(keys, index, steps, batch, sizes, dtype, recurrent_dropout, zoneout_c, zoneout_h):
    """The training-time masks of one layer and direction (``index``), or None; ``sizes`` are
    those of ``h``, of the cell state and of the state's ``c`` (FGR's gate activations, carried
    after the cell state, are never zoned out)."""
    if not (recurrent_dropout or zoneout_c or zoneout_h):
        return None
    h_size, c_size, state_size = sizes
    k_recurrent, k_zoneout = (jax.random.fold_in(k, index) for k in keys)
    recurrent = None
    if recurrent_dropout:
        recurrent = _dropout(k_recurrent, jnp.ones((*batch, h_size), dtype), recurrent_dropout)
    keep_h = keep_c = None
    if zoneout_c or zoneout_h:
        k_c, k_h = jax.random.split(k_zoneout)
        keep_c = jax.random.bernoulli(k_c, zoneout_c, (steps, *batch, c_size))
        if state_size > c_size:
            keep_c = jnp.concatenate([keep_c, jnp.zeros((steps, *batch, state_size - c_size), bool)], axis=-1)
        keep_h = jax.random.bernoulli(k_h, zoneout_h, (steps, *batch, h_size))
    return kernel.Noise(recurrent, keep_h, keep_c)


def _expected_zoneout(sizes, dtype, zoneout_c, zoneout_h) -> kernel.Noise | None:
    """Zoneout's expectation at evaluation: the rates of ``h`` and ``c`` as ``(1, size)`` rows
    (0 for FGR's gate activations, which zoneout never keeps), or None without zoneout."""
    if not (zoneout_c or zoneout_h):
        return None
    h_size, c_size, state_size = sizes
    rate_c = jnp.concatenate([jnp.full((1, c_size), zoneout_c, dtype), jnp.zeros((1, state_size - c_size), dtype)], axis=-1)
    return kernel.Noise(rate_h=jnp.full((1, h_size), zoneout_h, dtype), rate_c=rate_c)


def _dropout(key: Array, xs: Array, rate: float) -> Array:
    keep = jax.random.bernoulli(key, 1.0 - rate, xs.shape)
    return jnp.where(keep, xs / (1.0 - rate), jnp.zeros_like(xs))
