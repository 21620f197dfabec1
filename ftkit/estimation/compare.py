"""Compare providers before spending anything: one estimate per provider, and the inference break-even.

>>> rows = [{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}] * 20
>>> [e.provider for e in plan(rows, targets=["openai:gpt-4o-mini", "local:Qwen/Qwen2.5-7B-Instruct"])]
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

__all__ = ["Breakeven", "Target", "breakeven", "default_targets", "estimate_spec", "parse_target", "plan"]

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


#: a target: ``(provider, model)``, or ``"provider:model"``; a bare path or name means the self-hosted provider
Target = tuple[str, str] | str

# listing order of default targets: managed per-token first, then deployments, then your own hardware
_HOSTING_ORDER = {"serverless": 0, "deployment": 1, "self-hosted": 2}


def parse_target(target: Target) -> tuple[str, str]:
    """``("openai", "gpt-4o-mini")`` from a tuple or from ``"openai:gpt-4o-mini"``; a path on disk or a name
    without a provider is a model of the provider that runs on your own hardware.

    >>> parse_target("together:Qwen/Qwen2.5-7B-Instruct")
    ('together', 'Qwen/Qwen2.5-7B-Instruct')
    """
    from pathlib import Path

    from ftkit.registry import self_hosted_provider

    if not isinstance(target, str):
        provider, model = target
        return provider.lower(), str(model)
    provider, sep, model = target.partition(":")
    if not sep or not model or len(provider) == 1 or Path(target).exists():  # "C:/models" is a path
        return self_hosted_provider(), target
    return provider.lower(), model


def default_targets() -> list[tuple[str, str]]:
    """What ``plan()`` prices when no target is given: each installed provider's catalog default model
    (providers whose extra is missing, or whose catalog names no default, are left out)."""
    from ftkit.registry import available_providers, get_provider

    found = []
    for name in available_providers():
        try:
            cls = get_provider(name)
        except ConfigError:  # its extra is not installed: it cannot run here
            continue
        model = cls.default_model()
        if model:
            found.append((_HOSTING_ORDER.get(cls.hosting.value, 9), name, model))
    return [(name, model) for _, name, model in sorted(found)]


def plan(
    spec_or_file: JobSpec | Any,
    *,
    targets: list[Target] | None = None,
    today: date | None = None,
    **settings: Any,
) -> list[Estimate]:
    """One estimate per target for the same data and settings, in the order given.

    ``targets`` are ``(provider, model)`` pairs or ``"provider:model"`` strings, e.g.
    ``[("openai", "gpt-4o-mini-2024-07-18"), ("together", "Qwen/Qwen2.5-7B-Instruct"), ("local", path)]``.
    Without targets, each installed provider contributes the default model its catalog recommends (with a
    ``JobSpec``, its own provider and model come first). ``spec_or_file`` is a ``JobSpec`` (its settings are
    the defaults) or the training data itself.

    ``settings`` are JobSpec fields (epochs, method, adapter, batch_size, max_seq_length...) and estimator
    knobs (``utilization=``...), each passed only to the providers that declare it in ``estimator_knobs``.
    An adapter a provider does not offer (QLoRA on a managed service) is priced as LoRA, and the estimate
    says so.

    >>> rows = [{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}] * 20
    >>> [e.provider for e in plan(rows, targets=["openai:gpt-4o-mini", ("local", "Qwen/Qwen2.5-7B-Instruct")])]
    ['openai', 'local']
    """
    from ftkit.registry import get_provider
    from ftkit.types import Capability

    own: list[tuple[str, str]] = []
    if isinstance(spec_or_file, JobSpec):
        base = spec_or_file.model_dump(exclude={"provider", "model", "options"})
        own = [(spec_or_file.provider, spec_or_file.model)]
    else:
        base = {"train": spec_or_file}
    fields = {k: v for k, v in settings.items() if k in JobSpec.model_fields}
    knobs = {k: v for k, v in settings.items() if k not in JobSpec.model_fields and v is not None}
    base.update(fields)
    if targets:
        chosen = [parse_target(t) for t in targets]
    else:
        chosen = own + [t for t in default_targets() if t[0] not in {p for p, _ in own}]
    if not chosen:
        raise ConfigError(
            "Nothing to plan: no target was given and no installed provider names a default model. "
            "Pass targets=[(provider, model), ...] (CLI: --target provider:model)."
        )
    classes = {provider: get_provider(provider) for provider, _ in chosen}
    unknown = set(knobs) - set().union(*(cls.estimator_knobs for cls in classes.values()))
    if unknown:
        raise ConfigError(
            f"{', '.join(sorted(unknown))}: neither a JobSpec setting nor an estimator knob of "
            f"{', '.join(sorted(classes))}; remove it, or plan a provider that takes it."
        )

    # Each provider counts with its own tokenizer, so counts are not shared between them.
    estimates = []
    for provider, name in chosen:
        cls = classes[provider]
        spec_fields = dict(base)
        downgraded = spec_fields.get("adapter") == "qlora" and Capability.QLORA not in cls.capabilities
        if downgraded and Capability.LORA in cls.capabilities:
            spec_fields["adapter"] = "lora"  # the service chooses its own precision
        else:
            downgraded = False
        spec = JobSpec(provider=provider, model=name, **spec_fields)
        extra = {k: v for k, v in knobs.items() if k in cls.estimator_knobs}
        estimate = estimate_spec(spec, today=today, **extra)
        if downgraded:
            estimate.assumptions.append(f"{provider} does not offer QLoRA: priced as LoRA.")
        estimates.append(estimate)
    return estimates


# -- inference break-even -------------------------------------------------------------------------------


def _per_token_providers(model: str) -> list[str]:
    """Installed managed providers whose catalog prices ``model``'s fine-tuned inference per token, those
    serving it per token alone first (a deployment's hourly fee is not part of this comparison)."""
    from ftkit.registry import available_providers, get_provider

    found = []
    for name in available_providers():
        try:
            cls = get_provider(name)
            entry = None if cls.hosting.is_self_hosted else cls.catalog().find(model)
        except ConfigError:
            continue
        if entry is not None and {"input", "output"} <= set(entry.inference_prices()):
            found.append((_HOSTING_ORDER.get(cls.hosting.value, 9), name))
    if not found:
        raise ConfigError(
            f"No installed provider's catalog prices fine-tuned {model!r} per token; pass managed_provider= "
            "(CLI: --managed-provider) naming the catalog that does, or choose a model billed per token."
        )
    return [name for _, name in sorted(found)]


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
    managed_provider: str | None = None,
    gpu: str = "L4",
    output_share: float = 0.25,
    throughput_tokens_per_s: float | None = None,
    serving_utilization: float = DEFAULT_SERVING_UTILIZATION,
    hours_per_month: float = HOURS_PER_MONTH,
) -> Breakeven:
    """Self-hosting ``self_hosted_model`` on always-on ``gpu`` against ``managed_model``'s fine-tuned prices.

    ``managed_provider`` names the catalog holding the managed model's per-token inference prices (default:
    the first installed provider not on your own hardware whose catalog prices ``managed_model`` per token);
    a provider that bills fine-tuned serving per hour (dedicated endpoints) has none, and is refused with a
    ConfigError.

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
    also: list[str] = []
    if managed_provider is None:
        managed_provider, *also = _per_token_providers(managed_model)
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
        f"Managed: {entry.name} on {managed_provider}, fine-tuned at ${prices['input']:g} in / ${prices['output']:g} out per 1M tokens, "
        f"{output_share:.0%} of tokens are output: ${blended:.3f} per 1M blended "
        f"({entry.inference_input.cite() if entry.inference_input else entry.source}).",
        f"Self-hosted: {card.name} always on, {hours_per_month:g} h/month at ${hourly:g}/h ({card.price.cite()}).",
    ]
    if also:
        assumptions.append(f"Managed prices from the {managed_provider} catalog; {', '.join(also)} also price "
                           f"{entry.name}: pass managed_provider= (--managed-provider) to compare with it instead.")
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
