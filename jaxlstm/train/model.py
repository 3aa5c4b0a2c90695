"""The network the experiments train: an LSTM stack and a linear readout, and its losses.

Params are a plain dict pytree ``{"lstm": LSTMParams, "readout": {"w", "b"}}``; the readout
reads the LSTM's outputs (and the inputs too, with ``shortcut``, as in Gers et al. 2000). How
the readout's logits become predictions, and which loss compares them with the targets, is the
task's ``output``: ``"sigmoid"`` (logistic units and squared error, as in the 1997 and 2000
papers), ``"linear"`` (squared error) or ``"softmax"`` (cross-entropy).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from jax import Array

import jaxlstm
from jaxlstm.tasks import Batch
from jaxlstm.train.settings import ModelConfig

__all__ = ["apply", "apply_stream", "hidden_size", "init_model", "param_count", "loss", "predictions", "step", "step_losses", "zero_state"]


def param_count(cfg: ModelConfig, input_size: int, output_size: int, hidden_size: int) -> int:
    """The parameters of the network with this hidden size: the LSTM stack and the readout."""
    lstm = jaxlstm.param_count(input_size, hidden_size, num_layers=cfg.num_layers, variant=cfg.variant)
    output = jaxlstm.VARIANTS[cfg.variant].proj_size or hidden_size
    features = output + (input_size if cfg.shortcut else 0)
    return lstm + (features + 1) * output_size


def hidden_size(cfg: ModelConfig, input_size: int, output_size: int) -> int:
    """``cfg.hidden_size``, or with ``cfg.param_budget`` the largest hidden size within it."""
    if not cfg.param_budget:
        return cfg.hidden_size
    size = 1
    while param_count(cfg, input_size, output_size, size + 1) <= cfg.param_budget:
        size += 1
    return size


def init_model(key: Array, cfg: ModelConfig, input_size: int, output_size: int) -> dict:
    """The params of the LSTM stack and of a readout drawn from U(-1/sqrt(n), 1/sqrt(n)),
    ``n`` its input features, with a zero bias."""
    k_lstm, k_readout = jax.random.split(key)
    lstm = jaxlstm.init(k_lstm, input_size, hidden_size(cfg, input_size, output_size), num_layers=cfg.num_layers,
                        init=cfg.init, forget_bias=cfg.forget_bias, variant=cfg.variant)
    if cfg.input_bias:
        lstm = _add_input_bias(lstm, cfg.input_bias)
    features = lstm.output_size + (input_size if cfg.shortcut else 0)
    bound = 1.0 / math.sqrt(features)
    w = jax.random.uniform(k_readout, (features, output_size), jnp.float32, -bound, bound)
    return {"lstm": lstm, "readout": {"w": w, "b": jnp.zeros((output_size,), jnp.float32)}}


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


def apply(params: dict, cfg: ModelConfig, xs: Array, state=None, seq_lengths: Array | None = None,
          key: Array | None = None) -> tuple[Array, jaxlstm.LSTMState]:
    """Logits ``(T, B, output_size)`` and the final LSTM state for time-major ``xs``.

    With ``key`` the training-time noise of ``cfg`` (dropout, recurrent dropout, zoneout) is on;
    without, the LSTM runs in evaluation mode (``deterministic``: no dropout, zoneout's
    expectation).
    """
    ys, state = jaxlstm.lstm(params["lstm"], xs, state, seq_lengths=seq_lengths, impl=cfg.impl,
                             dropout=cfg.dropout, recurrent_dropout=cfg.recurrent_dropout,
                             zoneout=cfg.zoneout, key=key, deterministic=key is None)
    return _readout(params, cfg, ys, xs), state


def _readout(params: dict, cfg: ModelConfig, ys: Array, xs: Array) -> Array:
    features = jnp.concatenate([ys, xs], axis=-1) if cfg.shortcut else ys
    logits = features @ params["readout"]["w"]
    return logits + jnp.broadcast_to(params["readout"]["b"], logits.shape)


def zero_state(params: dict, batch_size: int) -> jaxlstm.LSTMState:
    """The zero LSTM state of the stack for ``batch_size`` sequences."""
    lstm = params["lstm"]
    stacked = lstm.num_layers * lstm.num_directions
    return jaxlstm.LSTMState(jnp.zeros((stacked, batch_size, lstm.output_size), jnp.float32),
                             jnp.zeros((stacked, batch_size, lstm.state_size), jnp.float32))


def step(params: dict, cfg: ModelConfig, state: jaxlstm.LSTMState, x: Array) -> tuple[jaxlstm.LSTMState, Array]:
    """One time step of the stack and the readout, in evaluation mode (zoneout's expectation):
    ``(state, x (B, I)) -> (state, logits (B, O))``; the state is stacked as in ``apply``. The
    scan of :func:`jaxlstm.lstm_step` over one step (``impl="reference"``) adds no work."""
    ys, state = jaxlstm.lstm(params["lstm"], x[None], state, zoneout=cfg.zoneout, deterministic=True,
                             impl="reference")
    return state, _readout(params, cfg, ys[0], x)


def apply_stream(params: dict, cfg: ModelConfig, xs: Array, state: jaxlstm.LSTMState,
                 resets: Array) -> tuple[Array, jaxlstm.LSTMState]:
    """:func:`apply` with the state zeroed before every step where ``resets`` (``(T, B)`` bool)
    is True: a scan of :func:`step`, differentiated by JAX (no training-time noise)."""

    def body(state, inputs):
        x, reset = inputs
        state = jax.tree.map(lambda a: jnp.where(reset[None, :, None], jnp.zeros_like(a), a), state)
        return step(params, cfg, state, x)

    state, logits = jax.lax.scan(body, state, (xs, resets))
    return logits, state


def predictions(logits: Array, output: str) -> Array:
    """What the task's success criterion reads: logistic units, values, or probabilities."""
    if output == "sigmoid":
        return jax.nn.sigmoid(logits)
    if output == "softmax":
        return jax.nn.softmax(logits, axis=-1)
    return logits


def step_losses(logits: Array, targets: Array, output: str) -> Array:
    """The loss of each step and sequence, ``(T, B)``: squared error summed over the outputs
    (``"sigmoid"``, ``"linear"``) or cross-entropy in nats (``"softmax"``)."""
    if output == "softmax":
        return -jnp.sum(targets * jax.nn.log_softmax(logits, axis=-1), axis=-1)
    return jnp.sum(jnp.square(predictions(logits, output) - targets), axis=-1)


def loss(logits: Array, batch: Batch, output: str) -> Array:
    """The mean of :func:`step_losses` over the steps of ``batch`` whose weight is 1."""
    weights = batch.weights
    total = jnp.sum(step_losses(logits, batch.targets, output) * weights)
    return total / jnp.maximum(jnp.sum(weights), 1.0)
