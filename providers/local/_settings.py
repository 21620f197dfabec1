"""Resolve a spec into concrete training settings: ftkit's defaults per method, adapter and device.

The rules that beat TRL's own defaults on the hardware found: on CPU, fp32 with no activation
checkpointing (TRL's bf16 autocast plus checkpointing run about 2.5x slower there); on CUDA, bf16 where
supported and checkpointing only for models too large to fit without it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ftkit.spec import Adapter, JobSpec, Method

from ._options import LocalOptions

__all__ = ["DEFAULT_LEARNING_RATES", "ResolvedSettings", "detect_device", "resolve"]

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
#: above this many parameters a CUDA run checkpoints activations by default
CHECKPOINTING_PARAMS = 1_000_000_000


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_device(requested: str = "auto") -> str:
    """'cuda', 'mps' or 'cpu': the requested one (checked), or the best one present for 'auto'."""
    import torch

    from ftkit.errors import ConfigError

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if (requested == "cuda" and not cuda) or (requested == "mps" and not mps):
        raise ConfigError(f"options.device={requested!r}, but no {requested.upper()} device is available here; "
                          "use device='auto' or 'cpu'.")
    return requested


def resolve(spec: JobSpec, options: LocalOptions, *, device: str, n_params: int | None) -> ResolvedSettings:
    """Apply ftkit's defaults for ``device`` to everything the user left unset."""
    import torch

    if options.dtype != "auto":
        dtype = options.dtype
    elif device == "cuda":
        dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    else:
        dtype = "float32"  # CPU autocast to bf16 is 1.5-1.8x slower; MPS bf16 support is patchy
    if options.gradient_checkpointing is not None:
        checkpointing = options.gradient_checkpointing
    else:
        checkpointing = device == "cuda" and (n_params or 0) > CHECKPOINTING_PARAMS
    padding_free = bool(options.padding_free)
    return ResolvedSettings(
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
        lora_dropout=spec.lora_dropout if spec.lora_dropout is not None else 0.05,
        gradient_checkpointing=checkpointing,
        padding_free=padding_free and not options.packing and spec.method == Method.SFT,
        packing=options.packing and spec.method == Method.SFT,
    )
