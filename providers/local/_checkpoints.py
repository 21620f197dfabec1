"""Checkpoints that are either complete or absent: written into a staging folder, then renamed into place.

transformers writes ``checkpoint-N`` in place and rotates old ones *before* anyone has checked the new one,
so with ``save_total_limit=1`` a crash mid-save can leave no usable checkpoint. Here the trainer writes into
``checkpoints/.staging/checkpoint-N``; once every rank is done it is fsynced and renamed to
``checkpoints/checkpoint-N`` (a rename is atomic on one filesystem); :class:`RunDirCallback` then records its
completion marker and only after that does ftkit delete the oldest trusted checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

__all__ = ["STAGING_DIR", "fsync_tree", "with_atomic_checkpoints"]

STAGING_DIR = ".staging"


def fsync_tree(directory: Path) -> None:
    """Flush every file under ``directory`` and the directory entries themselves to disk."""
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())
    for folder in [directory, *(p for p in directory.rglob("*") if p.is_dir())]:
        _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def with_atomic_checkpoints(trainer_class: type) -> type:
    """A subclass of a transformers/TRL trainer whose checkpoints appear only once fully written."""

    class AtomicCheckpoints(trainer_class):  # type: ignore[misc, valid-type]
        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            final_root = Path(self._get_output_dir(trial=trial))
            staging_root = final_root / STAGING_DIR
            name = f"checkpoint-{self.state.global_step}"
            self._get_output_dir = lambda trial=None: str(staging_root)  # instance attribute shadows the method
            try:
                super()._save_checkpoint(model, trial)
            finally:
                del self._get_output_dir
            _barrier()  # every rank has written its files (optimizer shards, rng_state_<rank>.pth)
            if self.args.should_save:
                _publish(self, staging_root / name, final_root / name)
            _barrier()

    AtomicCheckpoints.__name__ = AtomicCheckpoints.__qualname__ = f"Atomic{trainer_class.__name__}"
    return AtomicCheckpoints


def _publish(trainer: Any, staged: Path, target: Path) -> None:
    staged_str, target_str = str(staged), str(target)
    if trainer.state.best_model_checkpoint == staged_str:
        trainer.state.best_model_checkpoint = target_str
    state_file = staged / "trainer_state.json"
    if state_file.exists():  # the saved state must point at where the checkpoint will live
        state = json.loads(state_file.read_text(encoding="utf-8"))
        if state.get("best_model_checkpoint") == staged_str:
            state["best_model_checkpoint"] = target_str
            state_file.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    fsync_tree(staged)
    if target.exists():  # the same step saved again after a resume: ftkit's own, older copy
        shutil.rmtree(target)
    os.replace(staged, target)
    _fsync_dir(target.parent)
    with contextlib.suppress(OSError):
        staged.parent.rmdir()  # the staging folder, once empty
