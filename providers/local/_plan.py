"""What ``start()`` decides before anything is launched: the resolved settings for this machine's GPUs (and
whether they fit), the output folder's safety and the disk space the run will need.

Everything here raises :class:`~ftkit.errors.ConfigError` *before* a process starts, so nothing is
half-done when it refuses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ftkit.errors import ConfigError
from ftkit.spec import Adapter, JobSpec, Method

from . import _disk
from ._hardware import Hardware, detect_hardware
from ._options import LocalOptions
from ._settings import ResolvedSettings, memory_of, resolve

if TYPE_CHECKING:
    from ftkit.estimation.catalog import Architecture

__all__ = ["check_disk", "check_output_dir", "plan_run", "refuse_not_fitting"]


def check_output_dir(path: str | os.PathLike[str] | None, *, what: str = "options.output_dir") -> None:
    """Refuse a folder that exists and holds anything: ftkit never deletes or overwrites a user's files."""
    if path is None:
        return
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{what}={str(path)!r} is a file, not a folder; choose a new folder name.")
    if target.is_dir() and any(target.iterdir()):
        raise ConfigError(
            f"{what}={str(path)!r} already exists and is not empty; ftkit never overwrites a folder it did not "
            "create. Choose a new (or empty) folder, or move its contents away first."
        )


def plan_run(spec: JobSpec, options: LocalOptions, run_path: Path, *,
             hardware: Hardware | None = None) -> tuple[ResolvedSettings, Hardware]:
    """Resolve the run for this machine and check it can go ahead (memory, output folder, disk)."""
    from ftkit.estimation.modeldir import find_architecture

    check_output_dir(options.output_dir)
    hardware = hardware or detect_hardware(options.device)
    arch, _ = find_architecture(spec.model)
    sequence_tokens = None
    if arch is not None and hardware.device == "cuda" and options.memory_fit != "off":
        sequence_tokens = longest_row_tokens(spec)
    settings = resolve(spec, options, hardware, arch=arch, sequence_tokens=sequence_tokens)
    if settings.fits is False:
        refuse_not_fitting(spec, settings, hardware, options)
    if arch is not None:
        check_disk(spec, options, settings, arch, run_path)
    return settings, hardware


def longest_row_tokens(spec: JobSpec) -> int | None:
    """The longest example in tokens (per sequence: DPO's chosen and rejected are rows of their own)."""
    from ftkit.data.counting import count_for_estimate

    counts, _ = count_for_estimate(spec, "local")
    if not counts.max_example_tokens:
        return None
    return counts.max_example_tokens // (2 if spec.method == Method.DPO else 1)


def refuse_not_fitting(spec: JobSpec, settings: ResolvedSettings, hardware: Hardware,
                       options: LocalOptions) -> None:
    tried = "; ".join(settings.adjustments) or "no adjustment allowed (memory_fit='refuse')"
    hints = []
    if spec.adapter != Adapter.QLORA:
        hints.append("adapter='qlora'")
    hints += ["a smaller max_seq_length", "options={'distributed': 'fsdp'} over more GPUs"
              if spec.adapter == Adapter.FULL else "a smaller model"]
    raise ConfigError(
        f"This run needs about {settings.estimated_peak_gb:.1f} GB per GPU (micro-batch {settings.batch_size}, "
        f"{settings.sequence_tokens} tokens per row, checkpointing {'on' if settings.gradient_checkpointing else 'off'}"
        f", {settings.dtype}), more than the {settings.gpu_memory_gb:.1f} GB of {hardware.describe()}; tried: "
        f"{tried}. Try {', '.join(hints)}; or options={{'memory_fit': 'off'}} to train anyway "
        f"(`ftkit estimate` shows the breakdown)."
    )


def check_disk(spec: JobSpec, options: LocalOptions, settings: ResolvedSettings, arch: Architecture,
               run_path: Path) -> None:
    """Refuse to start when the disk cannot hold the kept checkpoints, the one being written and the output."""
    mm = memory_of(spec, settings, arch)
    parameters, trainable = mm.parameters, mm.trainable_parameters
    keep = options.save_total_limit + (1 if spec.validation else 0)  # with validation the best is kept too
    needs = {Path(run_path): _disk.checkpoint_bytes(spec, parameters, trainable) * (keep + 1)}
    output = Path(options.output_dir).expanduser() if options.output_dir else Path(run_path) / "output"
    out_bytes = _disk.output_bytes(spec, parameters, trainable) * 2  # staging copy and the final folder
    if _same_filesystem(output, Path(run_path)):
        needs[Path(run_path)] += out_bytes
    else:
        needs[output] = out_bytes
    for where, need in needs.items():
        need += _disk.MARGIN_BYTES
        free = _disk.free_bytes(where)
        if free < need:
            raise ConfigError(
                f"Not enough disk space at {where}: this run writes up to {_disk.human_bytes(need)} "
                f"({keep + 1} checkpoints of {_disk.human_bytes(_disk.checkpoint_bytes(spec, parameters, trainable))}"
                f" plus the final model) and {_disk.human_bytes(free)} is free. Free some space, lower "
                "options.save_total_limit, or point $FTKIT_HOME / options.output_dir at a larger disk."
            )


def _same_filesystem(a: Path, b: Path) -> bool:
    def device(p: Path) -> int:
        probe = p.expanduser().resolve()
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        return probe.stat().st_dev

    return device(a) == device(b)
