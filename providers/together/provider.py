"""`TogetherProvider`: fine-tuning on Together AI through the official ``together`` SDK (>= 2).

>>> from ftkit import FineTuneJob
>>> job = FineTuneJob(provider="together", model="Qwen/Qwen3-8B", train="train.jsonl",
...                   epochs=2, lora_r=16, options={"n_checkpoints": 2})          # doctest: +SKIP
>>> model = job.wait()                                  # after job.start()       # doctest: +SKIP
>>> provider = job.provider                                                        # doctest: +SKIP
>>> provider.download(model, kind="adapter", dest="weights/")                     # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr

from ftkit._managed import fan_out, prepare_dataset
from ftkit._retry import DEFAULT_POLICY, RetryPolicy
from ftkit.errors import JobNotFoundError, JobStateError, ProviderError, UnsupportedSettingError
from ftkit.provider import Hosting, JobContext, Provider
from ftkit.spec import JobSpec
from ftkit.types import Capability, EventPage, Generation, GenerationSettings, JobState, JobStatus

from ._client import PROVIDER, TogetherApi
from ._download import DownloadKind, extract_tar_zst
from ._options import TogetherOptions
from ._request import WANDB_KEY_ENV, spec_problems
from ._status import event_page, failure_message, map_state, normalise_events, parse_time, raw_value
from ._submit import create_job, fetch_limits
from ._upload import upload_dataset

if TYPE_CHECKING:
    from ftkit.estimation.types import Estimate
    from ftkit.model import TrainedModel

__all__ = ["TogetherProvider"]


class TogetherProvider(Provider):
    """Together AI: SFT and DPO, LoRA or full fine-tuning, on Together's hosted GPUs.

    Connection: ``api_key=`` or ``TOGETHER_API_KEY``; ``base_url=`` or ``TOGETHER_BASE_URL`` (without
    ``/v1``; a trailing ``/v1`` from 1.x-era settings is removed with a warning). ``poll_interval=``
    and ``retry_policy=`` tune how often ftkit asks and how it retries (tests use small values).
    """

    name = "together"
    capabilities = frozenset(
        {
            Capability.SFT,
            Capability.DPO,
            Capability.LORA,
            Capability.FULL,
            Capability.CANCEL,
            Capability.GENERATE,
            Capability.DOWNLOAD,
        }
    )
    supported_settings = frozenset(
        {"epochs", "learning_rate", "batch_size", "lora_r", "lora_alpha", "lora_dropout", "max_seq_length", "seed",
         "suffix"}
    )  # fmt: skip
    setting_hints: ClassVar[dict[str, str]] = {}
    # TODO(managed-truth, issue 12): Together serves fine-tunes only from a dedicated endpoint, billed per
    # minute while it exists (shared/reference/together.md section 5): Hosting.DEPLOYMENT + Capability.DEPLOY.
    hosting = Hosting.SERVERLESS
    data_format = "messages_or_completion"
    Options = TogetherOptions
    credential_env = "TOGETHER_API_KEY"
    base_url_env = "TOGETHER_BASE_URL"
    poll_interval = 10.0
    max_poll_interval = 60.0

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        poll_interval: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ):
        super().__init__(api_key=api_key, base_url=base_url)
        if poll_interval is not None:
            self.poll_interval = poll_interval
            self.max_poll_interval = max(poll_interval * 4, poll_interval)
        self.api = TogetherApi(
            api_key=lambda: self.api_key, base_url=self.base_url, policy=retry_policy or DEFAULT_POLICY
        )
        self.base_url = self.api.base_url

    def secrets(self) -> list[str]:
        """The API key, and the W&B key passed through to Together, so both are scrubbed everywhere."""
        wandb_key = os.environ.get(WANDB_KEY_ENV)
        return [*super().secrets(), *([wandb_key] if wandb_key else [])]

    @classmethod
    def tokenizer_candidates(cls, model: str) -> list[str]:
        # "-Reference" models are Together's full-precision copies of a hub model: same tokenizer
        candidates = super().tokenizer_candidates(model)
        if model.endswith("-Reference"):
            candidates.append(model.removesuffix("-Reference"))
        return candidates

    # -- checks before any side effect --------------------------------------------------------------

    @classmethod
    def check_spec(cls, spec: JobSpec) -> list[str]:
        problems = super().check_spec(spec)
        # the base class already refused qlora by capability; say what to use instead
        problems = [p for p in problems if not p.startswith("adapter='qlora'")]
        try:
            options = cls.Options.model_validate(spec.options)
        except Exception:
            return problems + spec_problems(spec, cls.Options())
        return problems + spec_problems(spec, options)

    def estimate(self, spec: JobSpec, *, today: date | None = None) -> Estimate:
        from ftkit.providers.together._estimate import estimate

        return estimate(spec, today=today)

    # -- lifecycle ------------------------------------------------------------------------------------

    def submit(self, ctx: JobContext) -> JobStatus:
        if ctx.remote_id:  # an earlier call created it; nothing more to do
            return self.status(ctx)
        options = TogetherOptions.model_validate(ctx.spec.options)
        limits = fetch_limits(self.api, ctx, options)
        train = self._converted(ctx, ctx.spec.train, role="train")
        training_file = upload_dataset(self.api, ctx, train, role="train")
        validation_file = None
        if ctx.spec.validation is not None:
            validation = self._converted(ctx, ctx.spec.validation, role="validation")
            validation_file = upload_dataset(self.api, ctx, validation, role="validation")
        try:
            job = create_job(
                self.api, ctx, options, limits=limits, training_file=training_file, validation_file=validation_file
            )
        except ValueError as e:  # the SDK's own client-side checks (its rules may be newer than ours)
            if isinstance(e, UnsupportedSettingError):
                raise
            raise UnsupportedSettingError(PROVIDER, [str(e)]) from e
        ctx.log(f"created Together job {job.id}")
        return self._status_of(ctx, job)

    def status(self, ctx: JobContext) -> JobStatus:
        remote_id = self._remote_id(ctx)
        job = self.api.safe(lambda c: c.fine_tuning.retrieve(remote_id), not_found=self._not_found(ctx))
        return self._status_of(ctx, job)

    def events(self, ctx: JobContext, *, after: str | None = None) -> EventPage:
        if not ctx.remote_id:
            return EventPage(cursor=after)
        return event_page(self._events(ctx), after)

    def cancel(self, ctx: JobContext) -> JobStatus:
        remote_id = self._remote_id(ctx)
        current = self.status(ctx)
        if current.state.is_terminal:
            raise JobStateError(f"Job {ctx.job_id} already ended ({current.raw_status}); there is nothing to cancel.")
        if current.raw_status != "cancel_requested":  # Together refuses a second request
            try:
                self.api.safe(lambda c: c.fine_tuning.cancel(remote_id), not_found=self._not_found(ctx))
            except ProviderError as e:
                after = self.status(ctx)
                if e.status_code == 400 and after.state.is_terminal:  # it ended while we asked
                    raise JobStateError(
                        f"Job {ctx.job_id} already ended ({after.raw_status}); there is nothing to cancel."
                    ) from e
                raise
        return self.status(ctx)

    def result(self, ctx: JobContext) -> TrainedModel:
        from ftkit.model import TrainedModel

        remote_id = self._remote_id(ctx)
        job = self.api.safe(lambda c: c.fine_tuning.retrieve(remote_id), not_found=self._not_found(ctx))
        if map_state(job.status) is not JobState.SUCCEEDED:
            raise JobStateError(f"Job {ctx.job_id} has no model yet: Together says {raw_value(job.status)!r}.")
        checkpoints = self.api.safe(lambda c: c.fine_tuning.list_checkpoints(remote_id)).data or []
        events = self._events(ctx)
        final_metrics = next((e.metrics for e in reversed(events) if e.metrics), {})
        return TrainedModel(
            provider=self.name,
            model_id=_output_name(job),
            base_model=job.model or ctx.spec.model,
            job_id=ctx.job_id,
            metrics=final_metrics,
            info={
                "remote_id": remote_id,
                "adapter_output_name": getattr(job, "adapter_output_name", None),
                "model_object_id": getattr(job, "model_object_id", None),
                "training_type": _training_type(job),
                "checkpoints": [_checkpoint(c) for c in checkpoints],
                "token_count": job.token_count,
                "cost_usd": _usd(job.total_price),
            },
        )

    # -- using models ---------------------------------------------------------------------------------

    def generate(
        self, model: TrainedModel, prompts: list[list[dict[str, Any]]], settings: GenerationSettings
    ) -> list[Generation]:
        """Chat completions on Together (the fine-tune must be deployed, or a serverless base model)."""

        def answer(messages: list[dict[str, Any]]) -> Generation:
            started = time.monotonic()
            response = self.api.safe(
                lambda c: c.chat.completions.create(
                    model=model.model_id,
                    messages=messages,
                    max_tokens=settings.max_new_tokens,
                    temperature=settings.temperature,
                    top_p=settings.top_p,
                    **({"seed": settings.seed} if settings.seed is not None else {}),
                    **({"stop": settings.stop} if settings.stop else {}),
                )
            )
            usage = getattr(response, "usage", None)
            return Generation(
                text=(response.choices[0].message.content or "") if response.choices else "",
                prompt_tokens=getattr(usage, "prompt_tokens", None),
                completion_tokens=getattr(usage, "completion_tokens", None),
                latency_s=round(time.monotonic() - started, 4),
            )

        return fan_out(
            answer, prompts, concurrency=settings.concurrency, requests_per_minute=settings.requests_per_minute
        )

    def download(
        self,
        model: TrainedModel,
        *,
        kind: DownloadKind = "adapter",
        dest: str | Path | None = None,
        checkpoint_step: int | None = None,
    ) -> Path:
        """Fetch the job's weights (``adapter``, ``merged`` or ``model_output_path`` for full fine-tunes)
        as Together's ``.tar.zst``, unpack them into ``dest`` and note the path on ``model``.

        The adapter folder loads with PEFT on the base model, so it can be evaluated or merged locally.
        """
        remote_id = model.info.get("remote_id")
        if not remote_id:
            raise JobStateError(f"{model.label} is not a Together fine-tune from ftkit; nothing to download.")
        if model.info.get("training_type") == "full" and kind == "adapter":
            kind = "model_output_path"  # a full fine-tune has no adapter: the whole model is the output
        target = Path(dest) if dest is not None else Path.cwd() / f"{remote_id}-{kind}"
        target.parent.mkdir(parents=True, exist_ok=True)
        archive = target.parent / f".{target.name}.tar.zst.part"
        query: dict[str, Any] = {"ft_id": remote_id}
        query.update({"checkpoint_step": checkpoint_step} if checkpoint_step is not None else {"checkpoint": kind})
        self.api.safe(lambda c: c.fine_tuning.content(**query).write_to_file(archive))
        try:
            extract_tar_zst(archive, target)
        finally:
            archive.unlink(missing_ok=True)
        if kind == "adapter":
            model.adapter_path = str(target)
        else:
            model.merged_path = str(target)
        return target

    # -- internals ------------------------------------------------------------------------------------

    def _converted(self, ctx: JobContext, source: str, *, role: str) -> Path:
        """The dataset in Together's JSONL (chat rows, or preference rows for DPO), in the job's folder."""
        out = ctx.workdir / f"together-{role}.jsonl"
        return prepare_dataset(source, provider=self.name, method=ctx.spec.method.value, out=out)

    def _remote_id(self, ctx: JobContext) -> str:
        if not ctx.remote_id:
            raise JobStateError(f"Job {ctx.job_id} was not created on Together yet; call start() to finish it.")
        return ctx.remote_id

    def _not_found(self, ctx: JobContext) -> Any:
        return lambda: JobNotFoundError(ctx.remote_id or ctx.job_id, "Together (this API key's account)")

    def _events(self, ctx: JobContext) -> list[Any]:
        remote_id = self._remote_id(ctx)
        page = self.api.safe(lambda c: c.fine_tuning.list_events(remote_id), not_found=self._not_found(ctx))
        return normalise_events(list(page.data or []))

    def _status_of(self, ctx: JobContext, job: Any) -> JobStatus:
        raw = raw_value(job.status)
        state = map_state(raw)
        error = failure_message(self._events(ctx), raw) if state is JobState.FAILED else None
        cost = _usd(job.total_price) if state.is_terminal else None
        if state.is_terminal and "reported" not in ctx.data:
            # what Together bills, kept raw next to ftkit's estimate (nano-dollars are exact integers)
            ctx.remember(reported={"total_price_nano_usd": job.total_price, "token_count": job.token_count,
                                   "model_output_name": _output_name(job)})  # fmt: skip
        return JobStatus(
            job_id=ctx.job_id,
            provider=self.name,
            state=state,
            raw_status=raw or "unknown",
            remote_id=job.id,
            created_at=parse_time(job.created_at),
            updated_at=parse_time(job.updated_at),
            finished_at=parse_time(job.updated_at) if state.is_terminal else None,
            step=getattr(job, "steps_completed", None),
            total_steps=getattr(job, "total_steps", None),
            trained_tokens=job.token_count if state.is_terminal else None,
            cost_usd=cost,
            error=error,
            model_id=_output_name(job) if state is JobState.SUCCEEDED else None,
        )


def _output_name(job: Any) -> str | None:
    # the sync create result calls it output_name; retrieve/list call it x_model_output_name
    for attr in ("x_model_output_name", "output_name", "model_output_name"):
        value = getattr(job, attr, None)
        if value:
            return str(value)
    return None


def _usd(nano_dollars: Any) -> float | None:
    """Together's ``total_price`` is an integer number of nano-dollars."""
    return None if nano_dollars is None else round(int(nano_dollars) / 1e9, 9)


def _training_type(job: Any) -> str | None:
    kind = getattr(getattr(job, "training_type", None), "type", None)
    return None if kind is None else ("lora" if str(kind).lower() == "lora" else "full")


def _checkpoint(raw: Any) -> dict[str, Any]:
    return {
        "step": raw.step,
        "type": raw.checkpoint_type,
        "kind": getattr(raw, "checkpoint", None),
        "path": raw.path,
        "created_at": raw.created_at,
        "name": getattr(raw, "object_name", None),
    }

