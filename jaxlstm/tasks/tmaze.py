"""Bakker's T-maze (2002): a partially observable environment in JAX, for reinforcement learning.

The agent starts at the foot of a corridor of ``length`` cells, where it sees a cue: the goal is
up or down. It then sees only "corridor" until it reaches the junction, where it sees
"junction" and must turn the way the cue said, ``length`` steps or more after it last saw it.
Its LSTM must hold one bit across the corridor. Bakker (2002, "Reinforcement learning with long
short-term memory") solved corridors of up to 70 cells with an LSTM and Advantage Learning.

Actions: 0 forward (east), 1 up (north), 2 down (south). Rewards as Bakker's: +4 for the right
turn at the junction, -0.1 for the wrong one (both end the episode), -0.1 for a move into a
wall (up or down in the corridor, forward at the junction), 0 otherwise. An episode also ends
after ``time_limit`` steps. Observations are one-hot over (cue up, cue down, corridor, junction).

Everything is a pure function of arrays (``reset``, ``step``), so a batch of environments is
``jax.vmap`` of them and a rollout is a ``jax.lax.scan``: episodes end at different steps inside
one rollout, and the LSTM policy restarts there through ``jaxlstm.lstm``'s ``resets``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from jaxlstm.tasks.base import check_int

__all__ = ["TMaze", "TMazeState"]

FORWARD, UP, DOWN = 0, 1, 2
_CUE_UP, _CUE_DOWN, _CORRIDOR, _JUNCTION = range(4)


class TMazeState(NamedTuple):
    """One environment: the agent's cell (0 is the start, ``length`` the junction), the goal
    (0 up, 1 down) and the steps taken in this episode."""

    position: Array
    goal: Array
    t: Array


@dataclasses.dataclass(frozen=True)
class TMaze:
    """The T-maze with a corridor of ``length`` cells (see the module docstring).

    Attributes:
        length: the cells from the start to the junction; the cue must be held this long.
        time_limit: the steps after which an episode ends unfinished; 0 (the default) is
            ``3 * length + 10``, time enough for an agent that moves forward a third of the time.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxlstm.tasks import TMaze
        >>> maze = TMaze(length=2)
        >>> state, obs = maze.reset(jax.random.key(0))
        >>> for action in (0, 0, 1 + int(state.goal)):          # forward, forward, turn to the goal
        ...     state, obs, reward, done, success = maze.step(state, jnp.int32(action))
        >>> float(reward), bool(done), bool(success)
        (4.0, True, True)
    """

    length: int = 10
    time_limit: int = 0

    output: ClassVar[str] = "actor_critic"
    num_actions: ClassVar[int] = 3

    def __post_init__(self):
        check_int("TMaze", "length", self.length, 1, "the corridor's cells, e.g. length=10 (Bakker: up to 70).")
        check_int("TMaze", "time_limit", self.time_limit, 0, "0 for 3 * length + 10 steps.")

    @property
    def input_size(self) -> int:
        return 4

    @property
    def output_size(self) -> int:
        """The policy's logits, one per action, and the value."""
        return self.num_actions + 1

    @property
    def max_steps(self) -> int:
        return self.time_limit or 3 * self.length + 10

    def observe(self, state: TMazeState) -> Array:
        """The one-hot observation of one environment, float32 ``(4,)``."""
        kind = jnp.where(state.position == 0, state.goal,
                         jnp.where(state.position == self.length, _JUNCTION, _CORRIDOR))
        return jax.nn.one_hot(kind, 4, dtype=jnp.float32)

    def reset(self, key: Array) -> tuple[TMazeState, Array]:
        """A new episode at the start, with a goal drawn from ``key``; and its observation."""
        state = TMazeState(jnp.int32(0), jax.random.bernoulli(key).astype(jnp.int32), jnp.int32(0))
        return state, self.observe(state)

    def step(self, state: TMazeState, action: Array) -> tuple[TMazeState, Array, Array, Array, Array]:
        """``(state, obs, reward, done, success)`` after ``action`` (an int32 scalar); ``success``
        is True for the right turn at the junction."""
        at_junction = state.position == self.length
        turned = at_junction & (action != FORWARD)
        success = turned & (action == UP + state.goal)
        bumped = (at_junction & (action == FORWARD)) | (~at_junction & (action != FORWARD))
        position = jnp.where(~at_junction & (action == FORWARD), state.position + 1, state.position)
        reward = jnp.where(success, 4.0, jnp.where(turned | bumped, -0.1, 0.0)).astype(jnp.float32)
        t = state.t + 1
        new = TMazeState(position.astype(jnp.int32), state.goal, t)
        return new, self.observe(new), reward, turned | (t >= self.max_steps), success
