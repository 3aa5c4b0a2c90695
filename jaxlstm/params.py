"""Parameter and state pytrees, and the parameters' initialisers.

One layer and direction of an LSTM is a :class:`CellParams`: the stacked kernel ``V`` of shape
``(H + I, 4H)`` and the bias ``b`` of shape ``(4H,)``. Rows ``[:H]`` of ``V`` act on ``h(t-1)``
(the recurrent matrices ``U`` of the four gates), rows ``[H:]`` act on ``x(t)`` (the input
matrices ``W``); the columns are the gates in the order i, f, g, o, each ``H`` wide. A stack of
layers and directions is an :class:`LSTMParams`. Both are plain pytrees: ``jax.grad``,
``jax.vmap``, optax and orbax take them as they are.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.export  # a submodule: older jax (0.7) does not import it with jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxlstm.options import INITS, Init
from jaxlstm.variant import Variant, as_variant

__all__ = ["CellParams", "LSTMParams", "LSTMState", "init", "init_cell", "initial_state", "param_count"]

Initializer = Callable[[Array, tuple[int, ...], Any], Array]  # jax.nn.initializers' signature


class LSTMState(NamedTuple):
    """The recurrent state, ``h`` first (as PyTorch; Flax's carry is ``(c, h)``)."""

    h: Array
    c: Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class CellParams:
    """The weights of one LSTM layer in one direction.

    Attributes:
        V: ``(hidden_size + input_size, G * hidden_size)``, the gates' ``[U; W]`` stacked; rows
            ``[:H]`` multiply ``h``, rows ``[H:]`` multiply ``x``; one block of ``H`` columns per
            gate in ``variant.gates`` (i, f, g, o for the vanilla cell, so ``G = 4``).
        b: ``(G * hidden_size,)``, one bias per gate unit, forget-gate offset included.
        peepholes: with ``variant.peepholes``, ``{gate: (H,)}`` for each of i, f, o that the
            variant has; else None.
        norm: with ``variant.layer_norm``, ``{"gate_gain", "gate_bias"}`` of shape ``(G * H,)``
            and ``{"cell_gain", "cell_bias"}`` of shape ``(H,)``; else None.
        proj: with ``variant.proj_size = P``, the projection ``(H, P)``, and then ``V`` is
            ``(P + I, G * H)``: the projected ``h`` is what enters the matmul; else None.
        gate_recurrence: with ``variant.gate_recurrence`` (FGR), ``(K * H, K * H)`` for the
            ``K`` gates of i, f, o that have weights: rows are the previous step's activations
            of those gates, columns their pre-activations, both in ``V``'s gate order; else
            None.
        h0, c0: with ``init(..., learn_initial_state=True)``, the learned initial state,
            ``(P,)`` and ``(C,)`` (``P`` the size of ``h``, ``C`` that of ``c``, see
            ``state_size``), trained like any weight: the state :func:`jaxlstm.lstm` starts
            from when it is given no ``state``, and the state every reset restores, the same
            for every sequence of a batch. None (both) is the zero initial state.
        variant: the static :class:`jaxlstm.Variant` that says which equations these are.
    """

    V: Array
    b: Array
    peepholes: dict[str, Array] | None = None
    norm: dict[str, Array] | None = None
    proj: Array | None = None
    gate_recurrence: Array | None = None
    h0: Array | None = None
    c0: Array | None = None
    variant: Variant = dataclasses.field(default=Variant(), metadata=dict(static=True))

    @property
    def hidden_size(self) -> int:
        """``H``, the size of ``c``."""
        return self.V.shape[-1] // len(self.variant.gates)

    @property
    def output_size(self) -> int:
        """The size of ``h``: ``proj_size`` with a projection, else ``H``."""
        return self.variant.proj_size or self.hidden_size

    @property
    def input_size(self) -> int:
        return self.V.shape[-2] - self.output_size

    @property
    def state_size(self) -> int:
        """The size of the state's ``c``: ``H``; with FGR, ``(1 + K) * H``: ``c[..., :H]`` is the
        cell state, and ``c[..., H:]`` the previous step's activations of the ``K`` gates of i,
        f, o that have weights, ``H`` each, in ``V``'s gate order (what FGR's gate-to-gate
        matrices read); the final state of a run returns them too."""
        recurrent = len(self.variant.sigmoid_gates) if self.variant.gate_recurrence else 0
        return self.hidden_size * (1 + recurrent)

    @property
    def learns_initial_state(self) -> bool:
        return self.h0 is not None

    def initial_state(self, batch: tuple[int, ...], dtype=None) -> LSTMState:
        """The state this cell starts from, and returns to at a reset, for sequences of batch
        shape ``batch``: ``h0, c0`` broadcast, or zeros (of ``dtype``, by default ``V``'s)."""
        dtype = self.V.dtype if dtype is None else dtype
        if self.h0 is None:
            return LSTMState(jnp.zeros((*batch, self.output_size), dtype), jnp.zeros((*batch, self.state_size), dtype))
        return LSTMState(jnp.broadcast_to(self.h0, (*batch, self.output_size)),
                         jnp.broadcast_to(self.c0, (*batch, self.state_size)))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LSTMParams:
    """A stack of LSTM layers, each with one (forward) or two (forward, backward) directions.

    ``layers[l][d]`` is the :class:`CellParams` of layer ``l``, direction ``d``. Layer ``l + 1``
    reads the concatenated outputs of every direction of layer ``l``, as ``torch.nn.LSTM`` does.
    """

    layers: tuple[tuple[CellParams, ...], ...]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def num_directions(self) -> int:
        return len(self.layers[0])

    @property
    def bidirectional(self) -> bool:
        return self.num_directions == 2

    @property
    def hidden_size(self) -> int:
        return self.layers[0][0].hidden_size

    @property
    def output_size(self) -> int:
        """The size of ``h`` and of each direction's outputs: ``proj_size`` or ``hidden_size``."""
        return self.layers[0][0].output_size

    @property
    def input_size(self) -> int:
        return self.layers[0][0].input_size

    @property
    def state_size(self) -> int:
        """The size of the state's ``c``: ``hidden_size``, more with FGR (see ``CellParams``)."""
        return self.layers[0][0].state_size


def initial_state(params: LSTMParams | CellParams, batch_shape: tuple[int, ...] = (), dtype=None) -> LSTMState:
    """The state a stack starts from (and each reset restores) for a batch of sequences.

    The zero state, or with ``init(..., learn_initial_state=True)`` each cell's learned
    ``h0, c0`` broadcast over the batch; stacked ``(num_layers * num_directions, *batch_shape,
    units)`` as :func:`jaxlstm.lstm`'s ``state``. For acting one step at a time: start an
    episode from it, and pass it again where one ends (or pass ``resets`` to ``lstm``).

    Example:
        >>> import jax, jaxlstm
        >>> params = jaxlstm.init(jax.random.key(0), 4, 8, num_layers=2, learn_initial_state=True)
        >>> h, c = jaxlstm.initial_state(params, (3,))
        >>> h.shape, c.shape
        ((2, 3, 8), (2, 3, 8))
    """
    if isinstance(params, CellParams):
        params = LSTMParams(layers=((params,),))
    if not isinstance(params, LSTMParams):
        raise TypeError(f"params must be the LSTMParams of jaxlstm.init or a CellParams; got {type(params).__name__}.")
    if isinstance(batch_shape, (int, np.integer)):
        batch_shape = (batch_shape,)
    batch_shape = tuple(batch_shape)
    states = [cell.initial_state(batch_shape, dtype) for layer in params.layers for cell in layer]
    return LSTMState(jnp.stack([s.h for s in states]), jnp.stack([s.c for s in states]))


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def check_key(key: object) -> None:
    """``key`` is one PRNG key: a typed key of shape ``()`` or a legacy ``uint32[2]``."""
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    typed = dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key) and shape == ()
    raw = dtype == jnp.uint32 and shape == (2,)  # the legacy jax.random.PRNGKey
    if not (typed or raw):
        got = type(key).__name__ if dtype is None else f"an array of dtype {dtype} and shape {tuple(shape)}"
        raise TypeError(
            f"key must be one PRNG key, e.g. jax.random.key(0); got {got}. Hint: split a key "
            "for several calls (jax.random.split), or pass keys[i] of a batch of keys."
        )


def _check_flag(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def _check_real(name: str, value: object) -> None:
    scalar_array = getattr(value, "shape", None) == () and jnp.issubdtype(getattr(value, "dtype", None), jnp.number)
    if isinstance(value, bool) or not (isinstance(value, (int, float)) or scalar_array):
        raise TypeError(f"{name} must be a real number such as 1.0; got {value!r}.")


def _check_dtype(dtype) -> jnp.dtype:
    try:
        dtype = jnp.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a floating dtype such as jnp.float32; got {dtype!r}.") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"dtype must be a floating dtype such as jnp.float32; got {dtype}. "
            "LSTM weights are real numbers: integer or complex weights cannot be trained."
        )
    return dtype


def _check_initializer(name: str, value: object) -> None:
    if value is not None and not callable(value):
        raise TypeError(
            f"{name} must be None or an initializer called as {name}(key, shape, dtype), such as "
            f"jax.nn.initializers.orthogonal(); got {value!r}."
        )


def _orthogonal(key: Array, shape: tuple[int, ...], dtype) -> Array:
    """An orthogonal draw, made in at least float32 (QR has no bfloat16 kernel) and cast."""
    wide = dtype if jnp.dtype(dtype).itemsize >= 4 else jnp.float32
    return jax.nn.initializers.orthogonal()(key, shape, wide).astype(dtype)


def _per_gate(initializer: Initializer, key: Array, shape: tuple[int, ...], gates: int, dtype) -> Array:
    """One draw of ``shape`` per gate, side by side on the last axis (Flax draws each gate's
    kernel apart, so an orthogonal initializer makes each gate's block orthogonal)."""
    keys = jax.random.split(key, gates)
    return jnp.concatenate([jnp.asarray(initializer(k, shape, dtype), dtype) for k in keys], axis=-1)


def init_cell(
    key: Array,
    input_size: int,
    hidden_size: int,
    *,
    init: Init = "pytorch",
    forget_bias: float = 1.0,
    variant: Variant | str = "vanilla",
    dtype=jnp.float32,
    kernel_init: Initializer | None = None,
    recurrent_kernel_init: Initializer | None = None,
    bias_init: Initializer | None = None,
    learn_initial_state: bool = False,
) -> CellParams:
    """Initialise one LSTM layer in one direction.

    Args:
        key: a PRNG key.
        input_size: ``I``, the size of ``x(t)``.
        hidden_size: ``H``, the size of ``h(t)`` and ``c(t)``.
        init: ``"pytorch"``: every weight and the bias drawn from U(-1/sqrt(H), 1/sqrt(H)), as
            ``torch.nn.LSTM`` draws its weights (PyTorch keeps two biases, ``b_ih + b_hh``, whose
            sum is triangular on twice that range; jaxlstm keeps one, drawn once). ``"keras"``:
            the input part ``W`` Glorot-uniform over ``(I, 4H)``, the recurrent part ``U``
            orthogonal over ``(H, 4H)``, the bias zero, as ``keras.layers.LSTM``. ``"flax"``: as
            Flax's LSTM cells (Linen's ``LSTMCell`` and ``OptimizedLSTMCell``, nnx's
            ``LSTMCell``): each gate's input kernel ``(I, H)`` LeCun-normal, each gate's
            recurrent kernel ``(H, H)`` orthogonal, the bias zero. (nnx's
            ``OptimizedLSTMCell`` alone draws one orthogonal ``(H, 4H)``, whose gate blocks are
            not each orthogonal, as ``"keras"``'s ``U``.)
        forget_bias: added to the forget-gate slice of ``b`` after drawing it, in both schemes
            (1.0 by default, Jozefowicz et al. 2015; Keras's ``unit_forget_bias``). It is stored
            in ``b`` (in ``norm["gate_bias"]`` under layer normalisation, which would cancel it
            in ``b``), never added inside the step, so imported weights mean what they meant.
            Variants without forget-gate weights (NFG, CIFG) have no slice to add it to.
        variant: a :class:`jaxlstm.Variant` or the name of a preset in ``jaxlstm.VARIANTS``.
            Peephole vectors are drawn like the weights (``"pytorch"``) or start at zero
            (``"keras"``); a projection is drawn like the weights (``"pytorch"``, as PyTorch's
            ``weight_hr``) or Glorot-uniform (``"keras"``); layer-norm gains start at one and
            biases at zero; FGR's gate-to-gate matrices are drawn like the weights
            (``"pytorch"``) or orthogonal like ``U`` (``"keras"``).
        dtype: a floating dtype for every leaf.
        kernel_init, recurrent_kernel_init, bias_init: initializers in ``jax.nn.initializers``'
            form, ``(key, shape, dtype) -> array``, replacing the scheme's draw of ``W``, ``U`` or
            ``b``; each is called once per gate with shape ``(I, H)``, ``(H, H)`` (``(P, H)``
            with a projection) or ``(H,)``, as Flax's LSTM cells call theirs. ``forget_bias``
            is added after.
        learn_initial_state: add the initial state ``h0, c0`` to the params, starting at zero
            (see ``CellParams``).

    Returns:
        ``CellParams`` with ``V`` of shape ``(H + I, G * H)`` and ``b`` of shape ``(G * H,)``,
        ``G`` the number of gates with weights (4 for the vanilla cell).

    Example:
        >>> import jax, jaxlstm
        >>> cell = jaxlstm.init_cell(jax.random.key(0), input_size=2, hidden_size=3)
        >>> cell.V.shape, cell.b.shape
        ((5, 12), (12,))
    """
    check_key(key)
    input_size = _check_size("input_size", input_size)
    hidden_size = _check_size("hidden_size", hidden_size)
    _check_real("forget_bias", forget_bias)
    learn_initial_state = _check_flag("learn_initial_state", learn_initial_state)
    dtype = _check_dtype(dtype)
    variant = as_variant(variant)
    for name, value in (("kernel_init", kernel_init), ("recurrent_kernel_init", recurrent_kernel_init),
                        ("bias_init", bias_init)):
        _check_initializer(name, value)
    k_u, k_w, k_b, k_p, k_proj = jax.random.split(key, 5)
    H, G = hidden_size, len(variant.gates)
    P = variant.proj_size or H
    if init == "pytorch":
        bound = 1.0 / math.sqrt(H)
        U = jax.random.uniform(k_u, (P, G * H), dtype, -bound, bound)
        proj = jax.random.uniform(k_proj, (H, P), dtype, -bound, bound)
        W = jax.random.uniform(k_w, (input_size, G * H), dtype, -bound, bound)
        b = jax.random.uniform(k_b, (G * H,), dtype, -bound, bound)
        peep_keys = dict(zip(variant.peephole_gates, jax.random.split(k_p, 3)))
        peepholes = {g: jax.random.uniform(k, (H,), dtype, -bound, bound) for g, k in peep_keys.items()}
        draw_fgr = lambda key, shape: jax.random.uniform(key, shape, dtype, -bound, bound)
    elif init == "keras":
        U = _orthogonal(k_u, (P, G * H), dtype)
        W = jax.nn.initializers.glorot_uniform()(k_w, (input_size, G * H), dtype)
        proj = jax.nn.initializers.glorot_uniform()(k_proj, (H, P), dtype)
        b = jnp.zeros((G * H,), dtype)
        peepholes = {g: jnp.zeros((H,), dtype) for g in variant.peephole_gates}
        draw_fgr = lambda key, shape: _orthogonal(key, shape, dtype)
    elif init == "flax":
        lecun = jax.nn.initializers.lecun_normal()
        U = _per_gate(_orthogonal, k_u, (P, H), G, dtype)
        W = _per_gate(lecun, k_w, (input_size, H), G, dtype)
        proj = lecun(k_proj, (H, P), dtype)
        b = jnp.zeros((G * H,), dtype)
        peepholes = {g: jnp.zeros((H,), dtype) for g in variant.peephole_gates}
        draw_fgr = lambda key, shape: _orthogonal(key, shape, dtype)
    else:
        raise ValueError(
            f"init must be one of {INITS}; got {init!r}. 'pytorch' draws every "
            "weight from U(-1/sqrt(H), 1/sqrt(H)); 'keras' uses Glorot-uniform W, orthogonal U, "
            "zero bias; 'flax' LeCun-normal W and orthogonal U per gate, zero bias."
        )
    if kernel_init is not None:
        W = _per_gate(kernel_init, k_w, (input_size, H), G, dtype)
    if recurrent_kernel_init is not None:
        U = _per_gate(recurrent_kernel_init, k_u, (P, H), G, dtype)
    if bias_init is not None:
        b = _per_gate(bias_init, k_b, (H,), G, dtype)
    fgr = None
    if variant.gate_recurrence:  # a key of its own, leaving the other draws as they were
        K = len(variant.sigmoid_gates) * H
        fgr = draw_fgr(jax.random.fold_in(k_u, 1), (K, K))
    norm = None
    if variant.layer_norm:
        norm = {
            "gate_gain": jnp.ones((G * H,), dtype),
            "gate_bias": jnp.zeros((G * H,), dtype),
            "cell_gain": jnp.ones((H,), dtype),
            "cell_bias": jnp.zeros((H,), dtype),
        }
    if "f" in variant.gates:
        f = variant.gates.index("f")
        offset = jnp.asarray(forget_bias, dtype)
        if norm is None:
            b = b.at[f * H : (f + 1) * H].add(offset)
        else:
            norm["gate_bias"] = norm["gate_bias"].at[f * H : (f + 1) * H].add(offset)
    cell = CellParams(
        V=jnp.concatenate([U, W], axis=0),
        b=b,
        peepholes=peepholes or None,
        norm=norm,
        proj=proj if variant.proj_size else None,
        gate_recurrence=fgr,
        variant=variant,
    )
    if learn_initial_state:
        cell = dataclasses.replace(cell, h0=jnp.zeros((cell.output_size,), dtype),
                                   c0=jnp.zeros((cell.state_size,), dtype))
    return cell


def init(
    key: Array,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    init: Init = "pytorch",
    forget_bias: float = 1.0,
    variant: Variant | str = "vanilla",
    dtype=jnp.float32,
    kernel_init: Initializer | None = None,
    recurrent_kernel_init: Initializer | None = None,
    bias_init: Initializer | None = None,
    learn_initial_state: bool = False,
) -> LSTMParams:
    """Initialise a stack of LSTM layers, as ``torch.nn.LSTM(input_size, hidden_size, ...)``.

    Layer 0 reads ``input_size`` features; layer ``l > 0`` reads ``output_size * D`` features
    (``output_size`` is ``proj_size`` with a projection, else ``hidden_size``), where ``D`` is 2
    for a bidirectional stack and 1 otherwise. Each layer and direction gets
    its own key. ``init``, ``forget_bias``, ``variant``, ``dtype``, the initializers and
    ``learn_initial_state`` (a learned ``h0, c0`` for every layer and direction) are as in
    :func:`init_cell`; every layer and direction has the same variant.

    Returns:
        ``LSTMParams`` whose ``layers[l][d]`` is the ``CellParams`` of layer ``l``, direction
        ``d`` (0 forward, 1 backward).

    Example:
        >>> import jax, jaxlstm
        >>> params = jaxlstm.init(jax.random.key(0), 8, 16, num_layers=2, bidirectional=True)
        >>> [[cell.V.shape for cell in layer] for layer in params.layers]
        [[(24, 64), (24, 64)], [(48, 64), (48, 64)]]
    """
    check_key(key)
    num_layers = _check_size("num_layers", num_layers)
    hidden_size = _check_size("hidden_size", hidden_size)
    directions = 2 if _check_flag("bidirectional", bidirectional) else 1
    output_size = as_variant(variant).proj_size or hidden_size
    keys = jax.random.split(key, (num_layers, directions))
    layers = tuple(
        tuple(
            init_cell(
                keys[layer, direction],
                input_size if layer == 0 else output_size * directions,
                hidden_size,
                init=init,
                forget_bias=forget_bias,
                variant=variant,
                dtype=dtype,
                kernel_init=kernel_init,
                recurrent_kernel_init=recurrent_kernel_init,
                bias_init=bias_init,
                learn_initial_state=learn_initial_state,
            )
            for direction in range(directions)
        )
        for layer in range(num_layers)
    )
    return LSTMParams(layers=layers)


def param_count(input_size: int, hidden_size: int, **init_kwargs) -> int:
    """The number of parameters :func:`init` makes with these arguments (nothing is allocated).

    For comparing variants at equal budgets, e.g. ``param_count(7, 8, variant="CIFG")``.

    Example:
        >>> param_count(2, 3), param_count(2, 3, variant="CIFG"), param_count(2, 3, variant="peephole")
        (72, 60, 81)
    """
    shapes = jax.eval_shape(lambda key: init(key, input_size, hidden_size, **init_kwargs), jax.random.key(0))
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes))


def _serialize_cell(aux: tuple) -> bytes:
    """A cell's static part, its :class:`Variant`, as JSON for ``jax.export`` (which then
    serializes functions that take or return params)."""
    (variant,) = aux
    fields = dataclasses.asdict(variant)
    custom = [name for name, value in fields.items() if callable(value)]
    if custom:
        raise TypeError(
            f"a Variant with a custom {custom[0]} ({fields[custom[0]]!r}) cannot be serialized by "
            "jax.export, which stores only data; expected an activation named in "
            "jaxlstm.variant.ACTIVATIONS. Hint: export a function that closes over such params "
            "instead of taking them as an argument."
        )
    return json.dumps(fields, sort_keys=True).encode()


def _deserialize_cell(data: bytes) -> tuple:
    return (Variant(**json.loads(data)),)


jax.export.register_namedtuple_serialization(LSTMState, serialized_name="jaxlstm.LSTMState")
jax.export.register_pytree_node_serialization(CellParams, serialized_name="jaxlstm.CellParams",
                                              serialize_auxdata=_serialize_cell, deserialize_auxdata=_deserialize_cell)
jax.export.register_pytree_node_serialization(LSTMParams, serialized_name="jaxlstm.LSTMParams",
                                              serialize_auxdata=lambda aux: b"", deserialize_auxdata=lambda data: ())
