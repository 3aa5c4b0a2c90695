"""Where a run's numbers come from: the commit of the code, the library versions, the machine.

:func:`record` is the ``"provenance"`` entry of a run's ``summary.json``::

    {"commit": "3c15f72a9b01...", "clean": true, "python": "3.11.2", "jax": "0.10.2",
     "jaxlib": "0.10.2", "optax": "0.2.8", "flax": "0.12.8", "jaxlstm": "0.1.0+g3c15f72a9b01",
     "platform": "Linux-6.1.0-x86_64-with-glibc2.36", "cpu": "Intel(R) Xeon(R) Processor",
     "backend": "cpu", "device_count": 1, "wall_seconds": 101.3}

The commit is that of the git checkout jaxlstm was imported from, and ``clean`` says whether
its tracked files equal that commit (untracked files, such as run outputs, do not count). Both
are None when jaxlstm does not run from a git checkout (an installed copy, or no git).

jaxlstm's version is that of the source tree it was imported from (``jaxlstm.__version__``),
installed or not: from a git checkout it names the commit as a PEP 440 local version,
``0.1.0+g3c15f72a9b01`` (``.dirty`` appended when the tree is not clean); an installed copy
records the plain ``0.1.0``. The other libraries' versions are those of their installed
distributions, None for one not installed.
"""

from __future__ import annotations

import dataclasses
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jax

from jaxlstm._version import __version__

__all__ = ["PACKAGES", "Source", "cpu_model", "environment", "jaxlstm_version", "record", "source"]

PACKAGES = ("jax", "jaxlib", "optax", "flax")
"""The installed distributions whose versions a record names, besides jaxlstm's own."""

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Source:
    """The state of the source tree that a run's code came from.

    Attributes:
        commit: the full hash of ``HEAD``, or None outside a git checkout.
        clean: True when no tracked file differs from ``HEAD``; None outside a git checkout.
    """

    commit: str | None
    clean: bool | None


def _git(directory: Path, *args: str) -> str | None:
    """The stdout of ``git args`` run in ``directory``; None when git fails or is absent."""
    try:
        done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return done.stdout if done.returncode == 0 else None


def source(directory: str | Path = _PACKAGE_DIR) -> Source:
    """The commit and cleanliness of the git checkout that holds ``directory``.

    ``directory`` counts as part of the checkout only when its ``__init__.py`` is tracked there,
    so a copy installed into a virtual environment inside a checkout is not taken for the
    checkout's own code.

    Args:
        directory: a package directory; by default jaxlstm's own.

    Returns:
        A :class:`Source`; ``Source(None, None)`` outside a git checkout.

    Example:
        >>> from jaxlstm.train.provenance import source
        >>> state = source("/")
        >>> state.commit is None and state.clean is None
        True
    """
    directory = Path(directory)
    if _git(directory, "ls-files", "--error-unmatch", "__init__.py") is None:
        return Source(None, None)
    commit = _git(directory, "rev-parse", "HEAD")
    changes = _git(directory, "status", "--porcelain", "--untracked-files=no")
    if commit is None or changes is None:
        return Source(None, None)
    return Source(commit.strip(), changes.strip() == "")


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """The first ``model name`` of ``cpuinfo`` (Linux), or None where there is none.

    Example:
        >>> from jaxlstm.train.provenance import cpu_model
        >>> cpu_model("/no/such/file") is None
        True
    """
    try:
        lines = Path(cpuinfo).read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return None


def jaxlstm_version(state: Source) -> str:
    """jaxlstm's version as it ran: the source tree's version, marked with its commit in a checkout.

    Args:
        state: :func:`source` of jaxlstm's package directory.

    Returns:
        ``jaxlstm.__version__`` outside a git checkout (``state.commit`` None); in one, that
        version with a PEP 440 local part naming the commit's first 12 hex digits after a ``g``
        (as ``git describe`` writes it), then ``.dirty`` when ``state.clean`` is False.

    Example:
        >>> import jaxlstm
        >>> from jaxlstm.train.provenance import Source, jaxlstm_version
        >>> jaxlstm_version(Source("3c15f72a9b01" + "0" * 28, False)).partition("+")[2]
        'g3c15f72a9b01.dirty'
        >>> jaxlstm_version(Source(None, None)) == jaxlstm.__version__
        True
    """
    if state.commit is None:
        return __version__
    return f"{__version__}+g{state.commit[:12]}{'' if state.clean else '.dirty'}"


def environment(started: Source | None = None) -> dict:
    """The Python and library versions, the platform, the CPU and the JAX devices.

    Args:
        started: :func:`source` as a run took it when it started, for jaxlstm's version; None
            takes it now.

    Returns:
        ``{"python", "jax", "jaxlib", "optax", "flax", "jaxlstm", "platform", "cpu",
        "backend", "device_count"}``; the version of a library not installed is None, and
        jaxlstm's is :func:`jaxlstm_version`.

    Example:
        >>> from jaxlstm.train.provenance import environment
        >>> sorted(environment())[:4]
        ['backend', 'cpu', 'device_count', 'flax']
    """
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    versions["jaxlstm"] = jaxlstm_version(source() if started is None else started)
    return {"python": platform.python_version(), **versions, "platform": platform.platform(),
            "cpu": cpu_model(), "backend": jax.default_backend(), "device_count": jax.device_count()}


def record(started: Source, wall_seconds: float) -> dict:
    """The provenance of a run: its source tree, its environment and its wall time.

    Args:
        started: :func:`source`, taken when the run started.
        wall_seconds: the run's wall time, from its start to its summary.

    Returns:
        ``{"commit", "clean", **environment(started), "wall_seconds"}``, JSON-ready.

    Example:
        >>> from jaxlstm.train.provenance import Source, record
        >>> entry = record(Source("0" * 40, True), 12.345)
        >>> entry["clean"], entry["wall_seconds"], entry["python"] is not None
        (True, 12.3, True)
    """
    return {"commit": started.commit, "clean": started.clean, **environment(started),
            "wall_seconds": round(wall_seconds, 1)}
