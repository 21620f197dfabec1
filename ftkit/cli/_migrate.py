"""``ftkit migrate``: leave a fine-tuning service that is closing, in one resumable command.

``ftkit migrate JOB --to PROVIDER[:MODEL] --test FILE --out DIR`` imports the job, keeps its data, records its
model's answers, plans, retrains, evaluates and writes the report; run it again after any interruption and it
resumes. The steps also exist alone: ``migrate inventory``, ``migrate record``, ``migrate plan``, ``migrate run``.
The source provider is ``--from`` (default: the installed service that is closing, from its catalog).

Every error is a message and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

import typer
from typer.core import TyperGroup

from ftkit._table import FitTable, print_facts, print_notes, short_path, show_model
from ftkit.cli._output import WIDE, console, error_console, print_error, print_json
from ftkit.errors import FtkitError

__all__ = ["register"]

_SUBCOMMANDS = ("inventory", "record", "plan", "run")


class _JobFirst(TyperGroup):
    """``ftkit migrate JOB ...`` runs every step; ``ftkit migrate <subcommand> ...`` one of them."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["all", *args]
        return super().resolve_command(ctx, args)


migrate_app = typer.Typer(
    cls=_JobFirst, no_args_is_help=True,
    help="Leave a closing fine-tuning service: `ftkit migrate JOB --to together:MODEL --test FILE --out DIR` "
         "imports, keeps the data, records, retrains, compares and reports (resumable); or one step: "
         "inventory | record | plan | run.")

FROM = typer.Option(None, "--from", help="Provider to migrate from (default: the installed service that is closing).")
TO = typer.Option([], "--to", help="Target PROVIDER[:MODEL], repeatable (no model: ftkit suggests one).")
TEST = typer.Option(None, "--test", help="Held-out JSONL to record and compare on (default: the job's validation "
                                          "file, else a split of its training file).")
TRAIN = typer.Option(None, "--train", help="Your copy of the training file (OpenAI never hands training files back; "
                                            "it must be the exact file you uploaded).")
VALIDATION = typer.Option(None, "--validation", help="Your copy of the validation file, if the job had one.")
OUT = typer.Option(..., "--out", help="Folder for the state, recording and report (new or this migration's).")
OPTION = typer.Option([], "--option", "-o", help="Target option KEY=VALUE (JSON values allowed), given to every "
                                                  "target that takes it (e.g. -o max_steps=100 for local).")
METRIC = typer.Option(["exact_match"], "--metric", help="Metric to compare on, repeatable (first one decides).")
CONCURRENCY = typer.Option(8, "--concurrency", min=1, help="Requests in flight while recording.")
RPM = typer.Option(None, "--requests-per-minute", min=1, help="Rate limit while recording.")
MAX_TOKENS = typer.Option(128, "--max-new-tokens", min=1, help="Longest answer recorded and generated.")
JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")
API_KEY = typer.Option(None, "--api-key", help="Source provider API key (default: its env variable).")
BASE_URL = typer.Option(None, "--base-url", help="Source provider base URL override.")


def _exit_one(command: Callable[..., None]) -> Callable[..., None]:
    """Every ftkit error of a migrate command: its message, and exit code 1 (never a traceback)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except FtkitError as e:
            print_error(e)
            raise typer.Exit(1) from None

    return wrapper


def _connection(api_key: str | None, base_url: str | None) -> dict[str, Any]:
    return {k: v for k, v in {"api_key": api_key, "base_url": base_url}.items() if v is not None}


def _settings(concurrency: int, rpm: int | None, max_new_tokens: int) -> Any:
    from ftkit.types import GenerationSettings

    return GenerationSettings(concurrency=concurrency, requests_per_minute=rpm, max_new_tokens=max_new_tokens)


@_exit_one
def inventory(
    provider: str | None = FROM,
    today: str | None = typer.Option(None, "--today", help="Count days left from this date (YYYY-MM-DD)."),
    wide: bool = WIDE,
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """Every fine-tuning job and fine-tuned model of the organisation (all pages), with days left to migrate."""
    from ftkit.migration import inventory as list_items

    items = list_items(provider, today=date.fromisoformat(today) if today else None, **_connection(api_key, base_url))
    if json_out:
        print_json([i.model_dump(mode="json") for i in items])
        return
    if not items:
        console().print("No fine-tuning jobs or fine-tuned models in this organisation.", markup=False)
        return
    table = FitTable()
    for header, priority, justify in [("id", 0, "left"), ("kind", 0, "left"), ("status", 0, "left"),
                                      ("days left", 0, "right"), ("base model", 1, "left"), ("epochs", 1, "right"),
                                      ("batch", 2, "right"), ("lr x", 2, "right"), ("beta", 3, "right"),
                                      ("tokens", 2, "right"), ("files", 1, "left"), ("created", 3, "left"),
                                      ("ftkit job", 3, "left")]:
        table.column(header, priority=priority, justify=justify)
    for i in items:
        files = ", ".join(f"{f.role} {'kept' if f.exists else 'DELETED' if f.exists is False else '?'}" for f in i.files)
        notes = []
        if i.fine_tuned_model and i.kind == "job":
            notes.append(f"{i.id}: model {i.fine_tuned_model}")
        if i.shutdown_date:
            notes.append(f"{show_model(i.id, 24)}: stops answering {i.shutdown_date} ({i.shutdown_source})")
        table.add_row(i.id, i.kind, i.status or "-", "-" if i.days_left is None else str(i.days_left),
                      show_model(i.base_model, 28), _num(i.epochs), _num(i.batch_size),
                      _num(i.learning_rate_multiplier), _num(i.beta),
                      f"{i.trained_tokens:,}" if i.trained_tokens is not None else "-", files or "-",
                      f"{i.created_at:%Y-%m-%d}" if i.created_at else "-", i.ftkit_job or "-", notes=notes)
    table.render(console(), wide=wide)


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:g}"


@_exit_one
def record(
    job: str = typer.Argument(..., help="The remote job id (e.g. ftjob-...)."),
    provider: str | None = FROM,
    test: str | None = TEST,
    train: str | None = TRAIN,
    validation: str | None = VALIDATION,
    concurrency: int = CONCURRENCY,
    rpm: int | None = RPM,
    max_new_tokens: int = MAX_TOKENS,
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """Record the fine-tuned model's answers on the held-out set while it still answers (resumable)."""
    from ftkit.cli._progress import showing_progress
    from ftkit.migration import record_source

    with showing_progress():
        recording = record_source(job, test=test, provider=provider, train=train, validation=validation,
                                  settings=_settings(concurrency, rpm, max_new_tokens),
                                  **_connection(api_key, base_url))
    if json_out:
        print_json(recording.model_dump(mode="json"))
        return
    print_facts(console(), [("model", recording.model), ("recorded", f"{recording.recorded} of {recording.n}"),
                            ("cost", f"${recording.cost_usd:,.4f}" if recording.cost_usd is not None else None),
                            ("recording", short_path(recording.path, 60)), ("note", recording.unavailable)])


@_exit_one
def plan(
    job: str = typer.Argument(..., help="The remote job id (e.g. ftjob-...)."),
    to: list[str] = TO,
    provider: str | None = FROM,
    test: str | None = TEST,
    train: str | None = TRAIN,
    validation: str | None = VALIDATION,
    option: list[str] = OPTION,
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """The job on each target with every translation stated (epochs it ran, clamped batch, learning rate...)."""
    from ftkit.cli._train import parse_options
    from ftkit.errors import ConfigError
    from ftkit.migration import plan_migration

    if not to:
        raise ConfigError("Name at least one target: --to together[:MODEL] (repeatable).")
    plans = plan_migration(job, to, provider=provider, options=parse_options(option), test=test, train=train,
                           validation=validation,
                           **_connection(api_key, base_url))
    if json_out:
        print_json([p.model_dump(mode="json") for p in plans])
        return
    _print_plans(plans)


def _print_plans(plans: list[Any]) -> None:
    out = console()
    for p in plans:
        out.print(f"{p.target}", style="bold", markup=False)
        table = FitTable()
        for header in ("setting", "source", "target"):
            table.column(header)
        for t in p.translations:  # the rule is a note: it is always shown, however narrow the terminal
            table.add_row(t.setting, _plain(t.source), _plain(t.target), notes=[f"{t.setting}: {t.rule}"])
        table.render(out)
        estimate = p.estimate or {}
        print_facts(out, [
            ("source cost to train", f"${p.source_cost_usd:,.4f}" if p.source_cost_usd is not None else None),
            ("estimated cost to train", f"${estimate['cost_usd']:,.4f}" if estimate.get("cost_usd") is not None else None),
            ("serving per 1M in/out", f"${p.serving_input_per_1m:,.2f} / ${p.serving_output_per_1m:,.2f}"
             if p.serving_input_per_1m is not None else None),
            ("estimate", p.estimate_error),
        ], indent=2)
        others = [s for s in p.suggestions if s.model != p.model]
        if others:
            print_notes(out, [f"alternative {s.model}: {s.reason}" for s in others])
        if p.problems:
            print_notes(out, [f"refused: {problem}" for problem in p.problems])
        out.print("")


def _plain(value: Any) -> str:
    return "-" if value is None else show_model(str(value), 48)


@_exit_one
def run(
    job: str = typer.Argument(..., help="The remote job id (e.g. ftjob-...)."),
    to: list[str] = TO,
    out_dir: str = OUT,
    provider: str | None = FROM,
    test: str | None = TEST,
    train: str | None = TRAIN,
    validation: str | None = VALIDATION,
    option: list[str] = OPTION,
    metric: list[str] = METRIC,
    concurrency: int = CONCURRENCY,
    rpm: int | None = RPM,
    max_new_tokens: int = MAX_TOKENS,
    json_out: bool = JSON,
    api_key: str | None = API_KEY,
    base_url: str | None = BASE_URL,
) -> None:
    """Import, keep the data, record, retrain on each target (exactly once), compare and write the report."""
    from ftkit.cli._progress import showing_progress
    from ftkit.cli._train import parse_options
    from ftkit.migration import migrate

    with showing_progress():
        report = migrate(job, targets=to, out=out_dir, provider=provider, test=test, train=train,
                         validation=validation,
                         metrics=metric, options=parse_options(option),
                         settings=_settings(concurrency, rpm, max_new_tokens), **_connection(api_key, base_url))
    if json_out:
        print_json(report.model_dump(mode="json"))
        return
    out = console()
    s = report.source
    print_facts(out, [("source", f"{s.provider} {s.remote_id} -> {s.fine_tuned_model}"),
                      ("recorded", f"{s.recorded} of {s.held_out} held-out prompts ({s.held_out_source})"),
                      *[(f"source {k}", str(v)) for k, v in s.metrics.items()]])
    table = FitTable()
    for header, priority in [("target", 0), ("verdict", 0), ("agreement", 1), ("cost to train", 2),
                             ("per 1,000 examples", 2)]:
        table.column(header, priority=priority)
    for t in report.targets:
        table.add_row(t.target, t.verdict, str(t.agreement) if t.agreement else "-",
                      f"${t.training_cost_usd:,.4f}" if t.training_cost_usd is not None else "-",
                      f"${t.cost_per_1k_examples_usd:,.4f}" if t.cost_per_1k_examples_usd is not None else "-")
    table.render(out)
    error_console().print(f"report: {short_path(out_dir, 60)}/report.html (and report.json)", markup=False)


def register(app: typer.Typer) -> None:
    for name, command in (("inventory", inventory), ("record", record), ("plan", plan), ("run", run)):
        migrate_app.command(name)(command)
    migrate_app.command("all", hidden=True)(run)
    app.add_typer(migrate_app, name="migrate")
