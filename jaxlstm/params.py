"""Parameter pytrees and their initialisers.

One layer and direction of an LSTM is a :class:`CellParams`: the stacked kernel ``V`` of shape
``(H + I, 4H)`` and the bias ``b`` of shape ``(4H,)``. Rows ``[:H]`` of ``V`` act on ``h(t-1)``
(the recurrent matrices ``U`` of the four gates), rows ``[H:]`` act on ``x(t)`` (the input
matrices ``W``); the columns are the gates in the order i, f, g, o, each ``H`` wide. A stack of
layers and directions is an :class:`LSTMParams`. Both are plain pytrees: ``jax.grad``,
``jax.vmap``, optax and orbax take them as they are.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

__all__ = ["CellParams", "LSTMParams", "init", "init_cell"]

Init = Literal["pytorch", "keras"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class CellParams:
    """The weights of one LSTM layer in one direction.

    Attributes:
        V: ``(hidden_size + input_size, 4 * hidden_size)``, the four gates' ``[U; W]`` stacked;
            rows ``[:H]`` multiply ``h``, rows ``[H:]`` multiply ``x``; gate columns i, f, g, o.
        b: ``(4 * hidden_size,)``, one bias per gate unit, forget-gate offset included.
    """

    V: Array
    b: Array

    @property
    def hidden_size(self) -> int:
        return self.V.shape[-1] // 4

    @property
    def input_size(self) -> int:
        return self.V.shape[-2] - self.hidden_size


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
    def input_size(self) -> int:
        return self.layers[0][0].input_size


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def _check_dtype(dtype) -> jnp.dtype:
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"dtype must be a floating dtype such as jnp.float32; got {dtype}. "
            "LSTM weights are real numbers: integer or complex weights cannot be trained."
        )
    return dtype


def init_cell(
    key: Array,
    input_size: int,
    hidden_size: int,
    *,
    init: Init = "pytorch",
    forget_bias: float = 1.0,
    dtype=jnp.float32,
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
            orthogonal over ``(H, 4H)``, the bias zero, as ``keras.layers.LSTM``.
        forget_bias: added to the forget-gate slice of ``b`` after drawing it, in both schemes
            (1.0 by default, Jozefowicz et al. 2015; Keras's ``unit_forget_bias``). It is stored
            in ``b``, never added inside the step, so imported weights mean what they meant.
        dtype: a floating dtype for every leaf.

    Returns:
        ``CellParams`` with ``V`` of shape ``(H + I, 4H)`` and ``b`` of shape ``(4H,)``.

    Example:
        >>> import jax, jaxlstm
        >>> cell = jaxlstm.init_cell(jax.random.key(0), input_size=2, hidden_size=3)
        >>> cell.V.shape, cell.b.shape
        ((5, 12), (12,))
    """
    input_size = _check_size("input_size", input_size)
    hidden_size = _check_size("hidden_size", hidden_size)
    dtype = _check_dtype(dtype)
    k_u, k_w, k_b = jax.random.split(key, 3)
    H = hidden_size
    if init == "pytorch":
        bound = 1.0 / math.sqrt(H)
        U = jax.random.uniform(k_u, (H, 4 * H), dtype, -bound, bound)
        W = jax.random.uniform(k_w, (input_size, 4 * H), dtype, -bound, bound)
        b = jax.random.uniform(k_b, (4 * H,), dtype, -bound, bound)
    elif init == "keras":
        U = jax.nn.initializers.orthogonal()(k_u, (H, 4 * H), dtype)
        W = jax.nn.initializers.glorot_uniform()(k_w, (input_size, 4 * H), dtype)
        b = jnp.zeros((4 * H,), dtype)
    else:
        raise ValueError(
            f"init must be 'pytorch' or 'keras'; got {init!r}. 'pytorch' draws every weight from "
            "U(-1/sqrt(H), 1/sqrt(H)); 'keras' uses Glorot-uniform W, orthogonal U, zero bias."
        )
    b = b.at[H : 2 * H].add(jnp.asarray(forget_bias, dtype))
    return CellParams(V=jnp.concatenate([U, W], axis=0), b=b)


def init(
    key: Array,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    init: Init = "pytorch",
    forget_bias: float = 1.0,
    dtype=jnp.float32,
) -> LSTMParams:
    """Initialise a stack of LSTM layers, as ``torch.nn.LSTM(input_size, hidden_size, ...)``.

    Layer 0 reads ``input_size`` features; layer ``l > 0`` reads ``hidden_size * D`` features,
    where ``D`` is 2 for a bidirectional stack and 1 otherwise. Each layer and direction gets
    its own key. ``init``, ``forget_bias`` and ``dtype`` are as in :func:`init_cell`.

    Returns:
        ``LSTMParams`` whose ``layers[l][d]`` is the ``CellParams`` of layer ``l``, direction
        ``d`` (0 forward, 1 backward).

    Example:
        >>> import jax, jaxlstm
        >>> params = jaxlstm.init(jax.random.key(0), 8, 16, num_layers=2, bidirectional=True)
        >>> [[cell.V.shape for cell in layer] for layer in params.layers]
        [[(24, 64), (24, 64)], [(48, 64), (48, 64)]]
    """
    num_layers = _check_size("num_layers", num_layers)
    hidden_size = _check_size("hidden_size", hidden_size)
    directions = 2 if bidirectional else 1
    keys = jax.random.split(key, (num_layers, directions))
    layers = tuple(
        tuple(
            init_cell(
                keys[layer, direction],
                input_size if layer == 0 else hidden_size * directions,
                hidden_size,
                init=init,
                forget_bias=forget_bias,
                dtype=dtype,
            )
            for direction in range(directions)
        )
        for layer in range(num_layers)
    )
    return LSTMParams(layers=layers)
