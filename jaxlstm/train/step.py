"""The pure, jitted pieces of training: the optimizer, the train step and the evaluation.

Everything here works on one network; the loop lifts it with ``jax.vmap`` over a leading seed
axis, so several networks train at once in one compiled step. The train step closes over the
few static choices it needs (the model config, the task's output kind, the optimizer), never the
whole config, and is compiled once: its inputs keep their shapes from step to step.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import Array

import jaxlstm
from jaxlstm.tasks import Batch
from jaxlstm.train import model
from jaxlstm.train.settings import ModelConfig, OptimConfig

__all__ = ["TrainState", "init_state", "make_eval_step", "make_optimizer", "make_train_step"]


class TrainState(NamedTuple):
    """Everything a run carries from step to step, for one seed (a plain pytree for orbax).

    Attributes:
        params: the model's params (see :mod:`jaxlstm.train.model`).
        opt_state: the optax state.
        carry: the LSTM state carried across the chunks of a stream (truncated BPTT); zeros
            for tasks of separate sequences.
        seed: this network's seed, which with ``step`` makes its training-time noise keys.
        step: the number of steps taken.
    """

    params: dict
    opt_state: optax.OptState
    carry: jaxlstm.LSTMState
    seed: Array
    step: Array


def make_optimizer(cfg: OptimConfig, steps: int) -> optax.GradientTransformation:
    """The optax chain of ``cfg``: global-norm clipping, then the optimizer with its schedule."""
    if cfg.schedule == "cosine":
        schedule = optax.cosine_decay_schedule(cfg.lr, decay_steps=max(steps - cfg.warmup_steps, 1))
    elif cfg.schedule == "exponential":
        schedule = optax.exponential_decay(cfg.lr, transition_steps=1, decay_rate=cfg.decay_rate)
    else:
        schedule = optax.constant_schedule(cfg.lr)
    if cfg.warmup_steps:
        warmup = optax.linear_schedule(0.0, cfg.lr, cfg.warmup_steps)
        schedule = optax.join_schedules([warmup, schedule], [cfg.warmup_steps])
    if cfg.optimizer == "adam":
        optimizer = optax.adam(schedule)
    elif cfg.optimizer == "adamw":
        optimizer = optax.adamw(schedule, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "rmsprop":
        optimizer = optax.rmsprop(schedule)
    else:
        optimizer = optax.sgd(schedule, momentum=cfg.momentum or None, nesterov=cfg.nesterov)
    if cfg.clip_norm:
        return optax.chain(optax.clip_by_global_norm(cfg.clip_norm), optimizer)
    return optimizer


def init_state(seed: Array, cfg: ModelConfig, optimizer: optax.GradientTransformation, input_size: int,
               output_size: int, carry_batch: int) -> TrainState:
    """The state of one network before its first step; ``carry_batch`` sizes the carried state."""
    params = model.init_model(jax.random.key(seed), cfg, input_size, output_size)
    carry = model.zero_state(params, carry_batch)
    return TrainState(params, optimizer.init(params), carry, jnp.asarray(seed, jnp.int32), jnp.zeros((), jnp.int32))


def _noise_key(cfg: ModelConfig, state: TrainState) -> Array | None:
    if not (cfg.dropout or cfg.recurrent_dropout or cfg.zoneout):
        return None
    return jax.random.fold_in(jax.random.key(state.seed), state.step)


def make_train_step(cfg: ModelConfig, output: str, optimizer: optax.GradientTransformation, *,
                    carry_state: bool, external_reset: bool = False):
    """``train_step(state, batch, resets) -> (state, metrics)`` for one network.

    Args:
        cfg: the model config.
        output: the task's output kind (see :mod:`jaxlstm.train.model`).
        optimizer: from :func:`make_optimizer`.
        carry_state: truncated BPTT: start from ``state.carry`` (zeroed where ``resets[0]``)
            and keep the final LSTM state, without its gradient, for the next chunk. Else every
            batch starts from zeros.
        external_reset: also zero the state before every later step where ``resets`` is True
            (``resets`` is ``(T, B)`` bool), with :func:`jaxlstm.train.model.apply_stream`.

    The metrics are the loss and the gradients' global norm before clipping.
    """

    def loss_fn(params, state, batch, resets):
        if external_reset:
            logits, final = model.apply_stream(params, cfg, batch.xs, state.carry, resets)
            return model.loss(logits, batch, output), final
        initial = None
        if carry_state:
            start = resets[0][None, :, None]
            initial = jax.tree.map(lambda a: jnp.where(start, jnp.zeros_like(a), a), state.carry)
        logits, final = model.apply(params, cfg, batch.xs, initial, batch.seq_lengths, _noise_key(cfg, state))
        return model.loss(logits, batch, output), final

    def train_step(state: TrainState, batch: Batch, resets: Array) -> tuple[TrainState, dict]:
        (value, final), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, state, batch, resets)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        carry = jax.lax.stop_gradient(final) if carry_state else state.carry
        metrics = {"loss": value, "grad_norm": optax.tree.norm(grads)}
        return TrainState(params, opt_state, carry, state.seed, state.step + 1), metrics

    return train_step


def make_eval_step(cfg: ModelConfig, task):
    """``eval_step(params, batch, resets) -> metrics`` for one network: the loss and the task's
    criterion (``correct``: the fraction of sequences right; ``solved``: all of them right).

    Stream tasks (those with ``task.errors``) are run step by step, resetting the state where
    ``resets`` (``(T, B)``) is True, without keeping the outputs, so that test streams of any
    length fit in memory: a stream is right when no symbol of it is predicted wrongly. Their
    metrics add the mean error-free length (the symbols before a stream's first error), the
    wrong symbols per stream, and the largest ``|c|`` of the cell states along the streams.
    """
    if hasattr(task, "errors"):
        return functools.partial(_eval_streams, cfg, task)

    def eval_step(params: dict, batch: Batch, resets: Array) -> dict:
        logits, _ = model.apply(params, cfg, batch.xs, None, batch.seq_lengths)
        correct = task.correct(model.predictions(logits, task.output), batch)
        return {
            "loss": model.loss(logits, batch, task.output),
            "correct": jnp.mean(correct.astype(jnp.float32)),
            "solved": jnp.all(correct),
        }

    return eval_step


def _eval_streams(cfg: ModelConfig, task, params: dict, batch: Batch, resets: Array) -> dict:
    T, B = resets.shape
    H = params["lstm"].hidden_size

    def body(carry, inputs):
        state, first_error, wrong, loss, c_max = carry
        t, x, target, reset = inputs
        state = jax.tree.map(lambda a: jnp.where(reset[None, :, None], jnp.zeros_like(a), a), state)
        state, logits = model.step(params, cfg, state, x)
        one = Batch(x[None], target[None], jnp.ones((1, B), jnp.float32), jnp.ones((B,), jnp.int32))
        errors = task.errors(model.predictions(logits[None], task.output), one)[0]
        first_error = jnp.where(errors & (first_error == T), t, first_error)
        loss = loss + jnp.sum(model.step_losses(logits, target, task.output))
        c_max = jnp.maximum(c_max, jnp.max(jnp.abs(state.c[..., :H]), axis=(0, 2)))
        return (state, first_error, wrong + errors, loss, c_max), None

    init = (model.zero_state(params, B), jnp.full((B,), T, jnp.int32), jnp.zeros((B,), jnp.int32),
            jnp.zeros((), jnp.float32), jnp.zeros((B,), jnp.float32))
    steps = (jnp.arange(T, dtype=jnp.int32), batch.xs, batch.targets, resets)
    (_, first_error, wrong, loss, c_max), _ = jax.lax.scan(body, init, steps)
    return {
        "loss": loss / (T * B),
        "correct": jnp.mean((wrong == 0).astype(jnp.float32)),
        "solved": jnp.all(wrong == 0),
        "error_free_length": jnp.mean(first_error.astype(jnp.float32)),
        "wrong_symbols": jnp.mean(wrong.astype(jnp.float32)),
        "c_max": jnp.max(c_max),
    }
