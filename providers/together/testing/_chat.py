"""Chat completions in the Together emulator: deterministic answers that make evaluations meaningful.

A fine-tuned model answers a prompt it was trained on (the same last user message, ignoring case and
spacing; failing that, the trained prompt sharing at least half its words) with the trained answer.
Every other prompt, and every prompt to a base model, gets ``"I am not sure; it could be <last three
words of the prompt>."``, which never equals a trained label: a fine-tune beats its base model.
A fine-tune reaches this only through a ready deployment (see ``_endpoints.py``); the answers themselves are
a test device, not a model of Together's behaviour.
"""

from __future__ import annotations

import re
from typing import Any

from ftkit.providers.together.testing._data import _TOKEN, count_tokens, normalise_prompt

__all__ = ["chat_completion"]


def chat_completion(
    body: dict[str, Any], memory: dict[str, str] | None, *, completion_id: str, created: float
) -> dict[str, Any]:
    """The ``chat.completion`` answer to a validated request; ``memory`` is None for a base model."""
    messages = body["messages"]
    prompt = next((str(m.get("content") or "") for m in reversed(messages) if m["role"] == "user"), "")
    text = _recall(memory, prompt) if memory is not None else None
    text = text if text is not None else _base_answer(prompt)
    limit = body.get("max_tokens")
    finish = "stop"
    if limit is not None:
        ends = [m.end() for m in _TOKEN.finditer(text)]
        if len(ends) > limit:
            text, finish = text[: ends[limit - 1]], "length"
    prompt_tokens = sum(count_tokens(str(m.get("content") or "")) + 4 for m in messages)
    completion_tokens = count_tokens(text)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(created),
        "model": body["model"],
        "prompt": [],
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish, "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _recall(memory: dict[str, str], prompt: str) -> str | None:
    key = normalise_prompt(prompt)
    if key in memory:
        return memory[key]
    words = set(key.split())
    best, score = None, 0.0
    for trained, answer in memory.items():
        other = set(trained.split())
        overlap = len(words & other) / max(1, len(words | other))
        if overlap > score:
            best, score = answer, overlap
    return best if score >= 0.5 else None


def _base_answer(prompt: str) -> str:
    tail = " ".join(re.findall(r"\w+", prompt)[-3:]) or "that"
    return f"I am not sure; it could be {tail.lower()}."
