"""`FireworksProvider`: LoRA fine-tuning on Fireworks AI through the official ``fireworks-ai`` SDK.

>>> from ftkit import FineTuneJob
>>> job = FineTuneJob(provider="fireworks", model="llama-v3p1-8b-instruct", train="train.jsonl",
...                   epochs=2, lora_r=16)                       # FIREWORKS_API_KEY, FIREWORKS_ACCOUNT_ID  # doctest: +SKIP
>>> model = job.wait()                       # after job.start()                                          # doctest: +SKIP
>>> with model.deploy() as deployment:       # an on-demand deployment, billed per GPU-second              # doctest: +SKIP
...     deployment.wait_ready()
...     deployment.model.generate(["Route: my card was charged twice"])
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ftkit._retry import RetryPolicy
from ftkit.data.report import Issue
from ftkit.errors import (
    ConfigError,
    FtkitError,
    JobNotFoundError,
    JobStateError,
    ProviderError,
    UnsupportedSettingError,
)
from ftkit.managed import EstimateNotes, ManagedProvider
from ftkit.provider import Hosting, JobContext
from ftkit.spec import JobSpec
from ftkit.types import Capability, EventPage, GenerationSettings, JobState, JobStatus

from . import _deploy
from ._client import PROVIDER, FireworksApi
from ._download import download_adapter, fetch_signed
from ._options import FireworksOptions
from ._request import (
    WANDB_KEY_ENV,
    base_model_name,
    create_kwargs,
    dpo_create_kwargs,
    output_model_id,
    remote_job_id,
    spec_problems,
)
from ._status import job_setting, job_status, map_state, metrics_events, parse_metrics, raw_state
from ._upload import dataset_id_for, upload_dataset, wait_ready

if TYPE_CHECKING:
    from ftkit.deployment import DeploymentContext, DeploymentStatus
    from ftkit.estimation.catalog import Catalog, CatalogModel
    from ftkit.estimation.types import TokenCount
    from ftkit.model import TrainedModel

__all__ = ["FireworksProvider"]

_RESUMABLE = (JobState.PAUSED, JobState.FAILED, JobState.CANCELLED)
#: "Maximum examples: 3 million per dataset" (docs.fireworks.ai/fine-tuning/fine-tuning-models)
MAX_EXAMPLES = 3_000_000


class FireworksProvider(ManagedProvider):
    """Fireworks AI: supervised LoRA fine-tuning of open models, served from on-demand deployments.

    Connection: ``api_key=`` or ``FIREWORKS_API_KEY``; ``account_id=`` or ``FIREWORKS_ACCOUNT_ID`` (every
    resource is named ``accounts/<id>/...``); ``base_url=`` or ``FIREWORKS_BASE_URL`` (no ``/v1``).
    ``poll_interval=``, ``retry_policy=`` and ``timeout=`` tune polling, retries and requests.
    """

    name = PROVIDER
    display_name = "Fireworks"
    capabilities = frozenset({Capability.SFT, Capability.DPO, Capability.LORA, Capability.CANCEL, Capability.RESUME,
                              Capability.GENERATE, Capability.DEPLOY, Capability.DOWNLOAD})  # fmt: skip
    supported_settings = frozenset({"epochs", "learning_rate", "batch_size", "lora_r", "max_seq_length", "suffix"})
    setting_hints: ClassVar[dict[str, str]] = {
        "seed": "Fireworks' SFT API takes no seed; remove it",
        "lora_alpha": "Fireworks sets LoRA alpha itself; set lora_r only",
        "lora_dropout": "Fireworks sets LoRA dropout itself; remove it",
    }
    capability_hints: ClassVar[dict[Capability, str]] = {
        Capability.MERGE: "download the adapter (model.download(dest)) and merge it locally",
        Capability.PAUSE: "Fireworks pauses jobs itself (account suspension); cancel and resume instead",
    }
    hosting = Hosting.DEPLOYMENT
    data_format = "messages"
    Options = FireworksOptions
    credential_env = "FIREWORKS_API_KEY"
    base_url_env = "FIREWORKS_BASE_URL"
    poll_interval = 10.0
    max_poll_interval = 60.0

    def build_api(self, *, policy: RetryPolicy, account_id: str | None = None,  # type: ignore[override]
                  timeout: float | None = None) -> FireworksApi:
        """``account_id=`` (or ``FIREWORKS_ACCOUNT_ID``) and ``timeout=`` (seconds per request)."""
        return FireworksApi(api_key=lambda: self.api_key, base_url=self.base_url, account_id=account_id,
                            timeout=timeout, policy=policy)

    def secrets(self) -> list[str]:
        """The API key, and the W&B key passed through to Fireworks, so both are scrubbed everywhere."""
        wandb_key = os.environ.get(WANDB_KEY_ENV)
        return [*super().secrets(), *([wandb_key] if wandb_key else [])]

    # -- checks and estimates -------------------------------------------------------------------------

    @classmethod
    def check_spec(cls, spec: JobSpec) -> list[str]:
        problems = super().check_spec(spec)
        try:
            options = cls.Options.model_validate(spec.options)
        except ValueError:
            return problems  # reported by the base class
        return problems + spec_problems(spec, options)

    @classmethod
    def check_data(cls, spec: JobSpec) -> list[Issue]:
        """Fireworks' own limit the shared validator does not know: at most 3,000,000 examples per dataset
        (docs.fireworks.ai/fine-tuning/fine-tuning-models; the system-first and weight rules are shared ones)."""
        from ftkit.data.source import iter_records

        issues: list[Issue] = []
        for role, source in (("train", spec.train), ("validation", spec.validation)):
            if source is None:
                continue
            count = sum(1 for _ in iter_records(source))
            if count > MAX_EXAMPLES:
                issues.append(Issue(code="fireworks_too_many_examples", severity="error",
                                    message=f"{role} data has {count:,} examples; Fireworks takes at most {MAX_EXAMPLES:,}",
                                    hint="split it into several jobs or sample it down"))  # fmt: skip
        return issues

    @classmethod
    def count_notes(cls, spec: JobSpec, counts: TokenCount, entry: CatalogModel | None, notes: EstimateNotes) -> None:
        notes.assume(f"Tokens counted with {counts.tokenizer}, after the chat template (Fireworks bills "
                     "'dataset size * number of epochs').")

    @classmethod
    def estimate_checks(cls, spec: JobSpec, counts: TokenCount, catalog: Catalog, entry: CatalogModel | None,
                        notes: EstimateNotes, *, today: date) -> None:
        if spec.epochs is None:
            notes.assume("Fireworks does not publish its default epochs; 1 is assumed (set epochs= to be sure).")
        offer = entry.deployment if entry else None
        if offer is None:
            notes.assume("Serving the fine-tune needs an on-demand deployment billed per GPU-second (no hosting "
                         "price for this base in ftkit's catalog).")
            return
        notes.assume(f"Serving the fine-tune needs an on-demand deployment: {offer.hardware} at "
                     f"${offer.usd_per_hour:.2f}/hour per replica, billed per GPU-second while it exists "
                     f"({offer.cite()}); evaluation deploys on demand and deletes it afterwards.")

    # -- lifecycle ------------------------------------------------------------------------------------

    # -- ManagedProvider hooks ----------------------------------------------------------------------------

    def preflight(self, ctx: JobContext) -> FireworksOptions:
        ctx.remember(account_id=self.api.account_id)  # an attach without account_id= finds the job's account
        return FireworksOptions.model_validate(ctx.spec.options)

    def upload_file(self, ctx: JobContext, path: Path, *, name: str) -> str:
        """Fireworks names datasets by the client: the content-addressed name ftkit chose is the dataset id,
        so the service itself remembers what was uploaded."""
        return upload_dataset(self.api, ctx, path, dataset_id=dataset_id_for(name))

    def file_exists(self, client: Any, file_id: str) -> Any:
        dataset = client.datasets.get(file_id.rsplit("/", 1)[-1])
        if dataset.state != "READY":  # created but never filled: upload again
            raise ProviderError(f"dataset {file_id} is {dataset.state}", provider=PROVIDER, status_code=404)
        return dataset

    def after_upload(self, ctx: JobContext, file_id: str, path: Path, role: str) -> None:
        wait_ready(self.api, file_id.rsplit("/", 1)[-1])

    def delete_file(self, client: Any, file_id: str) -> Any:
        return client.datasets.delete(file_id.rsplit("/", 1)[-1])

    def create_job(self, client: Any, ctx: JobContext, files: dict[str, str | None], prepared: Any) -> Any:
        output = self.api.name("models", output_model_id(ctx.spec, ctx.job_id))
        dataset = files["training_file"] or ""
        if ctx.spec.method.value == "dpo":
            kwargs = dpo_create_kwargs(ctx.spec, prepared, job_id=ctx.job_id, dataset=dataset, output_model=output)
        else:
            kwargs = create_kwargs(ctx.spec, prepared, job_id=ctx.job_id, dataset=dataset,
                                   evaluation_dataset=files["validation_file"], output_model=output)  # fmt: skip
        try:
            return _jobs(client, ctx).create(**kwargs)
        except Exception as e:  # an earlier attempt made it and its answer was lost: adopt that job
            if getattr(e, "status_code", None) == 409:
                return _jobs(client, ctx).get(remote_job_id(ctx.job_id))
            raise

    def find_job(self, client: Any, ctx: JobContext) -> Any | None:
        """The job by the id ftkit chose for it (Fireworks takes client-chosen job ids)."""
        try:
            return _jobs(client, ctx).get(remote_job_id(ctx.job_id))
        except Exception as e:
            if getattr(e, "status_code", None) == 404:
                return None
            raise

    def retrieve_job(self, client: Any, remote_id: str) -> Any:
        return client.supervised_fine_tuning_jobs.get(remote_id)

    def retrieve(self, ctx: JobContext, remote_id: str) -> Any:
        """The job from the collection its method lives in (``supervisedFineTuningJobs`` or ``dpoJobs``)."""
        return self.api.safe(lambda c: _jobs(c, ctx).get(remote_id), not_found=self._not_found(ctx))

    def remote_id_of(self, job: Any) -> str:
        return str(job.name).rsplit("/", 1)[-1]

    def job_status(self, ctx: JobContext, job: Any) -> JobStatus:
        return job_status(job, job_id=ctx.job_id, provider=PROVIDER)

    def chat(self, client: Any, model_name: str, messages: list[dict[str, Any]], settings: GenerationSettings) -> Any:
        """A fine-tune through its deployment (``<model>#<deployment>``); a base model, serverless, by its name."""
        return client.chat.completions.create(
            model=model_name if model_name.startswith("accounts/") else base_model_name(model_name),
            messages=messages, max_tokens=settings.max_new_tokens, temperature=settings.temperature,
            top_p=settings.top_p, **({"seed": settings.seed} if settings.seed is not None else {}),
            **({"stop": settings.stop[:4]} if settings.stop else {}),
        )

    def map_error(self, exc: BaseException, error: FtkitError) -> FtkitError:
        request = getattr(exc, "request", None)
        creating = request is not None and request.method == "POST" and \
            str(request.url.path).endswith(("/supervisedFineTuningJobs", "/dpoJobs"))
        if creating and getattr(exc, "status_code", None) == 400:  # refused for good: a model or value it rejects
            return UnsupportedSettingError(PROVIDER, [str(error)])
        return error

    def remote_id(self, ctx: JobContext) -> str | None:
        self._bind(ctx.data.get("account_id"))
        return super().remote_id(ctx)

    # -- lifecycle ------------------------------------------------------------------------------------

    def events(self, ctx: JobContext, *, after: str | None = None) -> EventPage:
        if not ctx.remote_id:
            return EventPage(cursor=after)
        job = self._job(ctx)
        events = metrics_events(job, self._metrics(job))
        ids = [e.id for e in events]
        start = ids.index(after) + 1 if after in ids else 0
        page = events[start:]
        return EventPage(events=page, cursor=page[-1].id if page else after)

    def cancel(self, ctx: JobContext) -> JobStatus:
        remote_id = self._remote_id(ctx)
        current = self.status(ctx)
        if current.state.is_terminal:
            raise JobStateError(f"Job {ctx.job_id} already ended ({current.raw_status}); there is nothing to cancel.")
        try:
            # safe to retry: a repeat after a lost answer is refused (400), and handled below
            self.api.safe(lambda c: _jobs(c, ctx).cancel(remote_id, body={}),
                          not_found=self._not_found(ctx))  # fmt: skip
        except ProviderError as e:
            after = self.status(ctx)
            if e.status_code != 400 or not after.state.is_terminal:
                raise
            if after.state is not JobState.CANCELLED:
                raise JobStateError(f"Job {ctx.job_id} already ended ({after.raw_status}); there is nothing to cancel.") from e
        ctx.log(f"asked Fireworks to cancel {remote_id}")
        return self.status(ctx)

    def resume(self, ctx: JobContext) -> JobStatus:
        """Continue a paused, failed or cancelled job from its last checkpoint (Fireworks' ``:resume``)."""
        remote_id = self._remote_id(ctx)
        current = self.status(ctx)
        if current.state not in _RESUMABLE:
            raise JobStateError(f"Job {ctx.job_id} is {current.raw_status}; Fireworks resumes only paused, failed "
                                "or cancelled jobs.")  # fmt: skip
        try:
            job = self.api.safe(lambda c: _jobs(c, ctx).resume(remote_id, body={}),
                                not_found=self._not_found(ctx))  # fmt: skip
        except ProviderError as e:
            after = self.status(ctx)
            if e.status_code == 400 and not after.state.is_terminal and after.state is not JobState.PAUSED:
                return after  # a retried resume after a lost answer: it is running again
            raise
        ctx.log(f"asked Fireworks to resume {remote_id}")
        return self.job_status(ctx, job)

    def result(self, ctx: JobContext) -> TrainedModel:
        from ftkit.model import TrainedModel

        job = self._job(ctx)
        raw = raw_state(job)
        output = job_setting(job, "output_model")
        if map_state(raw) is not JobState.SUCCEEDED or not output:
            raise JobStateError(f"Job {ctx.job_id} has no model yet: Fireworks says {raw}.")
        metrics = self._metrics(job)
        final = {k: float(v) for k, v in (metrics[-1] if metrics else {}).items()
                 if isinstance(v, int | float) and k not in ("step", "epoch")}  # fmt: skip
        status = job_status(job, job_id=ctx.job_id, provider=PROVIDER)
        return TrainedModel(
            provider=PROVIDER, model_id=output, base_model=job_setting(job, "base_model") or ctx.spec.model,
            job_id=ctx.job_id, metrics=final,
            info={"remote_id": self._remote_id(ctx), "method": ctx.spec.method.value, "dataset": job.dataset,
                  "epochs": job_setting(job, "epochs"), "lora_rank": job_setting(job, "lora_rank"),
                  "trained_tokens": status.trained_tokens, "cost_usd": status.cost_usd, "steps_logged": len(metrics)},
        )  # fmt: skip

    # -- using models -----------------------------------------------------------------------------------

    def download(self, model: TrainedModel, dest: Path | str, **kwargs: Any) -> Path:
        """Fetch the LoRA adapter's files (PEFT layout) into ``dest``, a new or empty folder; notes the path on
        ``model`` so it can be merged or served locally. Never writes into a folder that holds files."""
        if kwargs:
            raise ConfigError(f"Fireworks download takes only dest; not {', '.join(sorted(kwargs))}.")
        self._bind(_account_of(model.model_id))
        target = download_adapter(self.api, model.model_id, Path(dest))
        model.adapter_path = str(target)
        return target

    # -- deployments -----------------------------------------------------------------------------------

    def create_deployment(self, ctx: DeploymentContext) -> DeploymentStatus:
        if not ctx.model.model_id.startswith("accounts/"):
            raise ConfigError(f"{ctx.model.model_id!r} is not a Fireworks model name (accounts/<a>/models/<m>).")
        self._bind(_account_of(ctx.model.model_id))
        return _deploy.create(self.api, ctx)

    def deployment_status(self, ctx: DeploymentContext) -> DeploymentStatus:
        self._bind(_account_of(ctx.model.model_id))
        return _deploy.status(self.api, ctx)

    def delete_deployment(self, ctx: DeploymentContext) -> DeploymentStatus:
        self._bind(_account_of(ctx.model.model_id))
        return _deploy.delete(self.api, ctx)

    def deployment_price(self, model: TrainedModel, settings: Mapping[str, Any]) -> float | None:
        """GPUs x replicas x the GPU's hourly price, from the base model's catalog entry (None: unknown)."""
        entry = self.catalog().find(model.base_model or model.model_id)
        offer = entry.deployment if entry else None
        if offer is None:
            return None
        count, _, gpu = offer.hardware.partition("x ")
        per_gpu = offer.usd_per_hour / max(int(count or 1), 1)
        return _deploy.price_per_hour({"accelerator_count": int(count or 1), **settings}, {gpu.strip(): per_gpu})

    # -- internals ---------------------------------------------------------------------------------------

    def _bind(self, account: str | None) -> None:
        """Work in the account a stored job or model names when none was configured (attach, the CLI)."""
        if account and not self.api.configured_account:
            self.api.use_account(account)

    def _remote_id(self, ctx: JobContext) -> str:
        remote_id = self.remote_id(ctx)
        if remote_id is None:
            raise JobStateError(f"Job {ctx.job_id} was not created on Fireworks yet; call start() to finish it.")
        return remote_id

    def _job(self, ctx: JobContext) -> Any:
        return self.retrieve(ctx, self._remote_id(ctx))

    def _not_found(self, ctx: JobContext) -> Any:
        return lambda: JobNotFoundError(ctx.remote_id or ctx.job_id, f"Fireworks (account {self.api.account_id})")

    def _metrics(self, job: Any) -> list[dict[str, Any]]:
        url = getattr(job, "metrics_file_signed_url", None)
        if url is None and getattr(job, "training_config", None) is not None and map_state(raw_state(job)) not in (
                JobState.PENDING, JobState.QUEUED, JobState.VALIDATING):  # a DPO job: ask for the file's URL
            job_id = str(job.name).rsplit("/", 1)[-1]
            url = self.api.safe(lambda c: c.dpo_jobs.get_metrics_file_endpoint(job_id)).signed_url
        return parse_metrics(self._fetch(url).decode("utf-8", "replace")) if url else []

    def _fetch(self, url: str) -> bytes:
        return fetch_signed(url, self.api.policy)


def _account_of(name: str) -> str | None:
    """``accounts/<account>/models/<id>`` -> ``<account>`` (None for Fireworks' own or bare names)."""
    parts = name.split("/")
    return parts[1] if len(parts) >= 4 and parts[0] == "accounts" and parts[1] != "fireworks" else None


def _jobs(client: Any, ctx: JobContext) -> Any:
    """The SDK resource of the job's method: ``dpo_jobs`` or ``supervised_fine_tuning_jobs``."""
    return client.dpo_jobs if ctx.spec.method.value == "dpo" else client.supervised_fine_tuning_jobs
