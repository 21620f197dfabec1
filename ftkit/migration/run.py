"""`migrate()`: import, keep the data, record, plan, retrain, evaluate and report, resumable after any interruption.

Progress is kept in ``<out>/migration-state.json`` (written atomically after each step), and every step is
idempotent on its own, so a rerun after a crash or a SIGKILL at any point finishes the work without repeating it:

* the import is looked up by the remote id (one ftkit job per remote job);
* kept files are checked against their sha256 and never downloaded twice;
* recorded answers live in the prediction cache (one window of requests at a time), so no prompt is sent to
  the source fine-tune again once its answer was stored;
* each retargeted job is found by its name (``migrated <remote id> -> <target>``) in the job store, which
  records a job before its first side effect: there is exactly one per target, and an interrupted start is
  finished, never repeated;
* evaluation reads every answer it already has from the cache.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ftkit._progress import report as progress
from ftkit.errors import ConfigError, FtkitError
from ftkit.migration._types import InventoryItem
from ftkit.migration.imports import import_remote, imported_facts
from ftkit.migration.keep import KeptData, keep_data
from ftkit.migration.parity import evaluate_targets
from ftkit.migration.record import HeldOut, Recording, choose_held_out, record
from ftkit.migration.report import MigrationReport
from ftkit.migration.retarget import RetargetPlan, retarget
from ftkit.provider import require_capability
from ftkit.registry import available_providers, create_provider, get_provider
from ftkit.store import JobStore
from ftkit.types import Capability, GenerationSettings

__all__ = ["STEPS", "MigrationState", "default_source", "inventory", "migrate", "plan_migration", "record_source"]

log = logging.getLogger("ftkit.migration")

STEPS = ("import", "keep", "record", "plan", "train", "evaluate", "report")
STATE_FILE = "migration-state.json"


class MigrationState(BaseModel):
    """What a migration has done so far (``<out>/migration-state.json``)."""

    model_config = ConfigDict(extra="ignore")

    provider: str
    remote_id: str
    job_id: str | None = None
    targets: list[str] = Field(default_factory=list)
    done: list[str] = Field(default_factory=list)
    step: str | None = Field(default=None, description="the step in progress")
    kept: KeptData | None = None
    held_out: HeldOut | None = None
    recording: Recording | None = None
    plans: list[RetargetPlan] = Field(default_factory=list)
    jobs: dict[str, str] = Field(default_factory=dict, description="target -> ftkit job id")

    def save(self, folder: Path) -> None:
        tmp = folder / (STATE_FILE + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        os.replace(tmp, folder / STATE_FILE)


def default_source() -> str:
    """The provider a migration leaves when none is named: the installed one that imports jobs and whose catalog
    says it stops taking new ones (``rules.job_creation_ends``)."""
    closing = []
    for name in available_providers():
        try:
            cls = get_provider(name)
        except ConfigError:
            continue
        if Capability.IMPORT not in cls.capabilities:
            continue
        try:
            ends = cls.catalog().rules.job_creation_ends
        except Exception:  # no catalog: not a closing service ftkit knows of
            ends = None
        if ends is not None:
            closing.append(name)
    if len(closing) != 1:
        found = ", ".join(closing) or "none"
        raise ConfigError(f"Name the provider to migrate from with --from (closing services that ftkit can import "
                          f"from: {found}).")
    return closing[0]


def inventory(provider: str | None = None, *, today: date | None = None, store: JobStore | None = None,
              **connection: Any) -> list[InventoryItem]:
    """Every fine-tuning job and fine-tuned model of the account, with days left and the ftkit job if imported."""
    name = provider or default_source()
    instance = create_provider(name, **{k: v for k, v in connection.items() if v is not None})
    require_capability(instance, Capability.INVENTORY, verb="list the account's jobs and models")
    items = instance.inventory()
    store = store or JobStore()
    today = today or date.today()
    try:
        catalog = type(instance).catalog()
    except Exception:  # no catalog: dates come from the service only
        catalog = None
    for item in items:
        if item.shutdown_date is None and catalog is not None and item.base_model:
            entry = catalog.find(item.base_model)
            if entry is not None and entry.retires is not None:
                item.shutdown_date, item.shutdown_source = entry.retires, f"ftkit's {name} catalog"
        if item.shutdown_date is not None:
            item.days_left = (item.shutdown_date - today).days
        if item.kind == "job":
            found = store.find_by_remote_id(name, item.id)
            item.ftkit_job = found.id if found else None
    return items


def _prepare_out(out: str | Path) -> Path:
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()) and not (folder / STATE_FILE).is_file():
        raise ConfigError(f"{folder} already holds files that are not a migration's; ftkit never writes into them. "
                          "Give an empty or new folder with --out.")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _load_state(folder: Path, provider: str, remote_id: str) -> MigrationState:
    path = folder / STATE_FILE
    if path.is_file():
        state = MigrationState.model_validate_json(path.read_text(encoding="utf-8"))
        if (state.provider, state.remote_id) != (provider, remote_id):
            raise ConfigError(f"{folder} holds the migration of {state.provider} {state.remote_id}, not {remote_id}; "
                              "give another --out folder.")
        return state
    return MigrationState(provider=provider, remote_id=remote_id)


def _imported(provider: str, remote_id: str, store: JobStore, connection: dict[str, Any], *,
              train: str | None, validation: str | None = None) -> tuple[Any, KeptData]:
    job = import_remote(provider, remote_id, store=store, **connection)
    record = job.record
    if not record.state.is_terminal:
        raise ConfigError(f"{provider} job {remote_id} is still {record.raw_status}: wait for it "
                          f"(`ftkit jobs wait {record.id}`), then run the migration again.")
    if record.state.value != "succeeded":
        raise ConfigError(f"{provider} job {remote_id} did not succeed (it is {record.raw_status}"
                          + (f": {record.error}" if record.error else "")
                          + "); only a succeeded job has a model to record and compare. Migrate another job "
                          "(`ftkit migrate inventory` lists them), or retrain its data with `ftkit train`.")
    return job, keep_data(job, train=train, validation=validation)


def plan_migration(remote_id: str, targets: Sequence[str], *, provider: str | None = None,
                   options: dict[str, Any] | None = None, test: str | None = None, train: str | None = None,
                   validation: str | None = None, store: JobStore | None = None,
                   target_connection: dict[str, dict[str, Any]] | None = None,
                   **connection: Any) -> list[RetargetPlan]:
    """The retargeted job for each target, with every translation stated (imports and keeps the data first)."""
    provider = provider or default_source()
    store = store or JobStore()
    job, kept = _imported(provider, remote_id, store, connection, train=train, validation=validation)
    held = choose_held_out(job, kept, test)
    return _plans(job, kept, held, targets, options, target_connection)


def _plans(job: Any, kept: KeptData, held: HeldOut, targets: Sequence[str], options: dict[str, Any] | None,
           target_connection: dict[str, dict[str, Any]] | None = None) -> list[RetargetPlan]:
    facts = imported_facts(job)
    assert facts is not None
    validation = kept.validation if held.source != "validation file" else None
    cost = (job.record.actual or {}).get("cost_usd")
    connections = target_connection or {}
    return [retarget(facts, t, train=held.train, validation=validation, options=_options_for(t, options),
                     source_cost_usd=cost, connection=connections.get(t.partition(":")[0].lower()))
            for t in targets]


def _options_for(target: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """``-o key=value`` applies to every target whose provider takes that option."""
    if not options:
        return {}
    cls = get_provider(target.partition(":")[0].lower())
    return {k: v for k, v in options.items() if k in cls.Options.model_fields}


def record_source(remote_id: str, *, test: str | None = None, provider: str | None = None, train: str | None = None,
                  validation: str | None = None, settings: GenerationSettings | None = None,
                  store: JobStore | None = None, out: str | Path | None = None, **connection: Any) -> Recording:
    """Record the source fine-tune's answers on the held-out set (import and keep the data first)."""
    provider = provider or default_source()
    store = store or JobStore()
    job, kept = _imported(provider, remote_id, store, connection, train=train, validation=validation)
    held = choose_held_out(job, kept, test)
    return record(job, held.test, settings=settings, out=out)


def migrate(
    remote_id: str,
    *,
    targets: Sequence[str],
    out: str | Path,
    provider: str | None = None,
    test: str | None = None,
    train: str | None = None,
    validation: str | None = None,
    metrics: Sequence[str] = ("exact_match",),
    options: dict[str, Any] | None = None,
    settings: GenerationSettings | None = None,
    store: JobStore | None = None,
    target_connection: dict[str, dict[str, Any]] | None = None,
    **connection: Any,
) -> MigrationReport:
    """Import ``remote_id``, keep its data, record its model, plan, retrain on each target, evaluate and report.

    Run it again after any interruption: it resumes where it stopped (see the module docstring).

    >>> report = migrate("ftjob-abc123", targets=["together:Qwen/Qwen3.8-27B"], test="test.jsonl",
    ...                  out="migration/")                                            # doctest: +SKIP
    >>> [t.verdict for t in report.targets]                                           # doctest: +SKIP
    ['switch: as good as (no significant difference from) the source fine-tune on exact_match (+0.000)...']
    """
    if not targets:
        raise ConfigError("Name at least one target: --to <provider>[:<model>] (e.g. --to together:Qwen/Qwen3-8B).")
    provider = provider or default_source()
    store = store or JobStore()
    folder = _prepare_out(out)
    state = _load_state(folder, provider, remote_id)
    settings = (state.recording.settings if state.recording else None) or settings or GenerationSettings()

    def step(name: str) -> None:
        state.step = name
        state.save(folder)
        progress("migration", STEPS.index(name), len(STEPS), unit="steps", state=name)

    def finished(name: str) -> None:
        if name not in state.done:
            state.done.append(name)
        state.step = None
        state.save(folder)

    step("import")
    job = import_remote(provider, remote_id, store=store, **connection)
    state.job_id = job.id
    if not job.record.state.is_terminal:
        job.status()  # an import of a running job: its state now, before refusing it
    if job.record.state.value != "succeeded":
        _imported(provider, remote_id, store, connection, train=train)  # raises the clear message
    finished("import")

    step("keep")
    kept = keep_data(job, train=train, validation=validation)
    state.kept = kept
    held = choose_held_out(job, kept, test)
    state.held_out = held
    finished("keep")

    step("record")
    state.recording = record(job, held.test, settings=settings, out=folder)
    finished("record")

    step("plan")
    if not state.plans or list(targets) != state.targets:  # the same targets keep their plans (and job names)
        state.plans = _plans(job, kept, held, targets, options, target_connection)
        state.targets = list(targets)
    for plan in state.plans:
        if plan.problems:
            raise ConfigError(f"{plan.target} cannot take the translated job: " + "; ".join(plan.problems)
                              + ". Name another model with --to, or pass options with -o.")
    (folder / "plan.json").write_text(json.dumps([p.model_dump(mode="json") for p in state.plans], indent=2),
                                      encoding="utf-8")
    finished("plan")

    step("train")
    trained = {}
    for plan in state.plans:
        trained[plan.target] = _train_once(plan, state, folder, store, (target_connection or {}).get(plan.provider, {}))
    finished("train")

    step("evaluate")
    result = evaluate_targets(job, state, trained, metrics, settings)
    finished("evaluate")

    step("report")
    result.save(folder)
    finished("report")
    progress("migration", len(STEPS), len(STEPS), unit="steps", finished=True)
    return result


def _train_once(plan: RetargetPlan, state: MigrationState, folder: Path, store: JobStore,
                connection: dict[str, Any]) -> Any:
    """The one job of this target: found by name in the store (a crash never makes a second), else started."""
    from ftkit.job import FineTuneJob

    spec = plan.job_spec()
    existing = store.find_by_name(spec.name or "")
    if existing:
        job = FineTuneJob.attach(existing[0].id, store=store, **connection)
        if job.record.submitted_at is None and not job.record.state.is_terminal:
            job.start()  # an interrupted start: finish the same submission
    else:
        job = FineTuneJob(spec=spec, store=store, **connection)
        job.start()
    state.jobs[plan.target] = job.id
    state.save(folder)
    task = f"training {job.id} ({plan.target})"

    def on_event(event: Any) -> None:
        if event.step is not None:
            progress(task, event.step, event.total_steps, unit="steps", loss=event.metrics.get("loss"))

    try:
        model = job.wait(on_event=on_event)
    except FtkitError as e:
        log.warning("%s: %s", plan.target, e)
        return job
    return model
