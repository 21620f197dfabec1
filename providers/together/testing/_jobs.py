"""Emulated Together fine-tuning jobs: a timeline on the emulator's fast clock, events, checkpoints,
billing, and the weights archive a finished job serves.

A job's whole life is planned when it is created (pending -> queued -> running -> compressing ->
uploading -> completed, or a scripted ``error``/``user_error``), and every read shows the part of the
plan whose time has come, so reads are consistent from any thread. ``cancel`` cuts the plan short.

Event messages are plain text as Together writes them ("Epoch completed, at step 24", from Together's
"Monitoring a fine-tuning job" docs) and carry no numbers to parse; per-step numbers are metrics rows
(``GET /v1/fine-tunes/{id}/metrics``): training rows with ``train/global_step``, ``train/loss``,
``train/learning_rate``, ``train/grad_norm``, ``train/epoch`` and evaluation rows with ``eval/global_step``,
``eval/loss``, each with a ``timestamp`` in nanoseconds (docs.together.ai/docs/fine-tuning-training-metrics).
ASSUMPTION (no documented figure): one training row per optimizer step and the loss curve's shape.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["EmulatedJob", "JobFailure", "iso"]

#: emulated seconds each phase lasts
PHASES = {"pending": 2.0, "queued": 3.0, "setup": 4.0, "compressing": 3.0, "uploading": 3.0}


def iso(t: float) -> str:
    """Together's timestamp style: ``2026-11-22T05:41:00.123Z``."""
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class JobFailure:
    """A scripted failure: ``status`` is ``"error"`` (Together's side) or ``"user_error"`` (the data or
    settings); it happens after ``at_fraction`` of the training steps."""

    status: str = "error"
    message: str = "Internal error while training: the worker running this job was lost."
    at_fraction: float = 0.5


@dataclass
class EmulatedJob:
    id: str
    request: dict[str, Any]
    created: float
    user_id: str
    limits: dict[str, Any]
    params_b: float
    price_per_m_usd: float
    train_lines: int
    train_tokens: int
    validation_tokens: int
    output_name: str
    step_seconds: float
    failure: JobFailure | None = None
    cancelled_at: float | None = None
    #: (time, status) in order; the status at time t is the last entry with time <= t
    timeline: list[tuple[float, str]] = field(default_factory=list)
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    checkpoints: list[tuple[float, int, str]] = field(default_factory=list)
    metrics: list[tuple[float, dict[str, float]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._plan()

    # -- derived settings -----------------------------------------------------------------------------

    @property
    def lora(self) -> bool:
        return (self.request.get("training_type") or {"type": "Lora"}).get("type") == "Lora"

    @property
    def base_model(self) -> str:
        """The base it was trained from (a continuation's comes from its parent)."""
        return str(self.request.get("_base_model") or self.request.get("model") or "unknown")

    @property
    def method(self) -> str:
        return (self.request.get("training_method") or {}).get("method", "sft")

    @property
    def n_epochs(self) -> int:
        return int(self.request.get("n_epochs") or 1)

    @property
    def n_evals(self) -> int:
        return int(self.request.get("n_evals") or 0) if self.request.get("validation_file") else 0

    @property
    def batch_size(self) -> int:
        size = self.request.get("batch_size", "max")
        if isinstance(size, int):
            return size
        bounds = self.limits["lora_training"] if self.lora else self.limits["full_training"]
        return int(bounds["max_batch_size_dpo" if self.method == "dpo" else "max_batch_size"])

    @property
    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(self.train_lines / self.batch_size))

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.n_epochs

    @property
    def token_count(self) -> int:
        return self.train_tokens * self.n_epochs + self.validation_tokens * self.n_evals

    @property
    def total_price(self) -> int:
        """Nano-dollars, as Together bills them."""
        return round(self.token_count * self.price_per_m_usd * 1000)

    def billed_price(self, status: str, steps_done: int) -> int:
        """What Together charges so far: the full price once completed, the work done when cancelled,
        nothing for a job that failed (Together refunds those)."""
        if status == "completed":
            return self.total_price
        if status in ("cancelled", "cancel_requested"):
            return round(self.total_price * steps_done / max(1, self.total_steps))
        return 0

    # -- the plan --------------------------------------------------------------------------------------------

    def _event(self, t: float, kind: str, message: str, *, level: str = "info", **extra: Any) -> None:
        body = {"object": "fine-tune-event", "created_at": iso(t), "level": level, "message": message, "type": kind}
        body.update({k: v for k, v in extra.items() if v is not None})
        self.events.append((t, body))

    def _plan(self) -> None:
        t = self.created
        self.timeline.append((t, "pending"))
        self._event(t, "job_pending", "Fine-tune request created")
        t += PHASES["pending"]
        self.timeline.append((t, "queued"))
        t += PHASES["queued"]
        self.timeline.append((t, "running"))
        self._event(t, "job_start", "Job started", param_count=int(self.params_b * 1e9))
        self._event(t + 0.5, "model_downloading", f"Downloading model {self.request.get('model')}")
        self._event(t + 1.5, "model_download_complete", "Model download complete")
        self._event(t + 2.0, "training_data_downloading", "Downloading training data")
        self._event(t + 2.5, "training_data_download_complete", "Training data download complete")
        t += PHASES["setup"]
        total = self.total_steps
        self._event(t, "training_start", f"Training started for {total} steps", step=0, total_steps=total,
                    token_count=self.token_count)  # fmt: skip
        fail_step = math.ceil(total * self.failure.at_fraction) if self.failure else None
        eval_every = max(1, total // self.n_evals) if self.n_evals else None
        checkpoint_steps = self._checkpoint_steps()
        for step in range(1, total + 1):
            t += self.step_seconds
            if fail_step is not None and step >= fail_step:
                self._fail(t, step)
                return
            self.metrics.append((t, {
                "timestamp": int(t * 1e9), "train/global_step": step, "train/epoch": round(step / self.steps_per_epoch, 4),
                "train/loss": round(self._loss(step), 6), "train/learning_rate": self._lr(step),
                "train/grad_norm": round(1.0 + self._loss(step) / 4, 6),
            }))  # fmt: skip
            if eval_every and step % eval_every == 0:
                self.metrics.append((t, {"timestamp": int(t * 1e9) + 1, "eval/global_step": step,
                                         "eval/loss": round(self._loss(step) + 0.08, 6)}))  # fmt: skip
                self._event(t, "eval_complete", f"Evaluation completed, at step {step}", step=step, total_steps=total)
            if step % self.steps_per_epoch == 0:
                self._event(t, "epoch_complete", f"Epoch completed, at step {step}", step=step, total_steps=total)
            if step in checkpoint_steps and step != total:
                path = f"s3://together-emulator/{self.id}/checkpoint-{step}"
                self._event(t, "checkpoint_save", f"Checkpoint saved at step {step}", step=step, total_steps=total,
                            checkpoint_path=path)  # fmt: skip
                self.checkpoints.append((t, step, "Intermediate"))
        self._event(t, "training_complete", f"Training completed after {total} steps", step=total, total_steps=total)
        self.timeline.append((t, "compressing"))
        self._event(t, "model_compressing", "Compressing output model")
        t += PHASES["compressing"]
        self._event(t, "model_compression_complete", "Model compression complete")
        self.timeline.append((t, "uploading"))
        self._event(t, "model_uploading", "Uploading output model")
        t += PHASES["uploading"]
        self._event(t, "model_upload_complete", "Model upload complete",
                    model_path=f"s3://together-emulator/{self.id}/final")  # fmt: skip
        self.checkpoints.append((t, total, "Final"))
        self.timeline.append((t, "completed"))
        self._event(t, "job_complete", f"Job finished. Output model: {self.output_name}", token_count=self.token_count)

    def _fail(self, t: float, step: int) -> None:
        assert self.failure is not None
        self.timeline.append((t, self.failure.status))
        self._event(t, "job_error", self.failure.message, level="error", step=step, total_steps=self.total_steps)

    def _checkpoint_steps(self) -> set[int]:
        n = max(1, int(self.request.get("n_checkpoints") or 1))
        total = self.total_steps
        return {max(1, round(total * i / n)) for i in range(1, n + 1)}

    def _loss(self, step: int) -> float:
        wobble = int(hashlib.sha256(f"{self.id}:{step}".encode()).hexdigest()[:4], 16) / 0xFFFF * 0.05
        return 2.1 * math.exp(-2.5 * step / max(1, self.total_steps)) + 0.25 + wobble

    def _lr(self, step: int) -> float:
        base = float(self.request.get("learning_rate") or 1e-5)
        return base * 0.5 * (1 + math.cos(math.pi * step / max(1, self.total_steps)))

    def cancel(self, now: float) -> None:
        """Cut the plan at ``now``: cancel_requested, then cancelled two emulated seconds later."""
        if self.status(now) in ("completed", "cancelled", "error", "user_error", "cancel_requested"):
            return
        self.cancelled_at = now
        self.timeline = [(t, s) for t, s in self.timeline if t <= now] + [(now, "cancel_requested"),
                                                                         (now + 2.0, "cancelled")]  # fmt: skip
        self.events = [(t, e) for t, e in self.events if t <= now]
        self.checkpoints = [c for c in self.checkpoints if c[0] <= now]
        self.metrics = [m for m in self.metrics if m[0] <= now]
        self._event(now, "cancel_requested", "Cancel requested by user")
        self._event(now + 2.0, "job_stopped", "Job stopped")

    # -- reads ------------------------------------------------------------------------------------------------

    def status(self, now: float) -> str:
        current = self.timeline[0][1]
        for t, status in self.timeline:
            if t <= now:
                current = status
        return current

    def visible_events(self, now: float) -> list[dict[str, Any]]:
        return [e for t, e in sorted(self.events, key=lambda pair: pair[0]) if t <= now]

    def visible_metrics(self, now: float, *, step_from: int | None = None, step_to: int | None = None,
                        resolution: int | None = None) -> list[dict[str, float]]:
        """``GET .../metrics``: rows logged by ``now`` in order, filtered by global step; ``resolution`` samples
        the training rows uniformly (evaluation rows are always returned in full, as the docs say)."""
        rows = []
        for t, row in self.metrics:
            step = row.get("train/global_step", row.get("eval/global_step"))
            if t <= now and (step_from is None or step >= step_from) and (step_to is None or step <= step_to):
                rows.append(row)
        if resolution:
            train = [r for r in rows if "train/global_step" in r]
            keep = {id(train[round(i * (len(train) - 1) / max(1, resolution - 1))]) for i in range(min(resolution, len(train)))}
            rows = [r for r in rows if "train/global_step" not in r or id(r) in keep]
        return rows

    def steps_completed(self, now: float) -> int:
        steps = [e.get("step") for e in self.visible_events(now) if e.get("step") is not None]
        return max(steps, default=0)

    def visible_checkpoints(self, now: float) -> list[dict[str, Any]]:
        kind = "adapter" if self.lora else "model"
        out = []
        for t, step, label in self.checkpoints:
            if t <= now:
                out.append({
                    "checkpoint_type": f"{label} checkpoint (step {step})" if label == "Intermediate" else "Final",
                    "created_at": iso(t),
                    "path": f"s3://together-emulator/{self.id}/checkpoint-{step}",
                    "step": step,
                    "checkpoint": kind,
                    "object_id": f"ml_{hashlib.sha256(f'{self.id}{step}'.encode()).hexdigest()[:20]}",
                    "object_name": f"{self.output_name}-step-{step}",
                    "object_revision_id": f"rv_{hashlib.sha256(f'{self.id}{step}rv'.encode()).hexdigest()[:20]}",
                })  # fmt: skip
        return out

    def view(self, now: float, *, truncated: bool = False) -> dict[str, Any]:
        """The job as ``GET /v1/fine-tunes/{id}`` (or, truncated, as the list and cancel) answer it."""
        status = self.status(now)
        terminal = status in ("completed", "cancelled", "error", "user_error")
        changed = max((t for t, _ in self.timeline if t <= now), default=self.created)
        steps = self.steps_completed(now)
        r = self.request
        body: dict[str, Any] = {
            "id": self.id,
            "status": status,
            "user_id": self.user_id,
            "created_at": iso(self.created),
            "updated_at": iso(changed),
            "started_at": iso(changed),
            "model": r.get("model"),
            "model_output_name": self.output_name,
            "adapter_output_name": f"{self.output_name}-adapter" if self.lora else None,
            "suffix": r.get("suffix"),
            "training_file": r.get("training_file"),
            "validation_file": r.get("validation_file") or "",
            "n_epochs": self.n_epochs,
            "n_evals": r.get("n_evals", 0),
            "n_checkpoints": r.get("n_checkpoints", 1),
            "batch_size": r.get("batch_size", "max"),
            "learning_rate": r.get("learning_rate"),
            "lr_scheduler": r.get("lr_scheduler"),
            "warmup_ratio": r.get("warmup_ratio"),
            "max_grad_norm": r.get("max_grad_norm"),
            "weight_decay": r.get("weight_decay"),
            "training_method": r.get("training_method"),
            "training_type": r.get("training_type"),
            "from_checkpoint": r.get("from_checkpoint"),
            "packing": r.get("packing", True),
            "random_seed": r.get("random_seed"),
            "max_seq_length": r.get("max_seq_length"),
            "wandb_project_name": r.get("wandb_project_name"),
            "wandb_name": r.get("wandb_name"),
            "wandb_entity": r.get("wandb_entity"),
            "token_count": self.token_count if status != "pending" else 0,
            "param_count": int(self.params_b * 1e9),
            "total_price": self.billed_price(status, steps),
        }
        if truncated:
            return body
        remaining = max(0.0, self.timeline[-1][0] - now)
        body.update({
            "total_steps": self.total_steps,
            "steps_completed": steps,
            "epochs_completed": steps // self.steps_per_epoch,
            "evals_completed": sum(1 for e in self.visible_events(now) if e["type"] == "eval_complete"),
            "eval_steps": max(1, self.total_steps // self.n_evals) if self.n_evals else 0,
            "queue_depth": 0 if status != "queued" else 1,
            "trainingfile_numlines": self.train_lines,
            "trainingfile_size": r.get("_training_file_bytes"),
            "model_output_path": f"s3://together-emulator/{self.id}/final",
            "model_object_id": f"ml_{hashlib.sha256(self.id.encode()).hexdigest()[:20]}",
            "progress": {"estimate_available": not terminal, "seconds_remaining": 0 if terminal else remaining},
            "events": self.visible_events(now),
        })  # fmt: skip
        return body
