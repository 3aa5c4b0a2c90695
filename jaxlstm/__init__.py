"""jaxlstm: an exact, fast, readable LSTM for JAX."""

from jaxlstm import interop
from jaxlstm._version import __version__
from jaxlstm.cell import lstm_step
from jaxlstm.params import CellParams, LSTMParams, LSTMState, init, init_cell, initial_state, param_count
from jaxlstm.sequence import lstm
from jaxlstm.variant import ACTIVATIONS, VARIANTS, Variant

__all__ = [
    "ACTIVATIONS",
    "CellParams",
    "LSTMParams",
    "LSTMState",
    "VARIANTS",
    "Variant",
    "__version__",
    "init",
    "init_cell",
    "initial_state",
    "interop",
    "lstm",
    "lstm_step",
    "param_count",
]
