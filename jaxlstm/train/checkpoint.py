"""Checkpoints of a run's :class:`~jaxlstm.train.step.TrainState`, with orbax.

Orbax writes each checkpoint into a temporary directory and renames it when complete, so a run
killed mid-save leaves the previous checkpoints intact; the newest ``keep`` are kept. No pickle:
arrays go to OCDBT/zarr, and restoring needs a state of the same structure to fill.
"""

from __future__ import annotations

from pathlib import Path

import orbax.checkpoint as ocp

__all__ = ["Checkpoints"]


class Checkpoints:
    """The checkpoints of one workdir.

    Args:
        directory: where they live (created on the first save).
        keep: how many of the newest to keep.
    """

    def __init__(self, directory: Path, keep: int):
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(Path(directory).absolute(), options=options)

    def latest_step(self) -> int | None:
        """The step of the newest complete checkpoint, or None."""
        return self._manager.latest_step()

    def save(self, step: int, state) -> None:
        """Write ``state`` as the checkpoint of ``step`` and wait until it is on disk."""
        self._manager.save(step, args=ocp.args.StandardSave(state))
        self._manager.wait_until_finished()

    def restore(self, step: int, like):
        """The state saved at ``step``, with the structure, shapes and dtypes of ``like``."""
        return self._manager.restore(step, args=ocp.args.StandardRestore(like))

    def close(self) -> None:
        self._manager.close()
