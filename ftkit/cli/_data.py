"""``ftkit validate``, ``ftkit convert``, ``ftkit split`` and ``ftkit dedup``: datasets before they cost money.

    ftkit validate train.jsonl --provider openai --model gpt-4o-mini --validation val.jsonl
    ftkit convert alpaca.jsonl --to openai --out train.openai.jsonl
    ftkit split all.jsonl --train 0.8 --validation 0.1 --test 0.1 --seed 0 --stratify --out splits/
    ftkit dedup train.jsonl --out train.dedup.jsonl
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ftkit.cli._output import console, error_console, print_json
from ftkit.data._report_text import DEFAULT_PER_CODE

if TYPE_CHECKING:
    from ftkit.data.prepare import Removed
    from ftkit.data.report import ValidationReport

_JSON = typer.Option(False, "--json", help="Print only JSON to stdout.")
_FORCE = typer.Option(False, "--force", help="Replace output files that already exist.")
_THRESHOLD = typer.Option(0.9, "--threshold", min=0.0, max=1.0,
                          help="Near-duplicate threshold: Jaccard similarity of word 3-shingles.")


def _validate(
    file: Path = typer.Argument(..., help="JSONL file to check."),
    provider: str | None = typer.Option(None, "--provider", "-p", help="Also check this provider's rules."),
    model: str | None = typer.Option(None, "--model", "-m", help="Model: token limits and tokenizer."),
    method: str | None = typer.Option(None, "--method", help="sft or dpo: check the data fits the method."),
    max_seq_length: int | None = typer.Option(None, "--max-seq-length", min=1,
                                              help="Warn about examples longer than this many tokens."),
    validation: Path | None = typer.Option(None, "--validation", help="Validation file (checked, and for leakage)."),
    test: Path | None = typer.Option(None, "--test", help="Test file (checked, and for leakage)."),
    tokenizer: Path | None = typer.Option(None, "--tokenizer", help="Local tokenizer directory to count with."),
    max_issues: int | None = typer.Option(
        None, "--max-issues", min=0,
        help="List at most N issues per code (default 5); with --json, at most N in all (default every one)."),
    threshold: float = _THRESHOLD,
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes (default: every core)."),
    as_json: bool = _JSON,
) -> None:
    """Check a dataset for everything a provider would reject, and for quality problems, in one pass."""
    from ftkit.data import validate

    if method not in (None, "sft", "dpo"):
        error_console().print(f"[red]--method must be sft or dpo, not {method!r}[/]")
        raise typer.Exit(2)
    report = _with_progress(
        lambda progress: validate(
            file, provider=provider, model=model, method=method, max_seq_length=max_seq_length,
            validation=validation, test=test, max_issues=max_issues if as_json else None,
            near_duplicate_threshold=threshold,
            tokenizer=tokenizer, workers=workers, progress=progress,
        ),
        quiet=as_json,
    )
    if as_json:
        data = report.to_json_dict()
        data["issue_counts"] = report.issue_counts
        data["omitted_issues"] = report.omitted_issues
        data["clustered_lines"] = report.clustered_lines
        data["files"] = {k: v.model_dump(mode="json") for k, v in report.files.items()}
        print_json(data)
    else:
        _print_report(report, file, per_code=DEFAULT_PER_CODE if max_issues is None else max_issues)
    raise typer.Exit(0 if report.ok else 1)


def _with_progress(work, quiet: bool):  # type: ignore[no-untyped-def]
    """Run ``work(progress)`` with its progress (bytes read) on stderr, through the CLI's one progress renderer
    (shown on a terminal or with ``ftkit --progress``; ``quiet`` is kept for callers, stderr never mixes
    with ``--json`` stdout)."""
    from ftkit.cli._progress import adapt_counts, enabled, showing_progress

    if not enabled():
        return work(None)
    with showing_progress():
        return work(adapt_counts("validating", "bytes"))


def _print_report(report: ValidationReport, file: Path, *, per_code: int) -> None:
    """Statistics, a summary per code, then the first ``per_code`` entries of each code (styled on a terminal,
    plain text when piped)."""
    from rich.text import Text

    from ftkit._table import print_hanging, short_path
    from ftkit.data._report_text import render

    out = console()
    for style, text in render(report, short_path(file), per_code=per_code):
        if out.is_terminal:  # wrapped at the width under its own indent, never mid-word
            print_hanging(out, text, style)
        else:  # piped: one entry per line, for grep
            out.print(Text(text), soft_wrap=True)


def _convert(
    file: Path = typer.Argument(..., help="JSONL file to convert."),
    target: str = typer.Option(..., "--to", help="A provider name (its upload format) or a format: chat, trl, "
                               "messages, messages_or_completion."),
    out: Path = typer.Option(..., "--out", help="Where to write the converted JSONL."),
    method: str | None = typer.Option(None, "--method", help="sft or dpo: make sure the rows fit the method."),
    force: bool = _FORCE,
) -> None:
    """Convert a dataset to the format a provider accepts."""
    from ftkit.data import convert

    path = convert(file, target, out=out, method=method, overwrite=force)
    error_console().print(f"wrote {path}")


def _removed_json(removed: list[Removed]) -> list[dict[str, object]]:
    return [{"line": r.line, "duplicate_of": r.duplicate_of, "kind": r.kind, "similarity": r.similarity}
            for r in removed]


def _print_removed(removed: list[Removed]) -> None:
    exact = sum(r.kind == "duplicate" for r in removed)
    error_console().print(f"removed {exact} exact and {len(removed) - exact} near duplicate(s)")
    for r in removed[:20]:
        error_console().print(f"  line {r.line}: {r.kind} of line {r.duplicate_of}"
                              + (f" (similarity {r.similarity:.2f})" if r.kind == "near_duplicate" else ""))
    if len(removed) > 20:
        error_console().print(f"  ... and {len(removed) - 20} more")


def _split(
    file: Path = typer.Argument(..., help="JSONL file to split."),
    out: Path = typer.Option(Path("."), "--out", help="Directory for train/validation/test.jsonl."),
    train: float = typer.Option(0.8, "--train", min=0.0, max=1.0),
    validation: float = typer.Option(0.1, "--validation", min=0.0, max=1.0),
    test: float = typer.Option(0.1, "--test", min=0.0, max=1.0),
    seed: int = typer.Option(0, "--seed", help="Same seed, same split."),
    stratify: bool = typer.Option(False, "--stratify", help="Keep label shares equal across splits."),
    threshold: float = _THRESHOLD,
    force: bool = _FORCE,
    as_json: bool = _JSON,
) -> None:
    """Deduplicate, then split into train / validation / test files deterministically."""
    from ftkit.data import split

    result = split(file, out, train=train, validation=validation, test=test, seed=seed, stratify=stratify,
                   threshold=threshold, overwrite=force)
    if as_json:
        print_json({"paths": {k: str(v) for k, v in result.paths.items()}, "counts": result.counts,
                    "removed": _removed_json(result.removed)})
        return
    _print_removed(result.removed)
    for name, path in result.paths.items():
        console().print(f"{name}: {result.counts[name]:,} examples -> {path}")


def _dedup(
    file: Path = typer.Argument(..., help="JSONL file to deduplicate."),
    out: Path = typer.Option(..., "--out", help="Where to write the deduplicated JSONL."),
    threshold: float = _THRESHOLD,
    exact_only: bool = typer.Option(False, "--exact-only", help="Remove exact duplicates only."),
    force: bool = _FORCE,
    as_json: bool = _JSON,
) -> None:
    """Write the dataset without exact duplicates and near-duplicates, and say what was removed."""
    from ftkit.data import dedup

    result = dedup(file, out, threshold=None if exact_only else threshold, overwrite=force)
    if as_json:
        print_json({"path": str(result.path), "kept": result.kept, "removed": _removed_json(result.removed)})
        return
    _print_removed(result.removed)
    console().print(f"kept {result.kept:,} examples -> {result.path}")


def register(app: typer.Typer) -> None:
    app.command("validate")(_validate)
    app.command("convert")(_convert)
    app.command("split")(_split)
    app.command("dedup")(_dedup)
