"""Text renderings of results shared by the terminal table and the HTML report, and the rich tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftkit.evaluation.compare import ComparisonReport
    from ftkit.evaluation.results import ComparisonRow, EvalResult
    from ftkit.evaluation.stats import Difference, Interval

__all__ = ["comparison_table", "eval_table", "fmt_diff", "fmt_interval", "fmt_tokens", "fmt_usd"]

DASH = "-"


def fmt_usd(value: float | None) -> str:
    if value is None:
        return DASH
    if value == 0:
        return "$0"
    if value < 0.01:
        return f"${value:.4f}"
    if value < 100:
        return f"${value:.2f}"
    return f"${value:,.0f}"


def fmt_tokens(value: float | None) -> str:
    if value is None:
        return DASH
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def fmt_interval(interval: Interval | None) -> str:
    if interval is None or interval.value is None:
        return DASH
    if interval.low is None or interval.high is None:
        return f"{interval.value:.3f}"
    return f"{interval.value:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def fmt_diff(diff: Difference | None) -> str:
    if diff is None or diff.diff is None:
        return DASH
    text = f"{diff.diff:+.3f}"
    if diff.low is not None and diff.high is not None:
        text += f" [{diff.low:+.3f}, {diff.high:+.3f}]"
    return text


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def training_cell(row: ComparisonRow) -> str:
    if row.training_cost_usd is None:
        return "own hardware" if row.hosting == "self-hosted" else DASH
    return f"{fmt_usd(row.training_cost_usd)} ({row.training_cost_source})"


def price_cell(row: ComparisonRow) -> str:
    if row.deployment_price_per_hour is not None and row.price is None:
        return f"{fmt_usd(row.deployment_price_per_hour)}/h deployment"
    if row.price is None:
        return "self-hosted" if row.hosting == "self-hosted" else DASH
    return f"{fmt_usd(row.price.input_per_1m)} / {fmt_usd(row.price.output_per_1m)}"


def _value(interval: Interval | None) -> str:
    return DASH if interval is None or interval.value is None else f"{interval.value:.3f}"


def _bounds(low: float | None, high: float | None, sign: str = "") -> str:
    return DASH if low is None or high is None else f"[{low:{sign}.3f}, {high:{sign}.3f}]"


def _interval_bounds(interval: Interval | None) -> str:
    return DASH if interval is None else _bounds(interval.low, interval.high)


def comparison_table(report: ComparisonReport) -> Any:
    """One row per candidate: quality first, then cost and speed; confidence intervals and the rows' notes
    are shown as far as the terminal allows (an ``ftkit._table.FitTable``, printable with rich)."""
    from ftkit._table import FitTable, short_path

    primary = report.metrics[0] if report.metrics else None
    table = FitTable(title=f"ftkit compare: {report.n_examples} examples from {short_path(report.test)}",
                     notes=list(report.notes))
    table.column("candidate")
    for metric in report.metrics:
        table.column(metric, priority=0 if metric == primary else 1, justify="right")
    if primary:
        table.column(f"Δ {primary}", justify="right")
    table.column("training", priority=2, justify="right")
    for metric in report.metrics:
        table.column(f"{metric} 95% CI", priority=3, justify="right")
    if primary:
        table.column(f"Δ {primary} 95% CI", priority=4, justify="right")
    for name, priority in (("$/1M in / out", 5), ("$/1k examples", 6), ("latency p50", 7),
                           ("break-even tokens/mo", 8)):
        table.column(name, priority=priority, justify="right")
    for row in report.rows:
        diff = row.vs_baseline.get(primary) if primary and row.vs_baseline else None
        if diff is not None:
            delta, delta_ci = (DASH if diff.diff is None else f"{diff.diff:+.3f}"), _bounds(diff.low, diff.high, "+")
        else:
            delta, delta_ci = ("baseline" if row.name == report.baseline else DASH), DASH
        cells = [row.name, *(_value(row.metrics.get(m)) for m in report.metrics)]
        cells += [delta] if primary else []
        cells.append(training_cell(row))
        cells += [_interval_bounds(row.metrics.get(m)) for m in report.metrics]
        cells += [delta_ci] if primary else []
        cells += [price_cell(row), fmt_usd(row.cost_per_1k_examples_usd), fmt_seconds(row.latency_s_p50),
                  fmt_tokens(row.breakeven_tokens_per_month)]
        notes = ([] if row.evaluated else ["not evaluated here (costs only)"]) + list(row.notes)
        table.add_row(*cells, notes=notes)
    return table


def eval_table(result: EvalResult) -> Any:
    """One evaluation, with the base and the difference when there is one (an ``ftkit._table.FitTable``)."""
    from ftkit._table import FitTable, short_path

    comparison = result.comparison
    table = FitTable(title=f"{result.model} on {result.n} examples ({short_path(str(result.test))})")
    table.column("metric")
    table.column("model", justify="right")
    if comparison:
        table.column(f"base ({comparison.base.model})", priority=1, justify="right")
        table.column("difference", priority=1, justify="right")
        table.column("verdict", priority=1)
    table.column("model 95% CI", priority=2, justify="right")
    if comparison:
        table.column("difference 95% CI", priority=3, justify="right")
    for name, interval in result.metrics.items():
        cells = [name, _value(interval)]
        diff = comparison.differences.get(name) if comparison else None
        if comparison:
            cells += [_value(comparison.base.metrics.get(name)),
                      DASH if diff is None or diff.diff is None else f"{diff.diff:+.3f}",
                      diff.verdict if diff else DASH]
        cells.append(_interval_bounds(interval))
        if comparison:
            cells.append(DASH if diff is None else _bounds(diff.low, diff.high, "+"))
        table.add_row(*cells)
    return table
