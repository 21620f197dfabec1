"""`FineTuneJob`: the one facade over every provider.

It does everything that is the same wherever a model is trained: checks the spec against the
provider before any side effect, validates and materialises the data, records the job in the store
before the first upload or launch, polls with backoff, follows events without ever yielding one
twice, guards states, and re-attaches from any process. Providers (:mod:`ftkit.provider`) only do
what differs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftkit import _secrets
from ftkit._polling import Backoff
from ftkit.errors import (
    ConfigError,
    DatasetError,
    FtkitError,
    JobCancelledError,
    JobFailedError,
    JobPausedError,
    JobStateError,
    WaitTimeoutError,
)
from ftkit.model import TrainedModel
from ftkit.provider import JobContext, Provider, require_capability
from ftkit.registry import create_provider
from ftkit.spec import Adapter, JobSpec, Method
from ftkit.store import JobRecord, JobStore, new_job_id, process_owner, status_of
from ftkit.types import Capability, JobEvent, JobState, JobStatus, utcnow

if TYPE_CHECKING:
    from ftkit.data.report import ValidationReport
    from ftkit.estimation.types import Estimate

__all__ = ["FineTuneJob"]

log = logging.getLogger("ftkit.job")


class FineTuneJob:
    """A fine-tuning job on any provider. Change ``provider=`` to run the same job elsewhere.

    >>> job = FineTuneJob(provider="local", model="Qwen/Qwen2.5-0.5B-Instruct", train="train.jsonl",
    ...                   method="sft", adapter="qlora", epochs=3)            # doctest: +SKIP
    >>> report = job.validate()            # never raises on bad data         # doctest: +SKIP
    >>> estimate = job.estimate()          # tokens, cost, memory, time       # doctest: +SKIP
    >>> job.start()                        # validates first                  # doctest: +SKIP
    >>> for event in job.events(follow=True): print(event)                   # doctest: +SKIP
    >>> model = job.wait()                 # TrainedModel                     # doctest: +SKIP
    >>> same = FineTuneJob.attach(job.id)  # from any process, after a crash  # doctest: +SKIP

    Connection settings (``api_key=``, ``base_url=``) are never stored; an attaching process passes
    them again or has them in the environment.
    """

    def __init__(
        self,
        provider: str | None = None,
        model: str | None = None,
        train: Any = None,
        validation: Any = None,
        *,
        method: Method | str = Method.SFT,
        adapter: Adapter | str = Adapter.LORA,
        epochs: int | None = None,
        learning_rate: float | None = None,
        batch_size: int | None = None,
        lora_r: int | None = None,
        lora_alpha: float | None = None,
        lora_dropout: float | None = None,
        max_seq_length: int | None = None,
        seed: int | None = None,
        suffix: str | None = None,
        name: str | None = None,
        options: dict[str, Any] | None = None,
        spec: JobSpec | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        store: JobStore | str | Path | None = None,
        **provider_config: Any,
    ):
        if spec is None:
            fields = {
                "provider": provider,
                "model": model,
                "train": train,
                "validation": validation,
                "method": method,
                "adapter": adapter,
                "epochs": epochs,
                "learning_rate": learning_rate,
                "batch_size": batch_size,
                "lora_r": lora_r,
                "lora_alpha": lora_alpha,
                "lora_dropout": lora_dropout,
                "max_seq_length": max_seq_length,
                "seed": seed,
                "suffix": suffix,
                "name": name,
                "options": options or {},
            }
            spec = JobSpec.from_dict({k: v for k, v in fields.items() if v is not None})
        self._init(spec, job_id=new_job_id(), api_key=api_key, base_url=base_url, store=store, **provider_config)
        # Refuse what the provider cannot honour now, before anything is uploaded or trained.
        type(self.provider).ensure_supported(spec)

    def _init(self, spec: JobSpec, *, job_id: str, store: Any, **connection: Any) -> None:
        self.spec = spec
        self.id = job_id
        self.store = store if isinstance(store, JobStore) else JobStore(store)
        config = {k: v for k, v in connection.items() if v is not None}
        self.provider: Provider = create_provider(spec.provider, **config)
        _secrets.register(self.provider.secrets())
        self._record: JobRecord | None = None

    # -- construction from elsewhere ------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path, **connection: Any) -> FineTuneJob:
        """The job described by a YAML file (``ftkit train job.yaml`` runs the same)."""
        return cls(spec=JobSpec.from_yaml(path), **connection)

    @classmethod
    def attach(
        cls,
        job_id: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        store: JobStore | str | Path | None = None,
        **provider_config: Any,
    ) -> FineTuneJob:
        """Re-attach to a job started by any process (also one that crashed), by id or unique prefix."""
        store = store if isinstance(store, JobStore) else JobStore(store)
        record = store.get_job(store.resolve_id(job_id))
        job = cls.__new__(cls)
        job._init(
            record.job_spec(),
            job_id=record.id,
            api_key=api_key,
            base_url=base_url,
            store=store,
            **provider_config,
        )
        job._record = record
        return job

    @classmethod
    def import_remote(
        cls,
        provider: str,
        remote_id: str,
        *,
        store: JobStore | str | Path | None = None,
        **connection: Any,
    ) -> FineTuneJob:
        """Bring a job created outside ftkit (the provider's console or SDK) into the store, attached.

        The spec is rebuilt from the service with the settings it resolved; afterwards ``status()``,
        ``events()``, ``wait()`` and ``result()`` work as for any job. Importing the same remote job again
        returns the same ftkit job. The provider must declare ``Capability.IMPORT``.

        >>> job = FineTuneJob.import_remote("openai", "ftjob-abc123")   # doctest: +SKIP
        >>> job.spec.epochs                                            # doctest: +SKIP
        3
        """
        from ftkit.migration.imports import import_remote

        return import_remote(provider, remote_id, store=store, **connection)

    @classmethod
    def list(cls, *, provider: str | None = None, limit: int = 50, store: JobStore | None = None) -> list[JobStatus]:
        """Recent jobs from the store, newest first (no provider calls)."""
        store = store or JobStore()
        return [status_of(r) for r in store.list_jobs(provider=provider, limit=limit)]

    def __repr__(self) -> str:
        state = self._record.state.value if self._record else "not started"
        return f"<FineTuneJob {self.id} provider={self.spec.provider} model={self.spec.model!r} {state}>"

    # -- before starting --------------------------------------------------------------------------------

    def validate(self, *, max_issues: int | None = None) -> ValidationReport:
        """Check the training (and validation) data against the format, the provider's rules and
        quality heuristics. Never raises on bad data: read ``report.ok`` and ``report.issues``."""
        from ftkit import data

        report = data.validate(
            self.spec.train,
            provider=self.spec.provider,
            model=self.spec.model,
            method=self.spec.method.value,
            max_seq_length=self.spec.max_seq_length,
            validation=self.spec.validation,
            max_issues=max_issues,
            converted=True,  # providers convert to their own format before upload
        )
        with self._provider_call():
            found = type(self.provider).check_data(self.spec)
        if found:  # the provider's own checks (its template, its tokenizer), merged into the same report
            report.issues.extend(found)
            report.ok = report.ok and not any(i.severity == "error" for i in found)
            for issue in found:
                report.issue_counts[issue.code] = report.issue_counts.get(issue.code, 0) + 1
        return report

    def estimate(self) -> Estimate:
        """Tokens, billed tokens, cost and (local) memory fit and time, offline, with assumptions."""
        with self._provider_call():
            return self.provider.estimate(self.spec)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> JobStatus:
        """Validate, record the job, then upload and create (or launch) it on the provider.

        Raises :class:`DatasetError` listing every problem when the data has errors. Calling it again
        after an interrupted start completes the same submission; it never creates a second job.
        """
        record = self._load_record(required=False)
        if record is not None and record.submitted_at is not None:
            raise JobStateError(
                f"Job {self.id} was already started ({record.state.value}); follow it with "
                "job.status(), job.events() or job.wait()."
            )
        if record is None:
            report = self.validate()
            if not report.ok:
                raise DatasetError(report)
            self._materialise_data()
            estimate = self._try_estimate()
            now = utcnow()
            self._record = self.store.create_job(
                JobRecord(
                    id=self.id,
                    provider=self.spec.provider,
                    name=self.spec.name,
                    state=JobState.PENDING,
                    raw_status="created",
                    spec=self.spec.to_dict(),
                    estimate=estimate.model_dump(mode="json") if estimate else None,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self._submit()

    def status(self) -> JobStatus:
        """The job's current status (asks the provider unless the job already ended)."""
        record = self._load_record()
        if record.submitted_at is None:
            if record.state.is_terminal:
                return status_of(record)
            return self._submit()  # an interrupted start: finish it (idempotent)
        if record.state.is_terminal:
            return status_of(record)
        with self._provider_call():
            status = self.provider.status(self._context(record))
        return self._save_status(status)

    def events(self, *, follow: bool = False, poll_interval: float | None = None) -> Iterator[JobEvent]:
        """The job's events from its start, oldest first, each exactly once.

        With ``follow=True`` it keeps polling (with backoff) until the job ends; on a paused job it
        raises :class:`JobPausedError` once the events so far are out (resume the job, then follow again).
        """
        seq = 0
        interval = Backoff.for_provider(self.provider, poll_interval)
        while True:
            self._sync_events()
            fresh, seq = self._stored_events_after(seq)
            yield from fresh
            if not follow:
                return
            status = self.status()
            if status.is_terminal:
                self._sync_events()
                yield from self._stored_events_after(seq)[0]
                return
            if status.state is JobState.PAUSED:
                raise JobPausedError(status)
            interval.sleep(progressed=bool(fresh))

    def wait(
        self,
        timeout: float | None = None,
        *,
        on_event: Callable[[JobEvent], None] | None = None,
        poll_interval: float | None = None,
    ) -> TrainedModel:
        """Block until the job ends; return its :class:`TrainedModel`.

        Raises :class:`JobFailedError` or :class:`JobCancelledError` when it did not succeed,
        :class:`JobPausedError` as soon as a poll finds the job paused (it would never end by itself:
        ``resume()`` it and wait again), and :class:`WaitTimeoutError` after ``timeout`` seconds (the job goes on). ``on_event`` is called
        with each new event as it arrives.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = Backoff.for_provider(self.provider, poll_interval)
        seq = self._last_event_seq() if on_event else 0
        while True:
            status = self.status()
            new = self._sync_events()
            if on_event:
                fresh, seq = self._stored_events_after(seq)
                for event in fresh:
                    on_event(event)
            if status.is_terminal:
                return self._finish(status)
            if status.state is JobState.PAUSED:
                raise JobPausedError(status)
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(self.id, timeout or 0)
            interval.sleep(progressed=new > 0, deadline=deadline)

    def cancel(self) -> JobStatus:
        """Ask the provider to stop the job. Local jobs keep their last checkpoint."""
        require_capability(self.provider, Capability.CANCEL, verb="cancel jobs")
        record = self._load_record()
        if record.state.is_terminal:
            raise JobStateError(f"Job {self.id} already ended ({record.state.value}); there is nothing to cancel.")
        if record.submitted_at is None and record.remote_id is None and not record.provider_data:
            status = JobStatus(job_id=self.id, provider=self.spec.provider, state=JobState.CANCELLED, raw_status="cancelled")
            return self._save_status(status)
        with self._provider_call():
            status = self.provider.cancel(self._context(record))
        return self._save_status(status)

    def pause(self) -> JobStatus:
        """Pause a running job at the provider (it keeps its progress; ``resume()`` continues it)."""
        require_capability(self.provider, Capability.PAUSE, verb="pause jobs")
        record = self._load_record()
        if record.state.is_terminal:
            raise JobStateError(f"Job {self.id} already ended ({record.state.value}); there is nothing to pause.")
        if record.submitted_at is None:
            raise JobStateError(f"Job {self.id} has not been created at {self.spec.provider} yet; nothing to pause.")
        with self._provider_call():
            status = self.provider.pause(self._context(record))
        return self._save_status(status)

    def resume(self) -> JobStatus:
        """Continue a paused job, or a stopped local job from its last good checkpoint (refused if data or
        settings changed)."""
        require_capability(self.provider, Capability.RESUME, verb="resume jobs", instead="start a new job")
        record = self._load_record()
        if record.state == JobState.SUCCEEDED:
            raise JobStateError(f"Job {self.id} already succeeded; there is nothing to resume.")
        with self._provider_call():
            status = self.provider.resume(self._context(record))
        self.store.update_job(self.id, finished_at=None, error=None)
        return self._save_status(status)

    def result(self) -> TrainedModel:
        """The trained model of a succeeded job."""
        record = self._load_record()
        if record.result is not None:
            # stored output: a field a newer ftkit added is ignored, never fatal
            return TrainedModel.model_validate(record.result, extra="ignore").bind(self.provider)
        if record.state != JobState.SUCCEEDED:
            raise JobStateError(
                f"Job {self.id} has no result: it is {record.state.value}. Use job.wait() to wait for it."
            )
        with self._provider_call():
            model = self.provider.result(self._context(record))
        model.job_id = model.job_id or self.id
        model.spec = model.spec or record.spec
        self._record = self.store.update_job(self.id, result=model.model_dump(mode="json"), model_id=model.model_id)
        return model.bind(self.provider)

    @property
    def record(self) -> JobRecord:
        """The job's row in the store: spec, estimate, what the provider reported (``actual``)."""
        return self._load_record()

    # -- internals ---------------------------------------------------------------------------------------

    def _submit(self) -> JobStatus:
        owner = process_owner()
        if not self.store.claim_submission(self.id, owner):
            record = self._load_record()
            if record.submitted_at is not None:
                return self.status()
            raise JobStateError(
                f"Another process ({record.submit_owner}) is submitting job {self.id} right now; "
                "wait a moment and call status() again."
            )
        record = self._load_record()
        with self._provider_call():
            status = self.provider.submit(self._context(record))
        self.store.update_job(self.id, submitted_at=utcnow(), submit_owner=None)
        return self._save_status(status)

    def _context(self, record: JobRecord) -> JobContext:
        def save(remote_id: str | None, data: dict[str, Any]) -> None:
            self._record = self.store.update_job(self.id, remote_id=remote_id, provider_data=data)

        def add_log(message: str, level: str) -> None:
            event = JobEvent(
                id=f"ftkit-{time.time_ns()}",
                time=utcnow(),
                level=level if level in ("debug", "info", "warning", "error") else "info",
                message=_secrets.scrub(message),
                type="ftkit",
            )
            self.store.add_events(self.id, [event])

        workdir = self.store.path.parent / "jobs" / self.id
        workdir.mkdir(parents=True, exist_ok=True)
        return JobContext(
            job_id=self.id,
            spec=record.job_spec(),
            workdir=workdir,
            remote_id=record.remote_id,
            data=dict(record.provider_data),
            _save=save,
            _uploads=self.store,
            _log=add_log,
        )

    def _save_status(self, status: JobStatus) -> JobStatus:
        status = status.model_copy(update={"job_id": self.id, "provider": self.spec.provider})
        fields: dict[str, Any] = {
            "state": status.state,
            "raw_status": status.raw_status,
            "step": status.step,
            "total_steps": status.total_steps,
            "error": status.error,
        }
        if status.remote_id:
            fields["remote_id"] = status.remote_id
        if status.model_id:
            fields["model_id"] = status.model_id
        if status.trained_tokens is not None:
            fields["trained_tokens"] = status.trained_tokens
        if status.state.is_terminal:
            fields["finished_at"] = status.finished_at or utcnow()
            fields["actual"] = {
                k: v
                for k, v in {"trained_tokens": status.trained_tokens, "cost_usd": status.cost_usd}.items()
                if v is not None
            } or None
        self._record = self.store.update_job(self.id, **fields)
        return status_of(self._record)

    def _sync_events(self) -> int:
        """Fetch every new page of provider events into the store; return how many were new."""
        record = self._load_record()
        if record.submitted_at is None:
            return 0
        ctx = self._context(record)
        cursor, added = record.event_cursor, 0
        for _ in range(1000):  # a hard stop in case a provider's cursor never advances
            with self._provider_call():
                page = self.provider.events(ctx, after=cursor)
            added += len(self.store.add_events(self.id, page.events, cursor=page.cursor or cursor))
            if not page.has_more or page.cursor in (None, cursor):
                break
            cursor = page.cursor
        return added

    def _stored_events_after(self, seq: int) -> tuple[list[JobEvent], int]:
        """Stored events after position ``seq``, and the position after them."""
        rows = self.store.events_after(self.id, seq)
        return [event for _, event in rows], (rows[-1][0] if rows else seq)

    def _last_event_seq(self) -> int:
        rows = self.store.events_after(self.id, 0)
        return rows[-1][0] if rows else 0

    def _finish(self, status: JobStatus) -> TrainedModel:
        if status.state == JobState.SUCCEEDED:
            return self.result()
        if status.state == JobState.CANCELLED:
            raise JobCancelledError(status)
        raise JobFailedError(status)

    def _load_record(self, *, required: bool = True) -> Any:
        try:
            self._record = self.store.get_job(self.id)
        except FtkitError:
            if required:
                raise JobStateError(f"Job {self.id} has not been started; call job.start() first.") from None
            return None
        return self._record

    def _materialise_data(self) -> None:
        """Write in-memory datasets to content-addressed JSONL files, so the store can hold the spec
        and any process (or a resumed run) reads exactly the same data."""
        from ftkit.data import materialize

        data_dir = self.store.path.parent / "data"
        updates = {}
        for key in ("train", "validation"):
            source = getattr(self.spec, key)
            if source is not None:
                updates[key] = str(materialize(source, data_dir))
        self.spec = self.spec.model_copy(update=updates)

    def _try_estimate(self) -> Estimate | None:
        # The estimate is stored next to what the provider reports, so users can check it against
        # reality. A failing estimate must not block training, except a refusal (e.g. a retired model).
        try:
            return self.estimate()
        except ConfigError:
            raise
        except Exception as e:
            log.warning("no estimate for job %s: %s", self.id, e)
            return None

    @contextmanager
    def _provider_call(self) -> Iterator[None]:
        """Scrub secrets from anything a provider raises."""
        try:
            yield
        except BaseException as e:
            _secrets.scrub_exception(e)
            raise
