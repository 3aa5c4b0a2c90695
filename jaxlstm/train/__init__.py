"""Training: the model, the jitted train step, the data of a run, checkpoints and the loop."""

from jaxlstm.train.config import Config, ConfigError, ConfigTypeError, load
from jaxlstm.train.loop import Result, default_workdir, run
from jaxlstm.train.model import Model
from jaxlstm.train.step import TrainState, make_optimizer, make_train_step

__all__ = ["Config", "ConfigError", "ConfigTypeError", "Model", "Result", "TrainState", "default_workdir", "load",
           "make_optimizer", "make_train_step", "run"]
