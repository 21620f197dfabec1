"""Disk space: what a run will write (checkpoints x kept + the final model), checked before training, and
recognising a full disk when a run dies of one.

>>> human_bytes(42e9)
'42.0 GB'
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from ftkit.spec import Adapter, JobSpec

__all__ = ["DISK_FULL_MARKERS", "checkpoint_bytes", "free_bytes", "human_bytes", "is_disk_full", "output_bytes",
           "run_disk_bytes"]

#: what a full disk looks like in a traceback (errno 28 and its message, torch's and safetensors' wording)
DISK_FULL_MARKERS = ("No space left on device", "[Errno 28]", "ENOSPC", "file write failed", "Disk quota exceeded")
#: room kept free besides the estimate (logs, events, the staging copy's metadata)
MARGIN_BYTES = 512 * 1024**2


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem that holds ``path`` (or its nearest existing parent)."""
    probe = Path(path).expanduser().resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def checkpoint_bytes(spec: JobSpec, parameters: int, trainable: int) -> int:
    """One checkpoint: the trained weights in their stored dtype plus two AdamW moments (fp32, or bf16 for QLoRA)."""
    if spec.adapter == Adapter.FULL:
        return parameters * (4 + 8)  # fp32 master weights + two fp32 moments
    if spec.adapter == Adapter.QLORA:
        return trainable * (2 + 4)  # bf16 adapters (TRL casts them) + two bf16 moments
    return trainable * (4 + 8)


def output_bytes(spec: JobSpec, parameters: int, trainable: int) -> int:
    """The final adapter, or the full model saved in its fp32 master dtype."""
    return parameters * 4 if spec.adapter == Adapter.FULL else trainable * 4


def run_disk_bytes(spec: JobSpec, *, keep: int, parameters: int, trainable: int) -> int:
    """What a run needs free: ``keep`` checkpoints, one more being written, and the final output."""
    return checkpoint_bytes(spec, parameters, trainable) * (keep + 1) + output_bytes(
        spec, parameters, trainable) + MARGIN_BYTES


def is_disk_full(error: BaseException | str) -> bool:
    """Whether ``error`` (an exception chain, or log text) says the disk filled up."""
    if isinstance(error, str):
        return any(marker in error for marker in DISK_FULL_MARKERS)
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(marker in str(current) for marker in DISK_FULL_MARKERS):
            return True
        current = current.__cause__ or current.__context__
    return False


def human_bytes(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
