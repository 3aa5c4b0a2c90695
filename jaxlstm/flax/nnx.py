"""Flax NNX modules over the functional core: :class:`LSTM` (a whole stack over a sequence) and
:class:`LSTMCell` (one step, for ``nnx.RNN``).

Each module holds the functional params pytree itself — the ``LSTMParams`` (or ``CellParams``)
of :func:`jaxlstm.init`, with every array leaf an ``nnx.Param`` — so ``nnx.state(module)`` reads
``params/layers/0/0/V`` and ``module.lstm_params`` (``module.cell_params``) gives back the plain
pytree that :func:`jaxlstm.lstm` takes. (One ``nnx.Param`` holding the whole pytree would not
do: under ``nnx.jit``, ``nnx.Optimizer`` turns its optimizer state for such a Param into a
``State`` that no longer matches the gradients.)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn import dtypes
from jax import Array

import jaxlstm
from jaxlstm import _validate
from jaxlstm.flax import _common
from jaxlstm.options import Impl, Init, Remat
from jaxlstm.params import CellParams, Initializer, LSTMParams, LSTMState
from jaxlstm.variant import Variant

__all__ = ["LSTM", "LSTMCell"]


def _as_variables(tree, metadata: Mapping[str, Mapping] = MappingProxyType({})):
    """The pytree with every array leaf an ``nnx.Param``, marked as data of the module;
    ``metadata`` maps a leaf's name (``"V"``, ``"b"``) to its Param's metadata."""
    def param(path, leaf):
        return nnx.Param(leaf, **metadata.get(getattr(path[-1], "name", None), {}))

    return nnx.data(jax.tree_util.tree_map_with_path(param, tree))


def _as_arrays(tree):
    return jax.tree.map(lambda leaf: leaf.get_value(), tree, is_leaf=lambda x: isinstance(x, nnx.Variable))


def _check_rngs(rngs: object, optional: bool) -> None:
    if rngs is None and optional:
        return
    if not isinstance(rngs, nnx.Rngs):
        allowed = "an nnx.Rngs or None" if optional else "an nnx.Rngs"
        raise TypeError(
            f"rngs must be {allowed}; got {type(rngs).__name__}. Hint: rngs=nnx.Rngs(0), or "
            "nnx.Rngs(params=0, dropout=1) for separate streams."
        )


class LSTM(nnx.Module):
    """A stack of LSTM layers over a sequence: :func:`jaxlstm.lstm` as an ``nnx.Module``.

    ``xs`` is batch-major ``(*batch, T, input_size)`` unless ``time_major=True``, then
    ``(T, *batch, input_size)``; ``ys`` has the layout of ``xs``. The state is
    ``jaxlstm.LSTMState(h, c)`` stacked ``(num_layers * num_directions, *batch, H)`` in both
    layouts, as :func:`jaxlstm.lstm` and ``torch.nn.LSTM``.

    ``dropout``, ``recurrent_dropout`` and ``zoneout`` act in training mode and draw their key
    from the module's ``"dropout"`` stream (``rngs.dropout()``, as ``nnx.Dropout``; an
    ``nnx.Rngs`` without that stream falls back to its default one). ``module.eval()`` (or
    ``deterministic=True``) is evaluation mode, as :func:`jaxlstm.lstm`'s ``deterministic``:
    dropout off and zoneout replaced by its expectation; ``module.train()`` turns training back
    on.

    Args:
        input_size, hidden_size, num_layers, bidirectional, init, forget_bias, variant: as
            :func:`jaxlstm.init`.
        kernel_init, recurrent_kernel_init, bias_init, learn_initial_state: as :func:`jaxlstm.init`.
        gate_fn, activation_fn: the gates' and the cell's activations, as Flax's cells (None:
            the variant's, sigmoid and tanh); they set the variant's ``gate_activation`` and
            ``cell_activation``.
        dtype: the computation dtype, as Flax's: ``xs``, the state and the params are cast to
            it; None promotes them to a common floating dtype (int32 ``xs`` run in float32).
        param_dtype: the params' dtype (float32).
        dropout, recurrent_dropout, zoneout, impl, remat, unroll, matmul_dtype, precision: as
            :func:`jaxlstm.lstm`.
        time_major: ``xs`` and ``ys`` are ``(T, *batch, features)``; else ``(*batch, T,
            features)``.
        deterministic: start in evaluation mode (no dropout, zoneout's expectation); False by
            default, as ``nnx.Dropout``.
        rngs: ``rngs.params()`` draws the weights; the ``"dropout"`` stream is kept when any
            noise rate is nonzero.

    Example:
        >>> import jax.numpy as jnp, jaxlstm
        >>> from flax import nnx
        >>> from jaxlstm.flax import LSTM
        >>> model = LSTM(4, 8, num_layers=2, dropout=0.1, rngs=nnx.Rngs(0))
        >>> xs = jnp.ones((3, 10, 4))                        # (batch, T, input_size)
        >>> ys, state = model(xs)                            # training mode: dropout on
        >>> ys.shape, state.h.shape
        ((3, 10, 8), (2, 3, 8))
        >>> model.eval()
        >>> ys, state = model(xs)                            # evaluation: the functional call
        >>> expected, _ = jaxlstm.lstm(model.lstm_params, xs.swapaxes(0, 1))
        >>> bool(jnp.array_equal(ys, expected.swapaxes(0, 1)))
        True

    Acting one observation at a time, with episodes that end (a learned initial state is what
    each reset restores):

        >>> agent = LSTM(4, 8, num_layers=2, learn_initial_state=True, rngs=nnx.Rngs(0))
        >>> state = agent.initialize_carry((3, 4))           # (batch, input_size) of one step
        >>> state, y = agent.step(state, jnp.ones((3, 4)), reset=jnp.array([False, True, False]))
        >>> y.shape, state.h.shape
        ((3, 8), (2, 3, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        init: Init = "pytorch",
        forget_bias: float = 1.0,
        variant: Variant | str = "vanilla",
        gate_fn: Callable | None = None,
        activation_fn: Callable | None = None,
        kernel_init: Initializer | None = None,
        recurrent_kernel_init: Initializer | None = None,
        bias_init: Initializer | None = None,
        learn_initial_state: bool = False,
        dtype=None,
        param_dtype=jnp.float32,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        zoneout: float | tuple[float, float] = 0.0,
        time_major: bool = False,
        impl: Impl = "auto",
        remat: Remat = False,
        unroll: int | bool = 1,
        matmul_dtype=None,
        precision=None,
        deterministic: bool = False,
        rngs: nnx.Rngs,
    ):
        _check_rngs(rngs, optional=False)
        params = jaxlstm.init(
            rngs.params(),
            input_size,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            init=init,
            forget_bias=forget_bias,
            variant=_common.variant_with(variant, gate_fn, activation_fn),
            dtype=param_dtype,
            kernel_init=kernel_init,
            recurrent_kernel_init=recurrent_kernel_init,
            bias_init=bias_init,
            learn_initial_state=learn_initial_state,
        )
        self.params = _as_variables(params)
        self.dtype = dtype
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.zoneout = zoneout
        self.time_major = time_major
        self.impl = impl
        self.remat = remat
        self.unroll = unroll
        self.matmul_dtype = matmul_dtype
        self.precision = precision
        self.deterministic = deterministic
        self.rngs = self._dropout_stream(rngs)

    @classmethod
    def from_params(
        cls,
        params: LSTMParams | CellParams,
        *,
        dtype=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        zoneout: float | tuple[float, float] = 0.0,
        time_major: bool = False,
        impl: Impl = "auto",
        remat: Remat = False,
        unroll: int | bool = 1,
        matmul_dtype=None,
        precision=None,
        deterministic: bool = False,
        rngs: nnx.Rngs | None = None,
    ) -> LSTM:
        """An :class:`LSTM` holding existing functional params (from :func:`jaxlstm.init`,
        an ``interop`` converter or a checkpoint), exactly; the options are as in the
        constructor. ``rngs`` is needed only to train with dropout or zoneout.

        Example:
            >>> import jax, jaxlstm
            >>> from jaxlstm.flax import LSTM
            >>> params = jaxlstm.init(jax.random.key(0), 4, 8, bidirectional=True)
            >>> model = LSTM.from_params(params)
            >>> jax.tree.all(jax.tree.map(lambda a, b: bool((a == b).all()), model.lstm_params, params))
            True
        """
        params = _validate.as_stack(params)
        _check_rngs(rngs, optional=True)
        options = dict(
            dtype=dtype,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            zoneout=zoneout,
            time_major=time_major,
            impl=impl,
            remat=remat,
            unroll=unroll,
            matmul_dtype=matmul_dtype,
            precision=precision,
            deterministic=deterministic,
        )
        # The shell's own weights (of any size) are only shapes, and are replaced at once.
        module = nnx.eval_shape(lambda: cls(1, 1, rngs=nnx.Rngs(0), **options))
        module.params = _as_variables(params)
        module.rngs = module._dropout_stream(rngs)
        return module

    def _dropout_stream(self, rngs: nnx.Rngs | None):
        if rngs is None or not _common.noisy(self.dropout, self.recurrent_dropout, self.zoneout):
            return nnx.data(None)
        return rngs["dropout"].fork()

    @property
    def lstm_params(self) -> LSTMParams:
        """The functional params: the ``LSTMParams`` that :func:`jaxlstm.lstm` takes."""
        return _as_arrays(self.params)

    def set_view(self, deterministic: bool | None = None) -> None:
        """For ``nnx.view(module, deterministic=...)``, as ``nnx.Dropout``."""
        if deterministic is not None:
            self.deterministic = deterministic

    def __call__(
        self,
        xs: Array,
        state: tuple[Array, Array] | None = None,
        *,
        seq_lengths: Array | None = None,
        resets: Array | None = None,
        deterministic: bool | None = None,
    ) -> tuple[Array, LSTMState]:
        """Run the stack over ``xs``.

        Args:
            xs: ``(*batch, T, input_size)``; ``(T, *batch, input_size)`` with ``time_major``.
            state: the initial ``LSTMState(h, c)``, each ``(num_layers * num_directions, *batch,
                H)``; by default :meth:`initialize_carry`'s (zeros, or the learned state).
            seq_lengths: ``(*batch,)`` valid lengths, as in :func:`jaxlstm.lstm`.
            resets: ``(*batch, T)`` booleans (``(T, *batch)`` with ``time_major``), True where a
                new segment starts, as in :func:`jaxlstm.lstm`.
            deterministic: overrides the module's ``deterministic`` for this call.

        Returns:
            ``(ys, state)``: ``ys`` of shape ``(*batch, T, num_directions * output_size)`` (time
            first with ``time_major``) and the final ``LSTMState``.
        """
        deterministic = self.deterministic if deterministic is None else deterministic
        key = None
        if not deterministic and _common.noisy(self.dropout, self.recurrent_dropout, self.zoneout):
            if self.rngs is None:
                raise ValueError(
                    f"LSTM has dropout={self.dropout}, recurrent_dropout={self.recurrent_dropout} "
                    f"and zoneout={self.zoneout} but no rngs to draw their masks from. Hint: "
                    "LSTM.from_params(params, ..., rngs=nnx.Rngs(dropout=0)) to train, or "
                    "model.eval() / deterministic=True to evaluate."
                )
            key = self.rngs()
        return _common.run(
            self.lstm_params,
            xs,
            state,
            seq_lengths,
            resets=resets,
            time_major=self.time_major,
            deterministic=deterministic,
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
        input_size)``: zeros, or the learned initial state (:func:`jaxlstm.initial_state`)."""
        _common.check_step_shape(input_shape)
        return jaxlstm.initial_state(self.lstm_params, tuple(input_shape[:-1]))

    def step(self, state: tuple[Array, Array] | None, x: Array, *, reset: Array | None = None,
             deterministic: bool | None = None) -> tuple[LSTMState, Array]:
        """One step of the whole stack, for acting one observation at a time:
        ``(state, x) -> (state, y)``, ``x`` of ``(*batch, input_size)``, ``y`` of ``(*batch,
        num_directions * output_size)``; where ``reset`` (``(*batch,)`` booleans) is True the
        state is first replaced by :meth:`initialize_carry`'s. A ``T = 1`` call."""
        return _common.stack_step(self, state, x, reset, self.time_major, deterministic=deterministic)


class LSTMCell(nnx.RNNCellBase):
    """One LSTM step with Flax's RNN cell interface: a drop-in for ``nnx.OptimizedLSTMCell``
    (and ``nnx.LSTMCell``) inside ``nnx.RNN``, computing :func:`jaxlstm.lstm_step`.

    It takes Flax's arguments with Flax's meanings and defaults: ``gate_fn``,
    ``activation_fn``, ``kernel_init``, ``recurrent_kernel_init``, ``bias_init`` (Flax's
    initialisers by default: ``init="flax"``), ``dtype`` (the computation dtype; None promotes
    the input, carry and params as Flax does, so int32 inputs run in float32), ``param_dtype``,
    ``carry_init``, ``promote_dtype``, ``keep_rngs`` and the three ``*_metadata``. The carry is
    Flax's ``(c, h)``, c first (jaxlstm's ``LSTMState`` is ``(h, c)``). The one difference is
    the parameter tree: one fused ``V = [U; W]`` and ``b`` (``module.cell_params``, state paths
    ``params/V`` and ``params/b``) instead of per-gate kernels; the Flax guide's "parameter tree"
    section has the recipes for weight decay, freezing and Flax's layout. Weights from a Flax
    cell come in with ``LSTMCell.from_params(jaxlstm.interop.from_flax(tree))``.

    Args:
        in_features: ``I``, the size of each step's input.
        hidden_features: ``H``.
        gate_fn, activation_fn: as Flax's (None: sigmoid and tanh, or the variant's).
        kernel_init, recurrent_kernel_init, bias_init: as Flax's, each called per gate (see
            :func:`jaxlstm.init_cell`).
        dtype, param_dtype, promote_dtype: as Flax's (``promote_dtype`` is given the input, the
            carry and every param leaf, and must bring them to one dtype).
        carry_init: the default initializer of :meth:`initialize_carry` (zeros for None).
        keep_rngs: keep ``rngs.carry`` for :meth:`initialize_carry` (Flax's, deprecated there).
        kernel_metadata, recurrent_kernel_metadata, bias_metadata: metadata of the ``V`` and
            ``b`` Params (for sharding annotations); ``V`` holds both kernels, so the first two
            must be equal.
        init, forget_bias, variant: as :func:`jaxlstm.init_cell`; ``"flax"`` and 0.0 by
            default, Flax's own.
        matmul_dtype, precision: as :func:`jaxlstm.lstm_step`.
        rngs: ``rngs.params()`` draws the weights.

    Example:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from jaxlstm.flax import LSTMCell
        >>> rnn = nnx.RNN(LSTMCell(4, 8, rngs=nnx.Rngs(0)), return_carry=True)
        >>> (c, h), ys = rnn(jnp.ones((3, 10, 4), jnp.int32))   # (batch, T, features)
        >>> c.shape, ys.shape, ys.dtype
        ((3, 8), (3, 10, 8), dtype('float32'))
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        *,
        gate_fn: Callable | None = None,
        activation_fn: Callable | None = None,
        kernel_init: Initializer | None = None,
        recurrent_kernel_init: Initializer | None = None,
        bias_init: Initializer | None = None,
        dtype=None,
        param_dtype=jnp.float32,
        carry_init: Initializer | None = None,
        promote_dtype: _common.PromoteDtype = dtypes.promote_dtype,
        keep_rngs: bool = False,
        rngs: nnx.Rngs,
        kernel_metadata: Mapping = MappingProxyType({}),
        recurrent_kernel_metadata: Mapping = MappingProxyType({}),
        bias_metadata: Mapping = MappingProxyType({}),
        init: Init = "flax",
        forget_bias: float = 0.0,
        variant: Variant | str = "vanilla",
        matmul_dtype=None,
        precision=None,
    ):
        _check_rngs(rngs, optional=False)
        if dict(kernel_metadata) != dict(recurrent_kernel_metadata):
            raise ValueError(
                f"kernel_metadata {dict(kernel_metadata)} and recurrent_kernel_metadata "
                f"{dict(recurrent_kernel_metadata)} differ; expected them equal: jaxlstm's cell "
                "holds both kernels in one fused V = [U; W] (one Param, one metadata). Hint: "
                "give the same metadata to both, or split V after training (interop.to_flax)."
            )
        cell = jaxlstm.init_cell(
            rngs.params(), in_features, hidden_features, init=init, forget_bias=forget_bias,
            variant=_common.variant_with(variant, gate_fn, activation_fn), dtype=param_dtype,
            kernel_init=kernel_init, recurrent_kernel_init=recurrent_kernel_init, bias_init=bias_init,
        )
        self.params = _as_variables(cell, {"V": kernel_metadata, "b": bias_metadata})
        self.dtype = dtype
        self.promote_dtype = promote_dtype
        self.matmul_dtype, self.precision = _validate.check_matmul(matmul_dtype, precision)
        if carry_init is not None:
            warnings.warn(
                "carry_init is given to LSTMCell's constructor; as Flax's, it still works, but "
                "initialize_carry(..., carry_init=...) is the preferred place.",
                stacklevel=2,
            )
        self.carry_init = carry_init
        self.rngs = rngs.carry.fork() if keep_rngs else nnx.data(None)

    @classmethod
    def from_params(cls, cell: CellParams, *, dtype=None, matmul_dtype=None, precision=None) -> LSTMCell:
        """An :class:`LSTMCell` holding existing ``CellParams``, exactly; ``dtype`` is the
        computation dtype, as in the constructor.

        Example:
            >>> import jax, jaxlstm
            >>> from jaxlstm.flax import LSTMCell
            >>> cell = jaxlstm.init_cell(jax.random.key(0), 4, 8)
            >>> bool((LSTMCell.from_params(cell).cell_params.V == cell.V).all())
            True
        """
        if not isinstance(cell, CellParams):
            hint = (
                " Hint: pass one layer and direction, params.layers[l][d]."
                if isinstance(cell, LSTMParams)
                else " Hint: make it with jaxlstm.init_cell or jaxlstm.interop.from_flax."
            )
            raise TypeError(f"cell must be a jaxlstm.CellParams; got {type(cell).__name__}.{hint}")
        _validate.as_stack(cell)
        module = nnx.eval_shape(lambda: cls(1, 1, dtype=dtype, matmul_dtype=matmul_dtype, precision=precision,
                                                  rngs=nnx.Rngs(0)))
        module.params = _as_variables(cell)
        return module

    @property
    def cell_params(self) -> CellParams:
        """The functional params: the ``CellParams`` that :func:`jaxlstm.lstm_step` takes."""
        return _as_arrays(self.params)

    def __call__(self, carry: tuple[Array, Array], inputs: Array) -> tuple[tuple[Array, Array], Array]:
        """One step: ``((c, h), x) -> ((c', h'), h')``, ``x`` of shape ``(*batch, I)``."""
        return _common.step(
            self.cell_params, carry, inputs, dtype=self.dtype, matmul_dtype=self.matmul_dtype,
            precision=self.precision, promote_dtype=self.promote_dtype,
        )

    def initialize_carry(
        self,
        input_shape: tuple[int, ...],
        rngs: nnx.Rngs | nnx.RngStream | None = None,
        carry_init: Initializer | None = None,
    ) -> tuple[Array, Array]:
        """The carry ``(c, h)`` for inputs of shape ``(*batch, I)``, in ``param_dtype``, as
        Flax's: ``carry_init`` (else the constructor's, else zeros) is called for ``c`` and then
        ``h``, each with a key from ``rngs`` (its ``carry`` stream; the kept one with
        ``keep_rngs``). The zero carry needs no ``rngs``."""
        carry_init = self.carry_init if carry_init is None else carry_init
        if rngs is None:
            rngs = self.rngs
        if isinstance(rngs, nnx.Rngs):
            rngs = rngs.carry
        keys = None if rngs is None or carry_init is None else (rngs(), rngs())
        cell = self.cell_params
        return _common.carry(cell, input_shape, keys, carry_init, cell.V.dtype)

    @property
    def num_feature_axes(self) -> int:
        return 1
