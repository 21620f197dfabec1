"""Resolve a spec into concrete training settings: ftkit's defaults per method, adapter and device, and the
memory those settings need. One function, one truth: ``start()`` resolves once (in the caller, against the
detected GPUs), records the result in ``config.json``, and the worker trains with exactly that record;
``estimate()`` calls the same :func:`resolve` and :func:`memory_of` against each catalog GPU.

The rules that beat TRL's own defaults on the hardware found: on CPU, fp32 with no activation
checkpointing (TRL's bf16 autocast plus checkpointing run about 2.5x slower there); on CUDA, bf16 where it
is native (fp16 on T4/V100), fp32 master weights for full fine-tuning, checkpointing only when the run
would not fit without it, and a smaller micro-batch with more accumulation when even that does not fit.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftkit.spec import Adapter, JobSpec, Method

from ._hardware import Hardware
from ._options import LocalOptions

if TYPE_CHECKING:
    from ftkit.estimation.catalog import Architecture
    from ftkit.estimation.memory import MemoryModel

__all__ = ["DEFAULT_LEARNING_RATES", "ResolvedSettings", "memory_of", "resolve"]

#: per (method, adapter): LoRA tolerates (and needs) a far higher rate than updating every weight
DEFAULT_LEARNING_RATES: dict[tuple[Method, Adapter], float] = {
    (Method.SFT, Adapter.LORA): 2e-4,
    (Method.SFT, Adapter.QLORA): 2e-4,
    (Method.SFT, Adapter.FULL): 2e-5,
    (Method.DPO, Adapter.LORA): 5e-5,
    (Method.DPO, Adapter.QLORA): 5e-5,
    (Method.DPO, Adapter.FULL): 1e-6,
}
DEFAULT_EPOCHS = 3
DEFAULT_BATCH_SIZE = 8
DEFAULT_MAX_SEQ_LENGTH = 1024
#: rows assumed when the data was not measured (no examples to count)
DEFAULT_SEQUENCE_TOKENS = 512


@dataclass(frozen=True)
class ResolvedSettings:
    """Every value training runs with, after defaults; recorded in config.json and the first event."""

    device: str
    dtype: str  # "float32" | "bfloat16" | "float16"
    epochs: int
    max_steps: int  # -1: run ``epochs``
    learning_rate: float
    batch_size: int
    gradient_accumulation_steps: int
    max_seq_length: int
    seed: int
    lora_r: int
    lora_alpha: float
    lora_dropout: float
    gradient_checkpointing: bool
    padding_free: bool
    packing: bool
    #: what the weights are stored in: float32 master weights for full fine-tuning under 16-bit autocast
    weights_dtype: str = "float32"
    num_processes: int = 1
    distributed: str = "none"  # "none" | "ddp" | "fsdp" | "zero3"
    attn_implementation: str = "sdpa"
    optim: str = "adamw_torch_fused"
    liger_kernel: bool = False
    #: tokens per row the memory was estimated for (the longest example, or max_seq_length when packing)
    sequence_tokens: int | None = None
    estimated_peak_gb: float | None = None
    gpu_memory_gb: float | None = None
    fits: bool | None = None  # None: not checked (CPU, MPS, unknown model shape, memory_fit="off")
    adjustments: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResolvedSettings:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["adjustments"] = tuple(values.get("adjustments", ()))
        return cls(**values)

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size * self.gradient_accumulation_steps * self.num_processes


def resolve(
    spec: JobSpec,
    options: LocalOptions,
    hardware: Hardware,
    *,
    arch: Architecture | None = None,
    sequence_tokens: int | None = None,
) -> ResolvedSettings:
    """Apply ftkit's defaults for ``hardware`` to everything the user left unset, then fit the GPU.

    On CUDA, with the model's shape known and ``options.memory_fit != "off"``: checkpointing left unset is
    turned on only if the run would not fit without it; with ``memory_fit="adjust"`` the micro-batch then
    shrinks (accumulation grows, the effective batch stays) until it fits. ``fits`` says whether it does;
    :func:`resolve` never raises for memory: ``start()`` refuses, ``estimate()`` reports.
    """
    device = hardware.device
    if options.dtype != "auto":
        dtype = options.dtype
    elif device == "cuda":
        # bf16 only where the tensor cores run it (sm_80+): torch's is_bf16_supported() also counts emulation
        dtype = "bfloat16" if hardware.bf16_native else "float16"
    else:
        dtype = "float32"  # CPU autocast to bf16 is 1.5-1.8x slower; MPS bf16 support is patchy
    if spec.adapter == Adapter.FULL:
        weights_dtype = "float32"  # fp32 master weights; bf16/fp16 autocast for the matmuls
    elif spec.adapter == Adapter.QLORA:
        weights_dtype = "float16" if dtype == "float16" else "bfloat16"  # the 4-bit layers' compute dtype
    else:
        weights_dtype = dtype  # frozen base in the compute dtype; peft keeps the adapters in fp32
    num_processes, distributed = _processes(options, hardware)
    packing = options.packing and spec.method == Method.SFT
    padding_free = bool(options.padding_free) and not options.packing and spec.method == Method.SFT
    checkpointing = options.gradient_checkpointing if options.gradient_checkpointing is not None else False
    settings = ResolvedSettings(
        device=device,
        dtype=dtype,
        epochs=spec.epochs or DEFAULT_EPOCHS,
        max_steps=options.max_steps or -1,
        learning_rate=spec.learning_rate or DEFAULT_LEARNING_RATES[(spec.method, spec.adapter)],
        batch_size=spec.batch_size or DEFAULT_BATCH_SIZE,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        max_seq_length=spec.max_seq_length or DEFAULT_MAX_SEQ_LENGTH,
        seed=spec.seed if spec.seed is not None else 0,
        lora_r=spec.lora_r or 16,
        lora_alpha=spec.lora_alpha or 2 * (spec.lora_r or 16),
        lora_dropout=spec.lora_dropout if spec.lora_dropout is not None else 0.0,
        gradient_checkpointing=checkpointing,
        padding_free=padding_free,
        packing=packing,
        weights_dtype=weights_dtype,
        num_processes=num_processes,
        distributed=distributed,
        attn_implementation=options.attn_implementation or _default_attention(device, packing or padding_free),
        optim=options.optim or "adamw_torch_fused",  # transformers' default, fused on every device
        liger_kernel=options.liger_kernel,
    )
    if arch is None:
        return settings
    rows = _row_tokens(settings, sequence_tokens)
    settings = replace(settings, sequence_tokens=rows)
    gpu = hardware.smallest_gpu
    if device != "cuda" or gpu is None or options.memory_fit == "off":
        peak = memory_of(spec, settings, arch).peak_gb(settings.batch_size)
        return replace(settings, estimated_peak_gb=round(peak, 2))
    return _fit(spec, options, settings, arch, gpu.memory_gb)


def memory_of(spec: JobSpec, settings: ResolvedSettings, arch: Architecture) -> MemoryModel:
    """Peak memory per GPU of training ``spec`` with exactly ``settings`` (the one function both the estimate
    and ``start()``'s fit check use)."""
    from ftkit.estimation.memory import memory_model

    sharded = settings.distributed in ("fsdp", "zero3")
    return memory_model(
        arch,
        adapter=spec.adapter.value,
        method=spec.method.value,
        sequence_tokens=settings.sequence_tokens or DEFAULT_SEQUENCE_TOKENS,
        lora_r=settings.lora_r,
        gradient_checkpointing=settings.gradient_checkpointing,
        master_weights=settings.weights_dtype == "float32",
        qlora_fp32_upcast=True,
        fused_lm_head=True,
        lora_dropout=settings.lora_dropout,
        shards=settings.num_processes if sharded else 1,
    )


def _fit(spec: JobSpec, options: LocalOptions, settings: ResolvedSettings, arch: Architecture,
         capacity_gb: float) -> ResolvedSettings:
    def peak(s: ResolvedSettings) -> float:
        return memory_of(spec, s, arch).peak_gb(s.batch_size)

    notes: list[str] = []
    if options.gradient_checkpointing is None and peak(settings) > capacity_gb:
        notes.append(f"activation checkpointing on: {peak(settings):.1f} GB without it, {capacity_gb:.1f} GB on the GPU")
        settings = replace(settings, gradient_checkpointing=True)
    if options.memory_fit == "adjust" and peak(settings) > capacity_gb:
        micro = settings.batch_size
        for smaller in (d for d in range(micro - 1, 0, -1) if micro % d == 0):
            candidate = replace(settings, batch_size=smaller,
                                gradient_accumulation_steps=settings.gradient_accumulation_steps * (micro // smaller))
            if peak(candidate) <= capacity_gb or smaller == 1:
                notes.append(
                    f"micro-batch {micro} -> {smaller} with gradient accumulation "
                    f"{settings.gradient_accumulation_steps} -> {candidate.gradient_accumulation_steps} (effective "
                    f"batch unchanged at {candidate.effective_batch_size}): {peak(settings):.1f} GB -> "
                    f"{peak(candidate):.1f} GB"
                )
                settings = candidate
                break
    final = peak(settings)
    return replace(settings, estimated_peak_gb=round(final, 2), gpu_memory_gb=round(capacity_gb, 2),
                   fits=final <= capacity_gb, adjustments=tuple(notes))


def _row_tokens(settings: ResolvedSettings, sequence_tokens: int | None) -> int:
    """Tokens per row: max_seq_length when packing fills rows, else the longest example (truncated)."""
    if settings.packing:
        return settings.max_seq_length
    longest = sequence_tokens or DEFAULT_SEQUENCE_TOKENS
    return longest if settings.padding_free else min(longest, settings.max_seq_length)


def _default_attention(device: str, varlen: bool) -> str:
    """FlashAttention-2's varlen kernel where rows are packed or flattened and it is installed; else SDPA."""
    if device == "cuda" and varlen and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def _processes(options: LocalOptions, hardware: Hardware) -> tuple[int, str]:
    """(processes, strategy): the user's, the accelerate config's, or one DDP rank per visible GPU."""
    if options.accelerate_config:
        config = _read_accelerate_config(options.accelerate_config)
        count = options.num_processes or int(config.get("num_processes") or 1)
        kind = str(config.get("distributed_type", "")).upper()
        stage = int((config.get("deepspeed_config") or {}).get("zero_stage") or 0)
        strategy = {"FSDP": "fsdp", "DEEPSPEED": "zero3" if stage == 3 else "ddp"}.get(kind, "ddp")
        return count, options.distributed or (strategy if count > 1 else "none")
    count = options.num_processes or (max(1, hardware.gpu_count) if hardware.device == "cuda" else 1)
    return count, options.distributed or ("ddp" if count > 1 else "none")


def _read_accelerate_config(path: str) -> dict[str, Any]:
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return {}
    data = yaml.safe_load(text) if text.strip() else {}
    return data if isinstance(data, dict) else {}
