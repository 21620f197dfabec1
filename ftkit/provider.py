"""The provider interface: the small set of things that differ between places a model can be trained.

Everything shared (spec checks, validation, the job store, polling with backoff, following events,
state guards) lives once in :class:`ftkit.FineTuneJob`. A provider implements only:

* ``check_spec``: settings it cannot honour (class method: runs before any side effect);
* ``estimate``: tokens, cost, memory for a spec;
* ``submit``: upload and create, idempotently (it may be called again after a crash);
* ``status`` / ``events`` (one page after a cursor) / ``cancel`` / ``result``;
* ``generate``: answers from a trained (or base) model, for evaluation.

Providers return ftkit types, never SDK objects, translate their SDK's exceptions into
:mod:`ftkit.errors` in one place, and import their heavy SDK lazily (``ftkit._imports.require``), so
listing or checking a provider never imports torch or an HTTP client.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ftkit.errors import MissingCredentialsError, UnsupportedSettingError
from ftkit.spec import NEUTRAL_SETTINGS, Adapter, JobSpec
from ftkit.types import Capability, EventPage, Generation, GenerationSettings, JobStatus

if TYPE_CHECKING:
    from ftkit.estimation.types import Estimate
    from ftkit.model import TrainedModel

__all__ = ["JobContext", "Provider", "ProviderOptions"]


class ProviderOptions(BaseModel):
    """Base class of a provider's ``options={...}`` schema. Unknown keys are errors, never ignored."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class JobContext:
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

    def remember(self, *, remote_id: str | None = None, **data: Any) -> None:
        """Persist the remote id and/or provider state now (before the next side effect)."""
        if remote_id is not None:
            self.remote_id = remote_id
        self.data.update(data)
        if self._save is not None:
            self._save(self.remote_id, dict(self.data))

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
    #: what the provider can do
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
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
    #: the pip extra that installs what it needs
    extra: ClassVar[str | None] = None
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

    def cancel(self, ctx: JobContext) -> JobStatus:
        from ftkit.errors import JobStateError

        raise JobStateError(f"{self.name} jobs cannot be cancelled through ftkit.")

    @abstractmethod
    def result(self, ctx: JobContext) -> TrainedModel:
        """The trained model of a succeeded job."""

    def resume(self, ctx: JobContext) -> JobStatus:
        from ftkit.errors import JobStateError

        raise JobStateError(f"{self.name} jobs cannot be resumed; start a new job.")

    # -- using models ------------------------------------------------------------------------------------

    def generate(
        self, model: TrainedModel, prompts: list[list[dict[str, Any]]], settings: GenerationSettings
    ) -> list[Generation]:
        """Answer each chat prompt (a list of messages) with ``model``, in order."""
        from ftkit.errors import JobStateError

        raise JobStateError(f"{self.name} cannot generate text.")

    def merge(self, model: TrainedModel, out_dir: Path) -> Path:
        from ftkit.errors import JobStateError

        raise JobStateError(f"{self.name} models cannot be merged locally; download them first.")


def describe_options(options: type[ProviderOptions]) -> Mapping[str, str]:
    """Option name -> description, for `ftkit providers` and the docs."""
    return {name: (f.description or "") for name, f in options.model_fields.items()}

