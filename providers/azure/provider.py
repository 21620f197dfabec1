"""`AzureProvider`: fine-tuning GPT models on Azure OpenAI (Microsoft Foundry) through ``openai.AzureOpenAI``.

Azure runs OpenAI's fine-tuning jobs API, so this provider *is* the OpenAI provider (uploads once per
content hash, exactly-once create reconciled by the ``ftkit_job_id`` metadata tag, status, events,
cancel, pause, resume, result) with what Azure adds: the endpoint and ``api-version`` of a resource, the
training tier (``trainingType``, without which Azure answers a misleading "The specified base model does
not support fine-tuning"), the model listing's fine-tuning deprecation date, and the deployment every
fine-tune needs before it answers (created through Azure Resource Manager, billed $1.70/hour on
Standard and Global Standard).

>>> from ftkit import FineTuneJob
>>> job = FineTuneJob(provider="azure", model="gpt-4.1-mini-2025-04-14", train="train.jsonl", epochs=2,
...                   options={"training_type": "globalstandard"})      # AZURE_OPENAI_ENDPOINT, _API_KEY  # doctest: +SKIP
>>> model = job.wait()                                                   # after job.start()           # doctest: +SKIP
>>> with model.deploy(deployment_type="developer") as deployment:        # no hosting fee, 24 h max     # doctest: +SKIP
...     deployment.wait_ready()
...     deployment.model.generate(["Route: my card was charged twice"])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from ftkit.providers.openai._request import job_request
from ftkit.providers.openai._submit import today
from ftkit.providers.openai.provider import OpenAIProvider

from ftkit._retry import RetryPolicy
from ftkit.errors import ConfigError, FtkitError, ProviderError, UnsupportedSettingError
from ftkit.provider import Hosting, JobContext
from ftkit.spec import JobSpec
from ftkit.types import Capability

from ._client import PROVIDER, AzureApi
from ._deploy import ArmDeployments, settings_for
from ._options import AzureOptions

if TYPE_CHECKING:
    from ftkit.deployment import DeploymentContext, DeploymentStatus
    from ftkit.estimation.types import Estimate, TokenCount
    from ftkit.model import TrainedModel

__all__ = ["AzureProvider"]

#: what Azure answers a create without (or with an unusable) trainingType, as LiteLLM found (BerriAI/litellm#24687)
_MISLEADING = "does not support fine-tuning"
#: warn this many days before a model's fine-tuning deprecation date
_WARN_DAYS = 90


class AzureProvider(OpenAIProvider):
    """Azure OpenAI: SFT and DPO of GPT models on your own Azure resource, served from deployments.

    Connection: ``endpoint=`` (or ``base_url=``, or ``AZURE_OPENAI_ENDPOINT``: ``https://<resource>.openai.azure.com``);
    ``api_key=`` or ``AZURE_OPENAI_API_KEY``, or ``azure_ad_token_provider=`` (Microsoft Entra ID, e.g.
    ``azure.identity.get_bearer_token_provider(DefaultAzureCredential(), "https://cognitiveservices.azure.com/.default")``);
    ``api_version=`` (or ``AZURE_OPENAI_API_VERSION``). Deployments also need ``subscription_id=``,
    ``resource_group=`` (``AZURE_SUBSCRIPTION_ID``, ``AZURE_RESOURCE_GROUP``), the resource name (taken from the
    endpoint, or ``resource_name=``) and an ARM token (``management_token=``, ``AZURE_MANAGEMENT_TOKEN`` or
    azure-identity).
    """

    name = PROVIDER
    display_name = "Azure OpenAI"
    # listed, not inherited: a verb OpenAI gains is Azure's only once it is checked against Azure
    # (OpenAI's import and inventory read ``ft:`` model names; Azure's are ``<base>.ft-<job>``)
    capabilities = frozenset({Capability.SFT, Capability.DPO, Capability.LORA, Capability.CANCEL, Capability.PAUSE,
                              Capability.RESUME, Capability.GENERATE, Capability.DEPLOY})
    capability_hints: ClassVar[dict[Capability, str]] = {
        Capability.IMPORT: "not yet for Azure: create jobs through ftkit to track them",
        Capability.INVENTORY: "not yet for Azure: list jobs in the Foundry portal",
        Capability.MERGE: "Azure keeps the weights; retrain on another provider to own them",
        Capability.DOWNLOAD: "Azure OpenAI does not release fine-tuned weights",
    }
    hosting = Hosting.DEPLOYMENT
    Options = AzureOptions
    credential_env = "AZURE_OPENAI_API_KEY"
    base_url_env = "AZURE_OPENAI_ENDPOINT"

    def __init__(self, *, endpoint: str | None = None, base_url: str | None = None, **connection: Any):
        super().__init__(base_url=base_url or endpoint, **connection)

    def build_api(  # type: ignore[override]
        self, *, policy: RetryPolicy, api_version: str | None = None,
        azure_ad_token_provider: Callable[[], str] | None = None, timeout: float | None = None,
        subscription_id: str | None = None, resource_group: str | None = None, resource_name: str | None = None,
        management_url: str | None = None, management_token: str | Callable[[], str] | None = None,
    ) -> AzureApi:
        key = (lambda: "") if azure_ad_token_provider is not None else (lambda: self.api_key)
        api = AzureApi(api_key=key, base_url=self.base_url, api_version=api_version, timeout=timeout,
                       token_provider=azure_ad_token_provider, policy=policy)  # fmt: skip
        self.arm = ArmDeployments(subscription_id=subscription_id, resource_group=resource_group,
                                  resource_name=lambda: resource_name or api.resource_name,
                                  management_url=management_url, token=management_token, policy=policy)  # fmt: skip
        return api

    def secrets(self) -> list[str]:
        return [*super().secrets(), *self.arm.secrets()]

    # -- checks before any upload ----------------------------------------------------------------------

    def preflight(self, ctx: JobContext) -> AzureOptions:
        """Refuse what Azure will refuse, before uploading: catalog dates (on Azure's own endpoints), and the
        resource's model listing (a model this region cannot fine-tune, or one past its fine-tuning date)."""
        from ftkit.estimation.catalog import availability_problems

        for problem in availability_problems(self.name, ctx.spec.model, today()):
            if problem.level == "error" and self.api.is_official:
                raise ConfigError(problem.message)
            ctx.log(problem.message, "warning")
        model = ctx.spec.model
        try:
            listed = self.api.safe(lambda c: c.models.retrieve(model))
        except ProviderError as e:
            if e.status_code == 404:
                raise ConfigError(f"Azure OpenAI resource {self.api.endpoint} has no model {model!r}: use a dated "
                                  "name such as gpt-4.1-mini-2025-04-14 (`ftkit plan` lists them).") from e  # fmt: skip
            raise
        capabilities = _field(listed, "capabilities") or {}
        if _field(capabilities, "fine_tune") is False:
            raise ConfigError(f"{model} cannot be fine-tuned on this resource (its region or SKU does not offer it); "
                              "use a resource in a fine-tuning region or options={'training_type': 'globalstandard'}.")  # fmt: skip
        ends = _unix_date(_field(_field(listed, "deprecation") or {}, "fine_tune"))
        ctx.remember(fine_tune_deprecation=ends.isoformat() if ends else None)
        if ends is not None:
            left = (ends - today()).days
            if left <= 0:
                raise ConfigError(f"Azure stopped fine-tuning {model} on {ends.isoformat()} (the resource's model "
                                  "listing). Its existing fine-tunes keep serving for a year; train a newer model.")  # fmt: skip
            if left <= _WARN_DAYS:
                ctx.log(f"Azure stops fine-tuning {model} on {ends.isoformat()} ({left} days from now).", "warning")
        return self.options(ctx.spec)  # type: ignore[return-value]

    # -- ManagedProvider hooks ------------------------------------------------------------------------

    def create_job(self, client: Any, ctx: JobContext, files: dict[str, str | None], prepared: Any) -> Any:
        body = job_request(ctx.spec, prepared, job_id=ctx.job_id, training_file=files["training_file"] or "",
                           validation_file=files["validation_file"])
        # trainingType is Azure's field, not the SDK's: sent as an extra body field
        return client.fine_tuning.jobs.create(**body, extra_body={"trainingType": prepared.training_type})

    def map_error(self, exc: BaseException, error: FtkitError) -> FtkitError:
        message = str(getattr(error, "args", [""])[0])
        if getattr(exc, "status_code", None) == 400 and _MISLEADING in message:
            return UnsupportedSettingError(PROVIDER, [
                f"Azure refused the job: {message!r}. Azure says this when the training tier (trainingType) is "
                "missing or not offered for the model in this region: try options={'training_type': "
                "'globalstandard'} or a resource in a fine-tuning region."])  # fmt: skip
        return error

    # -- estimates: the training tier --------------------------------------------------------------------

    @classmethod
    def estimate_spec(cls, spec: JobSpec, *, counts: TokenCount | None = None, today: date | None = None) -> Estimate:
        """OpenAI's estimate with the price of the chosen training tier (``options.training_type``)."""
        estimate = super().estimate_spec(spec, counts=counts, today=today)
        tier = str((spec.options or {}).get("training_type", "standard"))
        entry = cls.catalog().find(spec.model)
        price = entry.training.get(f"{spec.method.value}@{tier}") if entry else None
        assumptions = [a for a in estimate.assumptions if not a.startswith("Price $")]
        if price is not None and price.usd_per_1m_tokens is not None and estimate.billed_tokens is not None:
            cost = round(estimate.billed_tokens / 1e6 * price.usd_per_1m_tokens, 4)
            assumptions.append(f"Price ${price.usd_per_1m_tokens:g} per 1M training tokens on the {tier} tier "
                               f"(trainingType={tier}): {price.source}.")  # fmt: skip
            estimate = estimate.model_copy(update={"cost_usd": cost, "cost_breakdown_usd": {"training": cost},
                                                   "price_source": price.cite(), "assumptions": assumptions})  # fmt: skip
        offer = entry.deployment if entry else None
        if offer is not None:
            estimate.assumptions.append(
                f"Serving the fine-tune needs a deployment: ${offer.usd_per_hour:.2f}/hour hosting on Standard or "
                "Global Standard while it exists (none on the Developer tier, which Azure removes after 24 hours), "
                f"plus tokens at the base model's rate ({offer.cite()}); evaluation deploys on demand and deletes it."
            )
        return estimate

    # -- deployments --------------------------------------------------------------------------------------

    def create_deployment(self, ctx: DeploymentContext) -> DeploymentStatus:
        return self.arm.create(ctx, price_per_hour=self.deployment_price(ctx.model, ctx.settings))

    def deployment_status(self, ctx: DeploymentContext) -> DeploymentStatus:
        return self.arm.status(ctx)

    def delete_deployment(self, ctx: DeploymentContext) -> DeploymentStatus:
        return self.arm.delete(ctx)

    def deployment_price(self, model: TrainedModel, settings: Mapping[str, Any]) -> float | None:
        """The hourly hosting fee: $1.70 on Standard and Global Standard, none on Developer (per-token
        usage comes on top, at the base model's rate)."""
        if settings_for(settings)["deployment_type"] == "developer":
            return 0.0
        entry = self.catalog().find(model.base_model or model.model_id.split(".ft-")[0])
        return entry.deployment.usd_per_hour if entry and entry.deployment else None


def _field(obj: Any, name: str) -> Any:
    """A field of an SDK object or of the plain dict the SDK keeps for fields it does not know."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _unix_date(value: Any) -> date | None:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, timezone.utc).date()
    return None
