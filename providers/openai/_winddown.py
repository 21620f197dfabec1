"""OpenAI's wind-down of self-serve fine-tuning: what a refused create means, and model shutdown dates.

Dates (OpenAI deprecations page, "Update to OpenAI's self-serve fine-tuning", notice 2026-05-07; summaries
dated 2026-07 to 2026-10 in shared/reference/openai.md section 0 and review-managed.md W2):

* 2026-05-07: organisations that never fine-tuned can no longer create jobs;
* 2026-07-02: organisations with no inference on a fine-tuned model in the previous 60 days are blocked too;
* 2027-01-06: job creation ends for every remaining self-serve customer;
* fine-tuned models keep serving until their base model shuts down (``shutdown_date`` on the model listing;
  2027-01-14 for the gpt-4o, gpt-4o-mini and gpt-4.1 snapshots).

An ineligible organisation gets HTTP 403 ("permission denied") on ``POST /fine_tuning/jobs``, which is
:func:`refused_create` below; every other 401/403 stays a key problem.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from ftkit._managed import provider_message
from ftkit.errors import FtkitError, JobCreationClosedError

__all__ = ["WAYS_ON", "days_left_message", "known_shutdown", "listing_availability", "parse_shutdown_date",
           "refused_create", "remember_shutdown"]

#: where a job OpenAI refuses can go instead
WAYS_ON = (
    "Azure OpenAI keeps fine-tuning the same GPT models with the same jobs API (provider='azure'); "
    "Together trains open models (provider='together'); your own GPUs (provider='local'); "
    "`ftkit migrate <job id> --to <provider>` moves this job's spec there and says what changed."
)


def is_job_create(exc: Any) -> bool:
    """Whether the failed request was ``POST .../fine_tuning/jobs`` (a create, not a read or cancel)."""
    request = getattr(exc, "request", None)
    if request is None:
        return False
    return request.method == "POST" and str(request.url.path).rstrip("/").endswith("/fine_tuning/jobs")


def refused_create(exc: Any, error: FtkitError) -> FtkitError:
    """A 403 on create as the wind-down it is, naming the dates, who is affected and the ways on."""
    if getattr(exc, "status_code", None) != 403 or not is_job_create(exc):
        return error
    said = provider_message(exc)
    return JobCreationClosedError(
        "OpenAI refused to create the fine-tuning job (permission denied). OpenAI is winding down self-serve "
        "fine-tuning: since 2026-05-07 organisations that never fine-tuned, and since 2026-07-02 those with no "
        "inference on a fine-tuned model in the last 60 days, cannot create jobs; from 2027-01-06 nobody can. "
        "Existing fine-tuned models keep answering until their base model shuts down (2027-01-14 for the "
        "gpt-4o and gpt-4.1 families). The files uploaded for this job have been deleted from OpenAI. "
        f"Ways on: {WAYS_ON} (OpenAI said: {said})",
        provider=getattr(error, "provider", "openai"),
        status_code=403,
        request_id=getattr(error, "request_id", None),
        body=getattr(error, "body", None),
    )


def parse_shutdown_date(value: Any) -> date | None:
    """The listing's ``shutdown_date`` (an ISO date, an ISO timestamp or Unix seconds) as a date."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc).date()
    text = str(value)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def days_left_message(model: str, shutdown: date, today: date) -> tuple[str, str]:
    """``(level, message)`` for a model OpenAI's listing says shuts down on ``shutdown``."""
    days = (shutdown - today).days
    if days < 0:
        return "error", (f"OpenAI shut {model} down on {shutdown.isoformat()} (model listing): it no longer trains "
                         f"or answers. {WAYS_ON}")
    return "warning", (f"OpenAI's model listing says {model} shuts down on {shutdown.isoformat()} ({days} days "
                       f"left): its fine-tunes stop answering that day. {WAYS_ON}")


# -- what the listing said, kept for offline estimates -------------------------------------------------------


def _listing_file() -> Path:
    from ftkit.store import default_home

    return default_home() / "cache" / "openai-model-shutdowns.json"


def remember_shutdown(model: str, shutdown: date | None, today: date) -> None:
    """Keep the listing's ``shutdown_date`` for ``model`` (read ``today``), so offline estimates use it."""
    path = _listing_file()
    try:
        known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        known = {}  # a damaged cache is rebuilt: it only repeats what the listing says
    known[model] = {"shutdown_date": shutdown.isoformat() if shutdown else None, "read_on": today.isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def known_shutdown(model: str) -> tuple[date, date] | None:
    """``(shutdown date, day it was read)`` from the last listing ftkit read for ``model``, if any."""
    try:
        entry = json.loads(_listing_file().read_text(encoding="utf-8")).get(model) or {}
        shutdown = parse_shutdown_date(entry.get("shutdown_date"))
        return (shutdown, date.fromisoformat(entry["read_on"])) if shutdown else None
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def listing_availability(model: str, today: date, catalog_retires: date | None,
                         errors: list[str], warnings: list[str]) -> tuple[list[str], list[str]]:
    """The catalog's ``(errors, warnings)`` with the listing's shutdown date in place of the catalog's record."""
    known = known_shutdown(model)
    if known is None:
        return errors, warnings
    shutdown, read_on = known
    if catalog_retires is not None:
        stamp = catalog_retires.isoformat()
        errors = [m for m in errors if not ("retire" in m and stamp in m)]
        warnings = [m for m in warnings if not ("retire" in m and stamp in m)]
    level, message = days_left_message(model, shutdown, today)
    message += f" (listing read {read_on.isoformat()})"
    return ([*errors, message], warnings) if level == "error" else (errors, [*warnings, message])
