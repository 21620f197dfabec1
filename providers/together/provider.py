"""`TogetherProvider`: fine-tuning on Together AI through the official ``together`` SDK (>= 2).

>>> from ftkit import FineTuneJob
>>> job = FineTuneJob(provider="together", model="Qwen/Qwen3-8B", train="train.jsonl",
...                   epochs=2, lora_r=16, options={"n_checkpoints": 2})          # doctest: +SKIP
>>> model = job.wait()                                  # after job.start()       # doctest: +SKIP
>>> with model.deploy(min_replicas=1) as deployment:  # a dedicated endpoint, billed per minute  # doctest: +SKIP
...     deployment.wait_ready()
...     deployment.model.generate(["Route: my card was charged twice"])
>>> model.download("weights/", kind="adapter")                                     # doctest: +SKIP
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ftkit._retry import RetryPolicy
from ftkit.deployment import DeploymentContext, DeploymentStatus
from ftkit.errors import FtkitError, JobNotFoundError, JobStateError, ProviderError, UnsupportedSettingError
from ftkit.managed import EstimateNotes, ManagedProvider
from ftkit.provider import Hosting, JobContext
from ftkit.spec import JobSpec
from ftkit.types import Capability, EventPage, GenerationSettings, JobState, JobStatus

from . import _deploy
from ._client import PROVIDER, TogetherApi
from ._download import DownloadKind, check_destination, extract_tar_zst
from ._limits import catalog_limits, limit_problems
from ._metrics import fetch_metric_rows, final_metrics, loss_curves, merged_page, metric_events
from ._options import TogetherOptions
from ._quote import ApiQuote, ensure_allowed, quote_line, read_quote
from ._request import WANDB_KEY_ENV, spec_problems
from ._status import EVENTS_PAGE_SIZE, failure_message, map_state, normalise_events, parse_time, raw_value
from ._stream import stream_to_file
from ._submit import create_job, fetch_limits, find_job
from ._upload import upload_file, wait_until_processed

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ftkit.estimation.catalog import Catalog, CatalogModel
    from ftkit.estimation.types import Estimate, TokenCount
    from ftkit.model import TrainedModel

__all__ = ["TogetherProvider"]


class TogetherProvider(ManagedProvider):
    """Together AI: SFT and DPO, LoRA or full fine-tuning, on Together's hosted GPUs.

    Connection: ``api_key=`` or ``TOGETHER_API_KEY``; ``base_url=`` or ``TOGETHER_BASE_URL`` (without
    ``/v1``; a trailing ``/v1`` from 1.x-era settings is removed with a warning). ``poll_interval=``
    and ``retry_policy=`` tune how often ftkit asks and how it retries (tests use small values).
    """

    name = "together"
    display_name = "Together"
    capabilities = frozenset(
        {
            Capability.SFT,
            Capability.DPO,
            Capability.LORA,
            Capability.FULL,
            Capability.CANCEL,
            Capability.GENERATE,
            Capability.DOWNLOAD,
            Capability.DEPLOY,
        }
    )
    supported_settings = frozenset(
        {"epochs", "learning_rate", "batch_size", "lora_r", "lora_alpha", "lora_dropout", "max_seq_length", "seed",
         "suffix"}
    )  # fmt: skip
    setting_hints: ClassVar[dict[str, str]] = {}
    # Together serves fine-tunes only from a dedicated endpoint, billed per minute per replica while it exists
    # (docs.together.ai/docs/fine-tuning/deployment; shared/reference/together.md section 5).
    hosting = Hosting.DEPLOYMENT
    data_format = "messages_or_completion"
    Options = TogetherOptions
    credential_env = "TOGETHER_API_KEY"
    base_url_env = "TOGETHER_BASE_URL"
    poll_interval = 10.0
    max_poll_interval = 60.0

    def build_api(self, *, policy: RetryPolicy) -> TogetherApi:
        return TogetherApi(api_key=lambda: self.api_key, base_url=self.base_url, policy=policy)

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

    @classmethod
    def default_learning_rate(cls, spec: JobSpec) -> float | None:
        """Together's default when ``learning_rate`` is not sent: 1e-5 (``fine_tuning.create`` in together 3.1.1)."""
        return 1e-5

    def batch_size_range(self, spec: JobSpec) -> tuple[int | None, int | None]:
        """Together's per-model batch limits for the spec's training type: ``fine_tuning.model_limits`` when this
        instance has a key, else the catalog's sourced figures (None where unsourced)."""
        from ._limits import catalog_limits

        limits = None
        if self.secrets():  # online only with credentials: an offline plan never waits on the network
            try:
                limits = self.api.safe(lambda c: c.fine_tuning.model_limits(model_name=spec.model))
            except FtkitError:  # unreachable or refused: fall back to what the catalog records
                limits = None
        limits = limits or catalog_limits(spec.model)
        kind = getattr(limits, "full_training" if spec.adapter.value == "full" else "lora_training", None)
        return getattr(kind, "min_batch_size", None), getattr(kind, "max_batch_size", None)

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
        problems += spec_problems(spec, options)
        limits = None if options.from_checkpoint else catalog_limits(spec.model)
        # offline, the catalog's sourced figures; online, submit() checks Together's own limits before upload
        return problems + (limit_problems(spec, options, limits) if limits is not None else [])

    def estimate(self, spec: JobSpec, *, today: date | None = None, online: bool = False) -> Estimate:
        """ftkit's offline estimate; ``online=True`` uploads the data (once per content; ``start()`` reuses the
        files) and returns Together's own quote as the figures, ftkit's kept alongside with the difference."""
        from ftkit.providers.together._quote import compare_with_quote

        offline = self.estimate_spec(spec, today=today)
        return compare_with_quote(offline, self.quote(spec)) if online else offline

    def quote(self, spec: JobSpec) -> ApiQuote:
        """Together's price for ``spec`` (``POST /v1/fine-tunes/estimate-price``) after uploading and validating
        its data; the same request ``start()`` makes before it creates the job."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="ftkit-quote-") as tmp:
            ctx = JobContext(job_id="quote", spec=spec, workdir=Path(tmp))
            options = TogetherOptions.model_validate(spec.options)
            limits = fetch_limits(self.api, ctx, options)
            files = self._upload_all(ctx)
            return self._quote(ctx, options, limits, *files)

    # -- lifecycle ------------------------------------------------------------------------------------

    # -- ManagedProvider hooks (submit, status and generate are the shared skeleton) -------------------

    def preflight(self, ctx: JobContext) -> tuple[TogetherOptions, Any]:
        """Together's per-model limits, checked before anything is uploaded."""
        options = TogetherOptions.model_validate(ctx.spec.options)
        return options, fetch_limits(self.api, ctx, options)

    def upload_file(self, ctx: JobContext, path: Path, *, name: str) -> str:
        return upload_file(self.api, path, name=name)

    def after_upload(self, ctx: JobContext, file_id: str, path: Path, role: str) -> None:
        wait_until_processed(self.api, file_id, path=path, role=role)

    def before_create(self, ctx: JobContext, files: dict[str, str | None], prepared: Any) -> None:
        """Together's own price quote, logged next to ftkit's estimate; its "no" stops here, before a job exists."""
        options, limits = prepared
        price = self._quote(ctx, options, limits, files["training_file"] or "", files["validation_file"])
        ctx.remember(quote=price.model_dump())
        ctx.log(quote_line(self._offline_estimate(ctx.spec), price),
                "info" if price.available and price.allowed_to_proceed is not False else "warning")
        ensure_allowed(price)

    def create_job(self, client: Any, ctx: JobContext, files: dict[str, str | None], prepared: Any) -> Any:
        options, limits = prepared
        return create_job(client, ctx, options, limits=limits, training_file=files["training_file"] or "",
                          validation_file=files["validation_file"])

    def find_job(self, client: Any, ctx: JobContext) -> Any | None:
        return find_job(client, ctx)

    def retrieve_job(self, client: Any, remote_id: str) -> Any:
        return client.fine_tuning.retrieve(remote_id)

    def job_status(self, ctx: JobContext, job: Any) -> JobStatus:
        return self._status_of(ctx, job)

    def chat(self, client: Any, model_name: str, messages: list[dict[str, Any]], settings: GenerationSettings) -> Any:
        """A base model by its name; a fine-tune only through its deployment (``model.serving_id``, which
        ``model.deploy()`` or evaluation sets; the shared ``generate`` sends it)."""
        return client.chat.completions.create(
            model=model_name, messages=messages, max_tokens=settings.max_new_tokens,
            temperature=settings.temperature, top_p=settings.top_p,
            **({"seed": settings.seed} if settings.seed is not None else {}),
            **({"stop": settings.stop} if settings.stop else {}),
        )

    # estimate hooks: what Together bills and warns about (the skeleton is ManagedProvider.estimate_spec)

    @classmethod
    def count_notes(cls, spec: JobSpec, counts: TokenCount, entry: CatalogModel | None, notes: EstimateNotes) -> None:
        notes.assume(f"Tokens counted with {counts.tokenizer}, after the chat template (what Together bills).")

    @classmethod
    def billed_parts(cls, spec: JobSpec, counts: TokenCount, epochs: int, entry: CatalogModel | None,
                     notes: EstimateNotes) -> dict[str, int]:
        from ._estimate import billed_parts

        return billed_parts(spec, counts, epochs, entry, notes)

    @classmethod
    def estimate_checks(cls, spec: JobSpec, counts: TokenCount, catalog: Catalog, entry: CatalogModel | None,
                        notes: EstimateNotes, *, today: date) -> None:
        from ._estimate import estimate_checks

        estimate_checks(spec, catalog, entry, notes)

    # -- lifecycle ------------------------------------------------------------------------------------

    def events(self, ctx: JobContext, *, after: str | None = None) -> EventPage:
        if not ctx.remote_id:
            return EventPage(cursor=after)
        events = self._events(ctx)
        total = next((e.total_steps for e in reversed(events) if e.total_steps), None)
        metrics = metric_events(fetch_metric_rows(self.api, ctx.remote_id), total_steps=total)
        return merged_page(events, metrics, after, size=EVENTS_PAGE_SIZE)

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
        rows = fetch_metric_rows(self.api, remote_id)
        return TrainedModel(
            provider=self.name,
            model_id=_output_name(job),
            base_model=job.model or ctx.spec.model,
            job_id=ctx.job_id,
            metrics=final_metrics(rows),
            info={
                "remote_id": remote_id,
                "adapter_output_name": getattr(job, "adapter_output_name", None),
                "model_object_id": getattr(job, "model_object_id", None),
                "training_type": _training_type(job),
                "checkpoints": [_checkpoint(c) for c in checkpoints],
                "token_count": job.token_count,
                "cost_usd": _usd(job.total_price),
                "loss_curves": loss_curves(rows),
            },
        )

    # -- using models ---------------------------------------------------------------------------------

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
        check_destination(target)  # before a byte is fetched
        target.parent.mkdir(parents=True, exist_ok=True)
        step = f"-step{checkpoint_step}" if checkpoint_step is not None else ""
        archive = target.parent / f".{target.name}{step}.tar.zst.part"  # kept on failure: the next call resumes
        query: dict[str, Any] = {"ft_id": remote_id}
        query.update({"checkpoint_step": checkpoint_step} if checkpoint_step is not None else {"checkpoint": kind})
        size, digest = stream_to_file(self.api, query, archive)
        try:
            extract_tar_zst(archive, target)
        finally:  # a complete but unreadable archive is fetched afresh next time, not resumed
            archive.unlink(missing_ok=True)
        model.info.update(weights_sha256=digest, weights_bytes=size)
        if kind == "adapter":
            model.adapter_path = str(target)
        else:
            model.merged_path = str(target)
        return target

    # -- deployments: a dedicated endpoint per fine-tune (see _deploy.py) ----------------------------

    def deployment_problems(self, model: TrainedModel, settings: Mapping[str, Any]) -> list[str]:
        """Settings Together does not take, and bases whose fine-tunes it cannot serve (``-Reference``)."""
        try:
            _deploy.check_settings(settings)
        except UnsupportedSettingError as e:
            return list(e.problems)
        problem = _deploy.deployable_problem(model.base_model)
        return [problem] if problem and not model.is_base else []

    def deployment_price(self, model: TrainedModel, settings: Mapping[str, Any]) -> float | None:
        """USD per hour from the catalog (per replica x ``min_replicas``; Together bills per minute)."""
        return _deploy.hourly_price(model, _deploy.check_settings(settings))[0]

    def create_deployment(self, ctx: DeploymentContext) -> DeploymentStatus:
        return _deploy.create_deployment(self.api, ctx)

    def deployment_status(self, ctx: DeploymentContext) -> DeploymentStatus:
        return _deploy.deployment_status(self.api, ctx)

    def delete_deployment(self, ctx: DeploymentContext) -> DeploymentStatus:
        return _deploy.delete_deployment(self.api, ctx)

    # -- internals ------------------------------------------------------------------------------------

    def _remote_id(self, ctx: JobContext) -> str:
        if not ctx.remote_id:
            raise JobStateError(f"Job {ctx.job_id} was not created on Together yet; call start() to finish it.")
        return ctx.remote_id

    def _not_found(self, ctx: JobContext) -> Any:
        return lambda: JobNotFoundError(ctx.remote_id or ctx.job_id, "Together (this API key's account)")

    def _upload_all(self, ctx: JobContext) -> tuple[str, str | None]:
        """Convert and upload train (and validation) data; returns once Together has validated them."""
        training_file = self.upload_dataset(ctx, ctx.spec.train, role="train")
        validation_file = None
        if ctx.spec.validation is not None:
            validation_file = self.upload_dataset(ctx, ctx.spec.validation, role="validation")
        return training_file, validation_file

    def _quote(self, ctx: JobContext, options: TogetherOptions, limits: Any, training_file: str,
               validation_file: str | None) -> ApiQuote:
        from ftkit.estimation.catalog import load_catalog

        from ._quote import price_request

        spec = ctx.spec
        parent = ctx.data.get("parent_training_type")
        if parent is not None:  # a continuation is priced as the training type it inherits
            spec = spec.model_copy(update={"adapter": "full" if parent == "full" else "lora"})
        body = price_request(spec, options, training_file=training_file, validation_file=validation_file,
                             limits=limits, default_epochs=load_catalog(PROVIDER).rules.default_epochs or 1)
        return read_quote(self.api.safe(lambda c: c.fine_tuning.estimate_price(**body)))

    def _offline_estimate(self, spec: JobSpec) -> Estimate | None:
        try:
            return self.estimate(spec)
        except Exception:  # the comparison is a courtesy: an estimate that cannot run must not stop the job
            return None

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

