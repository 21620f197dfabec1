"""``ftkit jobs list|show|events|wait|cancel``: follow any job from the store, from any shell."""

from __future__ import annotations

import typer

from ftkit.cli._output import console, error_console, print_json, styled_state
from ftkit.errors import JobCancelledError, JobFailedError
from ftkit.types import JobEvent

jobs_app = typer.Typer(help="List, inspect, follow and cancel jobs (any provider, any process).", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
API_KEY = typer.Option(None, "--api-key", envvar=None, help="Provider API key (default: the provider's env variable).")
BASE_URL = typer.Option(None, "--base-url", help="Provider base URL override.")


def _attach(job_id: str, api_key: str | None, base_url: str | None):
    from ftkit.job import FineTuneJob

    return FineTuneJob.attach(job_id, api_key=api_key, base_url=base_url)


@jobs_app.command("list")
def list_jobs(
    provider: str | None = typer.Option(None, "--provider", "-p", help="Only this provider's jobs."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many, newest first."),
    json_out: bool = JSON,
) -> None:
    """Recent jobs from the local job store (no provider calls)."""
    from rich.table import Column, Table

    from ftkit.job import FineTuneJob

    statuses = FineTuneJob.list(provider=provider, limit=limit)
    if json_out:
        print_json([s.model_dump(mode="json") for s in statuses])
        return
    if not statuses:
        console().print("No jobs yet. Start one with `ftkit train job.yaml`.")
        return
    # ids are what users copy: never cut them
    table = Table(Column("job id", no_wrap=True), "provider", "state", "provider status", "step", "created",
                  Column("model", overflow="fold"))
    for s in statuses:
        step = f"{s.step}/{s.total_steps}" if s.step is not None and s.total_steps else ""
        created = f"{s.created_at:%Y-%m-%d %H:%M}" if s.created_at else ""
        table.add_row(s.job_id, s.provider, styled_state(s.state.value), s.raw_status, step, created, s.model_id or "")
    console().print(table)


@jobs_app.command("show")
def show(
    job_id: str = typer.Argument(..., help="Job id or a unique prefix."),
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """Current status of a job (asks the provider unless it already ended)."""
    job = _attach(job_id, api_key, base_url)
    status = job.status()
    record = job.record
    if json_out:
        print_json({"status": status.model_dump(mode="json"), "spec": record.spec, "estimate": record.estimate,
                    "actual": record.actual})
        return
    out = console()
    out.print(f"[bold]{status.job_id}[/]  {styled_state(status.state.value)}  ({status.provider}: {status.raw_status})")
    for label, value in [
        ("model", record.spec.get("model")),
        ("remote id", status.remote_id),
        ("progress", f"{status.step}/{status.total_steps}" if status.total_steps else None),
        ("trained model", status.model_id),
        ("trained tokens", status.trained_tokens),
        ("estimated cost", _money((record.estimate or {}).get("cost_usd"))),
        ("reported cost", _money(status.cost_usd)),
        ("error", status.error),
    ]:
        if value not in (None, ""):
            out.print(f"  {label:<15} {value}")


@jobs_app.command("events")
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


@jobs_app.command("wait")
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


@jobs_app.command("cancel")
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
        console().print(f"{status.job_id}: {styled_state(status.state.value)} ({status.raw_status})")


def follow_to_end(job, *, json_out: bool, timeout: float | None = None) -> None:
    """Wait for ``job`` showing a progress bar and its events; shared by ``train`` and ``jobs wait``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    err = error_console()
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=json_out or not err.is_terminal,
    )
    task = progress.add_task(job.id, total=None)

    def on_event(event: JobEvent) -> None:
        if event.total_steps:
            progress.update(task, total=event.total_steps, completed=event.step or 0)
        if not json_out:
            progress.console.print(str(event), highlight=False, markup=False)

    try:
        with progress:
            model = job.wait(timeout=timeout, on_event=on_event)
    except (JobFailedError, JobCancelledError) as e:
        if json_out:
            print_json({"status": e.status.model_dump(mode="json"), "model": None})
        else:
            err.print(f"[bold red]{e}[/]", highlight=False, markup=False)
        raise typer.Exit(1) from None
    if json_out:
        print_json({"status": job.status().model_dump(mode="json"), "model": model.model_dump(mode="json")})
    else:
        console().print(f"[green]succeeded[/]: {job.id} -> {model.model_id}")


def _print_event(event: JobEvent, json_out: bool) -> None:
    if json_out:
        print(event.model_dump_json(), flush=True)
    else:
        console().print(str(event), markup=False)


def _money(value: float | None) -> str | None:
    return None if value is None else f"${value:,.2f}"


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
