"""A third-party provider, as a plugin author would write one, to test ftkit's plugin path.

It is found through the ``ftkit.providers`` entry point declared in ``ftkit_echo-0.1.0.dist-info``
(the parent folder is put on ``sys.path`` by the tests) and declares everything a provider owns without
any change to ``ftkit/``: its catalog (``catalog.yaml`` beside this module: rules, prices, default model,
deployment price), its own upload format (``question``/``answer`` rows), and hosting that needs a paid
deployment before a fine-tune answers.

Its "service" is a clock: a job is queued for a moment, runs ``steps`` steps of ``step_seconds`` each,
then succeeds. Jobs and deployments live in files (jobs under the job's work directory, deployments in
``$FTKIT_HOME/echo-deployments.json``), so a second process sees exactly what the first did. The trained
model answers with the last user message upper-cased, and only through a ready deployment.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import Field

from ftkit.data.conversion import CannotExpress, DataFormat
from ftkit.deployment import DeploymentContext, DeploymentState, DeploymentStatus
from ftkit.errors import AuthenticationError, JobStateError, ProviderError
from ftkit.estimation import Estimate, TokenCount
from ftkit.model import TrainedModel
from ftkit.provider import Hosting, JobContext, Provider, ProviderOptions
from ftkit.types import Capability, EventPage, Generation, JobEvent, JobState, JobStatus

QUEUE_SECONDS = 0.1
#: status reads a new deployment takes to become ready
DEPLOY_READS = 2


def _question_answer(example: dict[str, Any], fmt: str, chat: dict[str, Any]) -> dict[str, Any]:
    messages = chat.get("messages")
    if not messages or messages[-1].get("role") != "assistant":
        raise CannotExpress("echo rows are one question and its answer")
    question = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), None)
    if question is None:
        raise CannotExpress("echo rows need a user question")
    return {"question": question, "answer": messages[-1]["content"]}


#: the echo service's own upload format, declared by the provider (ftkit.data never names it)
ECHO_ROWS = DataFormat("echo_question_answer", _question_answer, cannot_hold=frozenset({"text"}),
                       description="one {question, answer} object per line")


class EchoOptions(ProviderOptions):
    steps: int = Field(default=4, ge=1, description="how many steps the job runs")
    step_seconds: float = Field(default=0.05, ge=0, description="wall-clock seconds per step")
    page_size: int = Field(default=2, ge=1, description="events per page, to exercise paging")


class EchoProvider(Provider):
    name = "echo"
    capabilities = frozenset({Capability.SFT, Capability.LORA, Capability.CANCEL, Capability.GENERATE,
                              Capability.DEPLOY})
    hosting = Hosting.DEPLOYMENT
    data_format = ECHO_ROWS
    supported_settings = frozenset({"epochs", "seed", "suffix"})
    setting_hints = {"learning_rate": "echo has no learning rate; remove it"}
    Options = EchoOptions
    credential_env = "ECHO_API_KEY"
    poll_interval = 0.05
    max_poll_interval = 0.2

    def _authorise(self) -> None:
        if os.environ.get("ECHO_RATE_LIMITED"):  # the test switch for the service's rate limiter
            from ftkit.errors import RateLimitError

            raise RateLimitError("too many requests", provider=self.name, status_code=429, retry_after=3600.0)
        if not self.api_key.startswith("echo-"):
            raise AuthenticationError("the key was refused (echo keys start with 'echo-')", provider=self.name, status_code=401)

    def estimate(self, spec, **assumptions) -> Estimate:
        from ftkit.data import iter_records

        examples = [r for _, r in iter_records(spec.train)]
        total = sum(len(json.dumps(r).split()) for r in examples)
        trained = sum(len(str(r["messages"][-1]["content"]).split()) for r in examples)
        entry = self.catalog().find(spec.model)
        epochs = spec.epochs or self.catalog().rules.default_epochs or 1
        price = entry.training_price(spec.method.value, spec.adapter.value) if entry else None
        billed = trained * epochs
        return Estimate(
            provider=self.name,
            model=spec.model,
            method=spec.method.value,
            adapter=spec.adapter.value,
            tokens=TokenCount(examples=len(examples), total_tokens=total, trained_tokens=trained, method="approximate",
                              tokenizer="whitespace words", expected_error=0.3),
            epochs=epochs,
            epochs_source="user" if spec.epochs else "provider default",
            billed_tokens=billed,
            cost_usd=billed * price.usd_per_1m_tokens / 1e6 if price and price.usd_per_1m_tokens else None,
            assumptions=["tokens are whitespace-separated words; prices from the echo catalog"],
        )

    def submit(self, ctx: JobContext) -> JobStatus:
        self._authorise()
        if ctx.remote_id is None:
            from ftkit.data import convert

            upload = convert(ctx.spec.train, self.data_format, out=ctx.workdir / "echo-upload.jsonl")
            ctx.remember(remote_id=f"echo-{ctx.job_id}", submitted=time.time(), upload=str(upload))
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
        if not model.is_base:  # a fine-tune answers only through a ready deployment, as on the real services
            ready = [d for d in _deployments().values()
                     if d["serving_id"] == model.serving_id and d["state"] == "ready"]
            if not ready:
                raise ProviderError(f"model {model.model_id} is not deployed; deploy it first", provider=self.name,
                                    status_code=404)
        answers = []
        for messages in prompts:
            last = next(m["content"] for m in reversed(messages) if m["role"] == "user")
            answers.append(Generation(text=str(last).upper()[: settings.max_new_tokens * 8], latency_s=0.0))
        return answers


    # -- deployments ----------------------------------------------------------------------------------

    def create_deployment(self, ctx: DeploymentContext) -> DeploymentStatus:
        self._authorise()
        deployments = _deployments()
        if ctx.remote_id is None:
            remote_id = f"echo-dep-{len(deployments) + 1}-{ctx.deployment_id[-6:]}"
            deployments[remote_id] = {"model": ctx.model.model_id, "state": "pending", "reads": 0,
                                      "serving_id": f"{ctx.model.model_id}@{remote_id}"}
            _save_deployments(deployments)
            ctx.remember(remote_id=remote_id)
        return self.deployment_status(ctx)

    def deployment_status(self, ctx: DeploymentContext) -> DeploymentStatus:
        deployments = _deployments()
        found = deployments.get(ctx.remote_id or "")
        if found is None or found["state"] == "deleted":
            return DeploymentStatus(state=DeploymentState.DELETED, raw_state="gone", remote_id=ctx.remote_id)
        found["reads"] += 1
        if found["state"] == "pending" and found["reads"] >= DEPLOY_READS:
            found["state"] = "ready"
        _save_deployments(deployments)
        state = DeploymentState.READY if found["state"] == "ready" else DeploymentState.CREATING
        return DeploymentStatus(state=state, raw_state=found["state"], remote_id=ctx.remote_id,
                                serving_id=found["serving_id"])

    def delete_deployment(self, ctx: DeploymentContext) -> DeploymentStatus:
        deployments = _deployments()
        if ctx.remote_id in deployments:
            deployments[ctx.remote_id]["state"] = "deleted"
            _save_deployments(deployments)
        return DeploymentStatus(state=DeploymentState.DELETED, raw_state="deleted", remote_id=ctx.remote_id)


def _deployments_file() -> Path:
    return Path(os.environ.get("FTKIT_HOME") or Path.home() / ".ftkit") / "echo-deployments.json"


def _deployments() -> dict[str, Any]:
    """The echo service's record of deployments (what a real service's console would list)."""
    path = _deployments_file()
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_deployments(deployments: dict[str, Any]) -> None:
    path = _deployments_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(deployments))


def running_deployments() -> list[str]:
    """Remote ids of echo deployments that are not deleted (tests check nothing is left running)."""
    return [rid for rid, d in _deployments().items() if d["state"] != "deleted"]


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
