"""Importing a job made outside ftkit: the store gets it with its remote id, and every verb works on it.

>>> job = FineTuneJob.import_remote("openai", "ftjob-abc123")        # doctest: +SKIP
>>> job.status().state, job.result().model_id                         # doctest: +SKIP
(<JobState.SUCCEEDED: 'succeeded'>, 'ft:gpt-4o-mini-2024-07-18:acme:router:AbC1')

Importing the same remote job again returns the same ftkit job (it is looked up by provider and remote id).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftkit import _secrets
from ftkit.migration._types import ImportedJob
from ftkit.provider import Provider, require_capability
from ftkit.registry import create_provider
from ftkit.store import JobRecord, JobStore, new_job_id
from ftkit.types import Capability, utcnow

if TYPE_CHECKING:
    from ftkit.job import FineTuneJob

__all__ = ["IMPORT_KEY", "import_remote", "imported_facts", "training_cost"]

#: ``provider_data`` key holding what the service said about an imported job (files, resolved settings)
IMPORT_KEY = "ftkit_import"


def import_remote(provider: str, remote_id: str, *, store: JobStore | str | Path | None = None,
                  **connection: Any) -> FineTuneJob:
    """Bring the remote job ``remote_id`` of ``provider`` into the store (once) and return it attached."""
    from ftkit.job import FineTuneJob

    instance = create_provider(provider, **{k: v for k, v in connection.items() if v is not None})
    _secrets.register(instance.secrets())
    require_capability(instance, Capability.IMPORT, verb="import jobs made outside ftkit",
                       instead="start the job through ftkit (FineTuneJob(...).start()) to follow it")
    store = store if isinstance(store, JobStore) else JobStore(store)  # after the guard: a refusal writes nothing
    existing = store.find_by_remote_id(instance.name, remote_id)
    if existing is None or IMPORT_KEY not in existing.provider_data:
        try:
            imported = instance.import_job(remote_id)
        except BaseException as e:
            _secrets.scrub_exception(e)
            raise
        if existing is None:
            existing = store.create_job(_record_of(instance, imported))
        else:  # a job ftkit started itself: keep its own spec, add what the service resolved
            facts = _record_of(instance, imported).provider_data[IMPORT_KEY]
            existing = store.update_job(existing.id, provider_data={**existing.provider_data, IMPORT_KEY: facts})
    return FineTuneJob.attach(existing.id, store=store, **connection)


def _record_of(provider: Provider, imported: ImportedJob) -> JobRecord:
    now = utcnow()
    status = imported.status
    cost = training_cost(type(provider), imported)
    actual = {k: v for k, v in {"trained_tokens": imported.trained_tokens, "cost_usd": cost}.items() if v is not None}
    facts = imported.model_dump(mode="json", exclude={"spec", "status", "provider_data"})
    return JobRecord(
        id=new_job_id(), provider=provider.name, name=imported.spec.name, state=status.state,
        raw_status=status.raw_status, remote_id=imported.remote_id, spec=imported.spec.to_dict(),
        provider_data={**imported.provider_data, IMPORT_KEY: facts}, error=status.error,
        trained_tokens=imported.trained_tokens, model_id=imported.fine_tuned_model, actual=actual or None,
        # it was submitted (by someone else) when the service created it: status() asks the service from now on
        submitted_at=imported.created_at or now, created_at=now, updated_at=now,
        finished_at=imported.finished_at if status.state.is_terminal else None,
    )


def training_cost(provider: type[Provider], imported: ImportedJob) -> float | None:
    """What the remote job cost: its billed tokens at the catalog's training price (None when unknown)."""
    if imported.trained_tokens is None:
        return None
    try:
        entry = provider.catalog().find(imported.spec.model)
    except Exception:  # no catalog: the cost is unknown, not an error
        return None
    price = entry.training_price(imported.spec.method.value, imported.spec.adapter.value) if entry else None
    if price is None or price.usd_per_1m_tokens is None:
        return None
    return round(imported.trained_tokens * price.usd_per_1m_tokens / 1e6, 6)


def imported_facts(job: FineTuneJob) -> ImportedJob | None:
    """What the service said about an imported job when it was imported (None for a job ftkit started)."""
    record = job.record
    facts = (record.provider_data or {}).get(IMPORT_KEY)
    if not facts:
        return None
    from ftkit.types import JobStatus

    status = JobStatus(job_id=record.id, provider=record.provider, state=record.state, raw_status=record.raw_status,
                       remote_id=record.remote_id)
    return ImportedJob.model_validate({**facts, "spec": record.spec, "status": status.model_dump()}, extra="ignore")
