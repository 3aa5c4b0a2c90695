"""Sphinx configuration of jaxlstm's documentation site.

Build it with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (``pip install
-e '.[docs]'``): ``-W`` turns every warning into an error, so a broken link, a reference to a
name that is not documented or an example that raises fails the build. Nothing is fetched from
the network, at build time or when the pages are viewed: no intersphinx, no web fonts, no
scripts from elsewhere (``tests/test_docs.py`` checks the built pages).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
# The examples import jaxlstm from the checkout, installed or not.
sys.path.insert(0, str(DOCS.parent))
# The examples run on the CPU with 2 threads' worth of work, whatever the machine has.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jaxlstm  # noqa: E402

project = "jaxlstm"
author = "the jaxlstm developers"
copyright = "2026, the jaxlstm developers"
release = jaxlstm.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "jaxlstm_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples", "generated/examples/*.ipynb", "generated/examples/*.py"]
root_doc = "index"

# A reference to a name that is not documented is a warning, and so an error under -W. Names of
# other libraries cannot be linked offline (no intersphinx), so they are shown as written.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(jax|jnp|jaxlib|numpy|np|flax|nnx|nn|optax|orbax|onnx|typing|collections|types|os|pathlib|dataclasses)(\..*)?"),
    (r"py:class", r"(Array|ArrayLike|Any|Callable|Sequence|Mapping|Iterator|Iterable|Literal|Path|PRNGKey|KeyArray|DTypeLike|Module|Rngs|Variable)"),
    (r"py:class", r"(int|float|str|bool|bytes|dict|list|tuple|object|None|type|callable|optional)"),
]

autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True
napoleon_use_ivar = True

myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "generated/examples",
    "filename_pattern": r"/",          # run every example: a broken one fails the build
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_signature": False,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    # The computation-times pages load their table scripts from a CDN: not on an offline site.
    "write_computation_times": False,
}

html_theme = "furo"
html_title = f"jaxlstm {release}"
html_theme_options = {"navigation_with_keys": True}
html_show_sourcelink = False
html_copy_source = False
