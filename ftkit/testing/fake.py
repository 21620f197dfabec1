"""`FakeProvider`: an in-memory provider for tests, the analogue of fsspec's memory filesystem and httpx's
``MockTransport``.

Jobs live in a process-wide dictionary and move one step each time their status is read, so a test drives a
whole lifecycle (queued, running, succeeded; cancel, pause, resume) deterministically and in milliseconds,
through exactly the code path a real provider's job takes (:class:`ftkit.FineTuneJob`, the job store,
events, attach). The trained "model" has memorised its training data: it answers a training prompt with
the training answer and anything else with the prompt upper-cased, which is what the base model does. So an
evaluation shows the fine-tune beating its base on examples it saw.

>>> from ftkit import FineTuneJob
>>> from ftkit.testing import FakeProvider
>>> FakeProvider.register()
>>> job = FineTuneJob(provider="fake", model="fake-base", train=[
...     {"messages": [{"role": "user", "content": "colour of snow?"}, {"role": "assistant", "content": "white"}]}])
>>> _ = job.start()
>>> model = job.wait(poll_interval=0)
>>> [g.text for g in model.generate(["colour of snow?", "hello"])]
['white', 'HELLO']
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from pydantic import Field

from ftkit.errors import JobNotFoundError, JobStateError
from ftkit.estimation.types import Estimate, TokenCount
from ftkit.model import TrainedModel
from ftkit.provider import Hosting, JobContext, Provider, ProviderOptions
from ftkit.types import Capability, EventPage, Generation, GenerationSettings, JobEvent, JobState, JobStatus

__all__ = ["FakeOptions", "FakeProvider"]


class FakeOptions(ProviderOptions):
    steps: int = Field(default=3, ge=1, description="status reads the job takes to finish (one step each)")
    fail_at_step: int | None = Field(default=None, ge=1, description="fail the job when it reaches this step")


_lock = threading.Lock()
_jobs: dict[str, dict[str, Any]] = {}  # the "service": remote id -> job state, shared by the process
_ids = itertools.count(1)
_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class FakeProvider(Provider):
    """In-memory jobs; register it under ``"fake"`` with :meth:`register` (or ``register_provider``)."""

    name = "fake"
    capabilities = frozenset({
        Capability.SFT, Capability.DPO, Capability.LORA, Capability.CANCEL, Capability.PAUSE, Capability.RESUME,
        Capability.GENERATE,
    })
    capability_hints: ClassVar[dict[Capability, str]] = {Capability.MERGE: "fake models have no weights"}
    hosting = Hosting.SERVERLESS
    data_format = "chat"
    catalog_file = None
    supported_settings = frozenset({"epochs", "seed", "suffix"})
    Options = FakeOptions
    poll_interval = 0.0
    max_poll_interval = 0.0

    @classmethod
    def register(cls, name: str | None = None) -> None:
        """Make ``FineTuneJob(provider="fake", ...)`` use this class (again: replaces an earlier one)."""
        from ftkit.registry import register_provider

        register_provider(name or cls.name, cls, replace=True)

    @classmethod
    def reset(cls) -> None:
        """Forget every fake job (between tests)."""
        with _lock:
            _jobs.clear()

    # -- estimate ------------------------------------------------------------------------------------------

    def estimate(self, spec: Any, **assumptions: Any) -> Estimate:
        from ftkit.data import iter_records, to_chat

        rows = [to_chat(r) for _, r in iter_records(spec.train)]
        total = sum(_words(r) for r in rows)
        trained = sum(_words({"messages": [m for m in r.get("messages", []) if m.get("role") == "assistant"]})
                      for r in rows)
        return Estimate(
            provider=self.name, model=spec.model, method=spec.method.value, adapter=spec.adapter.value,
            tokens=TokenCount(examples=len(rows), total_tokens=total, trained_tokens=trained, method="approximate",
                              tokenizer="whitespace words", expected_error=0.3),
            epochs=spec.epochs or 1, epochs_source="user" if spec.epochs else "provider default",
            billed_tokens=trained * (spec.epochs or 1), cost_usd=0.0,
            assumptions=["fake jobs are free; a token is a whitespace-separated word"],
        )

    # -- lifecycle --------------------------------------------------------------------------------------------

    def submit(self, ctx: JobContext) -> JobStatus:
        if ctx.remote_id is None:
            from ftkit.data import iter_records, reference_of, to_chat

            memory = {}
            for _, row in iter_records(ctx.spec.train):
                chat = to_chat(row)
                if "messages" in chat:
                    prompt, answer = reference_of(chat)
                    memory[_last_user(prompt)] = answer
            remote_id = f"fakejob-{next(_ids)}"
            with _lock:
                _jobs[remote_id] = {"step": -1, "state": JobState.QUEUED, "memory": memory, "events": [],
                                    "options": self.options(ctx.spec)}
            ctx.remember(remote_id=remote_id)
            self._event(remote_id, "job created")
        return self._snapshot(ctx)

    def status(self, ctx: JobContext) -> JobStatus:
        job = self._job(ctx)
        with _lock:
            if job["state"] in (JobState.QUEUED, JobState.RUNNING):
                job["step"] += 1
                step, options = job["step"], job["options"]
                if options.fail_at_step is not None and step >= options.fail_at_step:
                    job["state"], job["error"] = JobState.FAILED, f"fake failure at step {step}"
                elif step >= options.steps:
                    job["state"] = JobState.SUCCEEDED
                elif step >= 1:
                    job["state"] = JobState.RUNNING
        if job["state"] is JobState.RUNNING:
            self._event(ctx.remote_id, f"step {job['step']}", step=job["step"], loss=1.0 / job["step"])
        elif job["state"].is_terminal and not job.get("ended"):
            job["ended"] = True
            self._event(ctx.remote_id, f"job {job['state'].value}")
        return self._snapshot(ctx)

    def events(self, ctx: JobContext, *, after: str | None = None) -> EventPage:
        events = list(self._job(ctx)["events"])
        start = 0 if after is None else next((i + 1 for i, e in enumerate(events) if e.id == after), len(events))
        page = events[start:start + 2]  # small pages exercise the facade's paging
        return EventPage(events=page, cursor=page[-1].id if page else after, has_more=start + len(page) < len(events))

    def cancel(self, ctx: JobContext) -> JobStatus:
        return self._move(ctx, JobState.CANCELLED, "cancel")

    def pause(self, ctx: JobContext) -> JobStatus:
        return self._move(ctx, JobState.PAUSED, "pause")

    def resume(self, ctx: JobContext) -> JobStatus:
        job = self._job(ctx)
        if job["state"] is not JobState.PAUSED:
            raise JobStateError(f"Job {ctx.job_id} is {job['state'].value}, not paused; there is nothing to resume.")
        return self._move(ctx, JobState.RUNNING, "resume")

    def result(self, ctx: JobContext) -> TrainedModel:
        job = self._job(ctx)
        if job["state"] is not JobState.SUCCEEDED:
            raise JobStateError(f"Job {ctx.job_id} has no model: it is {job['state'].value}.")
        return TrainedModel(provider=self.name, model_id=f"fake-ft:{ctx.remote_id}", base_model=ctx.spec.model,
                            job_id=ctx.job_id, metrics={"train_loss": 1.0 / max(1, job["step"])})

    def generate(self, model: TrainedModel, prompts: list[list[dict[str, Any]]],
                 settings: GenerationSettings) -> list[Generation]:
        remote_id = (model.serving_id or model.model_id).removeprefix("fake-ft:")
        memory = _jobs.get(remote_id, {}).get("memory", {}) if not model.is_base else {}
        answers = []
        for messages in prompts:
            question = _last_user(messages)
            text = memory.get(question, question.upper())
            answers.append(Generation(text=text, prompt_tokens=_words({"messages": messages}),
                                      completion_tokens=len(text.split()), latency_s=0.0))
        return answers

    # -- internals ----------------------------------------------------------------------------------------------

    def _job(self, ctx: JobContext) -> dict[str, Any]:
        job = _jobs.get(ctx.remote_id or "")
        if job is None:
            raise JobNotFoundError(ctx.remote_id or ctx.job_id, "the fake provider (jobs live in memory)")
        return job

    def _move(self, ctx: JobContext, state: JobState, verb: str) -> JobStatus:
        job = self._job(ctx)
        if job["state"].is_terminal:
            raise JobStateError(f"Job {ctx.job_id} already ended ({job['state'].value}); there is nothing to {verb}.")
        job["state"] = state
        self._event(ctx.remote_id, f"job {verb}")
        return self._snapshot(ctx)

    def _event(self, remote_id: str | None, message: str, *, step: int | None = None, loss: float | None = None) -> None:
        job = _jobs[remote_id or ""]
        n = len(job["events"])
        job["events"].append(JobEvent(
            id=f"ev-{n}", time=_EPOCH + timedelta(seconds=n), message=message, step=step,
            total_steps=job["options"].steps if step is not None else None,
            metrics={"loss": loss} if loss is not None else {}, type="metrics" if loss is not None else "status",
        ))

    def _snapshot(self, ctx: JobContext) -> JobStatus:
        job = self._job(ctx)
        state = job["state"]
        return JobStatus(
            job_id=ctx.job_id, provider=self.name, state=state, raw_status=f"fake_{state.value}",
            remote_id=ctx.remote_id, step=max(0, job["step"]), total_steps=job["options"].steps,
            error=job.get("error"), model_id=f"fake-ft:{ctx.remote_id}" if state is JobState.SUCCEEDED else None,
        )


def _last_user(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")


def _words(chat: dict[str, Any]) -> int:
    return sum(len(str(m.get("content") or "").split()) + 1 for m in chat.get("messages", []))
