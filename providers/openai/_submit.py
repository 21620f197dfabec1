"""Creating the OpenAI job exactly once, after the shutdown check and the uploads.

``jobs.create`` is not idempotent (the SDK sends no idempotency key), so it runs without retries.
Every job carries ``metadata={"ftkit_job_id": <ftkit id>}``; before creating, and after every
ambiguous failure, ftkit lists jobs with that metadata filter and adopts the match. The remote id is
stored the moment it is known.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from ftkit.errors import ConfigError
from ftkit.provider import JobContext

from ._client import PROVIDER, OpenAIApi
from ._options import JOB_TAG, OpenAIOptions
from ._request import job_request

__all__ = ["availability_check", "create_job", "find_tagged_job"]

log = logging.getLogger("ftkit.providers.openai")


def today() -> date:
    """Today's date (a function so tests can move the calendar)."""
    return date.today()


def availability_check(api: OpenAIApi, ctx: JobContext) -> None:
    """Refuse a job OpenAI will not accept (self-serve fine-tuning closes 2027-01-06; retired base
    models) before anything is uploaded, and log the warnings that apply.

    Only OpenAI's own endpoint is refused: an emulator or another compatible server at ``base_url``
    gets the warning, so tests and self-hosted stand-ins keep working after the dates.
    """
    from ftkit.estimation.catalog import availability_problems

    for problem in availability_problems(PROVIDER, ctx.spec.model, today()):
        if problem.level == "error" and api.is_official:
            raise ConfigError(problem.message)
        log.warning("%s", problem.message)
        ctx.log(problem.message, "warning")


def create_job(api: OpenAIApi, ctx: JobContext, options: OpenAIOptions, *, training_file: str,
               validation_file: str | None) -> Any:
    """Create the remote job, or adopt the one an earlier, interrupted attempt created."""
    body = job_request(ctx.spec, options, job_id=ctx.job_id, training_file=training_file,
                       validation_file=validation_file)
    job = api.once(
        find=lambda client: find_tagged_job(client, ctx.job_id),
        create=lambda client: client.fine_tuning.jobs.create(**body),
    )
    ctx.remember(remote_id=job.id)
    ctx.log(f"created OpenAI job {job.id} on {ctx.spec.model}")
    return job


def find_tagged_job(client: Any, job_id: str) -> Any | None:
    """The OpenAI job tagged with this ftkit job id, if one exists (the oldest, should there be two)."""
    matches = [j for j in client.fine_tuning.jobs.list(metadata={JOB_TAG: job_id}, limit=100)
               if (j.metadata or {}).get(JOB_TAG) == job_id]
    if len(matches) > 1:
        ids = ", ".join(j.id for j in matches)
        log.warning("ftkit job %s has %d OpenAI jobs (%s); following the oldest", job_id, len(matches), ids)
    return min(matches, key=lambda j: j.created_at) if matches else None
