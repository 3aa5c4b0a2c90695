"""Thin Flax wrappers over jaxlstm's functional core (the only place jaxlstm imports Flax).

- :class:`LSTM`, :class:`LSTMCell`: Flax NNX modules (:mod:`jaxlstm.flax.nnx`).
- :mod:`jaxlstm.flax.linen`: the same for Flax Linen.
"""

from jaxlstm.flax import linen
from jaxlstm.flax.nnx import LSTM, LSTMCell

__all__ = ["LSTM", "LSTMCell", "linen"]
