"""A trained run as an ONNX model (``jaxlstm export``): the LSTM stack of one of its seeds, as
standard ONNX ``LSTM`` nodes (:func:`jaxlstm.interop.to_onnx`), and its readout."""

from __future__ import annotations

from pathlib import Path

import jax

from jaxlstm.interop import to_onnx
from jaxlstm.train.config import ConfigError
from jaxlstm.train.restore import load_params

__all__ = ["onnx_of_run"]


def onnx_of_run(workdir: str | Path, *, seed: int | None = None, state_inputs: bool = False):
    """The ONNX model of the newest checkpoint of the run in ``workdir``: network ``seed`` (one
    of the run's seeds; default its first). Its inputs are those of :func:`to_onnx`: ``X``
    alone, or with ``state_inputs`` also ``sequence_lens``, ``initial_h`` and ``initial_c``;
    its outputs add ``logits``, the readout's (before the task's sigmoid or softmax)."""
    config, model, params = load_params(workdir)
    seeds = list(range(config.train.seed, config.train.seed + config.train.seeds))
    seed = seeds[0] if seed is None else seed
    if seed not in seeds:
        raise ConfigError(f"seed is {seed}; expected one of the run's seeds {seeds[0]}..{seeds[-1]}. "
                          f"Hint: --seed {seeds[0]}.")
    params = jax.tree.map(lambda a: a[seeds.index(seed)], params)
    readout = (params["readout"]["w"], params["readout"]["b"])
    return to_onnx(params["lstm"], readout=readout, shortcut=config.model.shortcut,
                   name=f"{config.task.name}-seed{seed}", state_inputs=state_inputs)
