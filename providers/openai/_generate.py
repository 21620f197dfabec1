"""Answering prompts with an OpenAI model (fine-tuned or base) through chat completions, for evaluation."""

from __future__ import annotations

import time
from typing import Any

from ftkit._managed import fan_out
from ftkit.types import Generation, GenerationSettings

from ._client import OpenAIApi

__all__ = ["generate"]


def generate(
    api: OpenAIApi, model_id: str, prompts: list[list[dict[str, Any]]], settings: GenerationSettings
) -> list[Generation]:
    """One answer per chat prompt, in order: ``settings.concurrency`` requests in flight at most,
    ``settings.requests_per_minute`` if set, each retried on 429/5xx/timeouts (honouring Retry-After).

    ``max_new_tokens`` is sent as ``max_completion_tokens`` (``max_tokens`` is deprecated for chat).
    """
    request: dict[str, Any] = {
        "model": model_id,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_completion_tokens": settings.max_new_tokens,
    }
    if settings.seed is not None:
        request["seed"] = settings.seed
    if settings.stop:
        request["stop"] = settings.stop[:4]  # OpenAI accepts up to four stop sequences

    def answer(messages: list[dict[str, Any]]) -> Generation:
        started = time.perf_counter()
        completion = api.safe(lambda client: client.chat.completions.create(messages=messages, **request))
        latency = time.perf_counter() - started
        choice = completion.choices[0] if completion.choices else None
        text = (choice.message.content if choice and choice.message else None) or ""
        usage = completion.usage
        return Generation(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            latency_s=round(latency, 4),
        )

    return fan_out(answer, prompts, concurrency=settings.concurrency,
                   requests_per_minute=settings.requests_per_minute)
