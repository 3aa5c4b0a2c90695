"""PPO with an LSTM policy on an environment written in JAX: the train step and the evaluation
of :class:`~jaxlstm.tasks.EnvTask` runs.

One train step is one update (Schulman et al. 2017): a rollout of ``ppo.rollout`` steps of
``ppo.num_envs`` vmapped environments, acting one observation at a time with ``T = 1`` calls of
the network, where every environment whose episode ended starts a new one at the next step and
the LSTM restarts from its initial state there (``resets``); then ``ppo.epochs`` passes of
clipped-surrogate updates, each over minibatches of whole environments: the network reruns
each one's rollout as one sequence from the state it had at the rollout's start, with the same
resets, so the gradients see exactly the policy that acted. The network's outputs are the
actions' logits and the value (``output = "actor_critic"``).

Like the supervised steps, these work on one network and are vmapped over seeds by the loop;
every key is a function of (seed, step), so a resumed run is bit-exact.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import Array

import jaxlstm
from jaxlstm.tasks import EnvTask
from jaxlstm.train.config import PPOConfig
from jaxlstm.train.model import Model
from jaxlstm.train.step import checked_update

__all__ = ["PPOState", "init_state", "make_eval_step", "make_train_step"]


class PPOState(NamedTuple):
    """What a PPO run carries from update to update, for one seed (a pytree for orbax).

    Attributes:
        params, opt_state: the network's params and the optax state.
        env: the state of every environment, ``(num_envs,)`` leaves.
        obs: ``(num_envs, input_size)``, the observation each acts on next.
        carry: the LSTM state each acts with next.
        starts: ``(num_envs,)`` bool, True where that observation begins an episode.
        returns: ``(num_envs,)``, the reward of each current episode so far.
        seed, step: as :class:`~jaxlstm.train.step.TrainState`'s.
    """

    params: dict
    opt_state: optax.OptState
    env: Any
    obs: Array
    carry: jaxlstm.LSTMState
    starts: Array
    returns: Array
    seed: Array
    step: Array


class _Rollout(NamedTuple):
    """One rollout, time-major ``(rollout, num_envs, ...)``."""

    obs: Array
    starts: Array
    actions: Array
    log_probs: Array
    values: Array
    rewards: Array
    dones: Array


def init_state(seed: Array, model: Model, optimizer: optax.GradientTransformation, task: EnvTask,
               cfg: PPOConfig) -> PPOState:
    """The state of one network and its environments before the first update."""
    key = jax.random.key(seed)
    params = model.init(key)
    env, obs = jax.vmap(task.reset)(jax.random.split(jax.random.fold_in(key, 1), cfg.num_envs))
    return PPOState(params, optimizer.init(params), env, obs.astype(model.dtype),
                    model.initial_state(params, cfg.num_envs), jnp.ones((cfg.num_envs,), bool),
                    jnp.zeros((cfg.num_envs,), jnp.float32), jnp.asarray(seed, jnp.int32), jnp.zeros((), jnp.int32))


def _policy(model: Model, task: EnvTask, params: dict, obs: Array, carry, starts: Array):
    """Logits ``(T, E, A)``, values ``(T, E)`` and the final state of a ``(T, E, I)`` run."""
    out, carry = model.apply(params, obs, carry, resets=starts)
    out = out.astype(jnp.float32)
    return out[..., : task.num_actions], out[..., task.num_actions], carry


def _reset_where(done: Array, fresh, current):
    return jax.tree.map(lambda f, c: jnp.where(done.reshape(done.shape + (1,) * (c.ndim - 1)), f, c), fresh, current)


def _rollout(model: Model, task: EnvTask, cfg: PPOConfig, state: PPOState, key: Array):
    """Act for ``cfg.rollout`` steps; returns the rollout, the state to continue from, the last
    observation's value, and the returns and successes of the episodes that ended."""

    def act(carry, key):
        env, obs, lstm_state, starts, returns = carry
        k_action, k_reset = jax.random.split(key)
        logits, value, lstm_state = _policy(model, task, state.params, obs[None], lstm_state, starts[None])
        logits, value = logits[0], value[0]
        action = jax.random.categorical(k_action, logits)
        log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], axis=-1)[:, 0]
        env, next_obs, reward, done, success = jax.vmap(task.step)(env, action)
        fresh_env, fresh_obs = jax.vmap(task.reset)(jax.random.split(k_reset, cfg.num_envs))
        env = _reset_where(done, fresh_env, env)
        next_obs = jnp.where(done[:, None], fresh_obs, next_obs).astype(model.dtype)
        returns = returns + reward
        ended = (jnp.where(done, returns, 0.0), done, done & success)
        step = _Rollout(obs, starts, action, log_prob, value, reward, done)
        return (env, next_obs, lstm_state, done, jnp.where(done, 0.0, returns)), (step, ended)

    start = (state.env, state.obs, state.carry, state.starts, state.returns)
    (env, obs, carry, starts, returns), (rollout, ended) = jax.lax.scan(act, start, jax.random.split(key, cfg.rollout))
    _, last_value, _ = _policy(model, task, state.params, obs[None], carry, starts[None])
    return rollout, (env, obs, carry, starts, returns), last_value[0], ended


def _advantages(cfg: PPOConfig, rollout: _Rollout, last_value: Array) -> tuple[Array, Array]:
    """Generalised advantage estimates and the value targets; an episode's end (a turn or the
    time limit) is terminal."""

    def back(carry, step):
        next_value, next_advantage = carry
        reward, value, done = step
        keep = 1.0 - done.astype(jnp.float32)
        delta = reward + cfg.gamma * next_value * keep - value
        advantage = delta + cfg.gamma * cfg.gae_lambda * keep * next_advantage
        return (value, advantage), advantage

    _, advantages = jax.lax.scan(back, (last_value, jnp.zeros_like(last_value)),
                                 (rollout.rewards, rollout.values, rollout.dones), reverse=True)
    return advantages, advantages + rollout.values


def make_train_step(model: Model, optimizer: optax.GradientTransformation, task: EnvTask, cfg: PPOConfig, *,
                    skip_nonfinite: bool = False):
    """``train_step(state) -> (state, metrics)``: one PPO update of one network. The metrics are
    the loss, the last minibatch's gradient global norm, the mean return and success rate of
    the episodes that ended during the rollout, ``nonfinite`` (where any minibatch's loss or
    gradient leaf was not finite: :func:`~jaxlstm.train.step.checked_update`) and ``skipped``,
    the minibatch updates skipped for it when ``skip_nonfinite``."""

    def loss_fn(params, carry, rollout: _Rollout, advantages, targets):
        logits, values, _ = _policy(model, task, params, rollout.obs, carry, rollout.starts)
        log_probs = jax.nn.log_softmax(logits)
        log_prob = jnp.take_along_axis(log_probs, rollout.actions[..., None], axis=-1)[..., 0]
        ratio = jnp.exp(log_prob - rollout.log_probs)
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        surrogate = jnp.minimum(ratio * advantages, jnp.clip(ratio, 1 - cfg.clip, 1 + cfg.clip) * advantages)
        entropy = -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1).mean()
        value_loss = 0.5 * jnp.mean(jnp.square(values - targets))
        return -surrogate.mean() + cfg.value_coef * value_loss - cfg.entropy_coef * entropy

    def train_step(state: PPOState) -> tuple[PPOState, dict]:
        key = jax.random.fold_in(jax.random.key(state.seed), state.step)
        k_rollout, k_epochs = jax.random.split(key)
        rollout, (env, obs, carry, starts, returns), last_value, ended = _rollout(model, task, cfg, state, k_rollout)
        advantages, targets = _advantages(cfg, rollout, last_value)
        size = cfg.num_envs // cfg.minibatches

        def minibatch(carry_state, envs):
            params, opt_state, _ = carry_state
            take = lambda a, axis: jnp.take(a, envs, axis=axis)
            data = jax.tree.map(lambda a: take(a, 1), (rollout, advantages, targets))
            start = jax.tree.map(lambda a: take(a, 1), state.carry)
            value, grads = jax.value_and_grad(loss_fn)(params, start, *data)
            params, opt_state, nonfinite = checked_update(optimizer, value, grads, opt_state, params,
                                                          skip_nonfinite=skip_nonfinite)
            return (params, opt_state, optax.tree.norm(grads)), (value, nonfinite)

        def epoch(carry_state, key):
            groups = jax.random.permutation(key, cfg.num_envs).reshape(cfg.minibatches, size)
            return jax.lax.scan(minibatch, carry_state, groups)

        start = (state.params, state.opt_state, jnp.zeros((), jnp.float32))
        (params, opt_state, grad_norm), (losses, nonfinite) = jax.lax.scan(epoch, start,
                                                                          jax.random.split(k_epochs, cfg.epochs))
        nonfinite = nonfinite.reshape(-1, nonfinite.shape[-1])  # (epochs * minibatches, 1 + leaves)
        skipped = jnp.sum(jnp.any(nonfinite, axis=-1)) if skip_nonfinite else jnp.zeros((), jnp.int32)
        episode_returns, dones, successes = ended
        episodes = jnp.maximum(jnp.sum(dones), 1)
        metrics = {"loss": jnp.mean(losses), "grad_norm": grad_norm, "nonfinite": jnp.any(nonfinite, axis=0),
                   "skipped": skipped.astype(jnp.int32),
                   "return": jnp.sum(episode_returns) / episodes, "success": jnp.sum(successes) / episodes}
        new = PPOState(params, opt_state, env, obs, jax.lax.stop_gradient(carry), starts, returns, state.seed,
                       state.step + 1)
        return new, metrics

    return train_step


def make_eval_step(model: Model, task: EnvTask, episodes: int):
    """``eval_step(params, key) -> metrics``: one episode in each of ``episodes`` fresh
    environments, acting greedily (the most probable action). ``correct`` is the fraction that
    turned the right way, ``solved`` whether all did, ``return`` their mean return."""

    def eval_step(params: dict, key: Array) -> dict:
        env, obs = jax.vmap(task.reset)(jax.random.split(key, episodes))

        def act(carry, _):
            env, obs, lstm_state, finished, success, returns = carry
            logits, _, lstm_state = _policy(model, task, params, obs[None].astype(model.dtype), lstm_state, None)
            env, obs, reward, done, won = jax.vmap(task.step)(env, jnp.argmax(logits[0], axis=-1))
            returns = returns + jnp.where(finished, 0.0, reward)
            success = success | (won & ~finished)
            return (env, obs, lstm_state, finished | done, success, returns), None

        false = jnp.zeros((episodes,), bool)
        start = (env, obs, model.initial_state(params, episodes), false, false, jnp.zeros((episodes,), jnp.float32))
        (_, _, _, _, success, returns), _ = jax.lax.scan(act, start, length=task.max_steps)
        return {"return": jnp.mean(returns), "correct": jnp.mean(success.astype(jnp.float32)),
                "solved": jnp.all(success)}

    return eval_step
