"""A finished or stopped run's trained params, read back from its workdir (for sampling and
exporting)."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp

from jaxlstm.train.checkpoint import Checkpoints
from jaxlstm.train.config import from_dict, from_json
from jaxlstm.train.model import Model
from jaxlstm.train.step import init_state, make_optimizer

__all__ = ["load_params", "one_network"]


def one_network(config, params, network: int):
    """The params of network ``network`` (an index into the run's seeds, 0 for the first) of
    ``params`` stacked over the run's seeds."""
    if not 0 <= network < config.train.seeds:
        raise ValueError(f"network must be in [0, {config.train.seeds}); got {network}: the run trained "
                         f"{config.train.seeds} seeds.")
    return jax.tree.map(lambda a: a[network], params)


def load_params(workdir: str | Path, task=None):
    """``(config, model, params)`` of the newest checkpoint of the run in ``workdir``, every
    seed's params stacked on a leading axis. ``task``: what the model needs of the run's task
    (``input_size``, ``output_size``, ``output``), when the task itself cannot be made (a
    ``"files"`` run without its data files); default: the run's task."""
    workdir = Path(workdir)
    config_path = workdir / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(
            f"workdir {workdir} has no config.json; expected the workdir of a `jaxlstm run`. "
            "Hint: pass the directory the run printed at its end."
        )
    if task is None:
        config = from_json(config_path.read_text(), str(config_path))
    else:  # the task's own section is not read: making it could need files that are gone
        data = json.loads(config_path.read_text())
        config = from_dict({**data, "task": {"name": "adding"}}, str(config_path))
    model = Model.for_task(config.model, config.task.make() if task is None else task)
    optimizer = make_optimizer(config.optim, config.train.steps)
    seeds = jnp.arange(config.train.seed, config.train.seed + config.train.seeds, dtype=jnp.int32)
    like = jax.eval_shape(jax.vmap(lambda s: init_state(s, model, optimizer, config.train.batch_size)), seeds)
    checkpoints = Checkpoints(workdir / "checkpoints", config.train.keep_checkpoints)
    try:
        step = checkpoints.latest_step()
        if step is None:
            raise FileNotFoundError(f"workdir {workdir} has no checkpoint yet; expected a run that took a step.")
        return config, model, checkpoints.restore(step, like).params
    finally:
        checkpoints.close()
