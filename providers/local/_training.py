"""Build the TRL trainer for a job: model (LoRA, QLoRA or full), tokenizer, datasets and config.

Every kwarg here is one TRL 1.16 / transformers 5 accepts (``processing_class``, ``max_length``,
``activation_checkpointing``, ``warmup_steps`` as a ratio); the per-device choices come from
:mod:`._settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftkit.errors import ConfigError
from ftkit.spec import Adapter, JobSpec, Method

from ._checkpoints import with_atomic_checkpoints
from ._options import LocalOptions
from ._settings import ResolvedSettings

__all__ = ["build_trainer", "check_chat_template", "device_map_for", "load_tokenizer", "quantization_config"]

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def load_tokenizer(model: str, options: LocalOptions) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    if options.chat_template:
        template = options.chat_template
        if "{%" not in template and Path(template).is_file():
            template = Path(template).read_text(encoding="utf-8")
        tokenizer.chat_template = template
    if tokenizer.pad_token is None:  # Llama-style tokenizers ship without one
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def check_chat_template(tokenizer: Any, model: str, *, assistant_only: bool) -> None:
    """Fail with what is missing (and how to fix it) before TRL fails with a bare ValueError."""
    if not tokenizer.chat_template:
        raise ConfigError(
            f"The tokenizer of {model} has no chat template, so chat data cannot be rendered. Pass one with "
            "options={'chat_template': '<jinja text or path>'}, or train on {'text': ...} examples."
        )
    # Assistant-only loss needs no {% generation %} markers: ftkit finds the answers by incremental rendering.


def quantization_config(settings: ResolvedSettings) -> Any:
    """QLoRA's 4-bit config: NF4, double quantisation, compute in the run's 16-bit dtype, and the packed
    4-bit weights stored in that same dtype so FSDP / ZeRO-3 can shard them like every other parameter."""
    import torch
    from transformers import BitsAndBytesConfig

    # 4-bit weights need a 16-bit compute type; bf16 also runs on CPU (bitsandbytes' CPU backend)
    compute = torch.float16 if settings.dtype == "float16" else torch.bfloat16
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute,
        bnb_4bit_quant_storage=compute,
    )


def device_map_for(settings: ResolvedSettings) -> dict[str, int] | None:
    """Where a 4-bit model loads: this rank's own GPU under DDP (bitsandbytes would otherwise put every rank
    on GPU 0); None under FSDP / ZeRO-3 (they place the shards) and off CUDA."""
    import os

    if settings.device != "cuda" or settings.distributed in ("fsdp", "zero3"):
        return None
    return {"": int(os.environ.get("LOCAL_RANK", "0"))}


def _load_model(spec: JobSpec, settings: ResolvedSettings) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"attn_implementation": settings.attn_implementation}
    if spec.adapter != Adapter.QLORA:
        # full fine-tuning: fp32 master weights under bf16/fp16 autocast; LoRA: the frozen base in 16 bits
        dtype = getattr(torch, _DTYPES[settings.weights_dtype])
        return AutoModelForCausalLM.from_pretrained(spec.model, dtype=dtype, **kwargs)
    from peft import prepare_model_for_kbit_training

    quantization = quantization_config(settings)
    model = AutoModelForCausalLM.from_pretrained(spec.model, quantization_config=quantization,
                                                 dtype=quantization.bnb_4bit_compute_dtype,
                                                 device_map=device_map_for(settings), **kwargs)
    # non-reentrant checkpointing from the start (peft's own default is torch's deprecated reentrant one)
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=settings.gradient_checkpointing,
                                           gradient_checkpointing_kwargs={"use_reentrant": False})


def _lora_config(spec: JobSpec, options: LocalOptions, settings: ResolvedSettings) -> Any:
    if spec.adapter == Adapter.FULL:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=options.target_modules,
        task_type="CAUSAL_LM",
    )


def _common_args(options: LocalOptions, settings: ResolvedSettings, output_dir: Path, has_eval: bool) -> dict:
    save_steps = options.save_steps or _default_save_steps(settings)
    eval_steps = options.eval_steps or save_steps
    args: dict[str, Any] = dict(
        output_dir=str(output_dir),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=options.lr_scheduler,
        warmup_steps=options.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=options.weight_decay,
        seed=settings.seed,
        data_seed=settings.seed,
        logging_steps=options.logging_steps,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=None,  # ftkit rotates, after the new checkpoint is marked complete (RunDirCallback)
        report_to=list(options.report_to) or "none",
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
        # the device rules (ftkit's, not TRL's bf16 + checkpointing defaults)
        use_cpu=settings.device == "cpu",
        bf16=settings.dtype == "bfloat16",
        fp16=settings.dtype == "float16",
        # under FSDP the accelerate config checkpoints each wrapped layer instead (both at once is refused)
        activation_checkpointing=settings.gradient_checkpointing and settings.distributed != "fsdp",
        activation_checkpointing_kwargs={"use_reentrant": False},
        optim=settings.optim,
        use_liger_kernel=settings.liger_kernel,
        max_length=settings.max_seq_length,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,  # adapters and full models use every parameter; skip the extra pass
    )
    if has_eval:
        # eval on the checkpoint steps so the best checkpoint can be kept (and restored at the end)
        args.update(
            eval_strategy="steps",
            eval_steps=eval_steps,
            load_best_model_at_end=save_steps % eval_steps == 0,
            metric_for_best_model="eval_loss",
            greater_is_better=False,
        )
    return args


def _default_save_steps(settings: ResolvedSettings) -> int:
    """Every 10% of a run of known length, but 25 to 50 steps apart: each checkpoint writes the adapter and
    the optimizer state, and on a short run (20 steps used to save every 2) that costs more time than a
    crash would."""
    if settings.max_steps > 0:
        return max(25, min(50, settings.max_steps // 10))
    return 50


def build_trainer(
    spec: JobSpec,
    options: LocalOptions,
    settings: ResolvedSettings,
    *,
    train_rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]] | None,
    output_dir: Path,
    callbacks: list[Any],
) -> Any:
    """The configured SFTTrainer or DPOTrainer (not yet trained)."""
    from datasets import Dataset

    tokenizer = load_tokenizer(spec.model, options)
    first = train_rows[0]
    is_chat = "messages" in first or isinstance(first.get("prompt"), list) or spec.method == Method.DPO
    assistant_only = options.loss_on == "assistant" and "messages" in first
    if is_chat:
        check_chat_template(tokenizer, spec.model, assistant_only=assistant_only)
    if assistant_only:  # ftkit tokenizes: TRL's own masks need {% generation %} markers most templates lack
        from ._data import tokenize_for_assistant_loss

        train_rows = tokenize_for_assistant_loss(train_rows, tokenizer, source=str(spec.train))
        if eval_rows:
            eval_rows = tokenize_for_assistant_loss(eval_rows, tokenizer, source=str(spec.validation))
    model = _load_model(spec, settings)
    train = Dataset.from_list(train_rows)
    held_out = Dataset.from_list(eval_rows) if eval_rows else None
    args = _common_args(options, settings, output_dir, has_eval=held_out is not None)
    if options.early_stopping_patience:
        from transformers import EarlyStoppingCallback

        callbacks = [*callbacks, EarlyStoppingCallback(early_stopping_patience=options.early_stopping_patience)]

    if spec.method == Method.DPO:
        from trl import DPOConfig, DPOTrainer

        config = DPOConfig(**args, beta=options.dpo_beta)
        trainer = with_atomic_checkpoints(DPOTrainer)(
            model=model, ref_model=None, args=config, train_dataset=train, eval_dataset=held_out,
            processing_class=tokenizer, peft_config=_lora_config(spec, options, settings), callbacks=callbacks)
        return _fp32_adapters_under_fp16(trainer, spec, settings)

    from trl import SFTConfig, SFTTrainer

    if settings.padding_free:
        args["max_length"] = None  # TRL requires it: padding-free rows are not truncated
    config = SFTConfig(
        **args,
        packing=settings.packing,
        padding_free=settings.padding_free,
        assistant_only_loss=False,  # rows arrive tokenized with assistant_masks (TRL turns them into labels)
        completion_only_loss=options.loss_on == "assistant",
    )
    trainer = with_atomic_checkpoints(SFTTrainer)(
        model=model, args=config, train_dataset=train, eval_dataset=held_out, processing_class=tokenizer,
        peft_config=_lora_config(spec, options, settings), callbacks=callbacks)
    return _fp32_adapters_under_fp16(trainer, spec, settings)


def _fp32_adapters_under_fp16(trainer: Any, spec: JobSpec, settings: ResolvedSettings) -> Any:
    """TRL casts QLoRA adapters to bf16, which pre-Ampere GPUs (the reason for fp16) only emulate; under fp16
    autocast they train in fp32 instead, which GradScaler also needs (it refuses to unscale fp16 gradients)."""
    if spec.adapter == Adapter.QLORA and settings.dtype == "float16":
        import torch

        for param in trainer.model.parameters():
            if param.requires_grad and param.dtype != torch.float32:
                param.data = param.data.float()
    return trainer
