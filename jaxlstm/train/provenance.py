"""Where a run's numbers come from: the commit of the code, the library versions, the machine.

:func:`record` is the ``"provenance"`` entry of a run's ``summary.json``::

    {"commit": "3c15f72...", "clean": true, "python": "3.11.2", "jax": "0.10.2",
     "jaxlib": "0.10.2", "optax": "0.2.8", "flax": "0.12.8", "jaxlstm": "0.1.0",
     "platform": "Linux-6.1.0-x86_64-with-glibc2.36", "cpu": "Intel(R) Xeon(R) Processor",
     "backend": "cpu", "device_count": 1, "wall_seconds": 101.3}

The commit is that of the git checkout jaxlstm was imported from, and ``clean`` says whether
its tracked files equal that commit (untracked files, such as run outputs, do not count). Both
are None when jaxlstm does not run from a git checkout (an installed copy, or no git).
"""

from __future__ import annotations

import dataclasses
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jax

__all__ = ["PACKAGES", "Source", "cpu_model", "environment", "record", "source"]

PACKAGES = ("jax", "jaxlib", "optax", "flax", "jaxlstm")
"""The distributions whose versions a record names."""

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


def environment() -> dict:
    """The Python and library versions, the platform, the CPU and the JAX devices.

    Returns:
        ``{"python", "jax", "jaxlib", "optax", "flax", "jaxlstm", "platform", "cpu",
        "backend", "device_count"}``; a version is None for a distribution not installed.

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
    return {"python": platform.python_version(), **versions, "platform": platform.platform(),
            "cpu": cpu_model(), "backend": jax.default_backend(), "device_count": jax.device_count()}


def record(started: Source, wall_seconds: float) -> dict:
    """The provenance of a run: its source tree, its environment and its wall time.

    Args:
        started: :func:`source`, taken when the run started.
        wall_seconds: the run's wall time, from its start to its summary.

    Returns:
        ``{"commit", "clean", **environment(), "wall_seconds"}``, JSON-ready.

    Example:
        >>> from jaxlstm.train.provenance import Source, record
        >>> entry = record(Source("0" * 40, True), 12.345)
        >>> entry["clean"], entry["wall_seconds"], entry["python"] is not None
        (True, 12.3, True)
    """
    return {"commit": started.commit, "clean": started.clean, **environment(),
            "wall_seconds": round(wall_seconds, 1)}
