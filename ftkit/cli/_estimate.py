"""``ftkit estimate``, ``ftkit plan`` and ``ftkit breakeven``: what a fine-tune costs, before it runs.

    ftkit estimate train.jsonl -p openai -m gpt-4o-mini --epochs 3
    ftkit plan train.jsonl                               # each installed provider's recommended model
    ftkit plan train.jsonl --target openai:gpt-4o-mini-2024-07-18 --target together:Qwen/Qwen2.5-7B-Instruct \\
        --target local:./models/qwen --monthly-tokens 20000000
    ftkit breakeven --monthly-tokens 2e8 --managed-model gpt-4o-mini --self-hosted-model Qwen/Qwen2.5-7B-Instruct
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ftkit._table import FitTable, print_facts, show_model
from ftkit.cli._output import WIDE, console, print_json

if TYPE_CHECKING:
    from ftkit.estimation.compare import Breakeven
    from ftkit.estimation.types import Estimate

_JSON = typer.Option(False, "--json", help="Print only JSON to stdout.")
_EPOCHS = typer.Option(None, "--epochs", min=1, help="Epochs (default: the provider's rule, stated in the output).")
_METHOD = typer.Option("sft", "--method", help="sft or dpo.")
_ADAPTER = typer.Option("lora", "--adapter", help="lora, qlora or full (managed providers: lora or full).")
_BATCH = typer.Option(None, "--batch-size", min=1, help="Per-device batch size for local memory (default 1).")
_SEQ = typer.Option(None, "--max-seq-length", min=16, help="Truncate examples to this many tokens.")
_LORA_R = typer.Option(None, "--lora-r", min=1, help="LoRA rank for local memory (default 16).")
_VALIDATION = typer.Option(None, "--validation", exists=True, dir_okay=False, help="Validation JSONL file.")
_UTIL = typer.Option(None, "--utilization", min=0.01, max=1.0,
                     help="Own GPUs: share of the GPU's peak BF16 throughput sustained (default 0.35); "
                     "passed to the providers whose estimator takes it.")
_OPTION = typer.Option([], "--option", "-o", help="Provider option KEY=VALUE (JSON values allowed), repeatable.")
_TODAY = typer.Option(None, "--today", help="Check availability dates as of YYYY-MM-DD (default: today).",
                      formats=["%Y-%m-%d"])


def _settings(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    if 0 < value < 0.0001:
        return "<$0.0001"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def _hours(value: float | None) -> str:
    if value is None:
        return "-"
    if value * 60 < 0.1:
        return "<0.1 min"
    return f"{value * 60:.1f} min" if value < 1 else f"{value:,.1f} h"


def _tokens(e: Estimate) -> str:
    approx = "~" if e.tokens.method == "approximate" else ""
    return f"{approx}{e.tokens.total_tokens:,}"


def _notes(e: Estimate, *, assumptions: bool = True) -> list[str]:
    """An estimate's errors, warnings and assumptions, as footnote texts."""
    return ([f"error: {m}" for m in e.errors] + [f"warning: {m}" for m in e.warnings]
            + (list(e.assumptions) if assumptions else []))


def _gpu_table(e: Estimate) -> FitTable:
    from rich.text import Text

    table = FitTable()
    for header, priority, justify in [("GPU", 0, "left"), ("fits", 0, "left"), ("cost", 0, "right"),
                                      ("time", 1, "right"), ("memory", 2, "right"), ("max batch", 3, "right"),
                                      ("$/h", 4, "right")]:
        table.column(header, priority=priority, justify=justify)
    for g in e.gpus:
        table.add_row(g.gpu, Text("yes", style="green") if g.fits else Text("no", style="red"), _money(g.cost_usd),
                      _hours(g.duration_hours), f"{g.required_memory_gb:.1f}/{g.gpu_memory_gb:.1f} GB",
                      str(g.max_batch_size) if g.max_batch_size is not None else "-",
                      f"{g.price_per_hour_usd:g}" if g.price_per_hour_usd is not None else "-")
    return table


def _print_estimate(e: Estimate, *, wide: bool = False) -> None:
    from rich.text import Text

    out = console()
    out.print(Text.assemble((e.provider, "bold"), " ", show_model(e.model), f"  ({e.method}, {e.adapter})"),
              soft_wrap=True)
    memory = None
    if e.memory_gb is not None:
        parts = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in e.memory_breakdown_gb.items())
        memory = f"{e.memory_gb:.1f} GB ({parts})"
    inference = ", ".join(f"{k.replace('_', ' ')} ${v:g}/1M" for k, v in e.inference_usd_per_1m.items())
    print_facts(out, [
        ("examples", f"{e.tokens.examples:,}"),
        ("tokens", f"{_tokens(e)} total, {e.tokens.trained_tokens:,} trained"
         + (f", {e.tokens.validation_tokens:,} validation" if e.tokens.validation_tokens else "")),
        ("tokenizer", e.tokens.tokenizer),
        ("epochs", f"{e.epochs} ({e.epochs_source})"),
        ("billed tokens", f"{e.billed_tokens:,}" if e.billed_tokens is not None else None),
        ("cost", _money(e.cost_usd) + (f" on {e.gpu}" if e.gpu else "")),
        ("time", _hours(e.duration_hours) if e.duration_hours is not None else None),
        ("peak memory", memory),
        ("fine-tuned inference", inference),
        ("price source", e.price_source),
    ])
    table = _gpu_table(e) if e.gpus else FitTable()
    table.notes = _notes(e)
    out.print()
    table.render(out, wide=wide)


def _knobs(provider: str, **values: Any) -> dict[str, Any]:
    """Estimator knobs the user set, checked against what the provider's estimator declares it takes."""
    from ftkit.errors import ConfigError
    from ftkit.registry import get_provider

    given = _settings(**values)
    declared = get_provider(provider).estimator_knobs
    refused = sorted(set(given) - declared)
    if refused:
        flags = ", ".join("--" + k.replace("_", "-") for k in refused)
        raise ConfigError(f"{flags} does not apply to {provider}: its estimator takes "
                          f"{', '.join(sorted(declared)) or 'no extra settings'}. Remove it.")
    return given


def estimate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training data (JSONL)."),
    provider: str = typer.Option(..., "--provider", "-p", help="A provider name (see `ftkit providers`)."),
    model: str = typer.Option(..., "--model", "-m", help="Model name, hub id or local directory."),
    epochs: int | None = _EPOCHS,
    method: str = _METHOD,
    adapter: str = _ADAPTER,
    batch_size: int | None = _BATCH,
    max_seq_length: int | None = _SEQ,
    lora_r: int | None = _LORA_R,
    validation: Path | None = _VALIDATION,
    option: list[str] = _OPTION,
    utilization: float | None = _UTIL,
    today: datetime | None = _TODAY,
    wide: bool = WIDE,
    json_out: bool = _JSON,
) -> None:
    """Tokens, billed tokens, cost, memory and time of one fine-tune, offline, with its assumptions.

    Exits 1 when the job could not run (e.g. a retired model), 0 otherwise.
    """
    from ftkit.cli._train import parse_options
    from ftkit.estimation.compare import estimate_spec
    from ftkit.spec import JobSpec

    spec = JobSpec.from_dict(_settings(
        provider=provider, model=model, train=str(file), validation=str(validation) if validation else None,
        epochs=epochs, method=method, adapter=adapter, batch_size=batch_size, max_seq_length=max_seq_length,
        lora_r=lora_r, options=parse_options(option) or None,
    ))
    est = estimate_spec(spec, today=today.date() if today else None, **_knobs(spec.provider, utilization=utilization))
    if json_out:
        print_json(est)
    else:
        _print_estimate(est, wide=wide)
    if est.errors:
        raise typer.Exit(1)


def plan_table(estimates: list[Estimate]) -> FitTable:
    """One row per managed estimate and per GPU of a self-hosted one; notes become footnotes."""
    from rich.text import Text

    table = FitTable(title="Fine-tuning plan")
    for header, priority, justify in [
        ("provider", 0, "left"), ("model", 0, "left"), ("GPU", 0, "left"), ("cost", 0, "right"),
        ("fits", 1, "left"), ("tokens", 2, "right"), ("time", 3, "right"), ("memory", 4, "right"),
        ("epochs", 5, "right"), ("max batch", 6, "right"), ("billed tokens", 7, "right"),
    ]:
        table.column(header, priority=priority, justify=justify)
    for e in estimates:
        billed = f"{e.billed_tokens:,}" if e.billed_tokens is not None else "-"
        model = show_model(e.model, 32)
        cost = Text(_money(e.cost_usd), style="red" if e.errors else "")
        if not e.gpus:
            table.add_row(e.provider, model, "-", cost, Text("no", style="red") if e.errors else "-", _tokens(e),
                          _hours(e.duration_hours), "-", str(e.epochs), "-", billed, notes=_notes(e))
            continue
        for i, g in enumerate(e.gpus):
            fit = Text("yes", style="green") if g.fits else Text("no", style="red")
            table.add_row(
                e.provider, model, g.gpu, _money(g.cost_usd), fit, _tokens(e), _hours(g.duration_hours),
                f"{g.required_memory_gb:.1f}/{g.gpu_memory_gb:.0f} GB", str(e.epochs),
                str(g.max_batch_size) if g.max_batch_size is not None else "-", billed,
                notes=_notes(e) if i == 0 else (),
            )
    return table


def _print_breakeven(b: Breakeven) -> None:
    from ftkit._table import print_notes

    out = console()
    crossing = f"{b.breakeven_tokens_per_month:,.0f} tokens/month" if b.breakeven_tokens_per_month else "never on one GPU"
    out.print(f"Inference at {b.monthly_tokens:,.0f} tokens/month", style="bold")
    print_facts(out, [
        ("managed", f"{b.managed_model}: {_money(b.managed_usd_per_month)}/month"),
        ("self-hosted", f"{show_model(b.self_hosted_model)} on {b.gpus_needed} x {b.gpu}: "
                        f"{_money(b.self_hosted_usd_per_month)}/month"),
        ("cheaper", b.cheaper),
        ("they cross at", crossing),
    ], indent=2)
    print_notes(out, b.assumptions)


def _breakeven_rows(estimates: list[Estimate]) -> tuple[Estimate | None, Estimate | None]:
    """The first managed row priced per token and the first row on your own hardware, by declared hosting."""
    from ftkit.registry import get_provider

    managed = next((e for e in estimates if {"input", "output"} <= set(e.inference_usd_per_1m)), None)
    hosted = next((e for e in estimates if get_provider(e.provider).hosting.is_self_hosted), None)
    return managed, hosted


def plan(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training data (JSONL)."),
    target: list[str] = typer.Option(
        [], "--target", help="provider:model to plan on, repeatable (a path means your own GPUs). "
        "Default: each installed provider's recommended model."),
    epochs: int | None = _EPOCHS,
    method: str = _METHOD,
    adapter: str = _ADAPTER,
    batch_size: int | None = _BATCH,
    max_seq_length: int | None = _SEQ,
    lora_r: int | None = _LORA_R,
    validation: Path | None = _VALIDATION,
    utilization: float | None = _UTIL,
    monthly_tokens: float | None = typer.Option(
        None, "--monthly-tokens", help="Add the inference break-even for this monthly volume (prompt + output)."),
    gpu: str = typer.Option("L4", "--gpu", help="GPU for the self-hosting side of the break-even."),
    output_share: float = typer.Option(0.25, "--output-share", min=0, max=1, help="Share of output tokens."),
    today: datetime | None = _TODAY,
    wide: bool = WIDE,
    json_out: bool = _JSON,
) -> None:
    """Compare providers (and every GPU of your own) for the same data: cost, fit, tokens, time and notes.

    With no --target, each installed provider's recommended model (its catalog's default_model) is planned.
    """
    from ftkit.errors import ConfigError
    from ftkit.estimation.compare import breakeven
    from ftkit.estimation.compare import plan as make_plan

    estimates = make_plan(
        str(file), targets=list(target) or None, today=today.date() if today else None,
        **_settings(epochs=epochs, method=method, adapter=adapter, batch_size=batch_size,
                    max_seq_length=max_seq_length, lora_r=lora_r, utilization=utilization,
                    validation=str(validation) if validation else None),
    )
    result: dict[str, Any] = {"estimates": [e.model_dump(mode="json") for e in estimates]}
    if monthly_tokens is not None:
        managed, hosted = _breakeven_rows(estimates)
        if managed is None or hosted is None:
            raise ConfigError("--monthly-tokens needs a managed target priced per token and a target on your "
                              "own GPUs: add --target provider:model for the one that is missing.")
        result["breakeven"] = breakeven(
            monthly_tokens=monthly_tokens, managed_model=managed.model, managed_provider=managed.provider,
            self_hosted_model=hosted.model, gpu=gpu, output_share=output_share,
        ).model_dump(mode="json")
    if json_out:
        print_json(result)
        return
    plan_table(estimates).render(console(), wide=wide)
    if "breakeven" in result:
        from ftkit.estimation.compare import Breakeven

        console().print()
        _print_breakeven(Breakeven.model_validate(result["breakeven"]))


def breakeven_command(
    monthly_tokens: float = typer.Option(..., "--monthly-tokens", help="Tokens per month (prompt + output)."),
    managed_model: str = typer.Option(..., "--managed-model", help="Managed model the fine-tune would run on."),
    managed_provider: str | None = typer.Option(
        None, "--managed-provider",
        help="Provider whose catalog prices that model per token (default: the one whose catalog does)."),
    self_hosted_model: str = typer.Option(..., "--self-hosted-model", help="Open model you would serve yourself."),
    gpu: str = typer.Option("L4", "--gpu", help="GPU to serve on (see the GPU catalog)."),
    output_share: float = typer.Option(0.25, "--output-share", min=0, max=1, help="Share of output tokens."),
    throughput: float | None = typer.Option(None, "--throughput", help="Measured tokens/s per GPU."),
    json_out: bool = _JSON,
) -> None:
    """Self-hosting a fine-tune on a GPU against a managed fine-tuned model's per-token price."""
    from ftkit.estimation.compare import breakeven

    b = breakeven(monthly_tokens=monthly_tokens, managed_model=managed_model, self_hosted_model=self_hosted_model,
                  managed_provider=managed_provider, gpu=gpu, output_share=output_share, throughput_tokens_per_s=throughput)
    if json_out:
        print_json(b)
    else:
        _print_breakeven(b)


def register(app: typer.Typer) -> None:
    app.command("estimate")(estimate)
    app.command("plan")(plan)
    app.command("breakeven")(breakeven_command)
