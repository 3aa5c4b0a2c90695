"""Text from a trained character-level model: restore a run's params and sample from them."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm.tasks import TextTask
from jaxlstm.train.config import ConfigError
from jaxlstm.train.restore import load_params, one_network

__all__ = ["sample_text"]


def sample_text(workdir: str | Path, *, length: int = 400, prime: str = "\n", temperature: float = 1.0,
                seed: int = 0, network: int = 0) -> str:
    """``prime`` followed by ``length`` characters drawn one at a time from a trained text model.

    Args:
        workdir: the workdir of a run of the ``"text"`` task.
        length: characters to draw.
        prime: text the model reads first (its characters must be in the vocabulary).
        temperature: divides the logits: below 1 is more conservative, above 1 more varied.
        seed: the sampling key's seed.
        network: which of the run's seeds to sample from (an index, 0 for the first).
    """
    config, model, params = load_params(workdir)
    task = config.task.make()
    if not isinstance(task, TextTask):
        raise ConfigError(f"sample needs a run of the task 'text'; the run in {workdir} trained "
                          f"{config.task.name!r}. Hint: jaxlstm run experiments/text.toml first.")
    params = one_network(config, params, network)
    if not temperature > 0:
        raise ValueError(f"temperature must be positive; got {temperature}. Hint: 1.0 samples the "
                         "model's own distribution.")
    if not prime:
        raise ValueError("prime must hold at least one character; got ''. Hint: prime='\\n'.")
    ids = task.encode(prime)
    one_hot = lambda i: jax.nn.one_hot(i, task.input_size, dtype=model.dtype)

    @jax.jit
    def generate(params, ids, key):
        logits, state = model.apply(params, one_hot(ids)[:, None])

        def step(carry, key):
            state, logits = carry
            char = jax.random.categorical(key, logits / temperature)
            logits, state = model.apply(params, one_hot(char)[None, None], state)
            return (state, logits[0, 0]), char

        _, chars = jax.lax.scan(step, (state, logits[-1, 0]), jax.random.split(key, length))
        return chars

    chars = generate(params, jnp.asarray(ids), jax.random.key(seed))
    return prime + task.decode(np.asarray(chars))
