"""The self-contained HTML report: one file, inline CSS, plots embedded as base64 PNGs, no scripts.

Built with ``html.escape`` and f-strings rather than a template engine, so a report needs nothing but
matplotlib (and without matplotlib it is still written, with a note instead of the figures).
"""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING

from ftkit.evaluation.report_table import (
    DASH,
    fmt_diff,
    fmt_interval,
    fmt_seconds,
    fmt_tokens,
    fmt_usd,
    price_cell,
    training_cell,
)

if TYPE_CHECKING:
    from ftkit.evaluation.compare import ComparisonReport
    from ftkit.evaluation.results import EvalResult

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2430;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #dde3ea;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}th,td{border:1px solid #dde3ea;padding:.35rem .55rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f6f9}.muted{color:#6a7585}.good{color:#17803d}.bad{color:#b42318}
.figs img{max-width:100%;margin:.4rem 0;border:1px solid #eef1f4}.note{background:#f7f9fb;border-left:3px solid #8aa1b8;padding:.5rem .8rem}
code{background:#f3f6f9;padding:0 .25rem}
"""


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _diff_cell(report: ComparisonReport, name: str, metric: str) -> str:
    row = report.row(name)
    if name == report.baseline:
        return '<span class="muted">baseline</span>'
    diff = row.vs_baseline.get(metric)
    if diff is None:
        return DASH
    css = {"better": "good", "worse": "bad"}.get(diff.verdict, "muted")
    return f'<span class="{css}">{escape(fmt_diff(diff))}</span>'


def _summary_table(report: ComparisonReport) -> str:
    primary = report.metrics[0] if report.metrics else None
    headers = ["candidate", *(f"{m} [95% CI]" for m in report.metrics)]
    headers += [f"Δ {primary} vs baseline"] if primary else []
    headers += ["training", "$/1M in / out", "$/1k examples", "latency p50", "tokens in / out", "break-even tokens/mo"]
    rows = []
    for row in report.rows:
        name = escape(row.name) + ("" if row.evaluated else ' <span class="muted">(not evaluated)</span>')
        cells = [name, *(escape(fmt_interval(row.metrics.get(m))) for m in report.metrics)]
        if primary:
            cells.append(_diff_cell(report, row.name, primary))
        tokens = (
            f"{row.prompt_tokens_per_example:.0f} / {row.completion_tokens_per_example or 0:.1f}"
            if row.prompt_tokens_per_example is not None else DASH
        )
        cells += [
            escape(training_cell(row)), escape(price_cell(row)), escape(fmt_usd(row.cost_per_1k_examples_usd)),
            escape(fmt_seconds(row.latency_s_p50)), tokens, escape(fmt_tokens(row.breakeven_tokens_per_month)),
        ]
        rows.append(cells)
    return _table(headers, rows)


def _confusion(result: EvalResult) -> str:
    details = result.details.get("classification")
    if not details:
        return ""
    matrix = details["confusion_matrix"]
    rows = [[escape(label), *map(str, counts)] for label, counts in zip(details["labels"], matrix["counts"], strict=True)]
    return "<h4>Confusion matrix (rows: true queue)</h4>" + _table(["true \\ predicted", *matrix["columns"]], rows)


def _flips(report: ComparisonReport, name: str) -> str:
    baseline = report.results.get(report.baseline or "")
    result = report.results.get(name)
    if baseline is None or result is None or name == report.baseline:
        return ""
    from ftkit.evaluation.harness import example_flips

    flips = example_flips(baseline, result)
    if flips is None:
        return ""
    sample = []
    for label, indices in (("fixed", flips.fixed), ("broken", flips.broken)):
        for i in indices[:5]:
            ex = result.examples[i]
            question = next((m.get("content") or "" for m in reversed(ex.prompt) if m.get("role") == "user"), "")
            sample.append([label, escape(question[:140]), escape(ex.reference), escape(baseline.examples[i].prediction[:60]),
                           escape(ex.prediction[:60])])
    table = _table(["change", "prompt", "reference", "baseline said", "this model said"], sample) if sample else ""
    return (
        f"<p>On <b>{flips.metric}</b> against the baseline: <span class='good'>{len(flips.fixed)} fixed</span>, "
        f"<span class='bad'>{len(flips.broken)} broken</span>, {flips.unchanged} unchanged.</p>{table}"
    )


def _figures(report: ComparisonReport) -> str:
    try:
        from ftkit.evaluation.plots import cost_quality_png, loss_curves_png, metric_bars_png

        images = [loss_curves_png(report), metric_bars_png(report), cost_quality_png(report)]
    except ImportError:
        return '<p class="note">Install matplotlib (<code>pip install "ftkit[report]"</code>) for the figures.</p>'
    tags = [f'<img alt="figure" src="data:image/png;base64,{png}">' for png in images if png]
    return f'<div class="figs">{"".join(tags)}</div>' if tags else ""


_HOW_TO_READ = """<div class="note"><p><b>How to read this.</b> Every evaluated candidate answered the same
{n} examples with the same greedy decoding. Each metric shows its value and a 95% bootstrap interval.
The Δ column is the paired difference against the baseline (the first evaluated candidate): when its
interval excludes zero, the change is unlikely to be noise. Training cost is what the job reported
(<i>actual</i>) or its pre-flight <i>estimate</i>; serving prices come from the provider catalogs
(USD per 1M input / output tokens) and cost per 1,000 examples uses the measured tokens per example.
Break-even is the monthly token volume above which self-hosting costs less than that managed model.</p></div>"""


def render_html(report: ComparisonReport) -> str:
    sections = [
        f"<h1>ftkit comparison</h1><p class='muted'>{escape(report.test)} · {report.n_examples} examples · "
        f"generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC</p>",
        _HOW_TO_READ.format(n=report.n_examples),
        "<h2>Summary</h2>" + _summary_table(report),
        "<h2>Figures</h2>" + _figures(report),
    ]
    for row in report.rows:
        result = report.results.get(row.name)
        body = [f"<h2>{escape(row.name)}</h2>"]
        if row.notes:
            body.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in row.notes) + "</ul>")
        if row.price is not None:
            body.append(f"<p class='muted'>Prices: {escape(row.price.source)}</p>")
        if result is not None:
            body.append(_flips(report, row.name))
            body.append(_confusion(result))
            body += [f"<p class='muted'>{escape(n)}</p>" for n in result.notes]
        sections.append("".join(body))
    if report.notes:
        sections.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>ftkit comparison</title>"
        f"<style>{_CSS}</style></head><body>{''.join(sections)}</body></html>"
    )
