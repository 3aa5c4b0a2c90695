"""Up-front checks of what a user passes to :func:`jaxlstm.lstm` and :func:`jaxlstm.lstm_step`.

Every check reads only shapes and dtypes (and the values of ``seq_lengths`` when they are
concrete), so it runs once at trace time and costs nothing inside ``jit``. Each error names the
argument, the expected and the actual value, and the likely fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxlstm.options import IMPLS, REMATS
from jaxlstm.params import CellParams, LSTMParams, LSTMState, check_key


def as_array(name: str, value: object) -> Array:
    """``value`` as a JAX array, or a TypeError that names the argument ``name``."""
    try:
        return jnp.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be an array (or something jnp.asarray takes, such as a nested list of "
            f"numbers); got {type(value).__name__}: {error}"
        ) from None


def as_state(state: object) -> LSTMState:
    """``state`` as an ``LSTMState`` of arrays: any pair ``(h, c)``, tuple or list, or a TypeError."""
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        got = (f"a {type(state).__name__} of length {len(state)}" if isinstance(state, (tuple, list))
               else type(state).__name__)
        raise TypeError(
            f"state must be a pair (h, c), e.g. jaxlstm.LSTMState(h, c) or [h, c]; got {got}. "
            "Note the order: h first (Flax's carry is (c, h))."
        )
    return LSTMState(*(as_array(f"state.{name}", part) for name, part in zip("hc", state)))


def as_stack(params: object) -> LSTMParams:
    """Return ``params`` as a validated ``LSTMParams``; a lone ``CellParams`` is a 1-layer stack."""
    if isinstance(params, CellParams):
        params = LSTMParams(layers=((params,),))
    if not isinstance(params, LSTMParams):
        raise TypeError(
            f"params must be the LSTMParams of jaxlstm.init or the CellParams of "
            f"jaxlstm.init_cell; got {type(params).__name__}. Hint: to bring weights from "
            "PyTorch, use jaxlstm.interop.from_torch(state_dict)."
        )
    if not params.layers or any(len(layer) not in (1, 2) for layer in params.layers):
        directions = [len(layer) for layer in params.layers]
        raise ValueError(
            "params.layers must hold at least one layer of 1 or 2 directions (forward, "
            f"backward); got {len(params.layers)} layers with directions {directions}."
        )
    strangers = [(l, d, cell) for l, layer in enumerate(params.layers) for d, cell in enumerate(layer)
                 if not isinstance(cell, CellParams)]
    if strangers:
        l, d, cell = strangers[0]
        raise TypeError(
            f"params.layers[{l}][{d}] is a {type(cell).__name__}; expected a jaxlstm.CellParams "
            "(jaxlstm.init_cell) for every layer and direction."
        )
    directions = params.num_directions
    if any(len(layer) != directions for layer in params.layers):
        raise ValueError(
            "every layer of params must have the same number of directions; got "
            f"{[len(layer) for layer in params.layers]}."
        )
    _check_dtypes(params)
    hidden, out = params.hidden_size, params.output_size
    for l, layer in enumerate(params.layers):
        for d, cell in enumerate(layer):
            where = f"params.layers[{l}][{d}]"
            if cell.output_size != out:
                raise ValueError(
                    f"{where} has output size {cell.output_size}; expected {out}, that of "
                    "params.layers[0][0]: every layer of a stack has the same proj_size."
                )
            _check_cell_shapes(where, cell, hidden, " taken from params.layers[0][0]")
            if l > 0 and cell.input_size != out * directions:
                raise ValueError(
                    f"{where}.V has shape {tuple(cell.V.shape)}; expected "
                    f"({out} + {out * directions}, {cell.V.shape[1]}): layer {l} reads the "
                    f"{directions} direction(s) of layer {l - 1}, {out * directions} features."
                )
        if layer[0].input_size != layer[-1].input_size:
            raise ValueError(
                f"the directions of params.layers[{l}] read different input sizes "
                f"{[cell.input_size for cell in layer]}; both directions read the same input."
            )
    return params


def check_cell(params: object) -> CellParams:
    """Return ``params`` as a validated ``CellParams``: the one cell that ``lstm_step`` takes."""
    if isinstance(params, LSTMParams):
        layers, directions = len(params.layers), len(params.layers[0]) if params.layers else 0
        raise TypeError(
            f"params is an LSTMParams stack of {layers} layer(s) with {directions} direction(s); "
            "lstm_step takes "
            "the CellParams of one layer and direction. Hint: params.layers[l][d] is layer l, "
            "direction d (0 forward, 1 backward), e.g. params.layers[0][0]; to run the whole "
            "stack for one step, use jaxlstm.lstm(params, x[None], state)."
        )
    if not isinstance(params, CellParams):
        raise TypeError(
            f"params must be the CellParams of jaxlstm.init_cell (or one cell of a stack, "
            f"params.layers[l][d]); got {type(params).__name__}."
        )
    _check_dtypes(params)
    _check_cell_shapes("params", params, params.hidden_size, "")
    return params


def _check_dtypes(params: CellParams | LSTMParams) -> None:
    cells = [params] if isinstance(params, CellParams) else [c for layer in params.layers for c in layer]
    missing = [name for cell in cells for name in ("V", "b") if getattr(cell, name) is None]
    if missing:
        raise TypeError(
            f"params have no {missing[0]} (it is None); expected an array: every cell has V and b. "
            "Hint: make params with jaxlstm.init or jaxlstm.init_cell."
        )
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if not (hasattr(leaf, "shape") and hasattr(leaf, "dtype")):
            raise TypeError(
                f"params{jax.tree_util.keystr(path)} is a {type(leaf).__name__}; expected an array. "
                "Hint: make params with jaxlstm.init or jaxlstm.init_cell, or build CellParams "
                "from arrays (jnp.asarray)."
            )
    dtypes = {str(jnp.dtype(leaf.dtype)) for leaf in jax.tree.leaves(params)}
    if len(dtypes) != 1:
        raise TypeError(
            f"params mix dtypes {sorted(dtypes)}; expected one floating dtype for every leaf. "
            "Hint: jax.tree.map(lambda a: a.astype(jnp.float32), params)."
        )
    dtype = dtypes.pop()
    if not jnp.issubdtype(jnp.dtype(dtype), jnp.floating):
        raise TypeError(f"params have dtype {dtype}; expected a floating dtype.")


def _check_cell_shapes(where: str, cell: CellParams, hidden: int, hidden_from: str) -> None:
    """``V``, ``b`` and the variant's extras of one cell fit the hidden size ``hidden``."""
    G = len(cell.variant.gates)
    gates = "".join(cell.variant.gates)
    rows = "H" if cell.variant.proj_size is None else "P"
    out = cell.variant.proj_size or hidden
    if cell.V.ndim != 2 or cell.V.shape[1] != G * hidden or cell.V.shape[0] <= out:
        raise ValueError(
            f"{where}.V has shape {tuple(cell.V.shape)}; expected ({rows} + I, {G}H) = "
            f"({out} + I, {G * hidden}) with I >= 1: one block of H columns for each "
            f"of the gates {gates}, the hidden size H = {hidden}{hidden_from}."
        )
    if cell.b.shape != (G * hidden,):
        raise ValueError(
            f"{where}.b has shape {tuple(cell.b.shape)}; expected ({G}H,) = "
            f"({G * hidden},) for the gates {gates}."
        )
    _check_extras(where, cell, hidden)


def check_step(cell: CellParams, state: object, x: object) -> tuple[LSTMState, Array]:
    """The state ``(h, c)`` and input ``x`` of one step fit ``cell`` and each other."""
    h, c = as_state(state)
    x = as_array("x", x)
    dtype = jnp.dtype(cell.V.dtype)
    I, P, C = cell.input_size, cell.output_size, cell.state_size
    _check_input_dtype("x", x, dtype)
    if x.ndim < 1 or x.shape[-1] != I:
        raise ValueError(
            f"x has shape {tuple(x.shape)}; expected (*batch, {I}): its last axis must be the "
            f"cell's input size {I}. Hint: check input_size in jaxlstm.init_cell, or whether "
            "the features are on the last axis; x[None] for a single feature."
        )
    batch = tuple(x.shape[:-1])
    sizes = {"h": P, "c": C}
    for name, part in (("h", h), ("c", c)):
        expected, shape = (*batch, sizes[name]), tuple(part.shape)
        if shape != expected:
            label = {"h": "hidden_size" if P == cell.hidden_size else "proj_size",
                     "c": "hidden_size" if C == cell.hidden_size else "state_size"}[name]
            other = {"h": c, "c": h}[name]
            if len(shape) == len(expected) + 1 and shape[1:] == expected:
                hint = (
                    " lstm_step takes one cell's state, without the leading layer axis of "
                    "jaxlstm.lstm's stacked state: pass LSTMState(h[k], c[k]) for layer and "
                    "direction k."
                )
            elif x.ndim >= 2 and shape == (*batch[1:], sizes[name]):
                hint = (
                    " x looks like a whole sequence (T, *batch, I): lstm_step runs one step; "
                    "pass x[t], or run the sequence with jaxlstm.lstm."
                )
            elif P != C and shape[-1:] == (sizes["c" if name == "h" else "h"],) and other.shape[-1:] == (sizes[name],):
                hint = " h and c look swapped: the state is (h, c), h first (Flax's carry is (c, h))."
            elif shape[-1:] == (sizes[name],):
                hint = (
                    f" x has the batch shape {batch} and state.{name} {shape[:-1]}: they must be "
                    "equal (lstm_step does not broadcast)."
                )
            elif name == "c" and C != cell.hidden_size:
                hint = (
                    " With FGR (gate_recurrence), c carries the previous gate activations after "
                    "the cell state: params.state_size units."
                )
            else:
                hint = " h and c have the batch shape of x, (*batch, features) -> (*batch, units)."
            raise ValueError(
                f"state.{name} has shape {shape}; expected (*batch, {label}) = {expected} for x "
                f"of shape {tuple(x.shape)}.{hint}"
            )
        if part.dtype != dtype:
            raise TypeError(
                f"state.{name} has dtype {part.dtype}; expected the params' dtype {dtype}. "
                f"Hint: state.{name}.astype(jnp.{dtype})."
            )
    return LSTMState(h, c), x


def _check_extras(where: str, cell: CellParams, hidden: int) -> None:
    """Peephole and layer-norm params present exactly when the variant has them, and sized."""
    variant = cell.variant
    expected_peep = {g: (hidden,) for g in variant.peephole_gates}
    G = len(variant.gates)
    expected_norm = (
        {"gate_gain": (G * hidden,), "gate_bias": (G * hidden,), "cell_gain": (hidden,),
         "cell_bias": (hidden,)}
        if variant.layer_norm
        else {}
    )
    fgr = {} if cell.gate_recurrence is None else {"fgr": tuple(cell.gate_recurrence.shape)}
    K = len(variant.sigmoid_gates) * hidden
    expected_fgr = {"fgr": (K, K)} if variant.gate_recurrence else {}
    if fgr != expected_fgr:
        raise ValueError(
            f"{where}.gate_recurrence has shape {fgr.get('fgr')}; expected "
            f"{expected_fgr.get('fgr')} (K * H, K * H) for the K gates of i, f, o of its variant "
            f"{variant}. Hint: make params with jaxlstm.init(..., variant=...)."
        )
    initial = {k: tuple(v.shape) for k, v in (("h0", cell.h0), ("c0", cell.c0)) if v is not None}
    if initial and initial != {"h0": (cell.output_size,), "c0": (cell.state_size,)}:
        raise ValueError(
            f"{where} has a learned initial state of shapes {initial}; expected h0 and c0 both, "
            f"of shapes ({cell.output_size},) and ({cell.state_size},): the sizes of h and c. Hint: "
            "make params with jaxlstm.init(..., learn_initial_state=True)."
        )
    proj = {} if cell.proj is None else {"proj": tuple(cell.proj.shape)}
    expected_proj = {} if variant.proj_size is None else {"proj": (hidden, variant.proj_size)}
    if proj != expected_proj:
        raise ValueError(
            f"{where}.proj has shape {proj.get('proj')}; expected {expected_proj.get('proj')} "
            f"(H, proj_size) for its variant {variant}."
        )
    for name, got, expected in (
        ("peepholes", cell.peepholes, expected_peep),
        ("norm", cell.norm, expected_norm),
    ):
        shapes = {k: tuple(v.shape) for k, v in (got or {}).items()}
        if shapes != expected:
            raise ValueError(
                f"{where}.{name} has shapes {shapes or None}; expected {expected or None} for "
                f"its variant {variant}. Hint: make params with jaxlstm.init(..., variant=...)."
            )


def _swapped_batch(xs_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The batch shape ``xs`` would have if it were batch-major (batch, T, *rest, I)."""
    return (xs_shape[0],) + xs_shape[2:-1]


def _check_input_dtype(name: str, x: Array, dtype: jnp.dtype) -> None:
    """The input ``name`` has the params' floating ``dtype``."""
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"{name} has dtype {x.dtype}; expected a floating dtype, the params' {dtype}. Hint: "
            f"{name}.astype(jnp.{dtype}); for token ids, embed them first (e.g. jax.nn.one_hot)."
        )
    if x.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype} but params have dtype {dtype}; expected the same dtype. "
            f"Hint: {name}.astype(jnp.{dtype}), or init the params with dtype=jnp.{x.dtype}."
        )


def check_xs(params: LSTMParams, xs: object) -> Array:
    xs = as_array("xs", xs)
    _check_input_dtype("xs", xs, jnp.dtype(params.layers[0][0].V.dtype))
    I = params.input_size
    if xs.ndim < 2:
        raise ValueError(
            f"xs has shape {tuple(xs.shape)}; expected (T, *batch, {I}). lstm is time-major and "
            "takes a sequence: for one step use jaxlstm.lstm_step, for a sequence of one "
            "unbatched step use xs[None]."
        )
    if xs.shape[-1] != I:
        raise ValueError(
            f"xs has shape {tuple(xs.shape)}; expected (T, *batch, {I}): its last axis must be "
            f"the params' input size {I}. Hint: check input_size in jaxlstm.init, or whether "
            "the features are on the last axis."
        )
    return xs


def check_seq_lengths(xs: Array, seq_lengths: object) -> Array:
    """``seq_lengths`` checked, as int32 (the dtype of the step counter it is compared with, for
    any integer dtype the user passes and with or without 64-bit mode)."""
    seq_lengths = as_array("seq_lengths", seq_lengths)
    if not jnp.issubdtype(seq_lengths.dtype, jnp.integer):
        raise TypeError(
            f"seq_lengths has dtype {seq_lengths.dtype}; expected an integer dtype. Hint: "
            "seq_lengths.astype(jnp.int32)."
        )
    T, batch = xs.shape[0], tuple(xs.shape[1:-1])
    if tuple(seq_lengths.shape) != batch:
        hint = ""
        if xs.ndim >= 3 and tuple(seq_lengths.shape) == _swapped_batch(xs.shape):
            hint = (
                " xs looks batch-major (batch, T, features): lstm is time-major, pass "
                "xs.swapaxes(0, 1)."
            )
        raise ValueError(
            f"seq_lengths has shape {tuple(seq_lengths.shape)}; expected the batch shape {batch} "
            f"of xs, which has shape {tuple(xs.shape)} = (T, *batch, features): one length per "
            f"sequence.{hint}"
        )
    try:
        values = np.asarray(seq_lengths)
    except jax.errors.TracerArrayConversionError:
        # traced under jit: the values are unknown until run time. Clipped to [0, T] (which
        # they act as) before the cast, so that no wide value wraps around into the range.
        top = min(T, int(jnp.iinfo(seq_lengths.dtype).max)) if isinstance(T, int) else T  # T: symbolic
        return jnp.clip(seq_lengths, 0, top).astype(jnp.int32)
    if values.size and (values.min() < 0 or values.max() > T):
        raise ValueError(
            f"seq_lengths must lie in [0, T] = [0, {T}]; got values from {values.min()} to "
            f"{values.max()}. Hint: T is xs.shape[0] (lstm is time-major)."
        )
    return seq_lengths.astype(jnp.int32)


def check_resets(xs: Array, resets: object) -> Array:
    resets = as_array("resets", resets)
    if resets.dtype != jnp.bool_:
        raise TypeError(
            f"resets has dtype {resets.dtype}; expected bool, True where a new segment starts. "
            "Hint: resets = dones.astype(bool), or episode_starts == 1."
        )
    expected = tuple(xs.shape[:-1])
    if tuple(resets.shape) != expected:
        hint = ""
        if tuple(resets.shape) == expected[1:]:
            hint = " It has no time axis: resets marks steps, one row per step."
        elif resets.ndim == len(expected) and tuple(resets.shape) == (*expected[1:2], expected[0], *expected[2:]):
            hint = " It looks batch-major: lstm is time-major, pass resets.swapaxes(0, 1)."
        raise ValueError(
            f"resets has shape {tuple(resets.shape)}; expected (T, *batch) = {expected}, the shape "
            f"of xs {tuple(xs.shape)} without its features.{hint}"
        )
    return resets


def check_state(params: LSTMParams, xs: Array, state: object) -> LSTMState:
    h, c = as_state(state)
    stacked = params.num_layers * params.num_directions
    batch = tuple(xs.shape[1:-1])
    dtype = jnp.dtype(params.layers[0][0].V.dtype)
    for name, part, H in (("h", h, params.output_size), ("c", c, params.state_size)):
        expected = (stacked, *batch, H)
        if name == "c":
            size = "hidden_size" if params.state_size == params.hidden_size else "state_size"
        else:
            size = "hidden_size" if params.output_size == params.hidden_size else "proj_size"
        shape = tuple(part.shape)
        if shape != expected:
            if shape == (*batch, H):
                fix = (
                    "LSTMState(h[None], c[None])"
                    if stacked == 1
                    else f"one (h, c) per layer and direction, stacked: jnp.stack of {stacked}"
                )
                hint = (
                    " The state is stacked over layers and directions, as torch.nn.LSTM's "
                    f"(h_0, c_0): pass {fix}."
                )
            elif xs.ndim >= 3 and shape == (stacked, *_swapped_batch(xs.shape), H):
                hint = (
                    " xs looks batch-major (batch, T, features): lstm is time-major, pass "
                    "xs.swapaxes(0, 1)."
                )
            elif size == "state_size":
                hint = (
                    " With FGR (gate_recurrence), c carries the previous gate activations after "
                    "the cell state: params.state_size units."
                )
            else:
                hint = " The leading axis indexes layer * num_directions + direction."
            raise ValueError(
                f"state.{name} has shape {shape}; expected (num_layers * num_directions, *batch, "
                f"{size}) = {expected} for xs of shape {tuple(xs.shape)}.{hint}"
            )
        if part.dtype != dtype:
            raise TypeError(
                f"state.{name} has dtype {part.dtype}; expected the params' dtype {dtype}. "
                f"Hint: state.{name}.astype(jnp.{dtype})."
            )
    return LSTMState(h, c)


def check_options(
    params: LSTMParams,
    reverse: bool,
    dropout: float,
    key: Array | None,
    deterministic: bool,
    unroll: int | bool,
    remat: object,
    impl: object,
    steps: object,
) -> tuple[str, str]:
    """Check the options of ``lstm`` for ``steps`` (T: an int, or symbolic under
    ``jax.export``); returns ``remat`` as "none", "step" or "sqrt", and ``impl``."""
    if not isinstance(reverse, (bool, np.bool_)):
        raise TypeError(
            f"reverse must be a Python bool (static: it selects the computation); got {reverse!r}."
        )
    _check_rate("dropout", dropout)
    if reverse and params.bidirectional:
        raise ValueError(
            "reverse=True with a bidirectional stack: a bidirectional layer already runs both "
            "directions. Hint: use reverse=True with a unidirectional stack only."
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1); got {dropout!r}.")
    if not isinstance(deterministic, (bool, np.bool_)):
        raise TypeError(
            f"deterministic must be a Python bool (static: it selects the computation); got "
            f"{deterministic!r}. Hint: deterministic=True for evaluation, False for training."
        )
    if dropout > 0.0 and key is None and not deterministic:
        raise ValueError(
            f"dropout={dropout} needs a PRNG key: pass key=jax.random.key(...) while training, "
            "and deterministic=True for evaluation."
        )
    if dropout > 0.0 and not deterministic:
        check_key(key)
    if not isinstance(unroll, bool) and (not isinstance(unroll, (int, np.integer)) or unroll < 1):
        raise ValueError(
            f"unroll must be a positive integer or a bool (True unrolls fully); got {unroll!r}."
        )
    if not isinstance(remat, (bool, str)) or remat not in REMATS:
        raise ValueError(
            f"remat must be one of {REMATS} (True is 'step'); got {remat!r}. 'step' saves the "
            "state of every step, 'sqrt' only at the start of about sqrt(T) chunks."
        )
    remats = {False: "none", True: "step", "step": "step", "sqrt": "sqrt"}
    if remat == "sqrt" and not isinstance(steps, int):
        raise ValueError(
            f"remat='sqrt' needs a static number of steps, to size its chunks; got a symbolic T "
            f"({steps}, as jax.export's symbolic shapes make). Hint: remat='step' saves memory with "
            "any T, or export with a fixed T."
        )
    if not isinstance(impl, str) or impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}. Hint: 'auto' picks the fastest measured.")
    return remats[remat], impl


def check_matmul(matmul_dtype: object, precision: object) -> tuple[jnp.dtype | None, object]:
    """The validated ``(matmul_dtype, precision)`` of a run, for ``jaxlstm.cell.Matmul``."""
    return check_matmul_dtype(matmul_dtype), check_precision(precision)


def check_precision(precision: object) -> object:
    """None, a ``jax.lax.Precision`` (names as ``"highest"`` become one), or a pair of them."""
    if precision is None:
        return None
    parts = precision if isinstance(precision, tuple) and len(precision) == 2 else (precision,)
    try:
        checked = tuple(jax.lax.Precision(p) if isinstance(p, str) else p for p in parts)
    except ValueError:
        checked = ()
    if not checked or not all(isinstance(p, jax.lax.Precision) for p in checked):
        raise ValueError(
            f"precision must be None, a jax.lax.Precision or one of 'default', 'high', 'highest' "
            f"(or a pair of them, one per operand); got {precision!r}."
        )
    return checked if len(checked) == 2 else checked[0]


def check_matmul_dtype(matmul_dtype: object) -> jnp.dtype | None:
    if matmul_dtype is None:
        return None
    try:
        dtype = jnp.dtype(matmul_dtype)
    except TypeError:
        dtype = None
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"matmul_dtype must be None or a floating dtype such as jnp.bfloat16; got "
            f"{matmul_dtype!r}."
        )
    return dtype


def check_noise(recurrent_dropout: float, zoneout: object, key: Array | None,
                deterministic: bool) -> tuple[float, float]:
    """Check the training-time noise options; returns the zoneout rates ``(z_c, z_h)``."""
    _check_rate("recurrent_dropout", recurrent_dropout)
    if not 0.0 <= recurrent_dropout < 1.0:
        raise ValueError(f"recurrent_dropout must lie in [0, 1); got {recurrent_dropout!r}.")
    rates = zoneout if isinstance(zoneout, tuple) else (zoneout, zoneout)
    if len(rates) != 2 or not all(_is_rate(r) and 0.0 <= r <= 1.0 for r in rates):
        raise ValueError(
            f"zoneout must be a rate in [0, 1] or a pair (z_c, z_h) of them; got {zoneout!r}."
        )
    if (recurrent_dropout or any(rates)) and key is None and not deterministic:
        raise ValueError(
            f"recurrent_dropout={recurrent_dropout} and zoneout={zoneout} need a PRNG key: pass "
            "key=jax.random.key(...) while training, and deterministic=True (with the same "
            "rates: zoneout then uses its expectation) for evaluation."
        )
    if (recurrent_dropout or any(rates)) and not deterministic:
        check_key(key)
    return float(rates[0]), float(rates[1])


def _is_rate(value: object) -> bool:
    """A real number known at trace time: a Python or numpy number, or a concrete scalar array
    (a rate is static: it selects the computation)."""
    if isinstance(value, (bool, np.bool_, jax.core.Tracer)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    dtype = getattr(value, "dtype", None)
    return getattr(value, "shape", None) == () and (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating))


def _check_rate(name: str, value: object) -> None:
    if not _is_rate(value):
        raise TypeError(
            f"{name} must be a Python float in [0, 1) (static: it selects the computation); got "
            f"{value!r}. Hint: a rate that changes during training is a separate compilation "
            "for each value; pass float(rate)."
        )


def kernel_refusal(impl: str) -> Callable[[str], NoReturn]:
    """A function raising the error of an ``impl`` with a fixed kernel (``cudnn``, ``pallas``)
    that cannot compute a call: what it lacks, and the impl that computes it."""
    def refuse(what: str) -> NoReturn:
        raise ValueError(f"impl={impl!r} {what}. Hint: impl='fused' computes the same function on every backend.")

    return refuse


def check_kernel_call(impl: str, params: LSTMParams, xs: Array, *, noise: bool, unroll: object, remat: str,
                      shapes_from: str) -> Callable[[str], NoReturn]:
    """What every fixed kernel refuses: other cells than the standard one, recurrent dropout and
    zoneout, other ``unroll`` and ``remat`` than the defaults (it keeps its own loop and saved
    activations), and symbolic shapes (``shapes_from`` says what it sizes from them). Returns
    the ``impl``'s :func:`kernel_refusal`, for the kernel's own checks."""
    refuse = kernel_refusal(impl)
    other = next((cell.variant for layer in params.layers for cell in layer if not cell.variant.is_vanilla), None)
    if other is not None:
        refuse(f"runs the standard LSTM cell only; got the variant {other}")
    if noise:
        refuse("runs no recurrent dropout or zoneout")
    if unroll is True or unroll not in (1, False) or remat != "none":  # unroll=False means 1
        refuse(f"keeps its own loop and saved activations; got unroll={unroll!r}, remat={remat!r} (pass the defaults)")
    if not all(isinstance(d, int) for d in xs.shape):
        refuse(f"needs static shapes ({shapes_from}); got xs of shape {xs.shape}")
    return refuse
