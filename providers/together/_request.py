"""From a `JobSpec` to the keyword arguments of ``client.fine_tuning.create``, and checks against the
model's limits (``GET /v1/fine-tunes/models/limits``) before anything is uploaded or created.

Only settings the user chose are passed, so Together's own defaults apply to the rest (and a later
change of a default on Together's side is honoured). Two exceptions, on purpose: ``lora`` is explicit for
a new job (the sync SDK would otherwise let the server pick) and left to Together for a continuation
(``from_checkpoint``: the parent's training type is kept), and ``suffix`` always carries ftkit's tag so an
interrupted create can be found again by listing jobs. Limits are checked in ``_limits.py``.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from ftkit.errors import MissingCredentialsError
from ftkit.spec import Adapter, JobSpec, Method

from ._options import TogetherOptions

__all__ = ["MAX_USER_SUFFIX", "create_kwargs", "job_tag", "remote_suffix", "spec_problems"]

#: Together appends the suffix to the output model name and allows 40 characters.
MAX_SUFFIX = 40
_TAG_LENGTH = 14  # "ftk-" + 10 hex digits
#: longest user suffix that still leaves room for ftkit's tag
MAX_USER_SUFFIX = MAX_SUFFIX - _TAG_LENGTH - 1
WANDB_KEY_ENV = "WANDB_API_KEY"


def job_tag(job_id: str) -> str:
    """A short, stable tag naming the ftkit job on Together (it rides in the job's ``suffix``).

    >>> job_tag("ftk-2026-abc") == job_tag("ftk-2026-abc") and len(job_tag("x")) == 14
    True
    """
    return "ftk-" + hashlib.sha256(job_id.encode()).hexdigest()[:10]


def remote_suffix(spec: JobSpec, job_id: str) -> str:
    """The user's suffix (if any) followed by ftkit's tag: ``support-bot-ftk-1a2b3c4d5e``."""
    user = re.sub(r"[^A-Za-z0-9_-]+", "-", spec.suffix or "").strip("-")
    tag = job_tag(job_id)
    return f"{user}-{tag}" if user else tag


def create_kwargs(
    spec: JobSpec,
    options: TogetherOptions,
    *,
    job_id: str,
    training_file: str,
    validation_file: str | None,
) -> dict[str, Any]:
    """Arguments for ``client.fine_tuning.create`` (the SDK builds the wire body from them).

    The W&B key is read from ``WANDB_API_KEY`` here, at call time, and never stored.
    """
    kwargs: dict[str, Any] = {
        "training_file": training_file,
        "training_method": spec.method.value,
        "suffix": remote_suffix(spec, job_id),
    }
    if options.from_checkpoint:
        # The model and the training type come from the parent job: with lora=None Together inherits the
        # parent's (a full fine-tune stays full); sending lora=True would silently switch it to LoRA.
        kwargs["from_checkpoint"] = options.from_checkpoint
    else:
        kwargs["model"] = spec.model
        kwargs["lora"] = spec.adapter != Adapter.FULL
    if validation_file:
        kwargs["validation_file"] = validation_file

    neutral = {
        "n_epochs": spec.epochs,
        "learning_rate": spec.learning_rate,
        "batch_size": spec.batch_size,
        "max_seq_length": spec.max_seq_length,
        "random_seed": spec.seed,
    }
    if kwargs.get("lora"):  # LoRA settings shape a new adapter only, never a continued one
        neutral.update({
            "lora_r": spec.lora_r,
            # Together takes an int alpha and would silently truncate a float: round instead
            "lora_alpha": None if spec.lora_alpha is None else round(spec.lora_alpha),
            "lora_dropout": spec.lora_dropout,
        })
    kwargs.update({k: v for k, v in neutral.items() if v is not None})

    passthrough = (
        "n_evals", "n_checkpoints", "warmup_ratio", "lr_scheduler_type", "min_lr_ratio", "scheduler_num_cycles",
        "max_grad_norm", "weight_decay", "gradient_accumulation_steps", "packing", "train_on_inputs",
        "lora_trainable_modules", "train_vision", "dpo_beta", "dpo_normalize_logratios_by_length", "rpo_alpha",
        "simpo_gamma", "early_stopping_patience", "early_stopping_min_delta", "early_stopping_warmup_evals",
        "wandb_project_name", "wandb_name", "wandb_entity", "wandb_base_url",
    )  # fmt: skip
    for name in passthrough:
        value = getattr(options, name)
        if value is not None:
            kwargs[name] = value
    if spec.method == Method.SFT:
        # Together's default, said out loud: the SDK otherwise logs a warning on every create
        kwargs.setdefault("train_on_inputs", "auto")
    if options.early_stopping is not None:
        kwargs["early_stopping_enabled"] = options.early_stopping
    if options.uses_wandb:
        key = os.environ.get(WANDB_KEY_ENV)
        if not key:
            raise MissingCredentialsError("together (Weights & Biases logging)", WANDB_KEY_ENV)
        kwargs["wandb_api_key"] = key
    return kwargs


def spec_problems(spec: JobSpec, options: TogetherOptions) -> list[str]:
    """Rules that need no network: method-specific options, suffix room, validation-only options."""
    problems: list[str] = []
    if spec.adapter == Adapter.QLORA:
        problems.append("Together does not offer QLoRA; use adapter='lora' (same low-rank adapters, 16-bit base)")
    if spec.method != Method.DPO:
        problems += [f"options.{n} only applies to method='dpo'" for n in options.dpo_only()]
    elif options.train_on_inputs is not None:
        problems.append("options.train_on_inputs only applies to method='sft'")
    if options.from_checkpoint:
        fixed = [n for n in ("lora_r", "lora_alpha", "lora_dropout") if getattr(spec, n) is not None]
        if fixed:
            problems.append(
                f"{', '.join(fixed)}: a continuation (options.from_checkpoint) keeps the parent job's adapter and "
                "training type; remove them, or start a new job from the base model to change them"
            )
    if spec.suffix and len(spec.suffix) > MAX_USER_SUFFIX:
        problems.append(
            f"suffix must be at most {MAX_USER_SUFFIX} characters on Together (ftkit adds a "
            f"{_TAG_LENGTH}-character job tag to find the job again after a crash)"
        )
    if spec.validation is None and (options.n_evals or options.early_stopping):
        problems.append("options.n_evals and options.early_stopping need a validation dataset (validation=...)")
    if options.early_stopping and options.n_evals is not None:
        needed = (options.early_stopping_patience or 2) + (options.early_stopping_warmup_evals or 1) + 1
        if options.n_evals < needed:
            problems.append(f"early stopping needs options.n_evals >= patience + warmup_evals + 1 = {needed}")
    return problems
