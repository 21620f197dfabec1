"""Deployments: what serves a fine-tune on a managed service that only answers through one.

On most managed services a fine-tune cannot be queried until a paid deployment exists (a dedicated
endpoint, an on-demand deployment), billed by the hour while it exists, idle or not. ftkit treats that as
a resource it must never lose track of:

* the deployment is recorded in the job store *before* the provider is asked to create it, and every
  remote id is written the moment it exists, so a crash never leaves a running endpoint unknown to ftkit
  (``ftkit deployments list`` finds it, ``ftkit deployments delete`` stops it);
* :class:`Deployment` is a context manager that deletes what it created on success, error and Ctrl-C;
* :func:`serving` is what evaluation uses: it deploys only when the provider's hosting needs it.

>>> model = job.wait()                                                   # doctest: +SKIP
>>> with model.deploy(min_replicas=1) as deployment:                     # doctest: +SKIP
...     deployment.wait_ready()
...     deployment.model.generate(["Route: my card was charged twice"])
>>> # deleted here, whatever happened inside the block

A provider that needs deployments declares ``Capability.DEPLOY`` and ``hosting = Hosting.DEPLOYMENT`` and
implements ``create_deployment`` / ``deployment_status`` / ``delete_deployment`` (see :mod:`ftkit.provider`).
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ftkit.errors import DeploymentFailedError, JobStateError, WaitTimeoutError
from ftkit.provider import RemembersState
from ftkit.types import Capability, utcnow

if TYPE_CHECKING:
    from ftkit.model import TrainedModel
    from ftkit.provider import Provider
    from ftkit.store import JobStore

__all__ = [
    "Deployment",
    "DeploymentContext",
    "DeploymentFailedError",
    "DeploymentState",
    "DeploymentStatus",
    "list_deployments",
    "serving",
]


class DeploymentState(str, enum.Enum):
    """ftkit's normalised deployment state; every provider's word maps onto one of these."""

    CREATING = "creating"
    READY = "ready"
    FAILED = "failed"
    DELETING = "deleting"
    DELETED = "deleted"

    @property
    def is_billed(self) -> bool:
        """Whether the provider may be charging for it (anything not known to be gone)."""
        return self is not DeploymentState.DELETED

    def __str__(self) -> str:
        return self.value


class DeploymentStatus(BaseModel):
    """What a provider reports about one deployment (the provider's own word kept in ``raw_state``)."""

    model_config = ConfigDict(extra="ignore")

    state: DeploymentState
    raw_state: str = ""
    remote_id: str | None = None
    serving_id: str | None = Field(default=None, description="the model name inference calls send")
    price_per_hour: float | None = None
    error: str | None = None
    replicas: int | None = None


@dataclass
class DeploymentContext(RemembersState):
    """What a provider gets to work on one deployment; ``remember()`` writes to the store at once."""

    deployment_id: str
    model: TrainedModel
    settings: dict[str, Any]
    remote_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    _save: Callable[[str | None, dict[str, Any]], None] | None = field(default=None, repr=False)


class Deployment(BaseModel):
    """A deployment ftkit created (or found in its store), with what it costs while it exists."""

    model_config = ConfigDict(extra="ignore")

    id: str
    provider: str
    model_id: str
    job_id: str | None = None
    remote_id: str | None = None
    state: DeploymentState = DeploymentState.CREATING
    serving_id: str | None = None
    price_per_hour: float | None = None
    created_by: str = "user"
    created_at: datetime = Field(default_factory=utcnow)
    deleted_at: datetime | None = None
    error: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    _provider: Provider | None = PrivateAttr(default=None)
    _store: JobStore | None = PrivateAttr(default=None)
    _model: TrainedModel | None = PrivateAttr(default=None)

    def __repr__(self) -> str:
        return f"<Deployment {self.id} {self.provider}:{self.model_id} {self.state.value}>"

    # -- creating and finding ------------------------------------------------------------------------------

    @classmethod
    def create(
        cls, model: TrainedModel, *, store: JobStore | None = None, created_by: str = "user", **settings: Any
    ) -> Deployment:
        """Deploy ``model`` on its provider; the record exists in the store before the provider is called."""
        from ftkit.provider import require_capability
        from ftkit.store import DeploymentRecord, JobStore, new_deployment_id

        provider = model.provider_instance()
        require_capability(provider, Capability.DEPLOY, verb="deploy models",
                           instead="its fine-tunes answer without a deployment: call model.generate() directly")
        problems = provider.deployment_problems(model, settings)
        if problems:
            from ftkit.errors import UnsupportedSettingError

            raise UnsupportedSettingError(model.provider, problems)
        store = store or JobStore()
        price = provider.deployment_price(model, settings)
        record = store.create_deployment(DeploymentRecord(
            id=new_deployment_id(), provider=model.provider, model_id=model.model_id, job_id=model.job_id,
            state=DeploymentState.CREATING.value, price_per_hour=price, settings=dict(settings),
            provider_data={}, created_by=created_by,
        ))
        deployment = cls._from_record(record, store=store, provider=provider, model=model)
        try:
            status = deployment._call(provider.create_deployment)
        except BaseException:
            # Ctrl-C or an error half-way through creating: remove what exists already; if even that fails,
            # the record stays (deleting) for `ftkit deployments delete`.
            with contextlib.suppress(Exception):
                deployment.delete()
            raise
        return deployment._save(status)

    @classmethod
    def attach(cls, deployment_id: str, *, store: JobStore | None = None, **provider_config: Any) -> Deployment:
        """A deployment from the store, by id or unique prefix (e.g. one a crashed process left running)."""
        from ftkit.store import JobStore

        store = store or JobStore()
        record = store.get_deployment(store.resolve_deployment_id(deployment_id))
        deployment = cls._from_record(record, store=store)
        if provider_config:
            from ftkit.registry import create_provider

            deployment._provider = create_provider(record.provider, **provider_config)
        return deployment

    @classmethod
    def _from_record(cls, record: Any, *, store: JobStore, provider: Provider | None = None,
                     model: TrainedModel | None = None) -> Deployment:
        deployment = cls(
            id=record.id, provider=record.provider, model_id=record.model_id, job_id=record.job_id,
            remote_id=record.remote_id, state=DeploymentState(record.state), serving_id=record.serving_id,
            price_per_hour=record.price_per_hour, created_by=record.created_by or "user",
            created_at=record.created_at, deleted_at=record.deleted_at, error=record.error,
            settings=dict(record.settings or {}),
        )
        deployment._store, deployment._provider, deployment._model = store, provider, model
        return deployment

    # -- using it ----------------------------------------------------------------------------------------------

    @property
    def model(self) -> TrainedModel:
        """The fine-tune as served by this deployment: ``generate()`` on it goes through the deployment."""
        from ftkit.model import TrainedModel

        base = self._model or TrainedModel(provider=self.provider, model_id=self.model_id, job_id=self.job_id)
        served = base.model_copy(update={"serving_id": self.serving_id or self.model_id})
        return served.bind(self._provider_instance())

    @property
    def hours(self) -> float:
        """Hours it has existed (until deletion, or until now)."""
        end = self.deleted_at or utcnow()
        return max(0.0, (end - self.created_at).total_seconds() / 3600.0)

    @property
    def cost_usd(self) -> float | None:
        """What it has cost so far at ``price_per_hour`` (None when the price is unknown)."""
        return None if self.price_per_hour is None else self.hours * self.price_per_hour

    def refresh(self) -> Deployment:
        """Ask the provider for the current state and record it."""
        if self.state is DeploymentState.DELETED:
            return self
        return self._save(self._call(self._provider_instance().deployment_status))

    def wait_ready(
        self,
        *,
        timeout: float | None = 3600.0,
        poll_interval: float = 10.0,
        on_progress: Callable[[Deployment], None] | None = None,
    ) -> Deployment:
        """Block until the deployment serves requests. A failed deployment is deleted and raises
        :class:`DeploymentFailedError`; a timeout raises ``WaitTimeoutError`` and leaves it running (delete it,
        or wait again)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        from ftkit._progress import report

        started = time.monotonic()
        while True:
            self.refresh()
            if on_progress is not None:
                on_progress(self)
            report(f"deployment {self.id}", round(time.monotonic() - started), None, unit="s",
                   finished=self.state is not DeploymentState.CREATING, state=self.state.value)
            if self.state is DeploymentState.READY:
                return self
            if self.state is DeploymentState.FAILED:
                reason = self.error or "the provider gave no reason"
                self.delete()
                raise DeploymentFailedError(
                    f"Deployment {self.id} of {self.model_id} failed on {self.provider}: {reason}. "
                    "It has been deleted; check the model and the deployment settings, then deploy again."
                )
            if self.state in (DeploymentState.DELETING, DeploymentState.DELETED):
                raise JobStateError(f"Deployment {self.id} is {self.state.value}; deploy the model again.")
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(self.id, timeout or 0.0)
            time.sleep(poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - time.monotonic())))

    def delete(self) -> Deployment:
        """Stop paying for it: the provider removes everything it created. Safe to call twice."""
        if self.state is DeploymentState.DELETED:
            return self
        self._store_update(state=DeploymentState.DELETING.value)
        self.state = DeploymentState.DELETING
        status = self._call(self._provider_instance().delete_deployment)
        self.deleted_at = utcnow() if status.state is DeploymentState.DELETED else None
        return self._save(status)

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        # Runs on success, on errors and on KeyboardInterrupt: a paid endpoint is never left behind.
        self.delete()

    # -- internals ---------------------------------------------------------------------------------------------

    def _provider_instance(self) -> Provider:
        if self._provider is None:
            from ftkit.registry import create_provider

            self._provider = create_provider(self.provider)
        return self._provider

    def _context(self) -> DeploymentContext:
        from ftkit.model import TrainedModel

        record = self._store.get_deployment(self.id) if self._store is not None else None
        model = self._model or TrainedModel(provider=self.provider, model_id=self.model_id, job_id=self.job_id)

        def save(remote_id: str | None, data: dict[str, Any]) -> None:
            self.remote_id = remote_id
            self._store_update(remote_id=remote_id, provider_data=data)

        return DeploymentContext(
            deployment_id=self.id, model=model, settings=dict(self.settings), remote_id=self.remote_id,
            data=dict(record.provider_data or {}) if record is not None else {}, _save=save,
        )

    def _call(self, method: Callable[[DeploymentContext], DeploymentStatus]) -> DeploymentStatus:
        from ftkit import _secrets

        provider = self._provider_instance()
        _secrets.register(provider.secrets())
        try:
            return method(self._context())
        except BaseException as e:
            _secrets.scrub_exception(e)  # in place: the traceback stays, the key does not
            raise

    def _save(self, status: DeploymentStatus) -> Deployment:
        self.state = status.state
        self.remote_id = status.remote_id or self.remote_id
        self.serving_id = status.serving_id or self.serving_id
        if status.price_per_hour is not None:
            self.price_per_hour = status.price_per_hour
        self.error = status.error
        if self.state is DeploymentState.DELETED and self.deleted_at is None:
            self.deleted_at = utcnow()
        self._store_update(state=self.state.value, remote_id=self.remote_id, serving_id=self.serving_id,
                           price_per_hour=self.price_per_hour, error=self.error, deleted_at=self.deleted_at)
        return self

    def _store_update(self, **fields: Any) -> None:
        if self._store is not None:
            self._store.update_deployment(self.id, **fields)


def list_deployments(*, store: JobStore | None = None, provider: str | None = None,
                     active_only: bool = False) -> list[Deployment]:
    """Every deployment ftkit knows of, newest first (``active_only``: those that may still be billed)."""
    from ftkit.store import JobStore

    store = store or JobStore()
    records = store.list_deployments(provider=provider, active_only=active_only)
    return [Deployment._from_record(r, store=store) for r in records]


@contextlib.contextmanager
def serving(
    model: TrainedModel,
    *,
    store: JobStore | None = None,
    created_by: str = "evaluation",
    settings: Mapping[str, Any] | None = None,
    on_progress: Callable[[Deployment], None] | None = None,
    deployments: list[Deployment] | None = None,
    needed: bool = True,
) -> Iterator[TrainedModel]:
    """``model`` ready to answer: deployed for the duration of the block when its provider's hosting needs
    a deployment (and the model is a fine-tune), as it is otherwise. What it deploys is deleted on exit,
    whatever happens; ``deployments`` (when given) collects them so a caller can report their cost.
    ``needed=False`` (every answer already cached, say) deploys nothing."""
    provider = model.provider_instance()
    if not needed or not provider.needs_deployment(model):
        yield model
        return
    deployment = Deployment.create(model, store=store, created_by=created_by, **dict(settings or {}))
    if deployments is not None:
        deployments.append(deployment)
    with deployment:
        deployment.wait_ready(on_progress=on_progress, poll_interval=getattr(provider, "poll_interval", 10.0))
        yield deployment.model
