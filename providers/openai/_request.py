"""Turning a `JobSpec` into the body of ``POST /fine_tuning/jobs``, and the OpenAI-specific spec checks.

Settings go under ``method.<type>.hyperparameters`` (the top-level ``hyperparameters`` form is
deprecated). A setting the user left unset is not sent at all, so OpenAI's ``"auto"`` applies.

=====================  ==============================================================
ftkit                  OpenAI request field
=====================  ==============================================================
``model``              ``model``
``train``              ``training_file`` (uploaded file id)
``validation``         ``validation_file``
``method="sft"|"dpo"`` ``method.type = "supervised" | "dpo"``
``epochs``             ``method.<type>.hyperparameters.n_epochs``
``batch_size``         ``method.<type>.hyperparameters.batch_size``
``seed``               ``seed``
``suffix``             ``suffix``
options.learning_rate_multiplier   ``method.<type>.hyperparameters.learning_rate_multiplier``
options.beta (DPO)     ``method.dpo.hyperparameters.beta``
options.wandb_*        ``integrations=[{"type": "wandb", "wandb": {...}}]``
options.metadata       ``metadata`` (plus ``ftkit_job_id``, which ftkit adds)
=====================  ==============================================================
"""

from __future__ import annotations

from typing import Any

from ftkit.spec import JobSpec, Method

from ._options import JOB_TAG, OpenAIOptions

__all__ = ["METHOD_TYPES", "job_request", "spec_problems"]

METHOD_TYPES = {Method.SFT: "supervised", Method.DPO: "dpo"}

#: OpenAI's own limits, stricter than JobSpec's provider-neutral ones
_LIMITS = {"epochs": (1, 50), "batch_size": (1, 256)}


def spec_problems(spec: JobSpec, options: OpenAIOptions) -> list[str]:
    """Settings OpenAI would refuse, found before anything is uploaded."""
    problems = []
    for name, (lo, hi) in _LIMITS.items():
        value = getattr(spec, name)
        if value is not None and not lo <= value <= hi:
            problems.append(f"{name}={value} is out of OpenAI's range {lo}..{hi}")
    if options.beta is not None and spec.method is not Method.DPO:
        problems.append("options.beta only applies to method='dpo'")
    problems += options.wandb_problems()
    return problems


def job_request(
    spec: JobSpec,
    options: OpenAIOptions,
    *,
    job_id: str,
    training_file: str,
    validation_file: str | None,
) -> dict[str, Any]:
    """Keyword arguments for ``client.fine_tuning.jobs.create``.

    >>> spec = JobSpec(provider="openai", model="gpt-4o-mini-2024-07-18", train="t.jsonl", epochs=2)
    >>> job_request(spec, OpenAIOptions(), job_id="ftk-1", training_file="file-1", validation_file=None)
    ... # doctest: +NORMALIZE_WHITESPACE
    {'model': 'gpt-4o-mini-2024-07-18', 'training_file': 'file-1',
     'method': {'type': 'supervised', 'supervised': {'hyperparameters': {'n_epochs': 2}}},
     'metadata': {'ftkit_job_id': 'ftk-1'}}
    """
    kind = METHOD_TYPES[spec.method]
    hyperparameters = _without_none({
        "n_epochs": spec.epochs,
        "batch_size": spec.batch_size,
        "learning_rate_multiplier": options.learning_rate_multiplier,
        "beta": options.beta if spec.method is Method.DPO else None,
    })
    method: dict[str, Any] = {"type": kind}
    if hyperparameters:
        method[kind] = {"hyperparameters": hyperparameters}
    body: dict[str, Any] = {
        "model": spec.model,
        "training_file": training_file,
        "validation_file": validation_file,
        "method": method,
        "seed": spec.seed,
        "suffix": spec.suffix,
        "metadata": {**options.metadata, JOB_TAG: job_id},
    }
    if options.wandb_project:
        wandb = _without_none({
            "project": options.wandb_project,
            "entity": options.wandb_entity,
            "name": options.wandb_name,
            "tags": options.wandb_tags or None,
        })
        body["integrations"] = [{"type": "wandb", "wandb": wandb}]
    return _without_none(body)


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    # The SDK sends an explicit None as JSON null, which is not the same as leaving a setting to "auto".
    return {k: v for k, v in values.items() if v is not None}
