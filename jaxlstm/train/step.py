"""The pure, jitted pieces of training: the optimizer, the train step and the evaluation.

Everything here works on one network; the loop lifts it with ``jax.vmap`` over a leading seed
axis, so several networks train at once in one compiled step. The steps close over the
:class:`~jaxlstm.train.model.Model` and the optimizer, never the config, and compile once:
their inputs keep their shapes from step to step.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import Array

import jaxlstm
from jaxlstm.tasks import Batch, StreamTask, Task
from jaxlstm.train.config import OptimConfig
from jaxlstm.train.model import Model, loss, predictions, step_losses

__all__ = ["TrainState", "checked_update", "init_state", "make_eval_step", "make_optimizer", "make_train_step"]


class TrainState(NamedTuple):
    """Everything a run carries from step to step, for one seed (a plain pytree for orbax).

    Attributes:
        params: the model's params (see :mod:`jaxlstm.train.model`).
        opt_state: the optax state.
        carry: the LSTM state carried across the chunks of a stream (truncated BPTT); the
            initial state, unused, for tasks of separate sequences.
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


def init_state(seed: Array, model: Model, optimizer: optax.GradientTransformation, carry_batch: int) -> TrainState:
    """The state of one network before its first step; ``carry_batch`` sizes the carried state."""
    params = model.init(jax.random.key(seed))
    carry = model.initial_state(params, carry_batch)
    return TrainState(params, optimizer.init(params), carry, jnp.asarray(seed, jnp.int32), jnp.zeros((), jnp.int32))


def checked_update(optimizer: optax.GradientTransformation, loss_value: Array, grads: dict, opt_state: optax.OptState,
                   params: dict, *, skip_nonfinite: bool) -> tuple[dict, optax.OptState, Array]:
    """One optimizer update, and which of the loss and the gradient's leaves are not finite.

    Returns:
        The new params and optimizer state, and ``nonfinite``: a ``(1 + leaves,)`` bool, True
        where the loss (first) or a leaf of ``grads`` (in ``jax.tree.leaves`` order) holds a
        NaN or an infinity. With ``skip_nonfinite`` such an update is skipped: the params and
        the optimizer state, its step count included, stay as they were (as
        ``optax.apply_if_finite`` does, which checks the gradients only).
    """
    nonfinite = jnp.stack([~jnp.isfinite(loss_value)] + [~jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)])
    updates, new_opt_state = optimizer.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    if skip_nonfinite:
        bad = jnp.any(nonfinite)
        keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(bad, o, n), new, old)
        new_params, new_opt_state = keep(new_params, params), keep(new_opt_state, opt_state)
    return new_params, new_opt_state, nonfinite


def _noise_key(model: Model, state: TrainState) -> Array | None:
    if not model.noisy:
        return None
    return jax.random.fold_in(jax.random.key(state.seed), state.step)


def make_train_step(model: Model, optimizer: optax.GradientTransformation, *, stream: bool,
                    skip_nonfinite: bool = False):
    """``train_step(state, batch, resets) -> (state, metrics)`` for one network.

    Args:
        model: the network.
        optimizer: from :func:`make_optimizer`.
        stream: truncated BPTT over the chunks of a stream: start from ``state.carry``, restart
            from the initial state before every step where ``resets`` (``(T, B)`` bool) is
            True (a new stream, or with an external reset a new string), and keep the final
            LSTM state, without its gradient, for the next chunk. Else every batch is separate
            sequences from the initial state, and ``resets`` is unused.
        skip_nonfinite: skip an update whose loss or gradient is not finite (see
            :func:`jaxlstm.train.step.checked_update`).

    The metrics are the loss, the gradients' global norm before clipping, ``nonfinite`` (from
    :func:`jaxlstm.train.step.checked_update`) and ``skipped``, the updates skipped (0 or 1; always 0 without
    ``skip_nonfinite``).
    """

    def loss_fn(params, state, batch, resets):
        if stream:
            logits, final = model.apply(params, batch.xs, state.carry, resets=resets, key=_noise_key(model, state))
        else:
            logits, final = model.apply(params, batch.xs, seq_lengths=batch.seq_lengths, key=_noise_key(model, state))
        return loss(logits, batch, model.output), final

    def train_step(state: TrainState, batch: Batch, resets: Array) -> tuple[TrainState, dict]:
        (value, final), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, state, batch, resets)
        params, opt_state, nonfinite = checked_update(optimizer, value, grads, state.opt_state, state.params,
                                                      skip_nonfinite=skip_nonfinite)
        skipped = jnp.any(nonfinite) if skip_nonfinite else jnp.zeros((), bool)
        carry = state.carry
        if stream:  # a skipped chunk's final state may be what was not finite
            carry = jax.tree.map(lambda old, new: jnp.where(skipped, old, new), carry, jax.lax.stop_gradient(final))
        metrics = {"loss": value, "grad_norm": optax.tree.norm(grads), "nonfinite": nonfinite,
                   "skipped": skipped.astype(jnp.int32)}
        return TrainState(params, opt_state, carry, state.seed, state.step + 1), metrics

    return train_step


def make_eval_step(model: Model, task: Task):
    """``eval_step(params, batch, resets) -> metrics`` for one network: the loss and the task's
    criterion (``correct``: the fraction of sequences right; ``solved``: all of them right).

    A :class:`~jaxlstm.tasks.StreamTask`'s test streams are run one symbol at a time (a
    ``T = 1`` call of the LSTM per symbol, with its resets), without keeping the outputs, so
    that test streams of any length fit in memory: a stream is right when no symbol of it is
    predicted wrongly. Their metrics add the mean error-free length (the symbols before a
    stream's first error), the wrong symbols per stream, and the largest ``|c|`` of the cell
    states along the streams.
    """
    if isinstance(task, StreamTask):
        return lambda params, batch, resets: _eval_streams(model, task, params, batch, resets)

    def eval_step(params: dict, batch: Batch, resets: Array) -> dict:
        logits, _ = model.apply(params, batch.xs, seq_lengths=batch.seq_lengths)
        correct = task.correct(predictions(logits, model.output), batch)
        return {
            "loss": loss(logits, batch, model.output),
            "correct": jnp.mean(correct.astype(jnp.float32)),
            "solved": jnp.all(correct),
        }

    return eval_step


def _eval_streams(model: Model, task: StreamTask, params: dict, batch: Batch, resets: Array) -> dict:
    T, B = resets.shape
    H = params["lstm"].hidden_size

    def body(carry, inputs):
        state, first_error, wrong, total, c_max = carry
        t, x, target, reset = inputs
        logits, state = model.apply(params, x[None], state, resets=reset[None])
        one = Batch(x[None], target[None], jnp.ones((1, B), jnp.float32), jnp.ones((B,), jnp.int32))
        errors = task.errors(predictions(logits, model.output), one)[0]
        first_error = jnp.where(errors & (first_error == T), t, first_error)
        total = total + jnp.sum(step_losses(logits, target[None], model.output))
        c_max = jnp.maximum(c_max, jnp.max(jnp.abs(state.c[..., :H]), axis=(0, 2)).astype(jnp.float32))
        return (state, first_error, wrong + errors, total, c_max), None

    init = (model.initial_state(params, B), jnp.full((B,), T, jnp.int32), jnp.zeros((B,), jnp.int32),
            jnp.zeros((), jnp.float32), jnp.zeros((B,), jnp.float32))
    steps = (jnp.arange(T, dtype=jnp.int32), batch.xs, batch.targets, resets)
    (_, first_error, wrong, total, c_max), _ = jax.lax.scan(body, init, steps)
    return {
        "loss": total / (T * B),
        "correct": jnp.mean((wrong == 0).astype(jnp.float32)),
        "solved": jnp.all(wrong == 0),
        "error_free_length": jnp.mean(first_error.astype(jnp.float32)),
        "wrong_symbols": jnp.mean(wrong.astype(jnp.float32)),
        "c_max": jnp.max(c_max),
    }
