"""``ftkit jobs list|show|events|wait|cancel|resume``: follow any job from the store, from any shell.

Ids are shown by their shortest unique prefix (as git shows commits); every command takes such a prefix.
"""

from __future__ import annotations

import typer

from ftkit._table import FitTable, print_facts, short_ids, show_model
from ftkit.cli._output import WIDE, console, error_console, print_error, print_json, styled_state
from ftkit.errors import JobCancelledError, JobFailedError
from ftkit.types import JobEvent

jobs_app = typer.Typer(help="List, inspect, follow and cancel jobs (any provider, any process).", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
API_KEY = typer.Option(None, "--api-key", envvar=None, help="Provider API key (default: the provider's env variable).")
BASE_URL = typer.Option(None, "--base-url", help="Provider base URL override.")


def _attach(job_id: str, api_key: str | None, base_url: str | None):
    from ftkit.job import FineTuneJob

    return FineTuneJob.attach(job_id, api_key=api_key, base_url=base_url)


def list_jobs(
    provider: str | None = typer.Option(None, "--provider", "-p", help="Only this provider's jobs."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many, newest first."),
    wide: bool = WIDE,
    json_out: bool = JSON,
) -> None:
    """Recent jobs from the local job store (no provider calls)."""
    from ftkit.job import FineTuneJob
    from ftkit.store import JobStore

    statuses = FineTuneJob.list(provider=provider, limit=limit)
    if json_out:
        print_json([s.model_dump(mode="json") for s in statuses])
        return
    if not statuses:
        console().print("No jobs yet. Start one with `ftkit train job.yaml`.", markup=False)
        return
    ids = short_ids([s.job_id for s in statuses], [r.id for r in JobStore().list_jobs(limit=1_000_000)])
    table = FitTable()
    for header, priority, justify in [("id", 0, "left"), ("provider", 0, "left"), ("state", 0, "left"),
                                      ("model", 1, "left"), ("step", 2, "right"), ("created", 3, "left"),
                                      ("provider status", 4, "left")]:
        table.column(header, priority=priority, justify=justify)
    for s in statuses:
        step = f"{s.step}/{s.total_steps}" if s.step is not None and s.total_steps else "-"
        created = f"{s.created_at:%Y-%m-%d %H:%M}" if s.created_at else "-"
        table.add_row(ids[s.job_id], s.provider, styled_state(s.state.value), show_model(s.model_id, 32), step,
                      created, s.raw_status or "-", notes=[f"{ids[s.job_id]}: {s.error}"] if s.error else ())
    table.render(console(), wide=wide)


def show(
    job_id: str = typer.Argument(..., help="Job id or a unique prefix."),
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """Current status of a job (asks the provider unless it already ended)."""
    from rich.text import Text

    job = _attach(job_id, api_key, base_url)
    status = job.status()
    record = job.record
    if json_out:
        print_json({"status": status.model_dump(mode="json"), "spec": record.spec, "estimate": record.estimate,
                    "actual": record.actual})
        return
    out = console()
    out.print(Text.assemble((status.job_id, "bold"), "  ", styled_state(status.state.value),
                            f"  ({status.provider}: {status.raw_status})"), soft_wrap=False)
    print_facts(out, [
        ("model", show_model(record.spec.get("model"))),
        ("remote id", status.remote_id),
        ("progress", f"{status.step}/{status.total_steps}" if status.total_steps else None),
        ("trained model", show_model(status.model_id) if status.model_id else None),
        ("trained tokens", f"{status.trained_tokens:,}" if status.trained_tokens is not None else None),
        ("estimated cost", _money((record.estimate or {}).get("cost_usd"))),
        ("reported cost", _money(status.cost_usd)),
        ("model shuts down", status.shutdown_notice()),
        ("error", status.error),
    ], indent=2)


def events(
    job_id: str = typer.Argument(..., help="Job id or a unique prefix."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the job ends."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per line."),
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """The job's log, oldest first; each event once."""
    job = _attach(job_id, api_key, base_url)
    for event in job.events(follow=follow):
        _print_event(event, json_out)


def wait(
    job_id: str = typer.Argument(..., help="Job id or a unique prefix."),
    timeout: float | None = typer.Option(None, "--timeout", help="Give up waiting after this many seconds."),
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """Follow a job to its end with progress; exit 1 if it failed or was cancelled."""
    job = _attach(job_id, api_key, base_url)
    follow_to_end(job, json_out=json_out, timeout=timeout)


def cancel(
    job_id: str = typer.Argument(..., help="Job id or a unique prefix."),
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """Ask the provider to stop a job (local jobs keep their last checkpoint)."""
    status = _attach(job_id, api_key, base_url).cancel()
    if json_out:
        print_json(status)
    else:
        _print_state(status)


def pause(
    job_id: str = typer.Argument(..., help="Job id or a unique prefix."),
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """Pause a running job where the provider allows it; `ftkit jobs resume` continues it."""
    status = _attach(job_id, api_key, base_url).pause()
    if json_out:
        print_json(status)
    else:
        _print_state(status)


def resume(
    job_id: str = typer.Argument(..., help="Job id or a unique prefix."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Resume and return; follow with `ftkit jobs wait`."),
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """Continue a stopped or paused job (local jobs from their last checkpoint), then follow it."""
    job = _attach(job_id, api_key, base_url)
    status = job.resume()
    if detach:
        if json_out:
            print_json(status)
        else:
            _print_state(status)
        return
    follow_to_end(job, json_out=json_out)


def import_job(
    provider: str = typer.Argument(..., help="The provider the job was made on (e.g. openai)."),
    remote_id: str = typer.Argument(..., help="The provider's job id (e.g. ftjob-...)."),
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """Bring a job made outside ftkit into the store (once); then show, events, wait work on it."""
    from ftkit.job import FineTuneJob

    connection = {k: v for k, v in {"api_key": api_key, "base_url": base_url}.items() if v is not None}
    job = FineTuneJob.import_remote(provider, remote_id, **connection)
    status = job.status()
    if json_out:
        print_json({"status": status.model_dump(mode="json"), "spec": job.record.spec})
        return
    _print_state(status)
    spec = job.spec
    print_facts(console(), [("model", show_model(spec.model)), ("trained model", show_model(status.model_id)),
                            ("epochs", spec.epochs), ("batch size", spec.batch_size),
                            ("options", ", ".join(f"{k}={v}" for k, v in spec.options.items()) or None)], indent=2)


def _print_state(status) -> None:  # type: ignore[no-untyped-def]
    from rich.text import Text

    console().print(Text.assemble(f"{status.job_id}: ", styled_state(status.state.value), f" ({status.raw_status})"))


def follow_to_end(job, *, json_out: bool, timeout: float | None = None) -> None:
    """Wait for ``job`` with its progress (steps, loss, tokens/s, time left) and events on stderr; shared by
    ``train``, ``jobs wait`` and ``jobs resume``."""
    from ftkit._progress import report
    from ftkit.cli._progress import showing_progress

    err = error_console()
    task = f"training {job.id}"
    last: dict[str, float] = {}

    def on_event(event: JobEvent) -> None:
        last.update({k: v for k, v in event.metrics.items() if k in ("loss", "train_loss", "tokens_per_s")})
        if event.step is not None:
            report(task, event.step, event.total_steps, unit="steps", loss=last.get("loss", last.get("train_loss")),
                   tokens_per_s=event.metrics.get("train_tokens_per_second") or last.get("tokens_per_s"))
        if not json_out:
            err.print(str(event), highlight=False, markup=False, soft_wrap=True)

    try:
        with showing_progress():
            model = job.wait(timeout=timeout, on_event=on_event)
    except (JobFailedError, JobCancelledError) as e:
        if json_out:
            print_json({"status": e.status.model_dump(mode="json"), "model": None})
        else:
            print_error(e)
        raise typer.Exit(1) from None
    if json_out:
        print_json({"status": job.status().model_dump(mode="json"), "model": model.model_dump(mode="json")})
    else:
        from rich.text import Text

        console().print(Text.assemble(("succeeded", "green"), f": {job.id} -> {show_model(model.model_id)}"))


def _print_event(event: JobEvent, json_out: bool) -> None:
    if json_out:
        print(event.model_dump_json(), flush=True)
    else:
        console().print(str(event), markup=False)


def _money(value: float | None) -> str | None:
    return None if value is None else f"${value:,.2f}"


def register(app: typer.Typer) -> None:
    for name, command in (("list", list_jobs), ("show", show), ("events", events), ("wait", wait),
                          ("cancel", cancel), ("pause", pause), ("resume", resume), ("import", import_job)):
        jobs_app.command(name)(command)
    app.add_typer(jobs_app, name="jobs")
