"""The T-maze environment and PPO with an LSTM policy: the maze's rules, the update's policy is
the one that acted (episodes ending inside a rollout handled by resets), and a run resumes
bit-exactly."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close

from jaxlstm.tasks import EnvTask, TMaze
from jaxlstm.train import Model, load, ppo, run
from jaxlstm.train.step import make_optimizer


pytestmark = pytest.mark.usefixtures("standard_promotion")


def play(maze, goal, actions):
    state, obs = maze.reset(jax.random.key(0))
    state = state._replace(goal=jnp.int32(goal))
    seen = [maze.observe(state)]
    for action in actions:
        state, obs, reward, done, success = maze.step(state, jnp.int32(action))
        seen.append(obs)
    return np.argmax(np.stack(seen), axis=-1).tolist(), round(float(reward), 6), bool(done), bool(success)


def test_the_maze_shows_the_cue_only_at_the_start_and_rewards_the_right_turn():
    maze = TMaze(length=3)
    assert isinstance(maze, EnvTask) and maze.output_size == 4 and maze.max_steps == 19
    assert play(maze, 1, [0, 0, 0, 2]) == ([1, 2, 2, 3, 3], 4.0, True, True)   # down is right for goal 1
    assert play(maze, 0, [0, 0, 0, 2])[1:] == (-0.1, True, False)                # the wrong turn ends it
    assert play(maze, 0, [1])[1:] == (-0.1, False, False)                        # a wall in the corridor
    assert play(maze, 0, [0, 0, 0, 0])[1:] == (-0.1, False, False)               # a wall at the junction
    assert play(TMaze(length=3, time_limit=2), 0, [0, 0])[2] is True             # out of time
    with pytest.raises(ValueError, match="TMaze.length must be >= 1"):
        TMaze(length=0)


def config(*more):
    return load(None, ["task.name=tmaze", "task.length=3", "train.steps=4", "train.seeds=2", "train.log_every=2",
                       "train.checkpoint_every=2", "eval.every=2", "eval.batch_size=16", "model.hidden_size=8",
                       "ppo.num_envs=8", "ppo.rollout=12", "ppo.minibatches=2", "ppo.epochs=2", *more])


def test_the_update_reruns_the_policy_that_acted_across_episode_ends():
    cfg = config()
    maze = cfg.task.make()
    model = Model.for_task(cfg.model, maze)
    state = ppo.init_state(jnp.int32(0), model, make_optimizer(cfg.optim, 4), maze, cfg.ppo)
    state = state._replace(starts=jnp.zeros(8, bool).at[0].set(True))  # most enter mid-episode
    rollout, _, _, (_, dones, _) = jax.jit(lambda s, k: ppo._rollout(model, maze, cfg.ppo, s, k))(
        state, jax.random.key(3))
    assert dones[:-1].any() and rollout.starts[1:].any()  # episodes end and restart inside the rollout
    logits, values, _ = ppo._policy(model, maze, state.params, rollout.obs, state.carry, rollout.starts)
    log_probs = jnp.take_along_axis(jax.nn.log_softmax(logits), rollout.actions[..., None], axis=-1)[..., 0]
    assert_close(log_probs, rollout.log_probs, "reordered")
    assert_close(values, rollout.values, "reordered")
    without_resets, _, _ = ppo._policy(model, maze, state.params, rollout.obs, state.carry, None)
    assert not np.allclose(without_resets, logits, atol=1e-4)  # the resets are what makes them equal


def test_a_ppo_run_writes_its_files_and_resumes_bit_exactly(tmp_path):
    cfg = config("optim.schedule=cosine")
    whole = run(cfg, tmp_path / "whole", progress=False, echo=lambda _: None)
    half = run(cfg, tmp_path / "parts", progress=False, stop_after=2, echo=lambda _: None)
    # The schedule counts the optimizer's steps, epochs * minibatches per update: still learning.
    assert not np.array_equal(half.state.params["readout"]["w"], whole.state.params["readout"]["w"])
    resumed = run(cfg, tmp_path / "parts", resume=True, progress=False, echo=lambda _: None)
    for a, b in zip(jax.tree.leaves(whole.state), jax.tree.leaves(resumed.state)):
        np.testing.assert_array_equal(a, b)
    summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert len(summary["correct"]) == 2 and len(summary["return"]) == 2 and "return" in whole.table
    train = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    assert {"loss", "return", "success", "grad_norm"} <= set(train[0])
    assert (tmp_path / "whole" / "curves.png").stat().st_size > 0
