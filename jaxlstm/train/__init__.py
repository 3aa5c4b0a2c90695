"""Training: the model, the jitted train step, the data of a run, checkpoints and the loop."""

from jaxlstm.train.loop import Result, default_workdir, run
from jaxlstm.train.model import apply, init_model
from jaxlstm.train.step import TrainState, make_optimizer, make_train_step

__all__ = ["Result", "TrainState", "apply", "default_workdir", "init_model", "make_optimizer",
           "make_train_step", "run"]
