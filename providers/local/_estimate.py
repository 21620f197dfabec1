"""Pre-flight estimate of a local fine-tune: peak GPU memory, whether it fits each GPU of the catalog, the
largest batch that does, training time and rental cost, from ``config.json`` alone (no weights loaded).

>>> from ftkit.spec import JobSpec
>>> rows = [{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}] * 100
>>> est = estimate(JobSpec(provider="local", model="meta-llama/Llama-2-7b-hf", train=rows, adapter="qlora"))
>>> next(g for g in est.gpus if g.gpu == "RTX 4090").fits
True
"""

from __future__ import annotations

from datetime import date

from ftkit.estimation.catalog import load_catalog
from ftkit.estimation.counting import count_for_estimate
from ftkit.estimation.gpus import Gpu, load_gpus
from ftkit.estimation.memory import memory_model, training_flops_per_token
from ftkit.estimation.modeldir import find_architecture
from ftkit.estimation.types import Estimate, GpuFit, TokenCount
from ftkit.spec import JobSpec

__all__ = ["DEFAULT_UTILIZATION", "QLORA_SPEED_FACTOR", "estimate"]

#: Share of the GPU's peak BF16 throughput a single-GPU transformers/TRL fine-tune sustains (model FLOPs
#: utilisation). 30-40% is typical with flash attention and packing; short, padded batches do worse.
DEFAULT_UTILIZATION = 0.35
#: QLoRA dequantises every 4-bit weight on each use, which costs time the FLOP count does not show.
QLORA_SPEED_FACTOR = 0.75
#: Sequence length assumed for memory when the data has no examples to measure.
DEFAULT_SEQUENCE_TOKENS = 512
DEFAULT_LORA_R = 16


def _gradient_checkpointing(spec: JobSpec) -> bool:
    for key in ("gradient_checkpointing", "activation_checkpointing"):
        if key in (spec.options or {}):
            return bool(spec.options[key])
    return True  # TRL's default


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
    longest = counts.max_example_tokens // sequences if counts.max_example_tokens else DEFAULT_SEQUENCE_TOKENS
    seq = min(longest, spec.max_seq_length) if spec.max_seq_length else longest
    batch = spec.batch_size or 1
    lora_r = spec.lora_r or DEFAULT_LORA_R
    checkpointing = _gradient_checkpointing(spec)
    mm = memory_model(arch, adapter=adapter, method=method, sequence_tokens=seq, lora_r=lora_r,
                      gradient_checkpointing=checkpointing)
    required = mm.peak_gb(batch)
    assumptions += [
        f"{mm.parameters / 1e9:.2f}B parameters; {mm.trainable_parameters / 1e6:.1f}M trainable"
        + (f" (LoRA r={lora_r} on q, k, v, o, gate, up, down)" if adapter != "full" else "") + ".",
        f"Memory for a per-device batch of {batch} padded to the longest example ({seq:,} tokens), "
        f"gradient checkpointing {'on' if checkpointing else 'off'}, bf16 weights"
        + (" with 4-bit NF4 double-quantised projections" if adapter == "qlora" else "")
        + ", AdamW, flash/SDPA attention, 1 GiB CUDA overhead; GB = 10^9 bytes.",
    ]

    flops_per_token, rule = training_flops_per_token(
        arch, adapter=adapter, lora_r=lora_r, gradient_checkpointing=checkpointing,
        mean_sequence_tokens=counts.mean_example_tokens / sequences,
    )
    train_tokens = counts.total_tokens * epochs
    eval_flops = 2 * arch.parameter_count() * counts.validation_tokens * epochs  # one forward pass per epoch
    total_flops = flops_per_token * train_tokens + eval_flops
    effective = utilization * (QLORA_SPEED_FACTOR if adapter == "qlora" else 1.0)
    assumptions.append(
        f"Time = {train_tokens:,} tokens ({counts.total_tokens:,} x {epochs} epochs) x {flops_per_token:.3g} FLOPs "
        f"per token ({rule}) / (peak BF16 x {effective:.0%} utilisation"
        + (f", i.e. {utilization:.0%} x {QLORA_SPEED_FACTOR} for 4-bit dequantisation" if adapter == "qlora" else "")
        + "); change it with utilization=... (`--utilization`). One GPU, no multi-GPU scaling; model download, "
        "loading and checkpoint saving are not included."
    )

    catalog_gpus = gpus if gpus is not None else load_gpus()
    by_name = {gpu.name: gpu for gpu in catalog_gpus}
    fits: list[GpuFit] = []
    for gpu in catalog_gpus:
        hours = total_flops / (gpu.bf16_tflops * 1e12 * effective) / 3600
        fits.append(_fit(gpu, required, mm.max_batch_size(gpu.memory_gb), hours, batch))
    fitting = [f for f in fits if f.fits and f.cost_usd is not None]
    best = min(fitting, key=lambda f: (f.cost_usd, f.duration_hours)) if fitting else None
    if best is not None:
        assumptions.append(f"Cost and duration are for the cheapest GPU that fits: {best.gpu} at "
                           f"${best.price_per_hour_usd}/h.")
    else:
        warnings.append(
            f"Needs {required:.1f} GB, more than any single GPU in the catalog"
            + (": try adapter='qlora' or 'lora'" if adapter != "qlora" else "")
            + "; multi-GPU training is not estimated."
        )
    return base.model_copy(update={
        "assumptions": assumptions,
        "warnings": warnings,
        "memory_gb": round(required, 2),
        "memory_breakdown_gb": mm.breakdown_gb(batch),
        "gpus": fits,
        "gpu": best.gpu if best else None,
        "cost_usd": best.cost_usd if best else None,
        "cost_breakdown_usd": {"gpu_rental": best.cost_usd} if best and best.cost_usd is not None else {},
        "duration_hours": best.duration_hours if best else None,
        "price_source": by_name[best.gpu].price.cite() if best else None,
        "training_flops": total_flops,
    })

