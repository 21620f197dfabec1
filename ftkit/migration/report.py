"""The migration report: per target, quality against the references and against the source fine-tune's recorded
answers, what it costs to train and to serve, and a verdict. Written as JSON and as self-contained HTML.

Agreement is the share of held-out prompts where the replacement's answer equals the recorded answer of the
source fine-tune (whitespace and case ignored), with a percentile bootstrap interval; flips are the prompts the
replacement gets right where the source was wrong (fixed) and the other way round (broken), on the first metric.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ftkit.evaluation.stats import Difference, Flips, Interval
from ftkit.migration.retarget import Translation
from ftkit.types import utcnow

__all__ = ["MigrationReport", "SourceSummary", "TargetResult", "agreement", "verdict"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSummary(_Model):
    """The job being left, as imported."""

    provider: str
    remote_id: str
    job_id: str
    base_model: str
    fine_tuned_model: str | None
    epochs: int | None = None
    trained_tokens: int | None = None
    training_cost_usd: float | None = None
    serving_input_per_1m: float | None = None
    serving_output_per_1m: float | None = None
    cost_per_1k_examples_usd: float | None = None
    metrics: dict[str, Interval] = Field(default_factory=dict, description="recorded answers vs the references")
    recorded: int = 0
    held_out: int = 0
    held_out_source: str = ""
    recording_note: str | None = None


class TargetResult(_Model):
    """One replacement: its job, its translations, its quality and costs, and the verdict."""

    target: str
    job_id: str | None = None
    model_id: str | None = None
    state: str | None = None
    translations: list[Translation] = Field(default_factory=list)
    metrics: dict[str, Interval] = Field(default_factory=dict, description="against the references")
    vs_source: dict[str, Difference] = Field(default_factory=dict, description="paired, minus the source's score")
    agreement: Interval | None = Field(default=None, description="share of answers equal to the source's")
    flips: Flips | None = None
    training_cost_usd: float | None = None
    training_cost_source: str | None = None
    serving_input_per_1m: float | None = None
    serving_output_per_1m: float | None = None
    cost_per_1k_examples_usd: float | None = None
    deployment_price_per_hour: float | None = Field(default=None, description="where it is served by deployment")
    hosting: str | None = None
    verdict: str = ""
    notes: list[str] = Field(default_factory=list)


class MigrationReport(_Model):
    created_at: datetime = Field(default_factory=utcnow)
    source: SourceSummary
    targets: list[TargetResult]
    metrics: list[str]
    test: str
    notes: list[str] = Field(default_factory=list)

    def save(self, folder: str | Path) -> tuple[Path, Path]:
        """Write ``report.json`` and ``report.html`` into ``folder``; returns both paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        json_path, html_path = folder / "report.json", folder / "report.html"
        _atomic(json_path, self.model_dump_json(indent=2))
        _atomic(html_path, render_html(self))
        return json_path, html_path


def _atomic(path: Path, text: str) -> None:
    import os

    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _normalise(text: str | None) -> str:
    return " ".join((text or "").split()).lower()


def agreement(answers: list[str | None], recorded: list[str | None], *, resamples: int = 1000,
              confidence: float = 0.95, seed: int = 0) -> Interval | None:
    """Share of prompts (with a recorded answer) where both answers match, with a bootstrap interval.

    >>> agreement(["a", "b", "c", "d"], ["a", "b", "x", None]).value
    0.6666666666666666
    """
    pairs = [(_normalise(a), _normalise(r)) for a, r in zip(answers, recorded, strict=True) if r is not None]
    if not pairs:
        return None
    same = np.array([a == r for a, r in pairs], dtype=float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(same), size=(resamples, len(same)))
    means = same[draws].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return Interval(value=float(same.mean()), low=float(np.percentile(means, tail)),
                    high=float(np.percentile(means, 100 - tail)), confidence=confidence, n=len(same))


def verdict(result: TargetResult, source: SourceSummary, metric: str | None) -> str:
    """One line a decision can rest on: quality against the source first, then what serving costs."""
    if result.state not in (None, "succeeded"):
        return f"not evaluated: the retrained job is {result.state}"
    if metric is None or metric not in result.metrics:
        return "not evaluated"
    score = result.metrics[metric]
    diff = result.vs_source.get(metric)
    if diff is None:
        quality = (f"{metric} {score} against the references; the source's answers were not recorded, so "
                   "judge on that score alone")
        return quality
    if diff.significant and diff.verdict == "worse":
        return (f"keep looking: worse than the source fine-tune on {metric} "
                f"({diff.diff:+.3f}, interval [{diff.low:+.3f}, {diff.high:+.3f}])")
    level = "better than" if diff.significant else "as good as (no significant difference from)"
    cost = ""
    if result.cost_per_1k_examples_usd is not None and source.cost_per_1k_examples_usd:
        change = result.cost_per_1k_examples_usd / source.cost_per_1k_examples_usd - 1
        cost = f"; serving costs {abs(change):.0%} {'less' if change < 0 else 'more'} per example"
    elif result.hosting == "self-hosted":
        cost = "; serving costs your own hardware (see the break-even in `ftkit compare`)"
    return f"switch: {level} the source fine-tune on {metric} ({diff.diff:+.3f}){cost}"


def _money(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"${value:,.{digits}f}"


def _cell(value: Any) -> str:
    return html.escape("-" if value is None else str(value))


def render_html(report: MigrationReport) -> str:
    """A self-contained page (no scripts, no external files)."""
    s = report.source
    rows = [("source job", f"{s.provider} {s.remote_id} (ftkit {s.job_id})"), ("base model", s.base_model),
            ("fine-tuned model", s.fine_tuned_model), ("epochs it ran", s.epochs),
            ("trained tokens", f"{s.trained_tokens:,}" if s.trained_tokens is not None else None),
            ("cost to train", _money(s.training_cost_usd)),
            ("serving per 1M tokens (in/out)", f"{_money(s.serving_input_per_1m, 2)} / {_money(s.serving_output_per_1m, 2)}"),
            ("serving per 1,000 examples", _money(s.cost_per_1k_examples_usd)),
            ("held-out set", f"{s.held_out} prompts ({s.held_out_source}); {s.recorded} answers recorded"),
            *[(f"source {name}", str(value)) for name, value in s.metrics.items()],
            ("recording", s.recording_note)]
    facts = "".join(f"<tr><th>{_cell(k)}</th><td>{_cell(v)}</td></tr>" for k, v in rows if v is not None)
    metric = report.metrics[0] if report.metrics else None
    head = ["target", "job", metric or "metric", "vs source", "agreement", "fixed / broken", "cost to train",
            "serving per 1M (in/out)", "per 1,000 examples", "verdict"]
    body = []
    for t in report.targets:
        diff = t.vs_source.get(metric or "")
        flips = f"{len(t.flips.fixed)} / {len(t.flips.broken)}" if t.flips else None
        body.append([t.target, t.job_id, t.metrics.get(metric or ""), f"{diff.diff:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]"
                     if diff and diff.diff is not None and diff.low is not None and diff.high is not None else None,
                     t.agreement, flips, _money(t.training_cost_usd),
                     f"{_money(t.serving_input_per_1m, 2)} / {_money(t.serving_output_per_1m, 2)}"
                     if t.serving_input_per_1m is not None else ("own hardware" if t.hosting == "self-hosted" else
                     f"deployment {_money(t.deployment_price_per_hour, 2)}/h" if t.deployment_price_per_hour else None),
                     _money(t.cost_per_1k_examples_usd), t.verdict])
    table = ("<table><tr>" + "".join(f"<th>{_cell(h)}</th>" for h in head) + "</tr>"
             + "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in body) + "</table>")
    translations = ""
    for t in report.targets:
        items = "".join(f"<tr><td>{_cell(x.setting)}</td><td>{_cell(x.source)}</td><td>{_cell(x.target)}</td>"
                        f"<td>{_cell(x.rule)}</td></tr>" for x in t.translations)
        notes = "".join(f"<li>{_cell(n)}</li>" for n in t.notes)
        translations += (f"<h3>{_cell(t.target)}</h3><table><tr><th>setting</th><th>source</th><th>target</th>"
                         f"<th>rule</th></tr>{items}</table>" + (f"<ul>{notes}</ul>" if notes else ""))
    notes = "".join(f"<li>{_cell(n)}</li>" for n in report.notes)
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
             "th{background:#f4f4f4}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Migration of {_cell(s.remote_id)}</title>"
            f"<style>{style}</style></head><body><h1>Migration of {_cell(s.remote_id)}</h1>"
            f"<p>Test set: {_cell(report.test)}; written {report.created_at:%Y-%m-%d %H:%M} UTC.</p>"
            f"<h2>Source</h2><table>{facts}</table><h2>Replacements</h2>{table}"
            f"<h2>Translations</h2>{translations}" + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
            + "</body></html>")
