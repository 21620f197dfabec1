"""The report's figures as base64 PNGs (matplotlib, Agg backend, imported only when a report is drawn)."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftkit.evaluation.compare import ComparisonReport

__all__ = ["cost_quality_png", "loss_curves_png", "metric_bars_png"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display on servers and in CI
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def loss_curves_png(report: ComparisonReport) -> str | None:
    rows = [r for r in report.rows if r.loss_curve]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for row in rows:
        steps, losses = zip(*row.loss_curve, strict=True)
        ax.plot(steps, losses, marker=".", label=row.name)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("Training loss (from the job's events)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def metric_bars_png(report: ComparisonReport) -> str | None:
    rows = [r for r in report.rows if r.evaluated]
    metrics = [m for m in report.metrics if any(r.metrics.get(m) and r.metrics[m].value is not None for r in rows)]
    metrics = [m for m in metrics if not m.endswith(("_tokens", "latency_s", "perplexity", "reference_loss"))][:6]
    if not rows or not metrics:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        values, lower, upper = [], [], []
        for metric in metrics:
            interval = row.metrics.get(metric)
            value = interval.value if interval and interval.value is not None else 0.0
            values.append(value)
            lower.append(value - (interval.low if interval and interval.low is not None else value))
            upper.append((interval.high if interval and interval.high is not None else value) - value)
        positions = [j + (i - (len(rows) - 1) / 2) * width for j in range(len(metrics))]
        ax.bar(positions, values, width, yerr=[lower, upper], capsize=3, label=row.name)
    ax.set_xticks(range(len(metrics)), metrics, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("Quality with 95% bootstrap intervals")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def cost_quality_png(report: ComparisonReport) -> str | None:
    primary = report.metrics[0] if report.metrics else None
    rows = [r for r in report.rows if r.evaluated and primary and r.metrics.get(primary)]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for row in rows:
        interval = row.metrics[primary]
        if interval.value is None:
            continue
        cost = row.cost_per_1k_examples_usd or 0.0
        low = interval.value - (interval.low if interval.low is not None else interval.value)
        high = (interval.high if interval.high is not None else interval.value) - interval.value
        ax.errorbar([cost], [interval.value], yerr=[[low], [high]], fmt="o", capsize=4)
        label = row.name + (" (self-hosted)" if row.cost_per_1k_examples_usd is None else "")
        ax.annotate(label, (cost, interval.value), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel("serving cost per 1,000 examples (USD; self-hosted at 0)")
    ax.set_ylabel(primary)
    ax.set_title("Cost against quality")
    ax.grid(alpha=0.3)
    return _png(fig)
