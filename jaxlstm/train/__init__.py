"""Training: the model, the jitted train step, the data of a run, checkpoints and the loop."""

from jaxlstm.train.checkpoint import CheckpointError
from jaxlstm.train.config import Config, ConfigError, ConfigTypeError, load
from jaxlstm.train.data import DataError
from jaxlstm.train.interrupt import Interrupted
from jaxlstm.train.loop import RESUMABLE, NonFiniteError, Result, default_workdir, run
from jaxlstm.train.model import Model
from jaxlstm.train.step import TrainState, make_optimizer, make_train_step

__all__ = ["RESUMABLE", "CheckpointError", "Config", "ConfigError", "ConfigTypeError", "DataError", "Interrupted", "Model", "NonFiniteError", "Result",
           "TrainState", "default_workdir", "load", "make_optimizer", "make_train_step", "run"]
