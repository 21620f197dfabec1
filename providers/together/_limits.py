"""Per-model fine-tuning limits: Together's ``fine_tuning.model_limits`` online, ftkit's catalog offline.

Both have the shape of ``GET /v1/fine-tunes/models/limits`` (``lora_training.{min,max}_batch_size``,
``max_seq_length_sft``, ``supports_full_training``...). The catalog records only figures it has a source
for (``fine_tuning_limits`` of a model, e.g. gpt-oss-20b's batch size 8-8), so the offline check is
partial and a missing field is simply not checked; online, Together's own answer is checked in full
before anything is uploaded.

A continuation (``options={"from_checkpoint": ...}``) keeps its parent job's training type: ftkit looks the
parent up, checks the settings against *that* type's limits and lets Together inherit it on create.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ftkit.spec import Adapter, JobSpec

from ._client import PROVIDER, TogetherApi
from ._options import TogetherOptions

__all__ = ["catalog_limits", "limit_problems", "parent_training_type"]


def _namespace(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _namespace(v) for k, v in value.items()})
    return value


def catalog_limits(model: str) -> Any | None:
    """The catalog's sourced limits of ``model`` (attribute access, like the SDK's type), or None."""
    from ftkit.estimation.catalog import load_catalog

    entry = load_catalog(PROVIDER).find(model)
    if entry is None or not entry.fine_tuning_limits:
        return None
    return _namespace(dict(entry.fine_tuning_limits))


def _get(obj: Any, name: str) -> Any:
    return getattr(obj, name, None) if obj is not None else None


def limit_problems(spec: JobSpec, options: TogetherOptions, limits: Any, *, full: bool | None = None) -> list[str]:
    """Settings outside ``limits`` for this model; a limit ``limits`` does not state is not checked.

    ``full`` is the training type the job will have (the parent's for a continuation); default: the spec's.

    >>> spec = JobSpec(provider="together", model="openai/gpt-oss-20b", train="t.jsonl", batch_size=16)
    >>> limit_problems(spec, TogetherOptions(), catalog_limits("openai/gpt-oss-20b"))
    ['batch_size must be between 8 and 8 for openai/gpt-oss-20b (sft, lora)']
    """
    problems: list[str] = []
    method = spec.method.value
    full = spec.adapter == Adapter.FULL if full is None else full
    kind = "full" if full else "lora"
    supports_full = _get(limits, "supports_full_training")
    if full and supports_full is False:
        problems.append(f"{spec.model} cannot be fully fine-tuned on Together; use adapter='lora'")
    bounds = _get(limits, "full_training" if full else "lora_training")
    if spec.batch_size is not None and bounds is not None:
        low = _get(bounds, "min_batch_size")
        top = _get(bounds, "max_batch_size_dpo" if method == "dpo" else "max_batch_size")
        if low is not None and top is not None and not low <= spec.batch_size <= top:
            problems.append(f"batch_size must be between {low} and {top} for {spec.model} ({method}, {kind})")
    max_rank = _get(_get(limits, "lora_training"), "max_rank")
    if not full and spec.lora_r is not None and max_rank is not None and spec.lora_r > max_rank:
        problems.append(f"lora_r must be at most {max_rank} for {spec.model}")
    checks = ((spec.epochs, "max_num_epochs", "epochs"), (options.n_evals, "max_num_evals", "options.n_evals"),
              (options.n_checkpoints, "max_num_checkpoints", "options.n_checkpoints"))  # fmt: skip
    for value, field, name in checks:
        top = _get(limits, field)
        if value is not None and top is not None and value > top:
            problems.append(f"{name} must be at most {top} on Together for {spec.model}")
    lr, low, top = spec.learning_rate, _get(limits, "min_learning_rate"), _get(limits, "max_learning_rate")
    if lr is not None and low is not None and top is not None and not low <= lr <= top:
        problems.append(f"learning_rate must be between {low:g} and {top:g} for {spec.model}")
    if spec.max_seq_length is not None:
        low = _get(limits, "min_max_seq_length") or 1
        top = _get(limits, "max_seq_length_dpo" if method == "dpo" else "max_seq_length_sft")
        if top is not None and not low <= spec.max_seq_length <= top:
            problems.append(f"max_seq_length must be between {low} and {top} for {spec.model} ({method})")
    if options.train_vision and _get(limits, "supports_vision") is False:
        problems.append(f"options.train_vision: {spec.model} is not a vision model")
    return problems


def parent_training_type(api: TogetherApi, from_checkpoint: str) -> str | None:
    """``"lora"`` or ``"full"``: the training type of the job ``from_checkpoint`` continues (None if unknown)."""
    parent = from_checkpoint.split(":")[0]
    if parent.startswith("ft-"):
        job = api.safe(lambda c: c.fine_tuning.retrieve(parent))
    else:  # an output model name: find the job that produced it
        jobs = api.safe(lambda c: c.fine_tuning.list().data or [])
        job = next((j for j in jobs if parent in (getattr(j, "x_model_output_name", None),
                                                  getattr(j, "model_output_name", None))), None)  # fmt: skip
    kind = getattr(getattr(job, "training_type", None), "type", None)
    if kind is None:
        return None
    return "lora" if str(kind).lower() == "lora" else "full"
