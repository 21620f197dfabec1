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


def comparison_table(report: ComparisonReport) -> Any:
    """A rich Table: one row per candidate, quality with intervals, then cost and speed."""
    from rich.table import Table

    primary = report.metrics[0] if report.metrics else None
    table = Table(title=f"ftkit compare: {report.n_examples} examples from {report.test}", show_lines=False)
    table.add_column("candidate", style="bold")
    for metric in report.metrics:
        table.add_column(f"{metric} [95% CI]", justify="right")
    if primary:
        table.add_column(f"Δ {primary} vs baseline", justify="right")
    for name in ("training", "$/1M in / out", "$/1k examples", "latency p50", "break-even tokens/mo"):
        table.add_column(name, justify="right")
    for row in report.rows:
        cells = [row.name + ("" if row.evaluated else " (not evaluated)")]
        cells += [fmt_interval(row.metrics.get(m)) for m in report.metrics]
        if primary:
            cells.append(fmt_diff(row.vs_baseline.get(primary)) if row.vs_baseline else ("baseline" if row.name == report.baseline else DASH))
        cells += [
            training_cell(row), price_cell(row), fmt_usd(row.cost_per_1k_examples_usd),
            fmt_seconds(row.latency_s_p50), fmt_tokens(row.breakeven_tokens_per_month),
        ]
        table.add_row(*cells)
    return table


def eval_table(result: EvalResult) -> Any:
    """A rich Table of one evaluation, with the base and the difference when there is one."""
    from rich.table import Table

    comparison = result.comparison
    table = Table(title=f"{result.model} on {result.n} examples ({result.test})")
    table.add_column("metric", style="bold")
    if comparison:
        table.add_column(f"base ({comparison.base.model})", justify="right")
    table.add_column("model [95% CI]", justify="right")
    if comparison:
        table.add_column("difference [95% CI]", justify="right")
        table.add_column("verdict")
    for name, interval in result.metrics.items():
        cells = [name]
        if comparison:
            cells.append(fmt_interval(comparison.base.metrics.get(name)))
        cells.append(fmt_interval(interval))
        if comparison:
            diff = comparison.differences.get(name)
            cells += [fmt_diff(diff), diff.verdict if diff else DASH]
        table.add_row(*cells)
    return table
