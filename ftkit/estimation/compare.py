"""Compare providers before spending anything: one estimate per provider, and the inference break-even.

>>> rows = [{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}] * 20
>>> [e.provider for e in plan(rows, model="gpt-4o-mini", local_model="Qwen/Qwen2.5-7B-Instruct")]
['openai', 'local']
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from ftkit.errors import ConfigError
from ftkit.estimation.catalog import load_catalog
from ftkit.estimation.types import Estimate
from ftkit.spec import JobSpec

__all__ = ["Breakeven", "breakeven", "estimate_spec", "plan"]

HOURS_PER_MONTH = 730
#: Share of peak BF16 a batched inference server (vLLM-style) sustains across prompt and output tokens.
DEFAULT_SERVING_UTILIZATION = 0.2


def estimate_spec(spec: JobSpec, *, today: date | None = None, **kwargs: Any) -> Estimate:
    """The estimate of ``spec`` by its provider, found through the registry like any plugin's.

    ``today`` moves the calendar for availability dates; other keywords go to that provider's estimator
    (local accepts ``utilization=`` and ``gpus=``). Only the keywords given are passed on.
    """
    from ftkit.registry import create_provider

    extra = {k: v for k, v in {"today": today, **kwargs}.items() if v is not None}
    return create_provider(spec.provider).estimate(spec, **extra)


def _is_openai_model(model: str) -> bool:
    return load_catalog("openai").find(model) is not None or model.startswith(("gpt-", "ft:gpt-", "o4-", "o3-"))


def plan(
    spec_or_file: JobSpec | Any,
    *,
    model: str | None = None,
    local_model: str | None = None,
    together_model: str | None = None,
    today: date | None = None,
    utilization: float | None = None,
    **settings: Any,
) -> list[Estimate]:
    """One estimate per provider for the same data and settings, OpenAI, Together, local in that order.

    ``spec_or_file`` is a ``JobSpec`` (its model and settings are the defaults) or the training data
    itself. ``model`` goes to OpenAI when it is an OpenAI model, otherwise to local (and to Together when
    Together's catalog knows it); ``local_model`` and ``together_model`` add those providers explicitly.
    ``settings`` are JobSpec fields (epochs, method, adapter, batch_size, max_seq_length...).
    """
    if isinstance(spec_or_file, JobSpec):
        base = spec_or_file.model_dump(exclude={"provider", "model", "options"})
        model = model or spec_or_file.model
    else:
        base = {"train": spec_or_file}
    base.update(settings)
    targets: list[tuple[str, str]] = []
    if model:
        if _is_openai_model(model):
            targets.append(("openai", model))
        else:
            if together_model is None and load_catalog("together").find(model) is not None:
                together_model = model
            local_model = local_model or model
    if together_model:
        targets.append(("together", together_model))
    if local_model:
        targets.append(("local", local_model))
    if not targets:
        raise ConfigError("Nothing to compare: pass model=..., local_model=... or together_model=....")

    # Each provider counts with its own tokenizer, so counts are not shared between them.
    estimates = []
    for provider, name in targets:
        fields = dict(base)
        if provider != "local" and fields.get("adapter") == "qlora":
            fields["adapter"] = "lora"  # managed providers choose their own precision
        spec = JobSpec(provider=provider, model=name, **fields)
        extra = {"utilization": utilization} if provider == "local" else {}
        estimates.append(estimate_spec(spec, today=today, **extra))
    return estimates


# -- inference break-even -------------------------------------------------------------------------------


class Breakeven(BaseModel):
    """Monthly cost of serving a fine-tune yourself on GPUs against a managed per-token price."""

    monthly_tokens: float
    output_share: float
    managed_model: str
    managed_usd_per_1m_blended: float
    managed_usd_per_month: float
    gpu: str
    self_hosted_model: str
    gpu_throughput_tokens_per_s: float
    gpus_needed: int
    self_hosted_usd_per_month: float
    breakeven_tokens_per_month: float | None = Field(
        description="monthly volume above which self-hosting one GPU is cheaper (None: one GPU's capacity "
        "runs out first)"
    )
    cheaper: str
    assumptions: list[str]


def breakeven(
    *,
    monthly_tokens: float,
    managed_model: str,
    self_hosted_model: str,
    managed_provider: str = "openai",
    gpu: str = "L4",
    output_share: float = 0.25,
    throughput_tokens_per_s: float | None = None,
    serving_utilization: float = DEFAULT_SERVING_UTILIZATION,
    hours_per_month: float = HOURS_PER_MONTH,
) -> Breakeven:
    """Self-hosting ``self_hosted_model`` on always-on ``gpu`` against ``managed_model``'s fine-tuned prices.

    ``managed_provider`` names the catalog holding the managed model's per-token inference prices; a
    provider that bills fine-tuned serving per minute (Together's dedicated endpoints) has none, and is
    refused with a ConfigError.

    Self-hosting costs ``gpus x hourly price x hours`` whatever the volume; managed costs grow with tokens.
    They cross at ``hourly price x hours / blended price per token``, if one GPU can serve that volume.

    >>> b = breakeven(monthly_tokens=50e6, managed_model="gpt-4o-mini", self_hosted_model="Qwen/Qwen2.5-7B-Instruct")
    >>> b.cheaper
    'managed'
    """
    from ftkit.estimation.gpus import find_gpu
    from ftkit.estimation.modeldir import find_architecture

    if not 0 <= output_share <= 1:
        raise ConfigError(f"output_share must be between 0 and 1, got {output_share}.")
    entry = load_catalog(managed_provider).model(managed_model)
    prices = entry.inference_prices()
    if "input" not in prices or "output" not in prices:
        raise ConfigError(
            f"The {managed_provider} catalog has no per-token fine-tuned inference prices for {entry.name}; "
            "break-even needs a managed model billed per token."
        )
    blended = prices["input"] * (1 - output_share) + prices["output"] * output_share
    managed_month = monthly_tokens / 1e6 * blended

    card = find_gpu(gpu)
    hourly = card.price.usd_per_hour or 0.0
    assumptions = [
        f"Managed: {entry.name} fine-tuned at ${prices['input']:g} in / ${prices['output']:g} out per 1M tokens, "
        f"{output_share:.0%} of tokens are output: ${blended:.3f} per 1M blended "
        f"({entry.inference_input.cite() if entry.inference_input else entry.source}).",
        f"Self-hosted: {card.name} always on, {hours_per_month:g} h/month at ${hourly:g}/h ({card.price.cite()}).",
    ]
    if throughput_tokens_per_s is None:
        arch, where = find_architecture(self_hosted_model)
        if arch is None:
            raise ConfigError(f"Cannot size {self_hosted_model}: {where}. Pass throughput_tokens_per_s=.")
        params = arch.parameter_count()
        if params * 2 * 1.2 > card.memory_gb * 1e9:
            raise ConfigError(
                f"{self_hosted_model} in bf16 ({params * 2 / 1e9:.1f} GB + 20% KV cache) does not fit one {card.name}; "
                "choose a larger GPU (--gpu) or pass a measured throughput."
            )
        throughput_tokens_per_s = card.bf16_tflops * 1e12 * serving_utilization / (2 * params)
        assumptions.append(
            f"Throughput {throughput_tokens_per_s:,.0f} tokens/s = peak BF16 {card.bf16_tflops:g} TFLOPS x "
            f"{serving_utilization:.0%} serving utilisation / 2N FLOPs per token (N = {params / 1e9:.2f}B, "
            "batched serving, bf16 weights); pass a measured figure to replace it."
        )
    else:
        assumptions.append(f"Throughput {throughput_tokens_per_s:,.0f} tokens/s per GPU (given).")
    capacity = throughput_tokens_per_s * 3600 * hours_per_month
    gpus_needed = max(1, math.ceil(monthly_tokens / capacity))
    self_month = gpus_needed * hourly * hours_per_month
    crossing = hourly * hours_per_month / (blended / 1e6) if blended else None
    if crossing is not None and crossing > capacity:
        crossing = None
        assumptions.append("One GPU cannot serve enough tokens to beat the managed price; more GPUs scale both.")
    return Breakeven(
        monthly_tokens=monthly_tokens,
        output_share=output_share,
        managed_model=entry.name,
        managed_usd_per_1m_blended=round(blended, 4),
        managed_usd_per_month=round(managed_month, 2),
        gpu=card.name,
        self_hosted_model=self_hosted_model,
        gpu_throughput_tokens_per_s=round(throughput_tokens_per_s, 1),
        gpus_needed=gpus_needed,
        self_hosted_usd_per_month=round(self_month, 2),
        breakeven_tokens_per_month=round(crossing) if crossing is not None else None,
        cheaper="self-hosted" if self_month < managed_month else "managed",
        assumptions=assumptions,
    )
