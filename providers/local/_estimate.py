"""Pre-flight estimate of a local fine-tune: peak GPU memory, whether it fits each GPU of the catalog, the
largest batch that does, training time and rental cost, from ``config.json`` alone (no weights loaded).

>>> from ftkit.spec import JobSpec

from ._hardware import GpuInfo, Hardware
from ._options import LocalOptions
from ._settings import ResolvedSettings, memory_of, resolve
>>> rows = [{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}] * 100
>>> est = estimate(JobSpec(provider="local", model="meta-llama/Llama-2-7b-hf", train=rows, adapter="qlora"))
>>> next(g for g in est.gpus if g.gpu == "RTX 4090").fits
True
"""

from __future__ import annotations

from datetime import date

from ftkit.data.counting import count_for_estimate
from ftkit.estimation.catalog import load_catalog
from ftkit.estimation.gpus import Gpu, load_gpus
from ftkit.estimation.memory import training_flops_per_token
from ftkit.estimation.modeldir import find_architecture
from ftkit.estimation.types import Estimate, GpuFit, TokenCount
from ftkit.spec import JobSpec

from ._hardware import GpuInfo, Hardware
from ._options import LocalOptions
from ._settings import ResolvedSettings, memory_of, resolve

__all__ = ["DEFAULT_UTILIZATION", "QLORA_SPEED_FACTOR", "estimate"]

#: Share of the GPU's peak BF16 throughput a single-GPU transformers/TRL fine-tune sustains (model FLOPs
#: utilisation). 30-40% is typical with flash attention and packing; short, padded batches do worse.
DEFAULT_UTILIZATION = 0.35
#: QLoRA dequantises every 4-bit weight on each use, which costs time the FLOP count does not show.
QLORA_SPEED_FACTOR = 0.75


def _fit(gpu: Gpu, required_gb: float, max_batch: int, hours: float | None, batch: int) -> GpuFit:
    fits = required_gb <= gpu.memory_gb
    price = gpu.price.usd_per_hour
    return GpuFit(
        gpu=gpu.name,
        gpu_memory_gb=round(gpu.memory_gb, 2),
        required_memory_gb=round(required_gb, 2),
        fits=fits,
        max_batch_size=max_batch,
        duration_hours=round(hours, 6) if hours is not None else None,
        price_per_hour_usd=price,
        cost_usd=round(hours * price, 6) if (fits and hours is not None and price is not None) else None,
        batch_size=batch,
        peak_bf16_tflops=gpu.bf16_tflops,
    )


def estimate(
    spec: JobSpec,
    *,
    counts: TokenCount | None = None,
    today: date | None = None,
    utilization: float | None = None,
    gpus: list[Gpu] | None = None,
) -> Estimate:
    """Memory per GPU, fit, largest batch, hours and cost of a local fine-tune of ``spec.model``."""
    del today  # local models do not retire
    method, adapter = spec.method.value, spec.adapter.value
    utilization = utilization or DEFAULT_UTILIZATION
    if not 0 < utilization <= 1:
        from ftkit.errors import ConfigError

        raise ConfigError(f"utilization must be in (0, 1], got {utilization}.")
    assumptions: list[str] = []
    counts, warnings = count_for_estimate(spec, "local", counts)
    rules = load_catalog("local").rules
    if spec.epochs is not None:
        epochs, epochs_source = spec.epochs, "user"
    else:
        epochs, epochs_source = rules.default_epochs or 3, "provider default"
        assumptions.append(f"epochs not set: ftkit's local default of {epochs}.")

    arch, where = find_architecture(spec.model)
    assumptions.append(f"Model shape {where}.")
    base = Estimate(
        provider="local", model=spec.model, method=method, adapter=adapter, tokens=counts, epochs=epochs,
        epochs_source=epochs_source, assumptions=assumptions, warnings=warnings,
    )
    if arch is None:
        warnings.append("Memory and time cannot be estimated without the model's config.json: pass a local "
                        "model directory, or add the model's shape to $FTKIT_HOME/catalog/local.yaml.")
        return base.model_copy(update={"warnings": warnings})

    sequences = 2 if method == "dpo" else 1
    longest = counts.max_example_tokens // sequences if counts.max_example_tokens else None
    try:
        options = LocalOptions.model_validate(spec.options or {})
    except ValueError:  # check_spec reports bad options; estimate with the defaults meanwhile
        options = LocalOptions()
    catalog_gpus = gpus if gpus is not None else load_gpus()
    by_name = {gpu.name: gpu for gpu in catalog_gpus}
    fits: list[GpuFit] = []
    plans: dict[str, ResolvedSettings] = {}
    for gpu in catalog_gpus:
        # exactly what start() would resolve on this GPU (catalog GPUs are all Ampere or newer: bf16 native)
        hardware = Hardware("cuda", (GpuInfo(gpu.name, int(gpu.memory_gib * 2**30), (8, 0)),))
        settings = resolve(spec, options, hardware, arch=arch, sequence_tokens=longest)
        plans[gpu.name] = settings
        flops_per_token, rule = training_flops_per_token(
            arch, adapter=adapter, lora_r=settings.lora_r, gradient_checkpointing=settings.gradient_checkpointing,
            mean_sequence_tokens=counts.mean_example_tokens / sequences,
        )
        train_tokens = counts.total_tokens * epochs
        eval_flops = 2 * arch.active_parameter_count() * counts.validation_tokens * epochs  # a forward per epoch
        total_flops = flops_per_token * train_tokens + eval_flops
        effective = utilization * (QLORA_SPEED_FACTOR if adapter == "qlora" else 1.0)
        hours = total_flops / (gpu.bf16_tflops * 1e12 * effective) / 3600
        mm = memory_of(spec, settings, arch)
        fits.append(_fit(gpu, mm.peak_gb(settings.batch_size), mm.max_batch_size(gpu.memory_gb), hours,
                         settings.batch_size))
    fitting = [f for f in fits if f.fits and f.cost_usd is not None]
    best = min(fitting, key=lambda f: (f.cost_usd, f.duration_hours)) if fitting else None
    shown = plans[best.gpu] if best else plans[max(catalog_gpus, key=lambda g: g.memory_gib).name]
    mm = memory_of(spec, shown, arch)
    required = mm.peak_gb(shown.batch_size)
    flops_per_token, rule = training_flops_per_token(
        arch, adapter=adapter, lora_r=shown.lora_r, gradient_checkpointing=shown.gradient_checkpointing,
        mean_sequence_tokens=counts.mean_example_tokens / sequences,
    )
    train_tokens = counts.total_tokens * epochs
    total_flops = flops_per_token * train_tokens + 2 * arch.active_parameter_count() * counts.validation_tokens * epochs
    effective = utilization * (QLORA_SPEED_FACTOR if adapter == "qlora" else 1.0)
    precision = {"full": "fp32 master weights under bf16 autocast", "lora": "bf16 base, fp32 adapters",
                 "qlora": "4-bit NF4 projections, fp32 embeddings/LM head/norms (peft's upcast), bf16 adapters"}
    assumptions += [
        f"{mm.parameters / 1e9:.2f}B parameters"
        + (f" ({arch.active_parameter_count() / 1e9:.2f}B active per token, {arch.num_experts} experts)"
           if arch.is_moe else "")
        + f"; {mm.trainable_parameters / 1e6:.1f}M trainable"
        + (f" (LoRA r={shown.lora_r} on q, k, v, o, gate, up, down)" if adapter != "full" else "") + ".",
        f"Memory for the settings start() resolves on {best.gpu if best else 'the largest GPU'}: micro-batch "
        f"{shown.batch_size} x accumulation {shown.gradient_accumulation_steps}, rows of {shown.sequence_tokens:,} "
        f"tokens ({'packed to max_seq_length' if shown.packing else 'the longest example, truncated'}), "
        f"checkpointing {'on' if shown.gradient_checkpointing else 'off'}, {precision[adapter]}, "
        f"{shown.optim}, TRL's fused LM head, {shown.attn_implementation} attention, 1 GiB CUDA overhead; "
        "GB = 10^9 bytes. Per GPU, the plan adapts to its memory as start() would.",
    ]
    for note in shown.adjustments:
        assumptions.append(f"start() would adjust: {note}.")
    assumptions.append(
        f"Time = {train_tokens:,} tokens ({counts.total_tokens:,} x {epochs} epochs) x {flops_per_token:.3g} FLOPs "
        f"per token ({rule}) / (peak BF16 x {effective:.0%} utilisation"
        + (f", i.e. {utilization:.0%} x {QLORA_SPEED_FACTOR} for 4-bit dequantisation" if adapter == "qlora" else "")
        + "); change it with utilization=... (`--utilization`). One GPU, no multi-GPU scaling; model download, "
        "loading and checkpoint saving are not included."
    )
    if best is not None:
        assumptions.append(f"Cost and duration are for the cheapest GPU that fits: {best.gpu} at "
                           f"${best.price_per_hour_usd}/h.")
    else:
        warnings.append(
            f"Needs {required:.1f} GB, more than any single GPU in the catalog"
            + (": try adapter='qlora' or 'lora'" if adapter != "qlora" else "")
            + "; options={'distributed': 'fsdp'} over several GPUs shards weights and optimizer state."
        )
    return base.model_copy(update={
        "assumptions": assumptions,
        "warnings": warnings,
        "memory_gb": round(required, 2),
        "memory_breakdown_gb": mm.breakdown_gb(shown.batch_size),
        "gpus": fits,
        "gpu": best.gpu if best else None,
        "cost_usd": best.cost_usd if best else None,
        "cost_breakdown_usd": {"gpu_rental": best.cost_usd} if best and best.cost_usd is not None else {},
        "duration_hours": best.duration_hours if best else None,
        "price_source": by_name[best.gpu].price.cite() if best else None,
        "training_flops": total_flops,
    })

