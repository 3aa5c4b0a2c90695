"""jaxlstm: an exact, fast, readable LSTM for JAX."""

from importlib.metadata import PackageNotFoundError, version

from jaxlstm import interop
from jaxlstm.cell import lstm_step
from jaxlstm.params import CellParams, LSTMParams, LSTMState, init, init_cell, initial_state, param_count
from jaxlstm.sequence import lstm
from jaxlstm.variant import ACTIVATIONS, VARIANTS, Variant

try:
    __version__ = version("jaxlstm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

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
