"""The TrainerCallback that connects a training loop to the run directory.

It turns the trainer's logs into ftkit events (loss, learning rate, tokens per second, eval loss),
keeps status.json's step current, marks each checkpoint complete once all of its files are on disk,
and stops cleanly (checkpoint first) when a cancel was requested. In a multi-process run every rank
takes the same stop decision at the same step, or the next collective would hang.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ._rundir import RunDir

__all__ = ["RunDirCallback"]

_STATUS_EVERY_S = 0.5
#: log keys that are bookkeeping or duplicates, not metrics worth an event (the end-of-run summary keeps them)
_SKIP_KEYS = {"epoch", "total_flos", "step", "num_tokens", "eval_num_tokens", "entropy", "eval_entropy",
              "train_runtime", "train_tokens_per_second", "eval_runtime", "eval_samples_per_second",
              "eval_steps_per_second"}


class RunDirCallback(TrainerCallback):
    def __init__(self, run: RunDir, *, is_main: bool, stop_signal: Callable[[], bool], keep_checkpoints: int = 0):
        self.run = run
        self.keep_checkpoints = keep_checkpoints
        self.is_main = is_main
        self.stop_signal = stop_signal
        self.cancelled = False
        self._last_status = 0.0
        self._last_log: tuple[float, int] | None = None

    # -- progress -------------------------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._last_log = (time.monotonic(), state.num_input_tokens_seen or 0)
        if self.is_main:
            self.run.update_status(state="running", raw_status="training", step=state.global_step,
                                  total_steps=state.max_steps)
            self.run.append_event(
                f"training started at step {state.global_step} of {state.max_steps}",
                type="train_begin", step=state.global_step, total_steps=state.max_steps,
            )

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        now = time.monotonic()
        if self.is_main and (now - self._last_status >= _STATUS_EVERY_S or state.global_step == state.max_steps):
            self.run.update_status(step=state.global_step, total_steps=state.max_steps)
            self._last_status = now
        if _agree(self.stop_signal(), device=args.device):
            self.cancelled = True
            control.should_save = True  # keep the work done so far; resume() continues from it
            control.should_training_stop = True

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not self.is_main or not logs:
            return
        is_end = "train_loss" in logs
        metrics = {k: float(v) for k, v in logs.items()
                   if isinstance(v, (int, float)) and math.isfinite(v) and (is_end or k not in _SKIP_KEYS)}
        now, tokens = time.monotonic(), state.num_input_tokens_seen or 0
        is_eval = any(k.startswith("eval_") for k in metrics)
        if self._last_log is not None and not is_eval and not is_end and tokens > self._last_log[1]:
            metrics["tokens_per_second"] = (tokens - self._last_log[1]) / max(now - self._last_log[0], 1e-9)
            self._last_log = (now, tokens)
        if is_end:
            message, kind = "training finished", "train_end"
        elif is_eval:
            message, kind = "evaluation", "eval"
        else:
            message, kind = "training metrics", "metrics"
        self.run.append_event(message, type=kind, step=state.global_step, total_steps=state.max_steps,
                              metrics=metrics)

    # -- checkpoints ----------------------------------------------------------------------------

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        _barrier()  # every rank has written its part (e.g. its rng_state_<rank>.pth) before we vouch for it
        if self.is_main:
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if checkpoint.is_dir():
                self.run.mark_checkpoint_complete(checkpoint, state.global_step)
                self.run.append_event(f"checkpoint saved at step {state.global_step}", type="checkpoint_save",
                                      step=state.global_step, total_steps=state.max_steps)
                if self.keep_checkpoints:  # only now that the new one is trusted (transformers rotates before)
                    self.run.rotate_checkpoints(self.keep_checkpoints, protect=state.best_model_checkpoint)
        _barrier()


def _distributed() -> Any:
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def _barrier() -> None:
    dist = _distributed()
    if dist is not None:
        dist.barrier()


def _agree(flag: bool, *, device: Any = None) -> bool:
    """True on every rank when any rank saw ``flag`` (a no-op in a single process).

    The tensor lives on the training ``device`` (``TrainingArguments.device``): accelerate's multi-GPU runs
    use an NCCL-only process group, which rejects CPU tensors.
    """
    dist = _distributed()
    if dist is None:
        return flag
    value = flag_tensor(flag, device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def flag_tensor(flag: bool, device: Any) -> Any:
    """The one-element tensor :func:`_agree` reduces, on the device the process group's backend serves."""
    import torch

    return torch.tensor([1 if flag else 0], dtype=torch.int32, device=device if device is not None else "cpu")
