"""The resources a Fireworks emulator holds: datasets, supervised fine-tuning jobs (on a fast clock),
models and on-demand deployments, each with the JSON view the Fireworks REST API returns (camelCase,
RFC 3339 times, ``accounts/<account>/<collection>/<id>`` names)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ftkit.providers.fireworks.testing._data import DatasetSummary

__all__ = ["EmulatedDataset", "EmulatedDeployment", "EmulatedJob", "rfc3339"]

TERMINAL = ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
            "JOB_STATE_EARLY_STOPPED")  # fmt: skip


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class EmulatedDataset:
    name: str
    example_count: int | None
    created: float
    content: bytes | None = None
    filename: str | None = None
    summary: DatasetSummary | None = None

    @property
    def state(self) -> str:
        return "READY" if self.summary is not None else "UPLOADING"

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "createTime": rfc3339(self.created),
            "state": self.state,
            "format": "CHAT",
            "exampleCount": str(self.summary.examples if self.summary else self.example_count or 0),
            "estimatedTokenCount": str(self.summary.tokens) if self.summary else None,
            "userUploaded": {},
            "status": {"code": "OK", "message": ""},
        }


@dataclass
class EmulatedJob:
    """One supervised fine-tuning job. Its state is a function of emulated time, pauses and cancels."""

    name: str
    request: dict[str, Any]
    created: float
    dataset: EmulatedDataset
    steps: int
    step_seconds: float
    validating_seconds: float
    price_per_m_usd: float
    output_model: str
    base_model: str
    #: "sft" (supervisedFineTuningJobs) or "dpo" (dpoJobs)
    kind: str = "sft"
    failure: str | None = None
    #: emulated seconds of training done before the current run segment (pauses keep it)
    banked: float = 0.0
    run_started: float | None = None
    stopped_state: str | None = None
    stopped_at: float | None = None
    events: list[tuple[float, str]] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        config = self.request.get("trainingConfig") or self.request
        return int(config.get("epochs") or 1)

    @property
    def train_seconds(self) -> float:
        return self.steps * self.step_seconds

    def trained(self, now: float) -> float:
        start = self.run_started if self.run_started is not None else self.created + self.validating_seconds
        running = 0.0 if self.stopped_state else max(0.0, now - start)
        return min(self.train_seconds, self.banked + running)

    def state(self, now: float) -> str:
        if self.stopped_state:
            return self.stopped_state
        if self.run_started is None and now < self.created + self.validating_seconds:
            return "JOB_STATE_VALIDATING"
        done = self.trained(now)
        if self.failure and done >= self.train_seconds / 2:
            return "JOB_STATE_FAILED"
        if done < self.train_seconds:
            return "JOB_STATE_RUNNING"
        return "JOB_STATE_COMPLETED"

    def step(self, now: float) -> int:
        return min(self.steps, int(self.trained(now) // self.step_seconds))

    def finished_at(self, now: float) -> float | None:
        state = self.state(now)
        if state not in TERMINAL:
            return None
        if self.stopped_at is not None:
            return self.stopped_at
        start = self.run_started if self.run_started is not None else self.created + self.validating_seconds
        return start + (self.train_seconds / 2 if self.failure else self.train_seconds) - self.banked

    def stop(self, state: str, now: float) -> None:
        self.banked = self.trained(now)
        self.stopped_state = state
        self.stopped_at = now
        self.events.append((now, state))

    def restart(self, now: float) -> None:
        """Resume: continue from the work done (a failure that stopped it is not repeated)."""
        self.banked = self.trained(now)
        self.stopped_state = None
        self.stopped_at = None
        self.failure = None
        self.run_started = now
        self.events.append((now, "JOB_STATE_RUNNING"))

    def billed_tokens(self) -> int:
        assert self.dataset.summary is not None
        return self.dataset.summary.tokens * self.epochs

    def view(self, now: float, *, metrics_url: str | None) -> dict[str, Any]:
        state = self.state(now)
        percent = math.floor(100 * self.trained(now) / self.train_seconds) if self.train_seconds else 100
        epoch = min(self.epochs - 1, int(self.trained(now) / self.train_seconds * self.epochs)) if self.epochs else 0
        cost_nanos = round(self.billed_tokens() * self.price_per_m_usd / 1e6 * 1e9)
        body = {
            **{k: v for k, v in self.request.items() if v is not None},
            "name": self.name,
            "state": state,
            "createTime": rfc3339(self.created),
            "updateTime": rfc3339(now),
            "completedTime": rfc3339(self.finished_at(now)),
            "createdBy": "tester@example.com",
            "status": {"code": "OK", "message": ""},
        }
        if self.kind == "sft":  # DpoJob has neither field in the SDK's types
            body["jobProgress"] = {"percent": percent, "epoch": epoch, "inputTokens": self.billed_tokens()}
            body["estimatedCost"] = {"currencyCode": "USD", "units": str(cost_nanos // 10**9),
                                     "nanos": cost_nanos % 10**9}
        if state == "JOB_STATE_FAILED":
            body["status"] = {"code": "INTERNAL", "message": self.failure or "training failed"}
        if state != "JOB_STATE_VALIDATING" and metrics_url and self.kind == "sft":
            body["metricsFileSignedUrl"] = metrics_url
        return body

    def metrics_lines(self, now: float) -> list[dict[str, Any]]:
        """One record per finished step: what the metrics file holds (a falling loss)."""
        per_epoch = max(1, self.steps // max(self.epochs, 1))
        return [
            {"step": s, "epoch": min(self.epochs - 1, (s - 1) // per_epoch), "train_loss": round(2.0 / (1 + 0.5 * s), 6)}
            for s in range(1, self.step(now) + 1)
        ]


@dataclass
class EmulatedDeployment:
    name: str
    base_model: str
    created: float
    ready_seconds: float
    request: dict[str, Any]
    deleted_at: float | None = None
    failure: str | None = None

    def state(self, now: float) -> str:
        if self.deleted_at is not None:
            return "DELETED" if now >= self.deleted_at + 1.0 else "DELETING"
        if self.failure:
            return "FAILED"
        return "READY" if now >= self.created + self.ready_seconds else "CREATING"

    def view(self, now: float) -> dict[str, Any]:
        state = self.state(now)
        replicas = int(self.request.get("minReplicaCount") or 0)
        return {
            **self.request,
            "name": self.name,
            "baseModel": self.base_model,
            "state": state,
            "createTime": rfc3339(self.created),
            "deleteTime": rfc3339(self.deleted_at),
            "replicaCount": replicas if state == "READY" else 0,
            "desiredReplicaCount": replicas,
            "status": {"code": "FAILED_PRECONDITION", "message": self.failure} if self.failure else
                      {"code": "OK", "message": ""},
        }  # fmt: skip
