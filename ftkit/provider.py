"""The provider interface: the small set of things that differ between places a model can be trained.

Everything shared (spec checks, validation, the job store, polling with backoff, following events,
state guards) lives once in :class:`ftkit.FineTuneJob`. A provider implements only:

* ``check_spec``: settings it cannot honour (class method: runs before any side effect);
* ``estimate``: tokens, cost, memory for a spec;
* ``submit``: upload and create, idempotently (it may be called again after a crash);
* ``status`` / ``events`` (one page after a cursor) / ``cancel`` / ``result``;
* ``generate``: answers from a trained (or base) model, for evaluation.

and *declares* what is its own, so the core never needs to know a provider by name:

* ``capabilities``: every optional verb (cancel, pause, resume, generate, loss, merge, export, download,
  deploy); :func:`require_capability` is the one place that checks them;
* ``hosting``: where a fine-tune runs once trained (:class:`Hosting`);
* ``data_format``: the conversion target its uploads use (a name from :mod:`ftkit.data.conversion`, or a
  :class:`~ftkit.data.conversion.DataFormat` of its own);
* ``catalog()``: prices, limits and rules from the ``catalog.yaml`` shipped next to its module;
* ``token_counter(model)`` / ``reserved_tokens(model)``: how it counts and which tokens it refuses;
* ``default_model()``: the model ``ftkit plan`` prices when the user names none;
* ``estimator_knobs``: extra ``estimate()`` keywords it understands (``utilization`` for own GPUs);
* ``default_learning_rate(spec)`` / ``batch_size_range(spec)``: what a job moved here from another
  service is translated onto (:mod:`ftkit.migration`).

A service being left can also bring in jobs made outside ftkit (``import_job``, ``inventory``,
``download_file``; ``Capability.IMPORT`` / ``Capability.INVENTORY``).

Providers return ftkit types, never SDK objects, translate their SDK's exceptions into
:mod:`ftkit.errors` in one place, and import their heavy SDK lazily (``ftkit._imports.require``), so
listing or checking a provider never imports torch or an HTTP client.
"""

from __future__ import annotations

import enum
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ftkit.errors import MissingCredentialsError, UnsupportedCapabilityError, UnsupportedSettingError
from ftkit.spec import NEUTRAL_SETTINGS, Adapter, JobSpec
from ftkit.types import Capability, EventPage, Generation, GenerationSettings, JobStatus

if TYPE_CHECKING:
    from ftkit.data.conversion import DataFormat
    from ftkit.data.report import Issue
    from ftkit.deployment import DeploymentContext, DeploymentStatus
    from ftkit.estimation.catalog import Catalog
    from ftkit.estimation.tokens import TokenCounter
    from ftkit.estimation.types import Estimate
    from ftkit.migration._types import DownloadedFile, ImportedJob, InventoryItem
    from ftkit.model import TrainedModel

__all__ = ["Hosting", "JobContext", "Provider", "ProviderOptions", "require_capability"]


class Hosting(str, enum.Enum):
    """Where a provider's fine-tunes answer, which decides how they are evaluated and what serving costs.

    >>> Hosting.DEPLOYMENT.needs_deployment, Hosting.SELF_HOSTED.is_self_hosted
    (True, True)
    """

    #: on your own hardware: training and serving cost GPU hours, not tokens
    SELF_HOSTED = "self-hosted"
    #: the provider serves the fine-tune per token, with no deployment to create or pay for while idle
    SERVERLESS = "serverless"
    #: the fine-tune answers only through a deployment the user creates and pays for by the hour
    DEPLOYMENT = "deployment"

    @property
    def is_self_hosted(self) -> bool:
        return self is Hosting.SELF_HOSTED

    @property
    def needs_deployment(self) -> bool:
        # self-hosted models load in-process; only a managed DEPLOYMENT needs one created for it
        return self is Hosting.DEPLOYMENT

    def __str__(self) -> str:
        return self.value


def require_capability(
    provider: Provider | type[Provider], capability: Capability, *, verb: str | None = None, instead: str | None = None
) -> None:
    """Raise :class:`~ftkit.errors.UnsupportedCapabilityError` unless ``provider`` declares ``capability``.

    The one place an optional verb is checked, before the provider is called; ``instead`` says what to
    use (the provider's own ``capability_hints`` are used when not given).

    >>> from ftkit.testing import FakeProvider
    >>> require_capability(FakeProvider, Capability.MERGE)
    Traceback (most recent call last):
    ...
    ftkit.errors.UnsupportedCapabilityError: Provider 'fake' cannot merge. ...
    """
    if capability in provider.capabilities:
        return
    hint = instead or provider.capability_hints.get(capability)
    raise UnsupportedCapabilityError(provider.name, verb or capability.value, hint)


class ProviderOptions(BaseModel):
    """Base class of a provider's ``options={...}`` schema. Unknown keys are errors, never ignored."""

    model_config = ConfigDict(extra="forbid")


class RemembersState:
    """``remember()`` for the contexts providers work in (jobs, deployments): each side effect's id is
    written to the job store the moment it exists, so a crash right after it loses nothing."""

    remote_id: str | None
    data: dict[str, Any]
    _save: Callable[[str | None, dict[str, Any]], None] | None

    def remember(self, *, remote_id: str | None = None, **data: Any) -> None:
        """Persist the remote id and/or provider state now (before the next side effect)."""
        if remote_id is not None:
            self.remote_id = remote_id
        self.data.update(data)
        if self._save is not None:
            self._save(self.remote_id, dict(self.data))


@dataclass
class JobContext(RemembersState):
    """What a provider gets to work on one job: its spec, remote id and the provider's own saved state.

    ``remember()`` writes to the job store at once, so a provider records each side effect (an
    uploaded file id, a created remote job id) the moment it exists, and a crash right after it loses
    nothing. ``data`` must never hold a secret: it is stored in plain text.
    """

    job_id: str
    spec: JobSpec
    workdir: Path
    remote_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    _save: Callable[[str | None, dict[str, Any]], None] | None = field(default=None, repr=False)
    _uploads: Any = field(default=None, repr=False)
    _log: Callable[[str, str], None] | None = field(default=None, repr=False)

    def find_upload(self, endpoint: str, content_hash: str) -> str | None:
        """A file id this provider endpoint already holds for exactly this content, if any."""
        return self._uploads.find(self.spec.provider, endpoint, content_hash) if self._uploads else None

    def record_upload(self, endpoint: str, content_hash: str, file_id: str, filename: str = "") -> None:
        if self._uploads is not None:
            self._uploads.record(self.spec.provider, endpoint, content_hash, file_id, filename)

    def log(self, message: str, level: str = "info") -> None:
        """Add an ftkit-side event to the job's log (e.g. 'uploaded train.jsonl as file-abc')."""
        if self._log is not None:
            self._log(message, level)


class Provider(ABC):
    """Base class of every provider. Subclass it and register the class under the
    ``ftkit.providers`` entry-point group::

        [project.entry-points."ftkit.providers"]
        myprovider = "my_package.provider:MyProvider"

    Then run :class:`ftkit.testing.ProviderConformance` against it.
    """

    #: registry name, e.g. "openai"
    name: ClassVar[str]
    #: what the provider can do: methods, adapters and every optional verb
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: what to use instead of a verb it lacks: {Capability.MERGE: "download the weights first"}
    capability_hints: ClassVar[dict[Capability, str]] = {}
    #: where its fine-tunes answer (own hardware, per token, or through a paid deployment)
    hosting: ClassVar[Hosting] = Hosting.SERVERLESS
    #: the conversion target of its uploads: a name from ``ftkit.data.conversion.FORMATS`` or a DataFormat
    data_format: ClassVar[str | DataFormat] = "chat"
    #: extra keyword knobs its ``estimate()`` accepts (``ftkit plan`` forwards only these)
    estimator_knobs: ClassVar[frozenset[str]] = frozenset()
    #: the file name of its catalog, next to the module that defines the class (None: no catalog)
    catalog_file: ClassVar[str | None] = "catalog.yaml"
    #: neutral JobSpec settings it honours; setting any other is an error before anything happens
    supported_settings: ClassVar[frozenset[str]] = frozenset(NEUTRAL_SETTINGS)
    #: hints for settings it refuses: {"learning_rate": "use options={'learning_rate_multiplier': ...}"}
    setting_hints: ClassVar[dict[str, str]] = {}
    #: schema of ``JobSpec.options`` for this provider
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions
    #: environment variable holding the API key (None: no key needed)
    credential_env: ClassVar[str | None] = None
    #: environment variable holding the base URL override
    base_url_env: ClassVar[str | None] = None
    #: first polling interval in seconds; the facade backs off from there
    poll_interval: ClassVar[float] = 5.0
    #: longest polling interval in seconds
    max_poll_interval: ClassVar[float] = 60.0

    def __init__(self, *, api_key: str | SecretStr | None = None, base_url: str | None = None, **config: Any):
        if config:
            raise TypeError(f"{type(self).__name__} got unexpected settings: {', '.join(sorted(config))}")
        if isinstance(api_key, str):
            api_key = SecretStr(api_key)
        self._api_key = api_key
        self.base_url = base_url or (os.environ.get(self.base_url_env) if self.base_url_env else None) or None

    def __repr__(self) -> str:  # never shows the key
        where = f" base_url={self.base_url!r}" if self.base_url else ""
        return f"<{type(self).__name__}{where}>"

    # -- credentials ----------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The key from ``api_key=`` or the environment; a clear error naming the variable otherwise."""
        if self._api_key is not None:
            return self._api_key.get_secret_value()
        if self.credential_env and os.environ.get(self.credential_env):
            return os.environ[self.credential_env]
        raise MissingCredentialsError(self.name, self.credential_env or "(none)")

    def secrets(self) -> list[str]:
        """Every secret this provider holds, so the facade can scrub them from messages."""
        found = []
        if self._api_key is not None:
            found.append(self._api_key.get_secret_value())
        if self.credential_env and os.environ.get(self.credential_env):
            found.append(os.environ[self.credential_env])
        return [s for s in found if s]

    # -- what the provider declares ----------------------------------------------------------------

    @classmethod
    def catalog(cls) -> Catalog:
        """Its catalog: the ``catalog.yaml`` shipped next to the provider's module, merged with the user's
        overrides (``$FTKIT_HOME/catalog/<name>.yaml``, ``$FTKIT_CATALOG_DIR``). Plugins ship theirs the same way."""
        from ftkit.estimation.catalog import load_catalog

        return load_catalog(cls.name)

    @classmethod
    def default_model(cls) -> str | None:
        """The model ``ftkit plan`` prices for this provider when the user names none (the catalog's choice)."""
        try:
            return cls.catalog().default_model
        except Exception:  # no catalog, or one without a default: plan skips the provider
            return None

    @classmethod
    def token_counter(cls, model: str | None) -> TokenCounter:
        """The most exact offline token counter for ``model`` (default: its Hugging Face tokenizer and chat
        template, found locally through the catalog's tokenizer ids; approximate when none is found)."""
        from ftkit.estimation.tokens import hf_token_counter

        return hf_token_counter(model, cls.tokenizer_candidates(model) if model else [])

    @classmethod
    def tokenizer_candidates(cls, model: str) -> list[str]:
        """Names under which ``model``'s tokenizer may be found locally, best first (catalog ids first)."""
        candidates: list[str] = []
        try:
            entry = cls.catalog().find(model)
        except Exception:  # no catalog: the name itself is the only candidate
            entry = None
        if entry is not None:
            candidates += [c for c in (entry.tokenizer, entry.name, *entry.aliases) if c]
        candidates.append(model)
        return list(dict.fromkeys(candidates))

    @classmethod
    def model_at(cls, path: Path) -> TrainedModel:
        """The model in a folder on disk (a self-hosted provider reads adapters, merged models, ...)."""
        from ftkit.model import TrainedModel

        return TrainedModel(provider=cls.name, model_id=str(path), base_model=str(path))

    @classmethod
    def reserved_tokens(cls, model: str | None) -> tuple[str, ...]:
        """Special-token strings this provider refuses (or mis-trains) inside content; the validator flags
        them. Default: none beyond those of the model's own tokenizer, which the validator finds itself."""
        return ()

    # -- checks before any side effect -------------------------------------------------------------

    @classmethod
    def check_spec(cls, spec: JobSpec) -> list[str]:
        """Every setting of ``spec`` this provider cannot honour, as messages that say what to do.

        The base class checks method, adapter, neutral settings and ``options``; providers extend it
        (call ``super().check_spec(spec)``) with model-specific rules.
        """
        problems: list[str] = []
        method_cap = Capability(spec.method.value)
        if method_cap not in cls.capabilities:
            problems.append(f"method={spec.method.value!r} is not supported by {cls.name}")
        adapter_cap = Capability(spec.adapter.value)
        if adapter_cap not in cls.capabilities:
            ok = [a.value for a in Adapter if Capability(a.value) in cls.capabilities]
            problems.append(
                f"adapter={spec.adapter.value!r} is not supported by {cls.name}"
                + (f" (supported: {', '.join(ok)})" if ok else "")
            )
        for setting in spec.explicit_settings():
            if setting not in cls.supported_settings:
                hint = cls.setting_hints.get(setting, "remove it to use the provider's default")
                problems.append(f"{setting} is not supported by {cls.name}: {hint}")
        try:
            cls.Options.model_validate(spec.options)
        except ValidationError as e:
            for err in e.errors():
                loc = ".".join(str(p) for p in err["loc"])
                allowed = ", ".join(cls.Options.model_fields) or "none"
                problems.append(f"options.{loc}: {err['msg']} (options {cls.name} accepts: {allowed})")
        return problems

    @classmethod
    def check_data(cls, spec: JobSpec) -> list[Issue]:
        """Data problems only this provider can see (e.g. answers its chat template cannot locate), as
        validation issues with their lines; ``FineTuneJob.validate()`` adds them to its report. Default: none."""
        return []

    @classmethod
    def options(cls, spec: JobSpec) -> ProviderOptions:
        return cls.Options.model_validate(spec.options)

    @classmethod
    def ensure_supported(cls, spec: JobSpec) -> None:
        problems = cls.check_spec(spec)
        if problems:
            raise UnsupportedSettingError(cls.name, problems)

    # -- the job lifecycle ---------------------------------------------------------------------------

    @abstractmethod
    def estimate(self, spec: JobSpec, **assumptions: Any) -> Estimate:
        """Tokens, billed tokens, cost and (local) memory and time for this spec, offline.

        ``assumptions`` are estimator knobs a provider may accept (``today=`` for availability dates,
        local ``utilization=``); ``ftkit plan`` passes only those the user set.
        """

    @abstractmethod
    def submit(self, ctx: JobContext) -> JobStatus:
        """Upload the data and create (or start) the job. Must be idempotent: ``ctx.data`` and
        ``ctx.remote_id`` hold whatever an earlier, interrupted call already did."""

    @abstractmethod
    def status(self, ctx: JobContext) -> JobStatus:
        """The job's current status, normalised (keep the provider's word in ``raw_status``)."""

    @abstractmethod
    def events(self, ctx: JobContext, *, after: str | None = None) -> EventPage:
        """One page of events after the cursor ``after``, oldest first."""

    @abstractmethod
    def result(self, ctx: JobContext) -> TrainedModel:
        """The trained model of a succeeded job."""

    # -- optional verbs: declared in ``capabilities``, checked by require_capability before the call ----------

    def cancel(self, ctx: JobContext) -> JobStatus:
        """Stop the job (``Capability.CANCEL``)."""
        raise UnsupportedCapabilityError(self.name, "cancel jobs")

    def pause(self, ctx: JobContext) -> JobStatus:
        """Pause the job so it can be resumed later (``Capability.PAUSE``)."""
        raise UnsupportedCapabilityError(self.name, "pause jobs")

    def resume(self, ctx: JobContext) -> JobStatus:
        """Continue a paused or interrupted job (``Capability.RESUME``)."""
        raise UnsupportedCapabilityError(self.name, "resume jobs", "start a new job")

    def generate(
        self, model: TrainedModel, prompts: list[list[dict[str, Any]]], settings: GenerationSettings
    ) -> list[Generation]:
        """Answer each chat prompt (a list of messages) with ``model``, in order (``Capability.GENERATE``).

        A model served through a deployment carries ``model.serving_id``: send that name, not ``model_id``."""
        raise UnsupportedCapabilityError(self.name, "generate text")

    def loss(self, model: TrainedModel, examples: list[dict[str, Any]]) -> list[Any]:
        """Per-example negative log-likelihood of the reference answers (``Capability.LOSS``)."""
        raise UnsupportedCapabilityError(self.name, "compute losses")

    def merge(self, model: TrainedModel, out_dir: Path, **kwargs: Any) -> Path:
        """Write adapter + base as one model folder (``Capability.MERGE``)."""
        raise UnsupportedCapabilityError(self.name, "merge models", "download the weights first")

    def export_ollama(self, model: TrainedModel, out_dir: Path, **kwargs: Any) -> Path:
        """Write merged weights plus an Ollama ``Modelfile`` (``Capability.EXPORT``)."""
        raise UnsupportedCapabilityError(self.name, "export models")

    def download(self, model: TrainedModel, dest: Path, **kwargs: Any) -> Path:
        """Fetch a managed fine-tune's weights to ``dest`` (``Capability.DOWNLOAD``)."""
        raise UnsupportedCapabilityError(self.name, "download weights")

    # -- migration (``Capability.IMPORT`` / ``Capability.INVENTORY``): the facade is ftkit.migration ---------

    def import_job(self, remote_id: str) -> ImportedJob:
        """A job created outside ftkit, rebuilt from the service: its spec with the settings the service
        resolved, its status, files and the ``provider_data`` that status/events/result need (``Capability.IMPORT``)."""
        raise UnsupportedCapabilityError(self.name, "import jobs made outside ftkit")

    def inventory(self) -> list[InventoryItem]:
        """Every fine-tuning job and fine-tuned model of the account, all pages (``Capability.INVENTORY``)."""
        raise UnsupportedCapabilityError(self.name, "list the account's jobs and models")

    def download_file(self, file_id: str, dest: Path) -> DownloadedFile:
        """Write the service's data file ``file_id`` to ``dest`` in full, with its sha256 (``Capability.IMPORT``).
        Write to ``dest`` only once the bytes are complete (a partial file never looks finished). A service that
        never releases the file raises :class:`UnsupportedCapabilityError` (the user's own copy is used instead);
        a deleted one, a :class:`~ftkit.errors.ProviderError` with status 404."""
        raise UnsupportedCapabilityError(self.name, "download data files")

    @classmethod
    def default_learning_rate(cls, spec: JobSpec) -> float | None:
        """The learning rate this provider trains ``spec`` with when none is set (None: not published).
        Retargeting a job from another service scales this by that job's learning-rate multiplier."""
        return None

    def batch_size_range(self, spec: JobSpec) -> tuple[int | None, int | None]:
        """The smallest and largest batch size this provider accepts for ``spec`` (None: no limit known); from
        the service where it publishes them and this instance has credentials, else offline."""
        return None, None

    # -- deployments (``Capability.DEPLOY``): the facade is ftkit.deployment.Deployment ----------------------

    def create_deployment(self, ctx: DeploymentContext) -> DeploymentStatus:
        """Create what serves ``ctx.model`` (idempotently: ``ctx.remote_id``/``ctx.data`` hold what an
        interrupted call already made; ``ctx.remember()`` each remote id the moment it exists)."""
        raise UnsupportedCapabilityError(self.name, "deploy models")

    def deployment_status(self, ctx: DeploymentContext) -> DeploymentStatus:
        """The deployment's current state, normalised (keep the provider's word in ``raw_state``)."""
        raise UnsupportedCapabilityError(self.name, "deploy models")

    def delete_deployment(self, ctx: DeploymentContext) -> DeploymentStatus:
        """Stop paying: scale to zero and remove everything ``create_deployment`` made. Idempotent."""
        raise UnsupportedCapabilityError(self.name, "deploy models")

    def deployment_problems(self, model: TrainedModel, settings: Mapping[str, Any]) -> list[str]:
        """Why ``model`` cannot be deployed with ``settings`` here (unknown settings, a base whose fine-tunes
        the service cannot serve), as messages that say what to do. Called before anything is recorded."""
        return []

    def needs_deployment(self, model: TrainedModel) -> bool:
        """Whether ``model`` answers only through a deployment here. Default: fine-tunes (not bases) of a
        provider whose hosting is ``Hosting.DEPLOYMENT``; a provider that can tell a fine-tune by its name
        (one referenced as ``"<provider>:<fine-tune id>"``) overrides this."""
        return self.hosting.needs_deployment and not model.is_base and not model.serving_id

    def deployment_price(self, model: TrainedModel, settings: Mapping[str, Any]) -> float | None:
        """USD per hour a deployment of ``model`` with ``settings`` costs while it exists (None: unknown).

        Default: the catalog's ``deployment`` offer for the model's base, per replica, times
        ``settings["replicas"]`` (or ``min_replicas``, default 1)."""
        try:
            entry = self.catalog().find(model.base_model or model.model_id)
        except Exception:  # no catalog: the price is unknown, not an error
            return None
        if entry is None or entry.deployment is None:
            return None
        replicas = int(settings.get("replicas") or settings.get("min_replicas") or 1)
        return entry.deployment.usd_per_hour * replicas


def describe_options(options: type[ProviderOptions]) -> Mapping[str, str]:
    """Option name -> description, for `ftkit providers` and the docs."""
    return {name: (f.description or "") for name, f in options.model_fields.items()}

