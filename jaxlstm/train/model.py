"""The network the experiments train: an LSTM stack and a linear readout, and its losses.

A :class:`Model` is built once from the ``[model]`` section and the task's sizes and output kind;
after that nothing reads the config. Its params are a plain dict pytree ``{"lstm": LSTMParams,
"readout": {"w", "b"}}``; the readout reads the LSTM's outputs (and the inputs too, with
``shortcut``, as in Gers et al. 2000). How the readout's logits become predictions, and which
loss compares them with the targets, is the task's ``output``: ``"sigmoid"`` (logistic units and
squared error, as in the 1997 and 2000 papers), ``"linear"`` (squared error) or ``"softmax"``
(cross-entropy).

Every path through the network, separate sequences, the chunks of a stream with its carried
state and resets, and a stream evaluated one symbol at a time, is one call of
:func:`jaxlstm.lstm`.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from jax import Array

import jaxlstm
from jaxlstm.tasks import Batch, Task
from jaxlstm.train.config import ConfigError, ModelConfig

__all__ = ["Model", "loss", "predictions", "step_losses"]


@dataclasses.dataclass(frozen=True)
class Model:
    """The static description of the network (hashable: jitted steps close over it).

    Attributes:
        config: the ``[model]`` section.
        input_size, output_size: the task's.
        output: the task's output kind.
        hidden_size: ``config.hidden_size``, or the largest within ``config.param_budget``.
    """

    config: ModelConfig
    input_size: int
    output_size: int
    output: str
    hidden_size: int

    @classmethod
    def for_task(cls, config: ModelConfig, task: Task) -> Model:
        """The network of ``config`` for ``task``'s inputs, outputs and output kind."""
        if config.dtype == "float64" and not jax.config.jax_enable_x64:
            raise ConfigError(
                "model.dtype is 'float64', but JAX runs in 32 bits; expected JAX_ENABLE_X64=1 in the "
                "environment for float64. Hint: JAX_ENABLE_X64=1 jaxlstm run ..., or model.dtype='float32'."
            )
        hidden = config.hidden_size
        if config.param_budget:
            hidden = 1
            while _param_count(config, task.input_size, task.output_size, hidden + 1) <= config.param_budget:
                hidden += 1
        return cls(config, task.input_size, task.output_size, task.output, hidden)

    @property
    def dtype(self) -> jnp.dtype:
        """The params', the inputs' and the LSTM state's dtype: float32 for ``"bfloat16"``,
        whose low precision is the matmuls' (:attr:`matmul_dtype`) only."""
        return jnp.dtype(jnp.float32 if self.config.dtype == "bfloat16" else self.config.dtype)

    @property
    def matmul_dtype(self) -> jnp.dtype | None:
        """bfloat16 for ``"bfloat16"``: the operands of every matmul, accumulated in float32."""
        return jnp.dtype(jnp.bfloat16) if self.config.dtype == "bfloat16" else None

    @property
    def param_count(self) -> int:
        """The parameters of the LSTM stack and the readout."""
        return _param_count(self.config, self.input_size, self.output_size, self.hidden_size)

    def init(self, key: Array) -> dict:
        """The params of the LSTM stack and of a readout drawn from U(-1/sqrt(n), 1/sqrt(n)),
        ``n`` its input features, with a zero bias."""
        cfg = self.config
        k_lstm, k_readout = jax.random.split(key)
        lstm = jaxlstm.init(k_lstm, self.input_size, self.hidden_size, num_layers=cfg.num_layers, init=cfg.init,
                            forget_bias=cfg.forget_bias, variant=cfg.variant, dtype=self.dtype,
                            learn_initial_state=cfg.learn_initial_state)
        if cfg.input_bias:
            lstm = _add_input_bias(lstm, cfg.input_bias)
        features = lstm.output_size + (self.input_size if cfg.shortcut else 0)
        bound = 1.0 / math.sqrt(features)
        w = jax.random.uniform(k_readout, (features, self.output_size), self.dtype, -bound, bound)
        return {"lstm": lstm, "readout": {"w": w, "b": jnp.zeros((self.output_size,), self.dtype)}}

    def initial_state(self, params: dict, batch_size: int) -> jaxlstm.LSTMState:
        """The state every sequence and stream starts from: zeros, or the learned one."""
        return jaxlstm.initial_state(params["lstm"], (batch_size,))

    def apply(self, params: dict, xs: Array, state: jaxlstm.LSTMState | None = None, *,
              seq_lengths: Array | None = None, resets: Array | None = None,
              key: Array | None = None) -> tuple[Array, jaxlstm.LSTMState]:
        """Logits ``(T, B, output_size)`` and the final LSTM state for time-major ``xs``.

        ``state`` is where step 0 starts (the initial state if None); ``resets`` (``(T, B)``
        bool) restarts the state from the initial state before the steps where it is True. With
        ``key`` the training-time noise of the config (dropout, recurrent dropout, zoneout) is
        on; without, the LSTM runs in evaluation mode (no dropout, zoneout's expectation).
        """
        cfg = self.config
        xs = xs.astype(self.dtype)
        ys, state = jaxlstm.lstm(params["lstm"], xs, state, seq_lengths=seq_lengths, resets=resets, impl=cfg.impl,
                                 remat=cfg.remat, dropout=cfg.dropout, recurrent_dropout=cfg.recurrent_dropout,
                                 zoneout=cfg.zoneout, key=key, deterministic=key is None, matmul_dtype=self.matmul_dtype)
        features = jnp.concatenate([ys, xs], axis=-1) if cfg.shortcut else ys
        w = params["readout"]["w"]
        if self.matmul_dtype is None:
            logits = features @ w
        else:
            logits = jnp.matmul(features.astype(self.matmul_dtype), w.astype(self.matmul_dtype),
                                preferred_element_type=w.dtype)
        return logits + jnp.broadcast_to(params["readout"]["b"], logits.shape), state

    @property
    def noisy(self) -> bool:
        """Whether training draws noise (and so needs a key per step)."""
        cfg = self.config
        return bool(cfg.dropout or cfg.recurrent_dropout or cfg.zoneout)


def _param_count(cfg: ModelConfig, input_size: int, output_size: int, hidden_size: int) -> int:
    lstm = jaxlstm.param_count(input_size, hidden_size, num_layers=cfg.num_layers, variant=cfg.variant,
                               learn_initial_state=cfg.learn_initial_state)
    output = jaxlstm.VARIANTS[cfg.variant].proj_size or hidden_size
    features = output + (input_size if cfg.shortcut else 0)
    return lstm + (features + 1) * output_size


def _add_input_bias(lstm: jaxlstm.LSTMParams, offset: float) -> jaxlstm.LSTMParams:
    """Add ``offset`` to every input-gate bias (in the layer-norm bias under layer norm, as
    ``jaxlstm.init`` does with the forget bias)."""

    def shift(cell: jaxlstm.CellParams) -> jaxlstm.CellParams:
        H = cell.hidden_size
        i = cell.variant.gates.index("i")
        if cell.norm is not None:
            norm = {**cell.norm, "gate_bias": cell.norm["gate_bias"].at[i * H : (i + 1) * H].add(offset)}
            return dataclasses.replace(cell, norm=norm)
        return dataclasses.replace(cell, b=cell.b.at[i * H : (i + 1) * H].add(offset))

    return jaxlstm.LSTMParams(tuple(tuple(shift(cell) for cell in layer) for layer in lstm.layers))


def predictions(logits: Array, output: str) -> Array:
    """What the task's success criterion reads: logistic units, values, or probabilities."""
    if output == "sigmoid":
        return jax.nn.sigmoid(logits)
    if output == "softmax":
        return jax.nn.softmax(logits, axis=-1)
    return logits


def step_losses(logits: Array, targets: Array, output: str) -> Array:
    """The loss of each step and sequence, ``(T, B)``, in float32: squared error summed over the
    outputs (``"sigmoid"``, ``"linear"``) or cross-entropy in nats (``"softmax"``)."""
    logits = logits.astype(jnp.promote_types(logits.dtype, jnp.float32))
    targets = targets.astype(logits.dtype)
    if output == "softmax":
        return -jnp.sum(targets * jax.nn.log_softmax(logits, axis=-1), axis=-1)
    return jnp.sum(jnp.square(predictions(logits, output) - targets), axis=-1)


def loss(logits: Array, batch: Batch, output: str) -> Array:
    """The mean of :func:`step_losses` over the steps of ``batch`` whose weight is 1."""
    losses = step_losses(logits, batch.targets, output)
    weights = batch.weights.astype(losses.dtype)
    return jnp.sum(losses * weights) / jnp.maximum(jnp.sum(weights), 1.0)
