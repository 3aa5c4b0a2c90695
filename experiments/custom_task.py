"""Your own task, from Python: a class with the task protocol, registered by name, trained by
``jaxlstm.train.run``. (Data in files need no code: ``[task] name = "files"``, see
experiments/data/README.md.)

The task here: is the running sum of a sequence of random numbers positive at its end? Inputs
one number per step, one class per sequence (softmax over two), read at the last step.

    python experiments/custom_task.py     # trains it, from the top of the repository
"""

import dataclasses
import sys

import jax.numpy as jnp
import numpy as np

from jaxlstm.tasks import Batch, register
from jaxlstm.tasks.base import as_rng, one_hot, valid_mask
from jaxlstm.train import load, run


@dataclasses.dataclass(frozen=True)
class SignOfSum:
    """The task's options are its fields, each with a default (``[task]`` keys in a config)."""

    min_length: int = 5
    max_length: int = 20

    output = "softmax"          # how the readout's logits become predictions, and the loss
    input_size = 1
    output_size = 2

    def sample(self, rng, batch_size: int) -> Batch:
        """A time-major batch, padded to its longest sequence; the loss counts where weights is 1."""
        rng = as_rng(rng)
        lengths = rng.integers(self.min_length, self.max_length + 1, batch_size).astype(np.int32)
        T = int(lengths.max())
        valid = valid_mask(lengths, T)
        xs = np.where(valid, rng.normal(size=(T, batch_size)), 0.0).astype(np.float32)[..., None]
        classes = (xs[..., 0].sum(0) > 0).astype(np.int32)
        weights = (np.arange(T)[:, None] == lengths[None] - 1).astype(np.float32)  # the last step
        targets = one_hot(np.broadcast_to(classes, (T, batch_size)), 2, weights > 0)
        return Batch(xs, targets, weights, lengths)

    def correct(self, predictions, batch: Batch):
        """Per sequence: the class at its last step is right."""
        right = jnp.argmax(predictions, -1) == jnp.argmax(jnp.asarray(batch.targets), -1)
        return jnp.all(right | (jnp.asarray(batch.weights) == 0), axis=0)


register("sign_of_sum", SignOfSum)

SETTINGS = ["task.name=sign_of_sum", "task.max_length=20", "model.hidden_size=8", "train.steps=400",
            "train.batch_size=32", "train.max_length=20", "train.seeds=2", "eval.every=100", "eval.batch_size=256"]

if __name__ == "__main__":
    result = run(load(None, SETTINGS + sys.argv[1:]), "experiments/runs/custom_task")
    print(result.final)
