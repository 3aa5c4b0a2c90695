"""jaxlstm's version, defined once: ``jaxlstm.__version__`` re-exports it and pyproject.toml
reads it (``[tool.setuptools.dynamic]``) for the distribution's metadata."""

#: The version of this jaxlstm, as PEP 440 writes it.
__version__ = "0.1.0"
