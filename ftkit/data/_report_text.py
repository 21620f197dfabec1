"""The readable ``ftkit validate`` report: statistics, a summary per issue code, then a few entries per code.

A file with 30,000 problems of three kinds reads as three summary lines and a handful of examples of each,
not 30,000 lines. Lines come as ``(style, text)`` pairs: the CLI styles them on a terminal and prints the
text alone otherwise, so piped output is plain text.

>>> for style, text in render(report, "train.jsonl", per_code=5):   # doctest: +SKIP
...     print(text)
"""

from __future__ import annotations

from collections.abc import Iterator

from ftkit.data.codes import CODES
from ftkit.data.report import DatasetStats, Issue, ValidationReport

__all__ = ["DEFAULT_PER_CODE", "render"]

#: Entries listed per code unless the user asks for more.
DEFAULT_PER_CODE = 5

Line = tuple[str, str]


def render(report: ValidationReport, file: str, *, per_code: int = DEFAULT_PER_CODE) -> list[Line]:
    """Every line of the report, in order: statistics, summary, entries per code, verdict."""
    lines: list[Line] = [("bold", str(file))]
    lines += _stats(report.stats)
    for role, other in report.files.items():
        lines.append(("", f"  {role:<20}{other.examples:,} examples" + (f" ({other.format})" if other.format else "")))
    by_code: dict[str, list[Issue]] = {}
    for issue in report.issues:
        by_code.setdefault(issue.code, []).append(issue)
    codes = sorted(report.issue_counts, key=lambda c: (_severity(c) != "error", -report.issue_counts[c], c))
    if codes:
        lines += _summary(report, codes)
    for code in codes:
        lines += _entries(code, by_code.get(code, []), report.issue_counts[code], per_code)
    errors = sum(n for c, n in report.issue_counts.items() if _severity(c) == "error")
    warnings = sum(report.issue_counts.values()) - errors
    verdict = "ok" if report.ok else "has errors"
    lines.append(("", ""))
    lines.append(("green" if report.ok else "red", f"{verdict}: {errors:,} error(s), {warnings:,} warning(s)"))
    return lines


def _stats(stats: DatasetStats) -> Iterator[Line]:
    yield "", f"  {'examples':<20}{stats.examples:,}" + (f" ({stats.format})" if stats.format else "")
    if stats.messages_per_example:
        m = stats.messages_per_example
        yield "", f"  {'messages / example':<20}min {m['min']:.0f}, mean {m['mean']}, max {m['max']:.0f}"
    if stats.tokens_per_example:
        t = stats.tokens_per_example
        yield "", (f"  {'tokens / example':<20}min {t['min']:.0f}, mean {t['mean']:.0f}, p50 {t['p50']:.0f}, "
                   f"p95 {t['p95']:.0f}, max {t['max']:.0f}")
        yield "", f"  {'tokens':<20}{stats.total_tokens:,} total, {stats.trained_tokens:,} trained"
        yield "", f"  {'tokenizer':<20}{stats.tokenizer or ''}"
    if stats.labels:
        shown = ", ".join(f"{k}: {v:,}" for k, v in list(stats.labels.items())[:12])
        more = f" and {len(stats.labels) - 12} more" if len(stats.labels) > 12 else ""
        yield "", f"  {'labels':<20}{shown}{more}"


def _summary(report: ValidationReport, codes: list[str]) -> Iterator[Line]:
    yield "", ""
    yield "bold", "Issues by code"
    width = max(len(c) for c in codes)
    for code in codes:
        n = report.issue_counts[code]
        severity = _severity(code)
        clustered = report.clustered_lines.get(code)
        what = f"{n:,} group(s), {clustered:,} lines" if clustered is not None else f"{n:,}"
        yield ("red" if severity == "error" else "yellow"), f"  {code:<{width}}  {severity:<7}  {what}"


def _entries(code: str, issues: list[Issue], total: int, per_code: int) -> Iterator[Line]:
    severity = _severity(code)
    shown = issues[:per_code]
    yield "", ""
    clusters = bool(shown) and shown[0].cluster is not None
    head = f"{code} ({severity}, {total:,}{' group(s)' if clusters else ''})"
    if total > len(shown):
        head += f": the first {len(shown)}" if shown else ": none listed"
    yield ("bold red" if severity == "error" else "bold yellow"), head
    hint = CODES[code].hint if code in CODES else None
    if hint:
        yield "dim", f"  hint: {hint}"
    for issue in shown:
        where = f"{issue.file}:" if issue.file else ""
        where += f"{issue.line}: " if issue.line is not None else ""
        field = f"{issue.path}: " if issue.path else ""
        named = issue.cluster is None and len(issue.related_lines) > 1  # one related line is in the message
        related = f" (lines {', '.join(map(str, issue.related_lines))})" if named else ""
        yield "", f"  {where}{field}{issue.message}{related}"
    if total > len(shown):
        yield "dim", f"  ... {total - len(shown):,} more (--max-issues N lists N per code)"


def _severity(code: str) -> str:
    return CODES[code].severity if code in CODES else "error"
