"""``ftkit train``: run the job a YAML file (or flags) describes, the same as the Python call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ftkit.cli._output import console, print_json


def train(
    job_file: Path | None = typer.Argument(None, help="A job YAML file (see `JobSpec.to_yaml`).", exists=True, dir_okay=False),
    provider: str | None = typer.Option(None, "--provider", "-p", help="Run on this provider instead."),
    model: str | None = typer.Option(None, "--model", "-m", help="Base model (hub id, directory or managed name)."),
    train_file: Path | None = typer.Option(None, "--train", help="Training JSONL."),
    validation_file: Path | None = typer.Option(None, "--validation", help="Validation JSONL."),
    method: str | None = typer.Option(None, "--method", help="sft or dpo."),
    adapter: str | None = typer.Option(None, "--adapter", help="lora, qlora or full."),
    epochs: int | None = typer.Option(None, "--epochs", min=1),
    option: list[str] = typer.Option([], "--option", "-o", help="Provider option KEY=VALUE (JSON values allowed)."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Start and return; follow later with `ftkit jobs wait`."),
    api_key: str | None = typer.Option(None, "--api-key", help="Provider API key (default: its env variable)."),
    base_url: str | None = typer.Option(None, "--base-url", help="Provider base URL override."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of progress."),
) -> None:
    """Validate, start and follow a fine-tuning job. Ctrl-C stops following, not the job."""
    from ftkit.cli._jobs import follow_to_end
    from ftkit.errors import ConfigError
    from ftkit.job import FineTuneJob
    from ftkit.spec import JobSpec

    raw: dict[str, Any] = JobSpec.from_yaml(job_file).model_dump(exclude_unset=True) if job_file else {}
    overrides = {
        "provider": provider, "model": model, "method": method, "adapter": adapter, "epochs": epochs,
        "train": str(train_file) if train_file else None,
        "validation": str(validation_file) if validation_file else None,
    }
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if option:
        raw["options"] = {**raw.get("options", {}), **parse_options(option)}
    missing = [k for k in ("provider", "model", "train") if not raw.get(k)]
    if missing:
        raise ConfigError(f"Missing {', '.join(missing)}: give a job YAML file or --{' --'.join(missing)}.")
    job = FineTuneJob(spec=JobSpec.from_dict(raw), api_key=api_key, base_url=base_url)
    from ftkit._progress import report
    from ftkit.cli._progress import showing_progress

    with showing_progress():
        report("validating and starting", 0)
        status = job.start()
        report("validating and starting", 1, 1, finished=True)
    if not json_out:
        console().print(f"started [bold]{job.id}[/] on {status.provider} ({status.raw_status})")
    if detach:
        if json_out:
            print_json(status)
        else:
            console().print(f"follow it with: ftkit jobs wait {job.id}")
        return
    follow_to_end(job, json_out=json_out)


def parse_options(pairs: list[str]) -> dict[str, Any]:
    import json

    from ftkit.errors import ConfigError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option takes KEY=VALUE, got {pair!r}.")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def register(app: typer.Typer) -> None:
    app.command("train")(train)
