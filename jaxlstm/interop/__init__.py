"""Weights to and from other frameworks, numpy in and numpy out: no framework is imported
(ONNX's converters import ``onnx`` when called: they build and read its models).

Each converter states its source layout in its module's docstring; docs/guides/interop.md has the table.
"""

from jaxlstm.interop.cudnn import from_cudnn, to_cudnn
from jaxlstm.interop.equinox import from_equinox, to_equinox
from jaxlstm.interop.flax import from_flax, to_flax
from jaxlstm.interop.haiku import from_haiku, to_haiku
from jaxlstm.interop.keras import from_keras, keras_activations, to_keras
from jaxlstm.interop.onnx import from_onnx, to_onnx
from jaxlstm.interop.pytorch import from_torch, to_torch
from jaxlstm.interop.tf1 import from_tf1, to_tf1

__all__ = [
    "from_cudnn",
    "from_equinox",
    "from_flax",
    "from_haiku",
    "from_keras",
    "from_tf1",
    "keras_activations",
    "from_onnx",
    "from_torch",
    "to_cudnn",
    "to_equinox",
    "to_flax",
    "to_haiku",
    "to_keras",
    "to_onnx",
    "to_tf1",
    "to_torch",
]
