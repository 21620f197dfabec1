"""`LocalOptions`: the ``options={...}`` a local job accepts, each with the default ftkit picks and why."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ftkit.provider import ProviderOptions

__all__ = ["LocalOptions"]


class LocalOptions(ProviderOptions):
    """Settings of ``provider="local"`` beyond the neutral ``JobSpec`` ones. ``None`` = chosen for the device."""

    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="where to train; 'auto' picks CUDA, then Apple MPS, then CPU"
    )
    num_processes: int | None = Field(
        None, ge=1, description="processes to launch through accelerate; None: one per visible GPU (1 on CPU/MPS, "
        "or the accelerate config's own num_processes); several CPU ranks talk over gloo"
    )
    distributed: Literal["ddp", "fsdp", "zero3"] | None = Field(
        None, description="multi-GPU strategy preset: 'ddp' (a replica per GPU, the default with 2+ processes), "
        "'fsdp' (FSDP2 full sharding), 'zero3' (DeepSpeed ZeRO-3; needs `pip install deepspeed`)"
    )
    accelerate_config: str | None = Field(
        None, description="an accelerate config file (multi-node, FSDP, DeepSpeed) passed to `accelerate launch` "
        "untouched: its num_processes, machine_rank and main_process_ip/port win"
    )
    launcher: Literal["ftkit", "external"] = Field(
        "ftkit", description="'ftkit': start() launches the ranks on this machine; 'external': start() only "
        "prepares the run directory and you start `accelerate launch ... -m ftkit.providers.local._worker <run "
        "dir>` on each node (SLURM, multi-node); the settings are then resolved on the training nodes"
    )
    memory_fit: Literal["adjust", "refuse", "off"] = Field(
        "adjust", description="when the run's estimate exceeds the detected GPU: 'adjust' turns on checkpointing, "
        "then trades micro-batch for accumulation (same effective batch) and says so in an event; 'refuse' fails "
        "start() with the estimate; 'off' trains anyway"
    )
    attn_implementation: Literal["sdpa", "flash_attention_2", "flash_attention_3", "flex_attention", "eager"] | None = (
        Field(None, description="attention kernel; None: flash_attention_2 on CUDA for packing/padding-free when "
              "flash-attn is installed, else sdpa")
    )
    optim: Literal["adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit",
                   "adafactor", "sgd"] | None = Field(
        None, description="optimizer; None: adamw_torch_fused; 'adamw_8bit' and 'paged_adamw_*' are "
        "bitsandbytes' (CUDA): 8-bit moments use 75% less optimizer memory, paged ones survive memory spikes"
    )
    liger_kernel: bool = Field(
        False, description="Liger's Triton RMSNorm/RoPE/SwiGLU kernels (CUDA, `pip install liger-kernel`); TRL's "
        "fused LM head stays in place of Liger's fused cross-entropy"
    )
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps (overrides epochs)")
    gradient_accumulation_steps: int = Field(1, ge=1, description="micro-batches per optimizer step")
    packing: bool = Field(False, description="pack several examples into each row (best-fit decreasing)")
    padding_free: bool = Field(
        False,
        description="concatenate each batch into one row with no padding (no truncation to max_seq_length); "
        "off by default: on CPU, attention over the flattened row made the demo slower and learn less",
    )
    loss_on: Literal["assistant", "all"] = Field(
        "assistant", description="'assistant': loss on assistant/completion tokens only; 'all': every token"
    )
    chat_template: str | None = Field(
        None, description="a Jinja chat template (text or path) to use instead of the tokenizer's own"
    )
    gradient_checkpointing: bool | None = Field(
        None, description="trade compute for memory; None: on CUDA, on only when the run would not fit the GPU "
        "without it (from ftkit's estimate of this run); off on CPU and MPS"
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="compute precision; 'auto': bf16 on GPUs with native bf16 (Ampere, sm_80+), fp16 on "
        "older ones (T4, V100), fp32 on CPU and MPS. Full fine-tuning keeps fp32 master weights under bf16/fp16 "
        "autocast"
    )
    target_modules: str | list[str] = Field(
        "all-linear", description="LoRA target modules: 'all-linear' or a list of module names"
    )
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="fraction of steps spent warming up the learning rate")
    lr_scheduler: str = Field("linear", description="learning-rate schedule: linear, cosine, constant, ...")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    dpo_beta: float = Field(0.1, gt=0, description="DPO: strength of the KL penalty towards the reference model")
    logging_steps: int = Field(10, ge=1, description="write a metrics event every N steps")
    eval_steps: int | None = Field(
        None, ge=1, description="evaluate on the validation set every N steps; None: with each checkpoint"
    )
    save_steps: int | None = Field(
        None, ge=1, description="checkpoint every N steps; None: every 10% of the run, 25 to 50 steps apart"
    )
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept on disk (the best one is always kept)")
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop when validation loss has not improved for N evaluations (needs validation)"
    )
    report_to: list[Literal["wandb", "tensorboard", "mlflow"]] = Field(
        default_factory=list, description="experiment trackers to log to, besides ftkit's own events"
    )
    output_dir: str | None = Field(
        None, description="where the final adapter or model goes; default: <run dir>/output"
    )
