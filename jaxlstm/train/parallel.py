"""Where a run's arrays live: on one device, or sharded over a one-axis ``jax.sharding.Mesh``
of several, as the ``[parallel]`` section says.

Nothing here is a parallel algorithm: the train and eval steps are the same jitted functions,
given input and output shardings, and XLA's SPMD partitioner splits them and inserts the
collectives itself. With ``axis = "batch"`` (data parallel) the params and the optimizer state
are replicated and every batch is split along its batch axis, so the gradient, a mean over the
batch, is summed across devices by one all-reduce per step (after the time loop: the fast
paths' weight gradients are single matmuls after their backward loop). With ``axis =
"seeds"`` every array is split along its leading seed axis, and each device trains its own
seeds with nothing exchanged.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxlstm.tasks import Batch
from jaxlstm.train.config import Config, ConfigError

__all__ = ["AXIS", "Placement", "barrier", "gather", "join", "placement", "primary"]

AXIS = "devices"
"""The mesh's one axis."""


@dataclasses.dataclass(frozen=True)
class Placement:
    """The mesh of a run (None: one device) and what is split along it.

    Every method returns shardings as pytrees of what it describes, or None in their place on
    one device (where ``jax.jit`` places everything on the default device, as without a mesh).
    """

    mesh: Mesh | None
    axis: str

    @property
    def replicated(self) -> NamedSharding | None:
        return None if self.mesh is None else NamedSharding(self.mesh, P())

    def _split(self, *spec) -> NamedSharding:
        return NamedSharding(self.mesh, P(*spec))

    def state(self, state):
        """A train state with a leading seed axis (``TrainState`` or ``PPOState``): split by
        seeds, or replicated but for the carried LSTM state ``(seeds, L * D, B, H)``, split
        along its batch axis."""
        if self.mesh is None:
            return None
        if self.axis == "seeds":
            return jax.tree.map(lambda _: self._split(AXIS), state)
        shardings = jax.tree.map(lambda _: self.replicated, state)
        return shardings._replace(carry=jax.tree.map(lambda _: self._split(None, None, AXIS), state.carry))

    def seeds(self):
        return None if self.mesh is None else (self._split(AXIS) if self.axis == "seeds" else self.replicated)

    def train_inputs(self) -> tuple:
        """A supervised train step's ``(batch, resets)``, stacked ``(seeds, T, B, ...)``."""
        if self.mesh is None:
            return (None, None)
        if self.axis == "seeds":
            seeds = self._split(AXIS)
            return (Batch(seeds, seeds, seeds, seeds), seeds)
        steps = self._split(None, None, AXIS)
        return (Batch(steps, steps, steps, self._split(None, AXIS)), steps)

    def test_set(self, test_set: tuple):
        """The test set, ``(batch, resets)`` of ``(T, B, ...)`` (shared by every seed) or an
        environment's ``(key,)``: split along the batch for data parallelism, else replicated."""
        if self.mesh is None:
            return (None,) * len(test_set)
        if self.axis == "seeds" or not isinstance(test_set[0], Batch):
            return jax.tree.map(lambda _: self.replicated, test_set)
        steps = self._split(None, AXIS)
        return (Batch(steps, steps, steps, self._split(AXIS)), steps)

    def put(self, tree, shardings):
        """``tree``'s host arrays as global arrays with ``shardings``: each device holds only
        its shard (``jax.make_array_from_callback``, which also serves a process that feeds
        only the devices it has)."""
        if self.mesh is None:
            return jax.tree.map(jax.numpy.asarray, tree)
        return jax.tree.map(_global, tree, shardings)


def join(config: Config, process_id: int | None = None) -> None:
    """Join the run's processes with ``jax.distributed.initialize`` when ``parallel.processes``
    is above 1 (before JAX starts its backend: call it first). On CPUs their collectives go
    through gloo."""
    cfg = config.parallel
    if cfg.processes == 1:
        return
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=cfg.coordinator or None, num_processes=cfg.processes,
                               process_id=process_id)


def primary() -> bool:
    """Whether this process writes the run's files (process 0 of a multi-host run)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process of the run has come here (nothing to wait for alone)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def gather(a: jax.Array) -> np.ndarray:
    """The whole of ``a`` as a host array, also where other processes hold parts of it."""
    if a.is_fully_addressable:
        return np.asarray(jax.device_get(a))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(a, tiled=True))


def _global(a, sharding: NamedSharding) -> jax.Array:
    if isinstance(a, jax.Array):  # already global (a PRNG key): placed whole
        return jax.device_put(a, sharding)
    return jax.make_array_from_callback(np.shape(a), sharding, lambda index: np.asarray(a)[index])


def placement(config: Config, *, environment: bool) -> Placement:
    """The placement of ``config``'s run, after checking that its sizes divide by the devices.

    Raises:
        ConfigError: more devices asked for than there are; a batch, test batch or seed count
            that does not divide by the devices; data parallelism of an environment task.
    """
    cfg, available = config.parallel, len(jax.devices())
    count = cfg.devices or available
    if jax.process_count() > 1 and count != available:
        raise ConfigError(
            f"parallel.devices is {count}, but the {jax.process_count()} processes of this run have "
            f"{available} devices; expected all of them (0) in a multi-host run. Hint: --set parallel.devices=0."
        )
    if count > available:
        raise ConfigError(
            f"parallel.devices is {count}, but JAX sees {available} device(s) ({jax.devices()[0].platform}); "
            "expected at most that many. Hint: --set parallel.devices=0 uses all of them; on a CPU, "
            "XLA_FLAGS=--xla_force_host_platform_device_count=N simulates N devices."
        )
    if count == 1:
        return Placement(None, cfg.axis)
    if cfg.axis == "seeds":
        _divides(count, config.train.seeds, "train.seeds", "parallel.axis='batch'")
    elif environment:
        raise ConfigError(
            f"parallel.axis is 'batch', but task {config.task.name!r} is an environment, whose PPO "
            "updates are not split by batch; expected parallel.axis='seeds' for it. Hint: --set "
            "parallel.axis=seeds, or --set parallel.devices=1."
        )
    else:
        _divides(count, config.train.batch_size, "train.batch_size", "parallel.axis='seeds'")
        _divides(count, config.eval.batch_size, "eval.batch_size", "parallel.axis='seeds'")
    return Placement(Mesh(np.array(jax.devices()[:count]), (AXIS,)), cfg.axis)


def _divides(count: int, size: int, key: str, other: str) -> None:
    if size % count:
        raise ConfigError(
            f"{key} is {size}, which does not divide by the {count} devices of parallel.devices; "
            f"expected a multiple of {count} to split it evenly. Hint: --set {key}=N with N a "
            f"multiple of {count}, another parallel.devices, or {other}."
        )
