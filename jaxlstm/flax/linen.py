"""Flax Linen modules over the functional core: :class:`LSTM` (a whole stack over a sequence)
and :class:`LSTMCell` (one step, for ``nn.RNN`` and ``nn.Bidirectional``).

Each module keeps the functional params pytree as one Linen param: ``{"params": {"lstm_params":
LSTMParams}}`` for :class:`LSTM`, ``{"params": {"cell_params": CellParams}}`` for
:class:`LSTMCell` (under ``nn.RNN``, at ``params["cell"]["cell_params"]``). Existing functional
params go in as they are: ``module.apply({"params": {"lstm_params": params}}, xs)``.

Both take Flax's ``dtype`` (the computation dtype; None promotes inputs as Flax's cells do),
``param_dtype``, ``gate_fn``, ``activation_fn`` and the initializer arguments. Linen modules
already have an ``init`` method, so :func:`jaxlstm.init`'s ``init`` option is called
``init_scheme`` here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import Array

import jaxlstm
from jaxlstm import _validate
from jaxlstm.flax import _common
from jaxlstm.options import Impl, Init, Remat
from jaxlstm.params import Initializer, LSTMState
from jaxlstm.variant import Variant

__all__ = ["LSTM", "LSTMCell"]


class LSTM(nn.Module):
    """A stack of LSTM layers over a sequence: :func:`jaxlstm.lstm` as a Linen module.

    ``xs`` is batch-major ``(*batch, T, input_size)`` unless ``time_major=True``; the input size
    is read from ``xs`` at ``init``. ``ys`` has the layout of ``xs``; the state is
    ``jaxlstm.LSTMState(h, c)`` stacked ``(num_layers * num_directions, *batch, H)``.

    Attributes:
        hidden_size, num_layers, bidirectional, forget_bias, variant: as :func:`jaxlstm.init`.
        kernel_init, recurrent_kernel_init, bias_init, learn_initial_state: as :func:`jaxlstm.init`.
        gate_fn, activation_fn: the gates' and the cell's activations, as Flax's cells (None:
            the variant's, sigmoid and tanh).
        dtype: the computation dtype, as Flax's (None: promote ``xs``, state and params).
        param_dtype: the params' dtype.
        init_scheme: :func:`jaxlstm.init`'s ``init``: ``"pytorch"``, ``"keras"`` or ``"flax"``.
        dropout, recurrent_dropout, zoneout, impl, remat, unroll, matmul_dtype, precision: as
            :func:`jaxlstm.lstm`. The noise draws its key with ``self.make_rng("dropout")``.
        time_major: ``xs`` and ``ys`` are ``(T, *batch, features)``.
        deterministic: True is evaluation mode (no dropout, zoneout's expectation, as
            :func:`jaxlstm.lstm`'s ``deterministic``); may be given here or per call (the
            call's wins), and must be given one way when any noise rate is nonzero.

    Example:
        >>> import jax, jax.numpy as jnp, jaxlstm
        >>> from jaxlstm.flax.linen import LSTM
        >>> model = LSTM(hidden_size=8, num_layers=2, dropout=0.1)
        >>> xs = jnp.ones((3, 10, 4))                        # (batch, T, input_size)
        >>> variables = model.init(jax.random.key(0), xs, deterministic=True)
        >>> ys, state = model.apply(variables, xs, deterministic=False,
        ...                         rngs={"dropout": jax.random.key(1)})
        >>> ys.shape, state.h.shape
        ((3, 10, 8), (2, 3, 8))
        >>> ys, _ = model.apply(variables, xs, deterministic=True)
        >>> expected, _ = jaxlstm.lstm(variables["params"]["lstm_params"], xs.swapaxes(0, 1))
        >>> bool(jnp.array_equal(ys, expected.swapaxes(0, 1)))
        True

    Acting one observation at a time (``initialize_carry`` and ``step`` read the params, so
    they go through ``apply``):

        >>> state = model.apply(variables, (3, 4), method="initialize_carry")
        >>> state, y = model.apply(variables, state, jnp.ones((3, 4)), method="step",
        ...                        reset=jnp.array([True, False, False]), deterministic=True)
        >>> y.shape, state.c.shape
        ((3, 8), (2, 3, 8))
    """

    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    init_scheme: Init = "pytorch"
    forget_bias: float = 1.0
    variant: Variant | str = "vanilla"
    gate_fn: Callable | None = None
    activation_fn: Callable | None = None
    kernel_init: Initializer | None = None
    recurrent_kernel_init: Initializer | None = None
    bias_init: Initializer | None = None
    learn_initial_state: bool = False
    dtype: Any = None
    param_dtype: Any = jnp.float32
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    zoneout: float | tuple[float, float] = 0.0
    time_major: bool = False
    impl: Impl = "auto"
    remat: Remat = False
    unroll: int | bool = 1
    matmul_dtype: Any = None
    precision: Any = None
    deterministic: bool | None = None

    @nn.compact
    def __call__(
        self,
        xs: Array,
        state: tuple[Array, Array] | None = None,
        *,
        seq_lengths: Array | None = None,
        resets: Array | None = None,
        deterministic: bool | None = None,
    ) -> tuple[Array, LSTMState]:
        """Run the stack over ``xs``; arguments and returns as :class:`jaxlstm.flax.LSTM`."""
        xs = _common.check_rank(xs, self.time_major)
        if self.has_variable("params", "lstm_params"):  # else Flax's shape error names no argument
            layout = "(T, *batch, {})" if self.time_major else "(*batch, T, {})"
            _common.check_features("xs", xs, _validate.as_stack(self.get_variable("params", "lstm_params")), layout)
        params = self.param(
            "lstm_params",
            lambda key: jaxlstm.init(
                key,
                xs.shape[-1],
                self.hidden_size,
                num_layers=self.num_layers,
                bidirectional=self.bidirectional,
                init=self.init_scheme,
                forget_bias=self.forget_bias,
                variant=_common.variant_with(self.variant, self.gate_fn, self.activation_fn),
                dtype=self.param_dtype,
                kernel_init=self.kernel_init,
                recurrent_kernel_init=self.recurrent_kernel_init,
                bias_init=self.bias_init,
                learn_initial_state=self.learn_initial_state,
            ),
        )
        deterministic = self.deterministic if deterministic is None else deterministic
        key = None
        if _common.noisy(self.dropout, self.recurrent_dropout, self.zoneout):
            if deterministic is None:
                raise ValueError(
                    f"LSTM has dropout={self.dropout}, recurrent_dropout={self.recurrent_dropout} "
                    f"and zoneout={self.zoneout}, so it needs to know whether it is training: "
                    "pass deterministic=False (training, with rngs={'dropout': key} to apply) or "
                    "deterministic=True (evaluation), to the call or as an attribute."
                )
            if not deterministic:
                key = self.make_rng("dropout")
        return _common.run(
            params,
            xs,
            state,
            seq_lengths,
            resets=resets,
            time_major=self.time_major,
            deterministic=bool(deterministic),
            key=key,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            zoneout=self.zoneout,
            dtype=self.dtype,
            impl=self.impl,
            remat=self.remat,
            unroll=self.unroll,
            matmul_dtype=self.matmul_dtype,
            precision=self.precision,
        )


    def initialize_carry(self, input_shape: tuple[int, ...]) -> LSTMState:
        """The stacked state an episode starts from, for one step's input of shape ``(*batch,
        input_size)``: zeros, or the learned initial state (:func:`jaxlstm.initial_state`).
        Call it through ``apply(variables, input_shape, method="initialize_carry")``."""
        _common.check_step_shape(input_shape)
        params = self.variables.get("params", {}).get("lstm_params") if self.scope is not None else None
        if params is None:
            raise ValueError(
                "initialize_carry reads the module's params, and this module has none; expected "
                "it bound to its variables. Hint: model.apply(variables, input_shape, "
                "method='initialize_carry'), with variables from model.init."
            )
        return jaxlstm.initial_state(params, tuple(input_shape[:-1]))

    def step(self, state: tuple[Array, Array] | None, x: Array, *, reset: Array | None = None,
             deterministic: bool | None = None) -> tuple[LSTMState, Array]:
        """One step of the whole stack: ``(state, x) -> (state, y)``, as
        :meth:`jaxlstm.flax.LSTM.step`; through ``apply(..., method="step")``."""
        return _common.stack_step(self, state, x, reset, self.time_major, deterministic=deterministic)


class LSTMCell(nn.recurrent.RNNCellBase):
    """One LSTM step with Linen's RNN cell interface: a drop-in for ``nn.OptimizedLSTMCell`` (and
    ``nn.LSTMCell``) inside ``nn.RNN``, ``nn.Bidirectional`` and ``nn.scan``, computing
    :func:`jaxlstm.lstm_step`.

    It takes Flax's attributes with Flax's meanings and defaults (``gate_fn``,
    ``activation_fn``, ``kernel_init``, ``recurrent_kernel_init``, ``bias_init``, ``dtype``,
    ``param_dtype``, ``carry_init``); the carry is Flax's ``(c, h)``, c first (jaxlstm's
    ``LSTMState`` is ``(h, c)``). The one difference is the parameter tree: one
    ``{"cell_params": CellParams}`` with the fused ``V`` and ``b`` instead of per-gate Dense
    kernels (see the Flax guide's "parameter tree" section). Weights of a Flax cell come in as
    ``{"cell_params": jaxlstm.interop.from_flax(tree)}``.

    Attributes:
        features: ``H``, as ``nn.OptimizedLSTMCell``'s ``features``.
        gate_fn, activation_fn: as Flax's (None: sigmoid and tanh, or the variant's).
        kernel_init, recurrent_kernel_init, bias_init: as Flax's, each called per gate (see
            :func:`jaxlstm.init_cell`); None for the scheme's.
        dtype: the computation dtype (None: promote input, carry and params, as Flax).
        param_dtype: the params' (and the carry's) dtype.
        carry_init: the carry's initializer in :meth:`initialize_carry` (zeros).
        init_scheme, forget_bias, variant: :func:`jaxlstm.init_cell`'s ``init``,
            ``forget_bias`` and ``variant``; ``"flax"`` and 0.0 by default, Flax's own.
        matmul_dtype, precision: as :func:`jaxlstm.lstm_step`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> import flax.linen as nn
        >>> from jaxlstm.flax.linen import LSTMCell
        >>> rnn = nn.RNN(LSTMCell(features=8), return_carry=True)
        >>> xs = jnp.ones((3, 10, 4))                        # (batch, T, features)
        >>> variables = rnn.init(jax.random.key(0), xs)
        >>> (c, h), ys = rnn.apply(variables, xs)
        >>> c.shape, ys.shape
        ((3, 8), (3, 10, 8))
    """

    features: int
    gate_fn: Callable | None = None
    activation_fn: Callable | None = None
    kernel_init: Initializer | None = None
    recurrent_kernel_init: Initializer | None = None
    bias_init: Initializer | None = None
    dtype: Any = None
    param_dtype: Any = jnp.float32
    carry_init: Initializer | None = None
    init_scheme: Init = "flax"
    forget_bias: float = 0.0
    variant: Variant | str = "vanilla"
    matmul_dtype: Any = None
    precision: Any = None

    def _init_cell(self, key: Array, input_size: int):
        return jaxlstm.init_cell(
            key, input_size, self.features, init=self.init_scheme, forget_bias=self.forget_bias,
            variant=_common.variant_with(self.variant, self.gate_fn, self.activation_fn),
            dtype=self.param_dtype, kernel_init=self.kernel_init,
            recurrent_kernel_init=self.recurrent_kernel_init, bias_init=self.bias_init,
        )

    @nn.compact
    def __call__(self, carry: tuple[Array, Array], inputs: Array) -> tuple[tuple[Array, Array], Array]:
        """One step: ``((c, h), x) -> ((c', h'), h')``, ``x`` of shape ``(*batch, I)``."""
        inputs = _common.step_input(inputs)
        if self.has_variable("params", "cell_params"):  # else Flax's shape error names no argument
            _common.check_features("x", inputs, _validate.check_cell(self.get_variable("params", "cell_params")),
                                   "(*batch, {})")
        cell = self.param("cell_params", self._init_cell, inputs.shape[-1])
        matmul_dtype, precision = _validate.check_matmul(self.matmul_dtype, self.precision)
        return _common.step(cell, carry, inputs, dtype=self.dtype, matmul_dtype=matmul_dtype, precision=precision)

    @nn.nowrap
    def initialize_carry(self, rng: Array, input_shape: tuple[int, ...]) -> tuple[Array, Array]:
        """The carry ``(c, h)`` for inputs of shape ``(*batch, I)``, in ``param_dtype``: as
        Flax's, ``carry_init`` (zeros by default) for ``c`` and ``h``, with ``rng`` split in two."""
        # The sizes of c and h do not depend on the input size: any will do for the shapes.
        shapes = jax.eval_shape(lambda key: self._init_cell(key, 1), jax.random.key(0))
        keys = None if self.carry_init is None else tuple(jax.random.split(rng))
        return _common.carry(shapes, input_shape, keys, self.carry_init, shapes.V.dtype)

    @property
    def num_feature_axes(self) -> int:
        return 1
