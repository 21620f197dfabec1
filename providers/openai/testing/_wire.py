"""OpenAI wire shapes the emulator answers with: cursor pages, chat completions, redacted keys."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from ftkit.providers.openai.testing._jobs import AnswerBook, count_tokens
from ftkit.providers.openai.testing._schema import invalid

from ftkit.testing._http import Request

__all__ = ["chat_completion", "page", "redact"]


def chat_completion(body: dict[str, Any], book: AnswerBook) -> dict[str, Any]:
    """A ``chat.completion`` object answering the last user message from ``book``."""
    prompt = next((m.get("content") for m in reversed(body["messages"]) if m.get("role") == "user"), "")
    text = book.answer(prompt if isinstance(prompt, str) else json.dumps(prompt))
    text, finish = _apply_limits(text, body)
    prompt_tokens = sum(count_tokens(json.dumps(m)) for m in body["messages"])
    completion_tokens = count_tokens(text)
    return {
        "id": f"chatcmpl-{secrets.token_hex(12)}", "object": "chat.completion", "created": int(time.time()),
        "model": body["model"], "system_fingerprint": "fp_ftkit_emulator", "service_tier": "default",
        "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                     "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def _apply_limits(text: str, body: dict[str, Any]) -> tuple[str, str]:
    stops = body.get("stop")
    for stop in [stops] if isinstance(stops, str) else stops or []:
        if stop and stop in text:
            text = text[: text.index(stop)]
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None and count_tokens(text) > limit:
        words = text.split(" ")
        while words and count_tokens(" ".join(words)) > limit:
            words.pop()
        return " ".join(words), "length"
    return text, "stop"


def page(items: list[dict[str, Any]], request: Request, *, default_limit: int, plain: bool = False) -> Any:
    """Cursor pagination: items after the one whose id is ``after``, ``limit`` of them, with has_more."""
    after = request.arg("after")
    try:
        limit = int(request.arg("limit") or default_limit)
    except ValueError:
        raise invalid("Invalid 'limit': expected an integer.", "limit") from None
    if limit < 1:
        raise invalid("Invalid 'limit': must be at least 1.", "limit")
    start = 0
    if after:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    chunk = items[start : start + limit]
    page: dict[str, Any] = {"object": "list", "data": chunk, "has_more": start + limit < len(items)}
    if not plain:
        page.update({"first_id": chunk[0]["id"] if chunk else None, "last_id": chunk[-1]["id"] if chunk else None})
    return page


def redact(key: str) -> str:
    return f"{key[:3]}{'*' * max(4, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "*" * len(key)
