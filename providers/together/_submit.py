"""Submitting a job to Together exactly once: limits check, conversion, uploads, then one create.

``fine_tuning.create`` is not idempotent (no idempotency key; a timed-out or 5xx create may still
have made the job), so it runs with the SDK's retries off, and before creating, and after every
ambiguous failure, ftkit lists the account's jobs and adopts the one carrying this job's tag (in
``suffix``, for the same training file). The remote id is stored the moment ftkit learns it.
"""

from __future__ import annotations

from typing import Any

from ftkit.errors import UnsupportedSettingError
from ftkit.provider import JobContext
from ftkit.spec import Adapter

from ._client import PROVIDER, TogetherApi
from ._limits import limit_problems, parent_training_type
from ._options import TogetherOptions
from ._request import create_kwargs, job_tag, remote_suffix
from ._status import raw_value

__all__ = ["create_job", "fetch_limits", "find_job", "find_tagged_job"]


def fetch_limits(api: TogetherApi, ctx: JobContext, options: TogetherOptions) -> Any:
    """The model's fine-tuning limits; refuses settings outside them before anything is uploaded."""
    spec = ctx.spec
    model_name = (options.from_checkpoint or spec.model).split(":")[0]
    limits = api.safe(lambda c: c.fine_tuning.model_limits(model_name=model_name))
    full = None
    problems: list[str] = []
    if options.from_checkpoint:
        parent = ctx.data.get("parent_training_type") or parent_training_type(api, options.from_checkpoint)
        if parent is not None:
            ctx.remember(parent_training_type=parent)
            full = parent == "full"
            if spec.adapter == Adapter.FULL and not full:
                problems.append(f"adapter='full': {options.from_checkpoint} is a LoRA job, and a continuation keeps "
                                "its training type; start a full fine-tune from the base model instead")  # fmt: skip
    problems += limit_problems(spec, options, limits, full=full)
    if problems:
        raise UnsupportedSettingError(PROVIDER, problems)
    return limits


def create_job(client: Any, ctx: JobContext, options: TogetherOptions, *, limits: Any, training_file: str,
               validation_file: str | None) -> Any:
    """One create with the SDK's retries off (``ManagedProvider.create_job_once`` looks the job up by
    :func:`find_job` first and after every ambiguous failure, and stores the remote id at once)."""
    spec = ctx.spec
    kwargs = create_kwargs(
        spec, options, job_id=ctx.job_id, training_file=training_file, validation_file=validation_file
    )
    ctx.remember(job_tag=job_tag(ctx.job_id), suffix=remote_suffix(spec, ctx.job_id))
    try:
        # model_limits= skips the SDK's own limits call: we fetched them (with retries) before uploading
        return client.fine_tuning.create(**kwargs, model_limits=limits)
    except ValueError as e:  # the SDK's own client-side checks (its rules may be newer than ours)
        if isinstance(e, UnsupportedSettingError):
            raise
        raise UnsupportedSettingError(PROVIDER, [str(e)]) from e


def find_job(client: Any, ctx: JobContext) -> Any | None:
    """This ftkit job's Together job, by its suffix tag and training file, if it exists."""
    training_file = ctx.data.get("train_file")
    if not training_file:
        return None
    return find_tagged_job(client, training_file=training_file, suffix=remote_suffix(ctx.spec, ctx.job_id))


def find_tagged_job(client: Any, *, training_file: str, suffix: str) -> Any | None:
    """The newest job of this account with ftkit's ``suffix`` and this training file, if any.

    Together lists every job (no pagination) with its ``suffix``; the output model name ends with
    the suffix too, which is checked as well in case a listing leaves ``suffix`` out.
    """
    matches = []
    for job in client.fine_tuning.list().data or []:
        if getattr(job, "training_file", None) not in (None, training_file):
            continue
        output = getattr(job, "x_model_output_name", None) or getattr(job, "model_output_name", None) or ""
        if getattr(job, "suffix", None) == suffix or suffix in output:
            matches.append(job)
    if not matches:
        return None
    matches.sort(key=lambda j: str(getattr(j, "created_at", "")))
    # Prefer a live or finished job over one cancelled by hand after a duplicate was noticed.
    live = [j for j in matches if raw_value(getattr(j, "status", "")) != "cancelled"]
    return (live or matches)[-1]
