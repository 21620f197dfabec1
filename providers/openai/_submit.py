"""What OpenAI adds to ManagedProvider's submit: the shutdown checks before upload, the job tag it is found by.

``jobs.create`` is not idempotent (the SDK sends no idempotency key), so it runs without retries. Every
job carries ``metadata={"ftkit_job_id": <ftkit id>}``; before creating, and after every ambiguous
failure, ftkit lists jobs with that metadata filter and adopts the match (``ManagedProvider.create_job_once``).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from ftkit.errors import ConfigError, ProviderError
from ftkit.provider import JobContext

from ._client import PROVIDER, OpenAIApi
from ._options import JOB_TAG
from ._winddown import days_left_message, parse_shutdown_date, remember_shutdown

__all__ = ["availability_check", "find_tagged_job", "model_shutdown"]

log = logging.getLogger("ftkit.providers.openai")


def today() -> date:
    """Today's date (a function so tests can move the calendar)."""
    return date.today()


def availability_check(api: OpenAIApi, ctx: JobContext) -> None:
    """Refuse a job OpenAI will not accept (self-serve fine-tuning closes 2027-01-06; retired or unknown
    base models) before anything is uploaded, and log the warnings that apply.

    The catalog's dates refuse only on OpenAI's own endpoint: an emulator or another compatible server at
    ``base_url`` gets the warning, so tests and self-hosted stand-ins keep working after the dates. The
    model listing's ``shutdown_date`` is the service's own word and applies everywhere.
    """
    from ftkit.estimation.catalog import availability_problems, load_catalog

    problems = availability_problems(PROVIDER, ctx.spec.model, today())
    for problem in problems:  # refused before any request is made
        if problem.level == "error" and api.is_official:
            raise ConfigError(problem.message)
    shutdown = model_shutdown(api, ctx.spec.model)
    entry = load_catalog(PROVIDER).find(ctx.spec.model)
    for problem in problems:
        if shutdown is not None and entry is not None and problem.date == entry.retires:
            continue  # the listing's own date (below) replaces the catalog's record of it
        _warn(ctx, problem.message)
    ctx.remember(model_shutdown_date=shutdown.isoformat() if shutdown else None)
    if shutdown is not None:
        level, message = days_left_message(ctx.spec.model, shutdown, today())
        if level == "error":
            raise ConfigError(message)
        _warn(ctx, message)


def model_shutdown(api: OpenAIApi, model: str) -> date | None:
    """``shutdown_date`` from OpenAI's model listing (``GET /models/{model}``); a model OpenAI does not
    have is refused here, before the data is uploaded."""
    try:
        listed = api.safe(lambda c: c.models.retrieve(model))
    except ProviderError as e:
        if e.status_code == 404:
            raise ConfigError(
                f"OpenAI has no model {model!r} for this key: check the name (a dated snapshot such as "
                "gpt-4o-mini-2024-07-18, or one of your ft: models); `ftkit plan` lists what OpenAI fine-tunes."
            ) from e
        raise
    shutdown = parse_shutdown_date(getattr(listed, "shutdown_date", None))
    remember_shutdown(model, shutdown, today())
    return shutdown


def _warn(ctx: JobContext, message: str) -> None:
    log.warning("%s", message)
    ctx.log(message, "warning")


def find_tagged_job(client: Any, job_id: str) -> Any | None:
    """The OpenAI job tagged with this ftkit job id, if one exists (the oldest, should there be two)."""
    matches = [j for j in client.fine_tuning.jobs.list(metadata={JOB_TAG: job_id}, limit=100)
               if (j.metadata or {}).get(JOB_TAG) == job_id]
    if len(matches) > 1:
        ids = ", ".join(j.id for j in matches)
        log.warning("ftkit job %s has %d OpenAI jobs (%s); following the oldest", job_id, len(matches), ids)
    return min(matches, key=lambda j: j.created_at) if matches else None
