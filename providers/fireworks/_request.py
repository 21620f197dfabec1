"""From a :class:`~ftkit.spec.JobSpec` to the body of ``supervised_fine_tuning_jobs.create``, and the
checks Fireworks would refuse after an upload, made before one."""

from __future__ import annotations

import os
from typing import Any

from ftkit.spec import JobSpec

from ._client import resource_id
from ._options import FireworksOptions

__all__ = ["LORA_RANKS", "base_model_name", "create_kwargs", "dpo_create_kwargs", "output_model_id", "remote_job_id",
           "spec_problems"]

#: LoRA ranks ftkit lets through to Fireworks: powers of two up to 64. An assumption (the API spec types
#: lora_rank as any integer; the Fireworks UI offers these); the emulator enforces it, the service has the last word.
LORA_RANKS = (4, 8, 16, 32, 64)
WANDB_KEY_ENV = "WANDB_API_KEY"


def base_model_name(model: str) -> str:
    """Fireworks names base models ``accounts/fireworks/models/<id>``; a bare id is Fireworks' own.

    >>> base_model_name("llama-v3p1-8b-instruct")
    'accounts/fireworks/models/llama-v3p1-8b-instruct'
    """
    return model if model.startswith("accounts/") else f"accounts/fireworks/models/{model}"


def remote_job_id(job_id: str) -> str:
    """The id ftkit gives the Fireworks job: chosen by the client, so a repeated create is a 409, never
    a second job (``supervisedFineTuningJobId``)."""
    return resource_id(job_id)


def output_model_id(spec: JobSpec, job_id: str) -> str:
    """The fine-tuned model's id: the user's ``suffix`` (if any) and ftkit's job id, unique per job."""
    return resource_id(spec.suffix or "", job_id)


def spec_problems(spec: JobSpec, options: FireworksOptions) -> list[str]:
    problems = []
    if spec.lora_r is not None and spec.lora_r not in LORA_RANKS:
        problems.append(f"lora_r={spec.lora_r} is not accepted by Fireworks; use one of {', '.join(map(str, LORA_RANKS))}")
    if options.warm_start_from and not options.warm_start_from.startswith("accounts/"):
        problems.append("options.warm_start_from must be a model name like accounts/<account>/models/<id>")
    if options.wandb_entity and not options.wandb_project:
        problems.append("options.wandb_entity needs options.wandb_project")
    if spec.method.value == "dpo":
        if spec.validation is not None:
            problems.append("Fireworks DPO jobs take no evaluation dataset (dpoJobs has none); remove validation")
        for name in ("early_stop", "eval_auto_carveout", "is_turbo", "region", "warm_start_from"):
            if getattr(options, name) is not None:
                problems.append(f"options.{name} is for SFT jobs; Fireworks DPO jobs do not take it")
    elif options.beta is not None:
        problems.append("options.beta is the DPO loss's KL penalty; remove it for method='sft'")
    return problems


def _training_settings(spec: JobSpec, options: FireworksOptions) -> dict[str, Any]:
    neutral = {"epochs": spec.epochs, "learning_rate": spec.learning_rate, "lora_rank": spec.lora_r,
               "max_context_length": spec.max_seq_length, "batch_size_samples": spec.batch_size,
               "learning_rate_warmup_steps": options.learning_rate_warmup_steps,
               "gradient_accumulation_steps": options.gradient_accumulation_steps,
               "batch_size": options.batch_size_tokens}  # fmt: skip
    return {k: v for k, v in neutral.items() if v is not None}


def _wandb(options: FireworksOptions) -> dict[str, Any] | None:
    if not options.wandb_project:
        return None
    wandb: dict[str, Any] = {"enabled": True, "project": options.wandb_project,
                             "api_key": os.environ.get(WANDB_KEY_ENV, "")}  # fmt: skip
    if options.wandb_entity:
        wandb["entity"] = options.wandb_entity
    return wandb


def dpo_create_kwargs(spec: JobSpec, options: FireworksOptions, *, job_id: str, dataset: str,
                      output_model: str) -> dict[str, Any]:
    """Keyword arguments for ``client.dpo_jobs.create``: the training settings go in ``training_config``."""
    config = {"base_model": base_model_name(spec.model), "output_model": output_model,
              **_training_settings(spec, options)}  # fmt: skip
    kwargs: dict[str, Any] = {"dpo_job_id": remote_job_id(job_id), "dataset": dataset, "training_config": config,
                              "display_name": (spec.name or spec.suffix or job_id)[:63],
                              "loss_config": {"method": "DPO", **({"kl_beta": options.beta} if options.beta else {})}}  # fmt: skip
    wandb = _wandb(options)
    if wandb:
        kwargs["wandb_config"] = wandb
    return kwargs


def create_kwargs(spec: JobSpec, options: FireworksOptions, *, job_id: str, dataset: str,
                  evaluation_dataset: str | None, output_model: str) -> dict[str, Any]:
    """Keyword arguments for ``client.supervised_fine_tuning_jobs.create`` (omitted keys: Fireworks' defaults)."""
    kwargs: dict[str, Any] = {
        "supervised_fine_tuning_job_id": remote_job_id(job_id),
        "dataset": dataset,
        "output_model": output_model,
        "display_name": (spec.name or spec.suffix or job_id)[:63],
    }
    if options.warm_start_from:
        kwargs["warm_start_from"] = options.warm_start_from
    else:
        kwargs["base_model"] = base_model_name(spec.model)
    kwargs.update(_training_settings(spec, options))
    own = {"evaluation_dataset": evaluation_dataset, "early_stop": options.early_stop,
           "eval_auto_carveout": options.eval_auto_carveout, "is_turbo": options.is_turbo, "region": options.region}
    kwargs.update({k: v for k, v in own.items() if v is not None})
    wandb = _wandb(options)
    if wandb:
        kwargs["wandb_config"] = wandb
    return kwargs
