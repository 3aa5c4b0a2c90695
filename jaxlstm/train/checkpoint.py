"""Checkpoints of a run's :class:`~jaxlstm.train.step.TrainState`, with orbax.

Orbax writes each checkpoint into a temporary directory and renames it when complete, so a run
killed mid-save leaves the previous checkpoints intact (and a temporary directory, removed when
the checkpoints are next opened); the newest ``keep`` are kept. No pickle: arrays go to
OCDBT/zarr, and beside them a JSON digest (each array's shape, dtype and SHA-256) and, once
complete, a list of the checkpoint's files with their sizes and SHA-256. Restoring checks the
files against the list, the saved shapes and dtypes against a state of the same structure
(which it fills), and, where the list is missing, the restored arrays against the digest, so
that a damaged checkpoint, or one of another model, is refused with what is wrong, never loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import threading
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxlstm.train import parallel
from jaxlstm.train.report import write_atomic

__all__ = ["CheckpointError", "Checkpoints"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored: damaged, truncated, or of another model."""


class Checkpoints:
    """The checkpoints of one workdir.

    Args:
        directory: where they live (created on the first save).
        keep: how many of the newest to keep.
    """

    def __init__(self, directory: Path, keep: int):
        self._directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=False, enable_async_checkpointing=False,
                                               cleanup_tmp_directories=True)
        self._manager = ocp.CheckpointManager(self._directory, options=options)

    def latest_step(self) -> int | None:
        """The step of the newest complete checkpoint, or None."""
        return self._manager.latest_step()

    def save(self, step: int, state) -> None:
        """Write ``state`` and its digest as the checkpoint of ``step``; return once it is on disk.

        A SIGINT or SIGTERM that comes meanwhile is held until the checkpoint is complete (an
        exception raised inside orbax's writing threads can crash the process as it exits)."""
        self._directory.mkdir(parents=True, exist_ok=True)
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), digest=ocp.args.JsonSave(_digest(state)))
        with _signals_held():
            self._manager.save(step, args=args)
            self._manager.wait_until_finished()
            parallel.barrier(f"saved {step}")  # every process's files are written
            if parallel.primary():
                where = self._directory / str(step)
                files = {str(p.relative_to(where)): _file_record(p) for p in sorted(where.rglob("*")) if p.is_file()}
                write_atomic(where / _FILES, json.dumps(files, indent=1) + "\n")
            parallel.barrier(f"listed {step}")

    def restore(self, step: int, like):
        """The state saved at ``step``, with the structure, shapes and dtypes of ``like``.

        Raises:
            CheckpointError: the checkpoint holds other arrays, shapes or dtypes than ``like``
                (another model), or cannot be read, or its arrays differ from its digest.
        """
        where = f"checkpoint step {step} in {self._directory / str(step)}"
        hint = (f"Hint: move {self._directory / str(step)} out of the checkpoints directory to resume from the "
                "checkpoint before it, or start a new run in a new workdir.")
        files_checked = self._check_files(step, where, hint)
        digest = self._read(step, ocp.args.Composite(digest=ocp.args.JsonRestore()), where, hint)["digest"]
        expected = _digest(like, hashes=False)
        if not isinstance(digest, dict) or set(digest) != set(expected):
            missing, extra = sorted(set(expected) - set(digest or {})), sorted(set(digest or {}) - set(expected))
            raise CheckpointError(f"{where} holds another model: arrays {missing} are missing and {extra} are "
                                  f"not of this model; expected those of the config in config.json. {hint}")
        for name, (shape, dtype) in expected.items():
            if (tuple(digest[name]["shape"]), digest[name]["dtype"]) != (shape, dtype):
                raise CheckpointError(
                    f"{where} holds another model: {name} has shape {tuple(digest[name]['shape'])} and dtype "
                    f"{digest[name]['dtype']} there; expected shape {shape} and dtype {dtype} for the config in "
                    f"config.json. {hint}")
        state = self._read(step, ocp.args.Composite(state=ocp.args.StandardRestore(like)), where, hint)["state"]
        if files_checked:  # every byte was as written: the arrays are too
            return state
        for name, record in _digest(state).items():
            if record["sha256"] != digest[name]["sha256"]:
                raise CheckpointError(f"{where} is damaged: the array {name} read from it differs from the one "
                                      f"saved (its SHA-256 does not match the digest). {hint}")
        return state

    def _check_files(self, step: int, where: str, hint: str) -> bool:
        """Every file the checkpoint had when written, with its size and SHA-256, before orbax
        reads any (a read of a truncated file fails inside tensorstore, whose pending reads
        then print tracebacks); False for a checkpoint whose list was not written yet (killed
        just after orbax completed it), which is read as it is, the digest checking its arrays."""
        listing = self._directory / str(step) / _FILES
        if not listing.exists():
            return False
        try:
            files = json.loads(listing.read_text())
        except ValueError as error:
            raise CheckpointError(f"{where} is damaged: its {_FILES} cannot be read ({error}). {hint}") from None
        for name, record in files.items():
            path = self._directory / str(step) / name
            found = _file_record(path) if path.is_file() else None
            if found != record:
                what = "is missing" if found is None else (
                    f"has {found['size']} bytes, expected {record['size']}" if found["size"] != record["size"]
                    else "differs from the file written (its SHA-256 does not match)")
                raise CheckpointError(f"{where} is damaged: its file {name} {what}. {hint}")
        return True

    def _read(self, step: int, args, where: str, hint: str):
        try:
            return self._manager.restore(step, args=args)
        except Exception as error:  # orbax and tensorstore raise many kinds, all of them: unreadable
            reason = _first_line(error)
        raise CheckpointError(f"{where} cannot be read ({reason}); expected a complete checkpoint written by "
                              f"jaxlstm. {hint}")

    def close(self) -> None:
        self._manager.close()


_FILES = "files.json"
"""Beside orbax's files in each checkpoint: every one of them, with its size and SHA-256."""


def _file_record(path: Path) -> dict:
    data = path.read_bytes()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM inside the block, and deliver them when it ends (in the main
    thread; elsewhere the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []
    previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum)) for sig in _HELD}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in held[:1]:
            signal.raise_signal(signum)


_HELD = (signal.SIGINT, signal.SIGTERM)


def _digest(state, *, hashes: bool = True) -> dict:
    """``name -> {"shape", "dtype", "sha256"}`` for every array of ``state``, named by its path
    (``"params.lstm.layers.0.0.V"``); without ``hashes``, ``name -> (shape, dtype)``."""
    digest = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        name = ".".join(str(getattr(k, "name", getattr(k, "key", getattr(k, "idx", k)))) for k in path)
        shape, dtype = tuple(leaf.shape), str(np.dtype(leaf.dtype))
        if not hashes:
            digest[name] = (shape, dtype)
            continue
        data = np.ascontiguousarray(parallel.gather(leaf))
        digest[name] = {"shape": list(shape), "dtype": dtype, "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
    return digest


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    first = text[0].split(" See full TensorStore details")[0] if text else ""
    return f"{type(error).__name__}: {first}"
