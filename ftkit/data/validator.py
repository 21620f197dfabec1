"""``validate``: every problem a provider would reject, and the quality problems none checks, in one pass.

>>> from ftkit.testing import colour_examples          # 12 chat examples, as a list of dicts
>>> report = validate(colour_examples(12))
>>> report.ok, report.stats.examples
(True, 12)
>>> report = validate("train.jsonl", provider="openai", model="gpt-4o-mini")  # doctest: +SKIP
>>> for issue in report.issues:                                               # doctest: +SKIP
...     print(issue.format())

The file is streamed in blocks of lines through worker processes (``scan.py``); whole-dataset checks
(duplicates, leakage, labels, provider rules) run on the compact per-example results (``quality.py``,
``_clusters.py``: copies inside a file are one issue per cluster, with its lines in ``issue.cluster``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ftkit.data._chunk import ChunkSettings, caller_counter
from ftkit.data._clusters import duplicate_issues
from ftkit.data._rules import ProviderRules, rules_for
from ftkit.data.codes import CODES, RawIssue
from ftkit.data.conversion import convertible
from ftkit.data.formats import PREFERENCE_FORMATS, classification_system_prompt
from ftkit.data.quality import (
    format_issues,
    label_issues,
    majority_format,
    size_issues,
    system_prompt_issues,
)
from ftkit.data.report import Cluster, DatasetStats, Issue, ValidationReport
from ftkit.data.scan import FileScan, Scanner
from ftkit.data.source import as_path, materialize
from ftkit.data.special_tokens import special_tokens_for

__all__ = ["validate"]

Progress = Callable[[int, int], None]


def validate(
    source: Any,
    *,
    provider: str | None = None,
    model: str | None = None,
    method: str | None = None,
    max_seq_length: int | None = None,
    validation: Any = None,
    test: Any = None,
    max_issues: int | None = None,
    near_duplicate_threshold: float = 0.9,
    tokenizer: Any = None,
    count_tokens: bool = True,
    workers: int | None = None,
    progress: Progress | None = None,
    converted: bool = False,
) -> ValidationReport:
    """Check a dataset (and its validation / test splits) and return a report; never raises on bad data.

    ``provider`` and ``model`` add the provider's rules (minimum examples, size and token limits, accepted
    formats and methods) and count tokens with the model's tokenizer when it is available offline (an
    approximation, labelled as such, otherwise). ``method`` ("sft" or "dpo") checks the data fits it.
    ``tokenizer`` is a local tokenizer directory (tokenizer.json and chat template) to count with.
    ``max_issues`` caps the listed issues (``issue_counts`` still counts all). ``workers`` defaults to every
    core for files over a few MB; ``progress(bytes_done, bytes_total)`` is called as the files are read.
    ``converted=True`` says the data will be converted to the provider's format before upload (as
    ``FineTuneJob`` does), so any format that converts to it is accepted. A file with no examples (empty,
    or only blank lines) is an ``empty_file`` error.
    """
    with tempfile.TemporaryDirectory(prefix="ftkit-validate-") as tmp:
        named = {"train": source, "validation": validation, "test": test}
        paths: dict[str, Path] = {}
        missing: list[Issue] = []
        for role, src in named.items():
            if src is None:
                continue
            path = as_path(src)
            if path is not None and not path.is_file():
                what = "is a directory, not a JSONL file" if path.is_dir() else "does not exist"
                missing.append(_issue(RawIssue("file_missing", None, None, f"{role} file {path} {what}"),
                                      file=str(path)))
                continue
            paths[role] = path if path is not None else materialize(src, Path(tmp))
        run = _Run(provider, model, method, max_seq_length, tokenizer, count_tokens, near_duplicate_threshold)
        run.converted = converted
        report = run.check(paths, workers=workers, progress=progress, spill_dir=Path(tmp))
    report.issues[:0] = missing
    return _finish(report, max_issues)


class _Run:
    """One validation: settings, the scans, and the issues they lead to."""

    def __init__(self, provider: str | None, model: str | None, method: str | None, max_seq_length: int | None,
                 tokenizer: Any, count_tokens: bool, threshold: float):
        self.provider, self.model, self.method = provider, model, method
        self.max_seq_length = max_seq_length
        self.threshold = threshold
        self.rules: ProviderRules | None = rules_for(provider, model)
        tokenizer_dir = str(tokenizer) if isinstance(tokenizer, (str, Path)) else None
        self.settings = ChunkSettings(
            provider=provider, model=model, tokenizer_dir=tokenizer_dir, count_tokens=count_tokens,
            special_tokens=special_tokens_for(provider, model, tokenizer_dir), threshold=threshold,
        )
        self.counter = tokenizer if tokenizer is not None and tokenizer_dir is None else None
        self.converted = False

    def check(self, paths: dict[str, Path], *, workers: int | None, progress: Progress | None,
              spill_dir: Path | None = None) -> ValidationReport:
        if self.counter is None:
            return self._check(paths, self.settings, workers=workers, progress=progress, spill_dir=spill_dir)
        with caller_counter(self.settings, self.counter) as settings:  # the caller's object: this process only
            return self._check(paths, settings, workers=1, progress=progress, spill_dir=spill_dir)

    def _check(self, paths: dict[str, Path], settings: ChunkSettings, *, workers: int | None,
               progress: Progress | None, spill_dir: Path | None) -> ValidationReport:
        total = sum(p.stat().st_size for p in paths.values())
        done = 0
        scans: list[FileScan] = []
        with Scanner(settings, workers=workers, total_bytes=total, spill_dir=spill_dir) as scanner:
            for role, path in paths.items():
                base = done
                scans.append(scanner.scan(path, role, None if progress is None else
                                          (lambda n, b=base: progress(b + n, total))))
                done += scans[-1].size
            for scan in scans:
                if scan.labels and self.settings.count_tokens:
                    _add_system_prompt_tokens(scan, scanner)
        report = ValidationReport()
        duplicates = duplicate_issues(scans, self.threshold)
        for scan in scans:
            stats, issues = self._file(scan)
            issues += duplicates[scan.role]
            file = str(scan.path) if scan.role != "train" else None
            report.issues.extend(_issue(i, file=file) for i in sorted(issues, key=_order))
            if scan.role == "train":
                report.stats = stats
            else:
                report.files[scan.role] = stats
        return report

    def _file(self, scan: FileScan) -> tuple[DatasetStats, list[RawIssue]]:
        fmt = majority_format(scan)
        issues = list(scan.issues)
        # whatever else was found (a BOM, blank lines), nothing here trains; unless a block failed uncounted
        if scan.examples == 0 and not any(i.code == "internal_error" for i in issues):
            why = "it is empty" if scan.size == 0 else "it has only blank lines"
            issues.append(RawIssue("empty_file", None, None, f"{scan.path.name} holds no examples: {why}"))
        issues += format_issues(scan, fmt)
        issues += self._rule_issues(scan, fmt)
        issues += self._length_issues(scan)
        if scan.role == "train" and len(scan.lines):  # size advice only once some examples are usable
            issues += size_issues(scan.examples, fmt)
            issues += label_issues(scan)
        issues += system_prompt_issues(scan)
        return self._stats(scan, fmt), issues

    def _rule_issues(self, scan: FileScan, fmt: str | None) -> list[RawIssue]:
        issues = []
        method = self.method
        if method and fmt:
            preference = fmt in PREFERENCE_FORMATS
            if (method == "dpo" and not preference) or (method == "sft" and preference):
                issues.append(RawIssue("method_mismatch", None, None, f"the file is {fmt} data, which does not fit "
                                                                      f"method {method!r}"))
        rules = self.rules
        if rules is None:
            return issues
        where = f"{rules.provider}" + (f" ({self.model})" if self.model else "")
        if scan.role == "train" and 0 < scan.examples < rules.min_examples:
            issues.append(RawIssue("too_few_examples", None, None, f"{scan.examples} examples; {where} needs at "
                                                                   f"least {rules.min_examples}",
                                   count=scan.examples))
        if rules.max_file_bytes is not None and scan.size > rules.max_file_bytes:
            issues.append(RawIssue("file_too_large", None, None, f"{scan.size:,} bytes; {where} accepts at most "
                                                                 f"{rules.max_file_bytes:,}"))
        if (fmt and rules.formats is not None and fmt not in rules.formats
                and not (self.converted and convertible(fmt, rules.provider))):
            issues.append(RawIssue("format_not_accepted", None, None, f"{where} does not accept {fmt} data; it "
                                                                      f"accepts {', '.join(sorted(rules.formats))}"))
        if method and rules.methods is not None and method not in rules.methods:
            issues.append(RawIssue("method_not_supported", None, None, f"{where} does not support method "
                                                                       f"{method!r}"))
        cap = rules.max_tokens_per_example
        if cap and self.settings.count_tokens:
            for line, n in _over(scan, cap):
                issues.append(RawIssue("example_too_long", line, None, f"{n:,} tokens; {where} accepts at most "
                                                                       f"{cap:,} per example"))
        return issues

    def _length_issues(self, scan: FileScan) -> list[RawIssue]:
        if not self.max_seq_length or not self.settings.count_tokens:
            return []
        return [
            RawIssue("truncated", line, None, f"{n:,} tokens after the chat template; {n - self.max_seq_length:,} "
                                              f"would be cut at max_seq_length={self.max_seq_length}")
            for line, n in _over(scan, self.max_seq_length)
        ]

    def _stats(self, scan: FileScan, fmt: str | None) -> DatasetStats:
        stats = DatasetStats(examples=scan.examples, format=fmt, labels=dict(scan.labels.most_common()))
        if len(scan.messages):
            m = scan.messages.astype(np.float64)
            stats.messages_per_example = {"min": float(m.min()), "mean": round(float(m.mean()), 2),
                                          "max": float(m.max())}
        if self.settings.count_tokens and len(scan.tokens):
            t = scan.tokens.astype(np.float64)
            stats.tokens_per_example = {
                "min": float(t.min()), "mean": round(float(t.mean()), 1), "p50": float(np.percentile(t, 50)),
                "p95": float(np.percentile(t, 95)), "max": float(t.max()),
            }
            stats.total_tokens = int(scan.tokens.sum())
            stats.trained_tokens = int(scan.trained.sum())
            if scan.counter is not None:
                name, exact, error = scan.counter
                stats.tokens_exact = exact
                approximate = not exact and error is not None and "approximate" not in name
                stats.tokenizer = f"{name} (approximate, about ±{error:.0%})" if approximate else name
        return stats


def _add_system_prompt_tokens(scan: FileScan, scanner: Scanner) -> None:
    """Classification rows were counted without their system prompt (it lists every label of the file)."""
    body = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]
    system = {"role": "system", "content": classification_system_prompt(scan.labels)}
    (with_system, _), (without, _) = scanner.count([{"messages": [system, *body]}, {"messages": body}])
    scan.tokens[scan.is_classification] += with_system - without


def _over(scan: FileScan, limit: int) -> list[tuple[int, int]]:
    rows = np.flatnonzero(scan.tokens > limit)
    return [(int(scan.lines[r]), int(scan.tokens[r])) for r in rows]


def _order(issue: RawIssue) -> tuple[int, int, str]:
    return (0 if issue.line is None else 1, issue.line or 0, issue.code)


def _issue(raw: RawIssue, *, file: str | None = None) -> Issue:
    code = CODES[raw.code]
    cluster = Cluster(size=len(raw.members), representative=raw.members[0], members=list(raw.members)) \
        if raw.members else None
    return Issue(code=raw.code, severity=code.severity, message=raw.message, hint=code.hint, line=raw.line,
                 related_lines=list(raw.related_lines), path=raw.path, file=file, count=raw.count, cluster=cluster)


def _finish(report: ValidationReport, max_issues: int | None) -> ValidationReport:
    counts: dict[str, int] = {}
    clustered: dict[str, int] = {}
    for issue in report.issues:
        counts[issue.code] = counts.get(issue.code, 0) + 1
        if issue.cluster is not None:
            clustered[issue.code] = clustered.get(issue.code, 0) + issue.cluster.size
    report.issue_counts = dict(sorted(counts.items()))
    report.clustered_lines = dict(sorted(clustered.items()))
    report.ok = not any(i.severity == "error" for i in report.issues)
    if max_issues is not None and len(report.issues) > max_issues:
        report.omitted_issues = len(report.issues) - max_issues
        report.issues = report.issues[:max_issues]
    return report
