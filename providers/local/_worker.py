"""The training process of a local job: ``python -m ftkit.providers.local._worker RUN_DIR``.

Started detached by :class:`LocalProvider` (or once per rank by ``accelerate launch``). It reads
``config.json``, trains, and reports only through the run directory, so nobody needs to stay attached.
Rank 0 writes status and events; every rank trains.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from ._quiet import quiet_libraries
from ._rundir import RunDir

_stop_requested = False


def _on_sigterm(signum: int, frame: Any) -> None:
    # first SIGTERM: stop after this step with a checkpoint; a second one uses the default (die now)
    global _stop_requested
    _stop_requested = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(run_path: str) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    run = RunDir(run_path)
    is_main = int(os.environ.get("RANK", "0")) == 0
    quiet_libraries(all_future_warnings=True)
    try:
        return _train(run, is_main)
    except BaseException as e:  # the run dir must say why the run died, whatever it was
        traceback.print_exc()
        if is_main:
            message = str(e) or type(e).__name__
            raw_status = "error"
            from ._disk import is_disk_full

            if is_disk_full(e):
                message, raw_status = _disk_full_message(run, e), "disk_full"
            run.update_status(state="failed", raw_status=raw_status, error=message)
            run.append_event(f"training failed: {message}", level="error", type="error")
        return 1


def _disk_full_message(run: RunDir, error: BaseException) -> str:
    """Free the half-written checkpoint (ftkit's own, never trusted) so the failure can be recorded, and say
    what filled up and how to continue."""
    import shutil

    from ._checkpoints import STAGING_DIR
    from ._disk import free_bytes, human_bytes

    shutil.rmtree(run.checkpoints / STAGING_DIR, ignore_errors=True)
    return (f"the disk filled up while training ({error}); {human_bytes(free_bytes(run.path))} free now at "
            f"{run.path}. Free space (or lower options.save_total_limit), then resume() from the last intact "
            "checkpoint.")


def _train(run: RunDir, is_main: bool) -> int:
    from ftkit.spec import JobSpec

    from ._options import LocalOptions

    config = run.read_config()
    spec = JobSpec.from_dict(config["spec"])
    options = LocalOptions.model_validate(spec.options)
    if config.get("hub_offline"):
        os.environ["HF_HUB_OFFLINE"] = "1"  # a hub id then fails in a second, not after 50 s of retries
    if is_main:
        run.update_status(state="running", raw_status="loading", worker_pid=os.getpid())
        run.append_event("loading model and data", type="loading")

    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()
    datasets.utils.logging.set_verbosity_error()

    from ._callbacks import RunDirCallback
    from ._checkpoints import STAGING_DIR
    from ._data import load_rows
    from ._settings import ResolvedSettings
    from ._training import build_trainer

    # exactly what start() resolved and estimated (and what a resume must reuse), never re-resolved here;
    # with options.launcher="external" start() ran where there may be no GPU, so the ranks resolve here
    if "settings" in config:
        settings = ResolvedSettings.from_dict(config["settings"])
    else:
        settings = _resolve_here(run, spec, options, is_main)
    if is_main:
        import shutil

        shutil.rmtree(run.checkpoints / STAGING_DIR, ignore_errors=True)  # a save the last process did not finish
    transformers.set_seed(settings.seed)
    train_rows = load_rows(spec.train, spec.method)
    eval_rows = load_rows(spec.validation, spec.method) if spec.validation else None
    status = run.read_status()
    resume_from = status.get("resume_from")
    if is_main:
        described = ", ".join(f"{k}={v}" for k, v in settings.to_dict().items())
        run.append_event(f"settings: {described}", type="settings")
    callback = RunDirCallback(run, is_main=is_main, stop_signal=lambda: _stop_requested or run.cancel_requested,
                              keep_checkpoints=options.save_total_limit)
    trainer = build_trainer(spec, options, settings, train_rows=train_rows, eval_rows=eval_rows,
                            output_dir=run.checkpoints, callbacks=[callback])
    if _stop_requested or run.cancel_requested:
        return _finish_cancelled(run, is_main, step=status.get("step"))
    result = trainer.train(resume_from_checkpoint=resume_from)
    if callback.cancelled:
        return _finish_cancelled(run, is_main, step=trainer.state.global_step)
    _save_output(trainer, run, options, settings, result, is_main)
    return 0


def _resolve_here(run: RunDir, spec: Any, options: Any, is_main: bool) -> Any:
    """The same plan start() makes, on this node, for every rank of the world (WORLD_SIZE)."""
    from ._plan import plan_run

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if options.num_processes is None:
        options = options.model_copy(update={"num_processes": world})
    if options.distributed is None and world > 1:  # what `accelerate launch` was actually told
        strategy = ("fsdp" if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"
                    else "zero3" if os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true" else "ddp")
        options = options.model_copy(update={"distributed": strategy})
    settings, _ = plan_run(spec, options, run.path)
    if is_main:
        for note in settings.adjustments:
            run.append_event(f"adjusted to fit the GPU: {note}", level="warning", type="memory_fit")
    return settings


def _finish_cancelled(run: RunDir, is_main: bool, step: int | None) -> int:
    if is_main:
        kept = run.last_checkpoint_step()
        note = f"; checkpoint at step {kept} kept, resume() continues from it" if kept else ""
        run.update_status(state="cancelled", raw_status="cancelled", step=step)
        run.append_event(f"cancelled at step {step}{note}", type="cancelled", step=step)
    return 0


def _save_output(trainer: Any, run: RunDir, options: Any, settings: Any, result: Any, is_main: bool) -> None:
    """Write the adapter (or full model) + tokenizer + metrics, and only then declare success."""
    import json
    import shutil

    final = Path(options.output_dir) if options.output_dir else run.output
    if is_main and final != run.output and final.exists() and any(final.iterdir()):
        # the folder was empty at start(); never overwrite what someone put there since
        run.append_event(f"{final} is no longer empty, so the model stays in {run.output} instead",
                         level="warning", type="output_moved")
        final = run.output
    staging = run.path / ".output.partial"  # ftkit's own; renamed over an empty target or a new folder
    if is_main and staging.exists():
        shutil.rmtree(staging)
    trainer.save_model(str(staging))  # collective under FSDP: every rank calls it
    replicas_agree = _check_replicas(trainer, run) if settings.distributed in ("none", "ddp") else None
    if not is_main:
        return
    state = trainer.state
    metrics = {k: float(v) for k, v in result.metrics.items() if isinstance(v, (int, float))}
    evals = [h["eval_loss"] for h in state.log_history if "eval_loss" in h]
    if evals:
        metrics["eval_loss"] = float(evals[-1])
        metrics["best_eval_loss"] = float(min(evals))
    metrics["trained_tokens"] = float(state.num_input_tokens_seen or 0)
    metrics["global_step"] = float(state.global_step)
    metrics["peak_rss_mb"] = _peak_rss_mb()
    if replicas_agree is not None:
        metrics["replicas_identical"] = float(replicas_agree)
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and final == run.output:
        shutil.rmtree(final)  # ftkit's own run folder (a resumed run's earlier output)
    _move(staging, final)
    run.update_status(state="succeeded", raw_status="completed", step=state.global_step,
                      total_steps=state.max_steps, output=str(final), trained_tokens=int(metrics["trained_tokens"]),
                      metrics=metrics)
    run.append_event(f"saved the trained model to {final}", type="output", step=state.global_step,
                     total_steps=state.max_steps, metrics=metrics)


def _move(staging: Path, final: Path) -> None:
    """Rename into place (an empty existing folder is replaced); across filesystems, copy then rename."""
    import shutil

    try:
        os.replace(staging, final)
    except OSError:
        partial = final.with_name(f".{final.name}.partial")
        shutil.copytree(staging, partial, dirs_exist_ok=False)
        if final.exists():
            final.rmdir()  # empty: checked at start() and again above
        os.replace(partial, final)
        shutil.rmtree(staging, ignore_errors=True)


def _check_replicas(trainer: Any, run: RunDir) -> bool | None:
    """In a multi-process run, whether every rank ended with bit-identical trainable weights (DDP's promise).

    Each rank writes the sha256 of its trainable parameters to ``replicas/rank-<n>.sha256``; None when
    there is only one process.
    """
    import hashlib

    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return None
    digest = hashlib.sha256()
    for name, param in sorted(trainer.model.named_parameters()):
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().contiguous().numpy().tobytes())
    replicas = run.path / "replicas"
    replicas.mkdir(exist_ok=True)
    (replicas / f"rank-{dist.get_rank()}.sha256").write_text(digest.hexdigest(), encoding="utf-8")
    dist.barrier()
    return len({p.read_text(encoding="utf-8") for p in replicas.glob("rank-*.sha256")}) == 1


def _peak_rss_mb() -> float:
    """This process's peak resident memory (what a user's machine must have free for the run)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
