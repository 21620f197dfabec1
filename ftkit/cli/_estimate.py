"""``ftkit estimate``, ``ftkit plan`` and ``ftkit breakeven``: what a fine-tune costs, before it runs.

    ftkit estimate train.jsonl --provider openai --model gpt-4o-mini --epochs 3
    ftkit plan train.jsonl --model gpt-4o-mini --local-model Qwen/Qwen2.5-7B-Instruct \\
        --together-model meta-llama/Meta-Llama-3.1-8B-Instruct-Reference --monthly-tokens 20000000
    ftkit breakeven --monthly-tokens 2e8 --managed-model gpt-4o-mini --self-hosted-model Qwen/Qwen2.5-7B-Instruct
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ftkit.cli._output import console, error_console, print_json

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
                     help="Local: share of the GPU's peak BF16 throughput sustained (default 0.35).")
_TODAY = typer.Option(None, "--today", help="Check availability dates as of YYYY-MM-DD (default: today).",
                      formats=["%Y-%m-%d"])


def _settings(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def _hours(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 60:.1f} min" if value < 1 else f"{value:,.1f} h"


def _headline(message: str) -> str:
    """The first clause of a note, for a table cell (the full text is printed below the table)."""
    for stop in ("; ", ". ", ": "):
        if stop in message:
            message = message.split(stop, 1)[0]
    return message


def _tokens(e: Estimate) -> str:
    approx = "~" if e.tokens.method == "approximate" else ""
    return f"{approx}{e.tokens.total_tokens:,}"


def _print_estimate(e: Estimate) -> None:
    from rich.table import Table

    out = console()
    out.print(f"[bold]{e.provider}[/] {e.model}  ({e.method}, {e.adapter})")
    facts = Table.grid(padding=(0, 2))
    facts.add_row("examples", f"{e.tokens.examples:,}")
    facts.add_row("tokens", f"{_tokens(e)} total, {e.tokens.trained_tokens:,} trained"
                  + (f", {e.tokens.validation_tokens:,} validation" if e.tokens.validation_tokens else ""))
    facts.add_row("tokenizer", e.tokens.tokenizer)
    facts.add_row("epochs", f"{e.epochs} ({e.epochs_source})")
    if e.billed_tokens is not None:
        facts.add_row("billed tokens", f"{e.billed_tokens:,}")
    facts.add_row("cost", _money(e.cost_usd) + (f" on {e.gpu}" if e.gpu else ""))
    if e.duration_hours is not None:
        facts.add_row("time", _hours(e.duration_hours))
    if e.memory_gb is not None:
        parts = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in e.memory_breakdown_gb.items())
        facts.add_row("peak memory", f"{e.memory_gb:.1f} GB ({parts})")
    if e.inference_usd_per_1m:
        facts.add_row("fine-tuned inference", ", ".join(f"{k.replace('_', ' ')} ${v:g}/1M"
                                                         for k, v in e.inference_usd_per_1m.items()))
    if e.price_source:
        facts.add_row("price source", e.price_source)
    out.print(facts)
    if e.gpus:
        table = Table("GPU", "memory", "fits", "max batch", "hours", "$/h", "cost")
        for g in e.gpus:
            table.add_row(g.gpu, f"{g.required_memory_gb:.1f} / {g.gpu_memory_gb:.1f} GB",
                          "[green]yes[/]" if g.fits else "[red]no[/]", str(g.max_batch_size),
                          _hours(g.duration_hours),
                          f"{g.price_per_hour_usd:g}" if g.price_per_hour_usd is not None else "-",
                          _money(g.cost_usd))
        out.print(table)
    _print_notes(e)


def _print_notes(e: Estimate) -> None:
    out = console()
    for msg in e.errors:
        out.print(f"[bold red]error:[/] {msg}")
    for msg in e.warnings:
        out.print(f"[yellow]warning:[/] {msg}")
    if e.assumptions:
        out.print("[dim]assumptions:[/]")
        for msg in e.assumptions:
            out.print(f"[dim]  - {msg}[/]")


def estimate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training data (JSONL)."),
    provider: str = typer.Option(..., "--provider", "-p", help="openai, together, local or a plugin."),
    model: str = typer.Option(..., "--model", "-m", help="Model name, hub id or local directory."),
    epochs: int | None = _EPOCHS,
    method: str = _METHOD,
    adapter: str = _ADAPTER,
    batch_size: int | None = _BATCH,
    max_seq_length: int | None = _SEQ,
    lora_r: int | None = _LORA_R,
    validation: Path | None = _VALIDATION,
    utilization: float | None = _UTIL,
    today: datetime | None = _TODAY,
    json_out: bool = _JSON,
) -> None:
    """Tokens, billed tokens, cost, memory and time of one fine-tune, offline, with its assumptions.

    Exits 1 when the job could not run (e.g. a retired model), 0 otherwise.
    """
    from ftkit.estimation.compare import estimate_spec
    from ftkit.spec import JobSpec

    spec = JobSpec.from_dict(_settings(
        provider=provider, model=model, train=str(file), validation=str(validation) if validation else None,
        epochs=epochs, method=method, adapter=adapter, batch_size=batch_size, max_seq_length=max_seq_length,
        lora_r=lora_r,
    ))
    extra = {"utilization": utilization} if spec.provider == "local" and utilization else {}
    est = estimate_spec(spec, today=today.date() if today else None, **extra)
    if json_out:
        print_json(est)
    else:
        _print_estimate(est)
    if est.errors:
        raise typer.Exit(1)


def _plan_table(estimates: list[Estimate]) -> None:
    from rich.table import Table

    table = Table("provider", "model", "tokens", "epochs", "billed tokens", "cost", "memory", "time",
                  "notes", title="Fine-tuning plan")
    for e in estimates:
        notes = "\n".join([f"[red]{_headline(m)}[/]" for m in e.errors] + [_headline(m) for m in e.warnings])
        billed = f"{e.billed_tokens:,}" if e.billed_tokens is not None else "-"
        if not e.gpus:
            table.add_row(e.provider, e.model, _tokens(e), str(e.epochs), billed, _money(e.cost_usd), "-", "-", notes)
            continue
        for i, g in enumerate(e.gpus):
            fit = f"{g.required_memory_gb:.1f}/{g.gpu_memory_gb:.0f} GB " + (
                f"[green]fits[/] (batch <= {g.max_batch_size})" if g.fits else "[red]no fit[/]")
            table.add_row(
                f"local {g.gpu}", e.model if i == 0 else "", _tokens(e) if i == 0 else "", str(e.epochs) if i == 0
                else "", billed if i == 0 else "", _money(g.cost_usd), fit,
                _hours(g.duration_hours), notes if i == 0 else "",
            )
    console().print(table)


def _print_breakeven(b: Breakeven) -> None:
    out = console()
    crossing = f"{b.breakeven_tokens_per_month:,.0f} tokens/month" if b.breakeven_tokens_per_month else "never on one GPU"
    out.print(
        f"[bold]Inference at {b.monthly_tokens:,.0f} tokens/month[/]: managed {b.managed_model} "
        f"{_money(b.managed_usd_per_month)}/month vs self-hosted {b.self_hosted_model} on {b.gpus_needed} x {b.gpu} "
        f"{_money(b.self_hosted_usd_per_month)}/month -> [bold]{b.cheaper}[/] is cheaper; they cross at {crossing}."
    )
    for msg in b.assumptions:
        out.print(f"[dim]  - {msg}[/]")


def plan(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training data (JSONL)."),
    model: str | None = typer.Option(None, "--model", "-m", help="OpenAI model, or a hub id for local/Together."),
    local_model: str | None = typer.Option(None, "--local-model", help="Model to size for local training."),
    together_model: str | None = typer.Option(None, "--together-model", help="Model to price on Together."),
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
    json_out: bool = _JSON,
) -> None:
    """One table comparing every provider (and every GPU for local): tokens, epochs, billed tokens, cost,
    memory fit, time and warnings."""
    from ftkit.errors import ConfigError
    from ftkit.estimation.compare import breakeven
    from ftkit.estimation.compare import plan as make_plan

    if not (model or local_model or together_model):
        error_console().print("Pass --model, --local-model or --together-model.")
        raise typer.Exit(2)
    estimates = make_plan(
        str(file), model=model, local_model=local_model, together_model=together_model,
        today=today.date() if today else None, utilization=utilization,
        **_settings(epochs=epochs, method=method, adapter=adapter, batch_size=batch_size,
                    max_seq_length=max_seq_length, lora_r=lora_r,
                    validation=str(validation) if validation else None),
    )
    result: dict[str, Any] = {"estimates": [e.model_dump(mode="json") for e in estimates]}
    if monthly_tokens is not None:
        managed = next((e.model for e in estimates if e.provider == "openai"), None)
        hosted = local_model or next((e.model for e in estimates if e.provider == "local"), None)
        if managed and hosted:
            result["breakeven"] = breakeven(
                monthly_tokens=monthly_tokens, managed_model=managed, self_hosted_model=hosted, gpu=gpu,
                output_share=output_share,
            ).model_dump(mode="json")
        else:
            raise ConfigError("--monthly-tokens needs an OpenAI model (--model) and a local model (--local-model).")
    if json_out:
        print_json(result)
        return
    _plan_table(estimates)
    for e in estimates:
        console().print(f"[bold]{e.provider}[/] {e.model}")
        _print_notes(e)
    if "breakeven" in result:
        from ftkit.estimation.compare import Breakeven

        _print_breakeven(Breakeven.model_validate(result["breakeven"]))


def breakeven_command(
    monthly_tokens: float = typer.Option(..., "--monthly-tokens", help="Tokens per month (prompt + output)."),
    managed_model: str = typer.Option(..., "--managed-model", help="Managed model the fine-tune would run on."),
    managed_provider: str = typer.Option(
        "openai", "--managed-provider", help="Provider whose catalog prices that model per token."
    ),
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
