"""`OpenAIProvider`: fine-tuning on OpenAI through the official ``openai`` SDK.

>>> from ftkit import FineTuneJob
>>> job = FineTuneJob(provider="openai", model="gpt-4o-mini-2024-07-18", train="train.jsonl",
...                   epochs=3, options={"learning_rate_multiplier": 0.5})   # doctest: +SKIP
>>> job.start()                                                              # doctest: +SKIP
>>> model = job.wait()  # model.model_id == "ft:gpt-4o-mini-2024-07-18:org::abc123"     # doctest: +SKIP
>>> model.generate(["Route: my card was charged twice"])                     # doctest: +SKIP

OpenAI is closing self-serve fine-tuning: no new jobs from 2027-01-06 (see docs/providers/openai.md).
Existing jobs and fine-tuned models keep working through ftkit until their base model retires.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from ftkit._retry import RetryPolicy
from ftkit.data.report import Issue
from ftkit.errors import FtkitError, JobNotFoundError, JobStateError, ProviderError
from ftkit.managed import EstimateNotes, ManagedProvider
from ftkit.provider import Hosting, JobContext
from ftkit.spec import JobSpec
from ftkit.types import Capability, EventPage, GenerationSettings, JobState, JobStatus

from ._client import PROVIDER, OpenAIApi
from ._options import OpenAIOptions
from ._request import job_request, spec_problems
from ._status import EVENTS_PAGE_SIZE, chronological_events, job_status, latest_step, parse_metrics_csv
from ._submit import availability_check, find_tagged_job
from ._winddown import listing_availability, refused_create

if TYPE_CHECKING:
    from pathlib import Path

    from ftkit.estimation.catalog import CatalogModel
    from ftkit.estimation.tokens import TokenCounter
    from ftkit.estimation.types import TokenCount
    from ftkit.migration._types import DownloadedFile, ImportedJob, InventoryItem
    from ftkit.model import TrainedModel

__all__ = ["OpenAIProvider"]

_FILE_PARAMS = ("training_file", "validation_file")
PURPOSE = "fine-tune"


class OpenAIProvider(ManagedProvider):
    """OpenAI: supervised (SFT) and preference (DPO) fine-tuning of OpenAI's hosted models.

    Connection: ``api_key=`` or ``OPENAI_API_KEY``; ``base_url=`` or ``OPENAI_BASE_URL`` (with
    ``/v1``). Also ``organization=``, ``project=``, ``timeout=`` (seconds per request),
    ``poll_interval=`` (first polling interval of ``wait``) and ``retry_policy=``.

    OpenAI does not say how it trains (adapters or full weights): ``adapter`` stays at its default
    ("lora", meaning "managed by OpenAI"); ``"qlora"`` and ``"full"`` are refused. Jobs can be paused
    and resumed (``job.pause()``, ``job.resume()``); ``wait()`` on a paused job raises ``JobPausedError``.
    """

    name = PROVIDER
    display_name = "OpenAI"
    capabilities = frozenset({Capability.SFT, Capability.DPO, Capability.LORA, Capability.CANCEL,
                              Capability.PAUSE, Capability.RESUME, Capability.GENERATE, Capability.IMPORT,
                              Capability.INVENTORY})
    supported_settings = frozenset({"epochs", "batch_size", "seed", "suffix"})
    setting_hints: ClassVar[dict[str, str]] = {
        "learning_rate": "OpenAI takes a multiplier of its own rate: options={'learning_rate_multiplier': 0.5}",
        "lora_r": "OpenAI does not expose adapter settings; remove it",
        "lora_alpha": "OpenAI does not expose adapter settings; remove it",
        "lora_dropout": "OpenAI does not expose adapter settings; remove it",
        "max_seq_length": "OpenAI fixes the per-example limit per model (65,536 tokens for gpt-4o-mini); "
                          "remove it, `ftkit validate` flags longer examples",
    }
    capability_hints: ClassVar[dict[Capability, str]] = {
        Capability.MERGE: "OpenAI keeps the weights; retrain on another provider to own them",
        Capability.DOWNLOAD: "OpenAI does not release fine-tuned weights",
        Capability.DEPLOY: "OpenAI serves fine-tunes per token: call model.generate() directly",
    }
    hosting = Hosting.SERVERLESS
    data_format = "messages"
    Options = OpenAIOptions
    credential_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    poll_interval = 10.0
    max_poll_interval = 60.0

    def build_api(self, *, policy: RetryPolicy, organization: str | None = None, project: str | None = None,
                  timeout: float | None = None) -> OpenAIApi:
        return OpenAIApi(api_key=lambda: self.api_key, base_url=self.base_url, organization=organization,
                         project=project, timeout=timeout, policy=policy)

    # -- declarations ---------------------------------------------------------------------------

    @classmethod
    def token_counter(cls, model: str | None) -> TokenCounter:
        """tiktoken with the model's encoding and the cookbook chat formula (what OpenAI bills)."""
        from ._tokens import token_counter

        return token_counter(model)

    @classmethod
    def reserved_tokens(cls, model: str | None) -> tuple[str, ...]:
        from ._tokens import RESERVED_TOKENS

        return RESERVED_TOKENS

    # -- checks and estimates -------------------------------------------------------------------

    @classmethod
    def check_spec(cls, spec: JobSpec) -> list[str]:
        problems = super().check_spec(spec)
        try:
            options = cls.options(spec)
        except ValueError:
            return problems  # already reported by the base class
        return problems + spec_problems(spec, options)

    @classmethod
    def availability(cls, model: str, today: date) -> tuple[list[str], list[str]]:
        """The catalog's dates, with the shutdown date OpenAI's model listing gave when ftkit last read it."""
        errors, warnings = super().availability(model, today)
        entry = cls.catalog().find(model)
        return listing_availability(model, today, entry.retires if entry else None, errors, warnings)

    @classmethod
    def per_example_cap(cls, entry: CatalogModel | None) -> int | None:
        return entry.max_tokens_per_example if entry else None

    @classmethod
    def count_notes(cls, spec: JobSpec, counts: TokenCount, entry: CatalogModel | None, notes: EstimateNotes) -> None:
        notes.assume(
            f"Tokens counted with {counts.tokenizer}: 3 per message, 1 more per name, 3 to prime the reply; "
            "tool definitions and tool calls as compact JSON; images not counted. OpenAI calls this count "
            "approximate; the job's trained_tokens is the billed figure."
        )

    # -- ManagedProvider hooks ------------------------------------------------------------------------

    def preflight(self, ctx: JobContext) -> OpenAIOptions:
        availability_check(self.api, ctx)
        return self.options(ctx.spec)  # type: ignore[return-value]

    def create_file(self, client: Any, name: str, content: bytes) -> Any:
        return client.files.create(file=(name, content), purpose=PURPOSE)

    def list_files(self, client: Any) -> Any:
        return client.files.list(purpose=PURPOSE, order="desc")

    def create_job(self, client: Any, ctx: JobContext, files: dict[str, str | None], prepared: Any) -> Any:
        body = job_request(ctx.spec, prepared, job_id=ctx.job_id, training_file=files["training_file"] or "",
                           validation_file=files["validation_file"])
        return client.fine_tuning.jobs.create(**body)

    def find_job(self, client: Any, ctx: JobContext) -> Any | None:
        return find_tagged_job(client, ctx.job_id)

    def retrieve_job(self, client: Any, remote_id: str) -> Any:
        return client.fine_tuning.jobs.retrieve(remote_id)

    def job_status(self, ctx: JobContext, job: Any) -> JobStatus:
        step = total = None
        if job.status == "running":
            page = self.api.safe(lambda c: c.fine_tuning.jobs.list_events(job.id, limit=10))
            step, total = latest_step(page.data or [])
        status = job_status(job, job_id=ctx.job_id, step=step, total_steps=total, provider=self.name)
        if status.state is JobState.FAILED:
            self._note_file_problem(ctx, job)
        return status

    def chat(self, client: Any, model_name: str, messages: list[dict[str, Any]], settings: GenerationSettings) -> Any:
        # max_tokens is deprecated for chat; OpenAI accepts up to four stop sequences
        return client.chat.completions.create(
            model=model_name, messages=messages, temperature=settings.temperature, top_p=settings.top_p,
            max_completion_tokens=settings.max_new_tokens,
            **({"seed": settings.seed} if settings.seed is not None else {}),
            **({"stop": settings.stop[:4]} if settings.stop else {}),
        )

    def map_error(self, exc: BaseException, error: FtkitError) -> FtkitError:
        return refused_create(exc, error)

    # -- lifecycle ----------------------------------------------------------------------------------

    def events(self, ctx: JobContext, *, after: str | None = None) -> EventPage:
        remote_id = self.remote_id(ctx)
        if remote_id is None:
            return EventPage(cursor=after)

        def fetch(page_after: str | None) -> Any:
            extra = {"after": page_after} if page_after else {}
            return self.api.safe(
                lambda c: c.fine_tuning.jobs.list_events(remote_id, limit=EVENTS_PAGE_SIZE, **extra),
                not_found=lambda: JobNotFoundError(remote_id, "OpenAI"),
            )

        return chronological_events(fetch, after=after)

    def cancel(self, ctx: JobContext) -> JobStatus:
        remote_id = self.remote_id(ctx)
        if remote_id is None:  # interrupted before the job existed on OpenAI: nothing runs there
            return JobStatus(job_id=ctx.job_id, provider=self.name, state=JobState.CANCELLED, raw_status="cancelled")
        try:
            # Retrying a cancel is harmless: a repeat after a lost answer is refused as "already ended",
            # which is handled below.
            job = self.api.safe(lambda c: c.fine_tuning.jobs.cancel(remote_id),
                                not_found=lambda: JobNotFoundError(remote_id, "OpenAI"))
        except ProviderError as e:
            if e.status_code not in (400, 409):
                raise
            job = self.retrieve(ctx, remote_id)
            if job.status != "cancelled":
                raise JobStateError(f"Job {ctx.job_id} already ended ({job.status}); there is nothing to cancel.") from e
        ctx.log(f"asked {self.title()} to cancel {remote_id}")
        return self.job_status(ctx, job)

    def pause(self, ctx: JobContext) -> JobStatus:
        """``POST /fine_tuning/jobs/{id}/pause``; a repeat after a lost answer finds the job pausing or paused."""
        return self._pause_or_resume(ctx, "pause", done=("pausing", "paused"))

    def resume(self, ctx: JobContext) -> JobStatus:
        """``POST /fine_tuning/jobs/{id}/resume`` on a paused job; the job goes back to training."""
        return self._pause_or_resume(ctx, "resume", done=("queued", "running", "validating_files"))

    def _pause_or_resume(self, ctx: JobContext, verb: str, *, done: tuple[str, ...]) -> JobStatus:
        remote_id = self.remote_id(ctx)
        if remote_id is None:
            raise JobStateError(f"Job {ctx.job_id} was not created on OpenAI yet; there is nothing to {verb}.")
        try:
            # Retried like a read: a repeat after a lost answer is refused (400/409) once the first one
            # took effect, and the job's status below tells the two apart.
            job = self.api.safe(lambda c: getattr(c.fine_tuning.jobs, verb)(remote_id),
                                not_found=lambda: JobNotFoundError(remote_id, "OpenAI"))
        except ProviderError as e:
            if e.status_code not in (400, 409):
                raise
            job = self.retrieve(ctx, remote_id)
            if job.status not in done:
                raise JobStateError(f"OpenAI cannot {verb} job {ctx.job_id} while it is {job.status}: "
                                    f"{e}") from e
        ctx.log(f"asked OpenAI to {verb} {remote_id}")
        return self.job_status(ctx, job)

    def result(self, ctx: JobContext) -> TrainedModel:
        from ftkit.model import TrainedModel

        remote_id = self.remote_id(ctx)
        job = self.retrieve(ctx, remote_id) if remote_id else None
        if job is None or job.status != "succeeded" or not job.fine_tuned_model:
            state = job.status if job else "not created"
            raise JobStateError(f"Job {ctx.job_id} has no fine-tuned model on OpenAI ({state}).")
        metrics: dict[str, float] = {}
        if job.result_files:
            content = self.api.safe(lambda c: c.files.content(job.result_files[0]).read())
            metrics = parse_metrics_csv(content)
        checkpoints = self.api.safe(lambda c: c.fine_tuning.jobs.checkpoints.list(remote_id, limit=100))
        return TrainedModel(
            provider=self.name,
            model_id=job.fine_tuned_model,
            base_model=job.model,
            job_id=ctx.job_id,
            metrics=metrics,
            info={
                "remote_id": job.id,
                "trained_tokens": job.trained_tokens,
                "result_files": list(job.result_files or []),
                "seed": job.seed,
                "method": job.method.to_dict() if job.method else None,
                "checkpoints": [
                    {"model_id": c.fine_tuned_model_checkpoint, "step": c.step_number,
                     "metrics": c.metrics.to_dict() if c.metrics else {}}
                    for c in sorted(checkpoints.data or [], key=lambda c: c.step_number)
                ],
            },
        )

    # -- migration: jobs made outside ftkit (see _import.py) --------------------------------------------

    def import_job(self, remote_id: str) -> ImportedJob:
        from ._import import import_job

        return import_job(self, remote_id)

    def inventory(self) -> list[InventoryItem]:
        from ._import import inventory

        return inventory(self)

    def download_file(self, file_id: str, dest: Path) -> DownloadedFile:
        from ._import import download_file

        return download_file(self, file_id, dest)

    # -- internals ----------------------------------------------------------------------------------

    def _note_file_problem(self, ctx: JobContext, job: Any) -> None:
        """OpenAI rejects bad data after upload, as a failed job: record it as a validation issue."""
        error = job.error
        if error is None or ctx.data.get("file_issue"):
            return
        param = error.param if error.param in _FILE_PARAMS else None
        code = error.code or ""
        if param is None and not code.startswith(("invalid_training_file", "invalid_validation_file")):
            return
        source = ctx.spec.validation if param == "validation_file" else ctx.spec.train
        issue = Issue(
            code=f"openai_{code or 'invalid_file'}",
            severity="error",
            message=error.message or code,
            hint="OpenAI rejected the file after upload; fix the data and start a new job "
                 "(`ftkit validate --provider openai` checks most of OpenAI's rules offline)",
            path=param,
            file=str(source) if isinstance(source, str) else None,
        )
        ctx.remember(file_issue=issue.model_dump(mode="json"))
        ctx.log(issue.format(), "error")
