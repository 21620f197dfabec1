"""Token counters: how many tokens an example holds, and how many of them are trained on.

One call picks the right counter for a provider and model::

    >>> counter = token_counter("openai", "gpt-4o-mini")     # the provider declares how it counts
    >>> counter.name, counter.exact
    ('tiktoken o200k_base (OpenAI cookbook chat formula)', True)
    >>> counter.count({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]})
    (14, 2)

Each provider declares its counter (``Provider.token_counter``); the shared ones are here:

* tiktoken with an encoding and the OpenAI cookbook formula, 3 tokens per message, 1 more per ``name``,
  3 to prime the reply (``TiktokenChatCounter``), for services that bill that way;
* the model's own ``tokenizer.json`` and chat template, found in a local directory or the Hugging Face
  cache, never downloaded (``ChatTemplateCounter``, through :func:`hf_token_counter`), the default;
* Otherwise an approximation that says so and states its expected error (``ApproximateCounter``).

Examples are canonical (``ftkit.data.to_chat``): ``{"messages": [...], "tools"?: [...]}``,
``{"prompt": [...], "chosen": [msg], "rejected": [msg]}`` or ``{"text": ...}``. A preference example is
two sequences, prompt + chosen and prompt + rejected, as DPO trains on both; its trained tokens are the two
answers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from ftkit.errors import ConfigError

__all__ = [
    "ApproximateCounter",
    "TiktokenChatCounter",
    "TokenCounter",
    "hf_token_counter",
    "sequences_of",
    "token_counter",
]

#: The cookbook's constants: every message costs 3 tokens of framing, a ``name`` 1 more, the reply 3.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3

#: Message keys that are training metadata, not text the model sees.
_METADATA_KEYS = frozenset({"weight"})


@runtime_checkable
class TokenCounter(Protocol):
    """Counts ``(total, trained)`` tokens of canonical examples."""

    name: str
    exact: bool
    expected_error: float | None

    def count(self, example: dict[str, Any]) -> tuple[int, int]: ...

    def count_batch(self, examples: Sequence[dict[str, Any]]) -> list[tuple[int, int]]: ...


def sequences_of(example: dict[str, Any]) -> list[tuple[list[dict[str, Any]], Any]]:
    """The ``(messages, tools)`` sequences a canonical example trains on: one for chat, two for preference.

    ``{"text": ...}`` is returned as a single assistant message (every token of raw text is trained).
    """
    tools = example.get("tools")
    if "messages" in example:
        return [(list(example["messages"]), tools)]
    if "chosen" in example:
        prompt = list(example.get("prompt") or [])
        return [(prompt + list(example["chosen"]), tools), (prompt + list(example["rejected"]), tools)]
    if "text" in example:
        return [([{"role": "assistant", "content": example["text"]}], None)]
    raise ConfigError(
        f"Cannot count tokens of an example with keys {sorted(example)[:6]}: convert it with "
        "ftkit.data.to_chat first (or run `ftkit validate`)."
    )


def is_trained(message: dict[str, Any]) -> bool:
    """Assistant turns are trained unless their ``weight`` is 0."""
    return message.get("role") == "assistant" and message.get("weight", 1) != 0


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _value_text(value: Any, field: str = "content") -> list[str]:
    """The strings of one message field as the model would read them."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if field == "content" and isinstance(value, list) and all(isinstance(p, dict) and "type" in p for p in value):
        # Content parts: text parts are counted; image parts are not (their cost depends on resolution).
        return [p["text"] for p in value if isinstance(p.get("text"), str)]
    return [_compact_json(value)]


# -- tiktoken with the cookbook framing ---------------------------------------------------------------


class TiktokenChatCounter:
    """The OpenAI cookbook's chat formula, with tiktoken and the model's encoding.

    Per example: ``3 + Σ_messages (3 + Σ_fields tokens(value) + (1 if field == "name"))``, where a field's
    value is encoded as text (``tool_calls`` and other structured values as compact JSON; ``weight`` is
    metadata and not counted; image parts are not counted). ``tools`` definitions are added as compact JSON.
    Trained tokens are the content and tool calls of assistant turns whose ``weight`` is not 0.
    """

    exact = True
    expected_error: float | None = None

    def __init__(self, encoding_name: str):
        from ftkit.estimation.tiktoken_offline import get_encoding

        self.encoding_name = encoding_name
        self._role_lengths: dict[str, int] = {}
        self._encoding, backend = get_encoding(encoding_name)
        self.name = f"{backend} {encoding_name} (OpenAI cookbook chat formula)"

    def _role_length(self, role: str) -> int:
        # a handful of roles recur in every message: tokenized once per process, not once per block
        known = self._role_lengths
        n = known.get(role)
        if n is None:
            n = len(self._encoding.encode_ordinary(role))
            if len(known) < 64:  # a file with a new "role" on every line must not grow this without end
                known[role] = n
        return n

    def _lengths(self, texts: Iterable[str]) -> dict[str, int]:
        # Every distinct string is encoded once, in a plain loop: tiktoken 0.14's encode_ordinary_batch
        # submits one thread-pool task per string and was 5x slower on chat data (5.9 s vs 1.2 s for
        # 90,000 messages), and the validator already runs one process per core.
        encode = self._encoding.encode_ordinary
        return {text: len(encode(text)) for text in dict.fromkeys(texts)}

    @staticmethod
    def _plan(example: dict[str, Any]) -> list[tuple[str, int, bool]]:
        """(text, fixed extra tokens, trained) pieces of an example; sums of their lengths give the counts."""
        pieces: list[tuple[str, int, bool]] = []
        for messages, tools in sequences_of(example):
            pieces.append(("", REPLY_PRIMING_TOKENS, False))
            if tools:
                pieces.append((_compact_json(tools), 0, False))
            for message in messages:
                trained = is_trained(message)
                pieces.append(("", TOKENS_PER_MESSAGE, False))
                for field, value in message.items():
                    if field in _METADATA_KEYS:
                        continue
                    texts = _value_text(value, field)
                    counted_as_answer = trained and field in ("content", "tool_calls", "function_call")
                    for text in texts:
                        pieces.append((text, 0, counted_as_answer))
                    if field == "name":
                        pieces.append(("", TOKENS_PER_NAME, False))
        return pieces

    def count(self, example: dict[str, Any]) -> tuple[int, int]:
        return self.count_batch([example])[0]

    def count_batch(self, examples: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
        # Plain chat rows (only role and content strings, the common case) skip the general plan: for short
        # examples building it cost more than tokenizing them. Both give the same counts.
        plans: list[Any] = []
        texts: list[str] = []
        for example in examples:
            messages = _plain_messages(example)
            if messages is None:
                plan = self._plan(example)
                texts.extend(text for text, _, _ in plan if text)
            else:
                plan = messages
                texts.extend([message["content"] for message in messages])
            plans.append(plan)
        lengths = self._lengths(texts)
        lengths[""] = 0
        role_length = self._role_length
        results = []
        for plan in plans:
            total = trained = 0
            if plan and type(plan[0]) is dict:
                total = REPLY_PRIMING_TOKENS + TOKENS_PER_MESSAGE * len(plan)
                for message in plan:
                    n = lengths[message["content"]]
                    total += role_length(message["role"]) + n
                    if message["role"] == "assistant":
                        trained += n
            else:
                for text, extra, is_answer in plan:
                    n = lengths[text]
                    total += n + extra
                    if is_answer:
                        trained += n
            results.append((total, trained))
        return results


def _plain_messages(example: dict[str, Any]) -> list[dict[str, str]] | None:
    """The messages of ``{"messages": [...]}`` when each is exactly ``{"role": str, "content": str}``."""
    if len(example) != 1:
        return None
    messages = example.get("messages")
    if type(messages) is not list or not messages:
        return None
    for message in messages:
        if (type(message) is not dict or len(message) != 2 or type(message.get("role")) is not str
                or type(message.get("content")) is not str):
            return None
    return messages


# -- approximation ------------------------------------------------------------------------------------


class ApproximateCounter:
    """An estimate for a model whose tokenizer is not on this machine.

    Uses ``o200k_base`` with the cookbook framing (3 tokens per message), which is close to a ChatML-style
    template; different BPE vocabularies of 100k-250k entries usually agree within about 15% on English
    text (more on code and non-Latin scripts). Without tiktoken it falls back to 4 characters per token.
    """

    exact = False

    def __init__(self, model: str | None, reason: str):
        self.model = model
        self.reason = reason
        try:
            self._inner: TiktokenChatCounter | None = TiktokenChatCounter("o200k_base")
            self.expected_error: float | None = 0.15
            how = "o200k_base with 3 tokens of framing per message"
        except ConfigError:
            self._inner = None
            self.expected_error = 0.30
            how = "4 characters per token"
        self.name = f"approximate ({how}; {reason})"

    def count(self, example: dict[str, Any]) -> tuple[int, int]:
        return self.count_batch([example])[0]

    def count_batch(self, examples: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
        if self._inner is not None:
            return self._inner.count_batch(examples)
        results = []
        for example in examples:
            total = trained = 0
            for messages, tools in sequences_of(example):
                total += len(_compact_json(tools)) // 4 if tools else 0
                for message in messages:
                    chars = sum(len(t) for k, v in message.items() if k not in _METADATA_KEYS for t in _value_text(v, k))
                    total += TOKENS_PER_MESSAGE + chars // 4
                    if is_trained(message):
                        trained += len("".join(_value_text(message.get("content")))) // 4
            results.append((total, trained))
        return results


# -- choosing a counter --------------------------------------------------------------------------------


def hf_token_counter(model: str | None, candidates: Sequence[str] = ()) -> TokenCounter:
    """The model's own tokenizer and chat template, from the first of ``candidates`` (then ``model``) found in
    a local directory or the Hugging Face cache; an approximate counter that says why otherwise."""
    if not model:
        return ApproximateCounter(model, "no model given")
    from ftkit.estimation.chat_template import ChatTemplateCounter
    from ftkit.estimation.modeldir import find_model_dir

    for candidate in dict.fromkeys([*candidates, model]):
        model_dir = find_model_dir(candidate, needs="tokenizer.json")
        if model_dir is not None:
            return ChatTemplateCounter(model_dir)
    return ApproximateCounter(model, f"no tokenizer.json for {model} in a local directory or the Hugging Face cache")


@functools.lru_cache(maxsize=16)
def token_counter(provider: str | None, model: str | None) -> TokenCounter:
    """The most exact counter available offline for ``model`` on ``provider`` (the provider's declaration,
    ``Provider.token_counter``); with no provider, the model's own tokenizer (approximate if not found)."""
    if provider:
        from ftkit.registry import get_provider

        return get_provider(provider).token_counter(model)
    return hf_token_counter(model)
