"""A third-party provider, as a plugin author would write one, to test ftkit's plugin path.

It is found through the ``ftkit.providers`` entry point declared in ``ftkit_echo-0.1.0.dist-info``
(this folder is put on ``sys.path`` by the tests). Its "service" is a clock: a job is queued for a
moment, runs ``steps`` steps of ``step_seconds`` each, then succeeds. All state lives in files under
the job's work directory, so a second process sees exactly what the first did. The trained "model"
answers with the last user message upper-cased.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from pydantic import Field

from ftkit.errors import AuthenticationError, JobStateError
from ftkit.estimation import Estimate, TokenCount
from ftkit.model import TrainedModel
from ftkit.provider import JobContext, Provider, ProviderOptions
from ftkit.types import Capability, EventPage, Generation, JobEvent, JobState, JobStatus

QUEUE_SECONDS = 0.1


class EchoOptions(ProviderOptions):
    steps: int = Field(default=4, ge=1, description="how many steps the job runs")
    step_seconds: float = Field(default=0.05, ge=0, description="wall-clock seconds per step")
    page_size: int = Field(default=2, ge=1, description="events per page, to exercise paging")


class EchoProvider(Provider):
    name = "echo"
    capabilities = frozenset({Capability.SFT, Capability.LORA, Capability.CANCEL, Capability.GENERATE})
    supported_settings = frozenset({"epochs", "seed", "suffix"})
    setting_hints = {"learning_rate": "echo has no learning rate; remove it"}
    Options = EchoOptions
    credential_env = "ECHO_API_KEY"
    poll_interval = 0.05
    max_poll_interval = 0.2

    def _authorise(self) -> None:
        if not self.api_key.startswith("echo-"):
            raise AuthenticationError("the key was refused (echo keys start with 'echo-')", provider=self.name, status_code=401)

    def estimate(self, spec) -> Estimate:
        from ftkit.data import iter_records

        examples = [r for _, r in iter_records(spec.train)]
        total = sum(len(json.dumps(r).split()) for r in examples)
        trained = sum(len(str(r["messages"][-1]["content"]).split()) for r in examples)
        return Estimate(
            provider=self.name,
            model=spec.model,
            method=spec.method.value,
            adapter=spec.adapter.value,
            tokens=TokenCount(examples=len(examples), total_tokens=total, trained_tokens=trained, method="approximate",
                              tokenizer="whitespace words", expected_error=0.3),
            epochs=spec.epochs or 1,
            epochs_source="user" if spec.epochs else "provider default",
            billed_tokens=0,
            cost_usd=0.0,
            assumptions=["echo jobs are free; tokens are whitespace-separated words"],
        )

    def submit(self, ctx: JobContext) -> JobStatus:
        self._authorise()
        if ctx.remote_id is None:
            ctx.remember(remote_id=f"echo-{ctx.job_id}", submitted=time.time())
        return self.status(ctx)

    def _state(self, ctx: JobContext) -> tuple[JobState, str, int]:
        options = self.options(ctx.spec)
        elapsed = time.time() - ctx.data["submitted"]
        cancelled = ctx.data.get("cancelled")
        step = int(max(0.0, elapsed - QUEUE_SECONDS) / options.step_seconds) if options.step_seconds else options.steps
        if cancelled is not None:
            return JobState.CANCELLED, "stopped", min(step, options.steps)
        if elapsed < QUEUE_SECONDS:
            return JobState.QUEUED, "waiting", 0
        if step < options.steps:
            return JobState.RUNNING, "working", step
        return JobState.SUCCEEDED, "done", options.steps

    def status(self, ctx: JobContext) -> JobStatus:
        self._authorise()
        state, raw, step = self._state(ctx)
        return JobStatus(
            job_id=ctx.job_id, provider=self.name, state=state, raw_status=raw, remote_id=ctx.remote_id,
            step=step, total_steps=self.options(ctx.spec).steps,
            model_id=f"echo:{ctx.job_id}" if state is JobState.SUCCEEDED else None,
            trained_tokens=100 if state is JobState.SUCCEEDED else None,
        )

    def events(self, ctx: JobContext, *, after: str | None = None) -> EventPage:
        state, _, step = self._state(ctx)
        options = self.options(ctx.spec)
        start = ctx.data["submitted"]
        lines = [JobEvent(id="0", time=_at(start), message="job queued", type="queued")]
        lines += [
            JobEvent(id=str(i), time=_at(start + QUEUE_SECONDS + i * options.step_seconds), message=f"step {i}",
                     type="metrics", step=i, total_steps=options.steps, metrics={"loss": 1.0 / i})
            for i in range(1, step + 1)
        ]
        if state.is_terminal:
            lines.append(JobEvent(id="end", time=_at(time.time()), message=f"job {state.value}", type="end"))
        begin = 0 if after is None else next(i + 1 for i, e in enumerate(lines) if e.id == after)
        page = lines[begin : begin + options.page_size]
        cursor = page[-1].id if page else after
        return EventPage(events=page, cursor=cursor, has_more=begin + len(page) < len(lines))

    def cancel(self, ctx: JobContext) -> JobStatus:
        state, _, _ = self._state(ctx)
        if state.is_terminal:
            raise JobStateError(f"echo job {ctx.job_id} already ended")
        ctx.remember(cancelled=time.time())
        return self.status(ctx)

    def result(self, ctx: JobContext) -> TrainedModel:
        return TrainedModel(provider=self.name, model_id=f"echo:{ctx.job_id}", base_model=ctx.spec.model,
                            job_id=ctx.job_id, metrics={"loss": 0.25})

    def generate(self, model: TrainedModel, prompts: list[list[dict[str, Any]]], settings) -> list[Generation]:
        answers = []
        for messages in prompts:
            last = next(m["content"] for m in reversed(messages) if m["role"] == "user")
            answers.append(Generation(text=str(last).upper()[: settings.max_new_tokens * 8], latency_s=0.0))
        return answers


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
