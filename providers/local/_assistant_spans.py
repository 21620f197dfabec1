"""Assistant-only loss for any chat template: which tokens of a conversation are the assistant's answers.

A template with ``{% generation %}`` markers says so itself (TRL's and transformers' way). Most
templates have none (SmolLM2, Mistral, Llama 2, many community models), so the answer to turn *i* is
found by rendering incrementally: what ``render(messages[:i+1])`` adds to
``render(messages[:i], add_generation_prompt=True)``, cut right after the template's end-of-turn token
(``<|im_end|>``, ``<|eot_id|>``, ``<end_of_turn>``, eos...) so the model learns to stop and the turn
separator after it is left out. A token is trained when its characters overlap an answer, the rule
transformers applies to marked templates, so both paths give the same masks on a template that has
markers (the tests check it on Qwen2.5- and Llama-3-style templates).

An answer that cannot be placed (the template drops it, or rewrites earlier turns so no prefix
matches) raises :class:`UnlocatedAnswer`; it is never trained on every token instead.

Nothing here imports torch: ``render`` is any callable, so validation runs it with the torch-free
renderer of :mod:`ftkit.estimation.chat_template` and training with the tokenizer's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Render", "TurnFraming", "UnlocatedAnswer", "answer_spans", "has_generation_markers",
           "mask_from_offsets", "tokenize_conversation", "turn_framing"]

#: render(messages, tools, add_generation_prompt) -> the template's text
Render = Callable[[list[dict[str, Any]], Any, bool], str]

_MARKERS = re.compile(r"\{%-?\s*generation\s*-?%\}")
_SENTINEL = "FTKIT_ANSWER_SENTINEL_7f3a"


class UnlocatedAnswer(ValueError):
    """An assistant turn whose tokens cannot be found in the rendered conversation."""

    def __init__(self, turn: int, reason: str):
        super().__init__(f"assistant message {turn} (0-based index in messages): {reason}")
        self.turn = turn
        self.reason = reason


def has_generation_markers(template: str | None) -> bool:
    return bool(template and _MARKERS.search(template))


@dataclass(frozen=True)
class TurnFraming:
    """What a template puts around an answer: the header a prompt without a generation prompt lacks,
    and the end-of-turn text the answer's span ends with (None: the template writes none)."""

    header: str
    end_of_turn: str | None


def _render(render: Render, messages: list[dict[str, Any]], tools: Any, prompt: bool) -> str:
    try:
        return render(messages, tools, prompt)
    except Exception as e:  # jinja errors, raise_exception() in the template, ConfigError from a renderer
        raise UnlocatedAnswer(max(len(messages) - 1, 0), f"the chat template refused the conversation: {e}") from None


def turn_framing(render: Render, special_tokens: Sequence[str] = ()) -> TurnFraming:
    """Find the template's answer header and end-of-turn text from a one-turn probe conversation.

    ``special_tokens`` are the tokenizer's added tokens; the end of turn is the first of them after the
    answer (else the text up to the first newline, e.g. Llama 2's ``</s>`` after a space).
    """
    user = [{"role": "user", "content": "ping"}]
    try:
        full = render([*user, {"role": "assistant", "content": _SENTINEL}], None, False)
        without = render(user, None, False)
    except Exception:
        return TurnFraming("", None)
    at = full.find(_SENTINEL)
    if at < 0:
        return TurnFraming("", None)
    header = full[len(without):at] if full.startswith(without) else ""
    tail = full[at + len(_SENTINEL):]
    stripped = tail.lstrip(" ")
    for token in sorted((t for t in special_tokens if t and not t.isspace()), key=len, reverse=True):
        if stripped.startswith(token):
            return TurnFraming(header, tail[: len(tail) - len(stripped) + len(token)])
    first_line = tail.split("\n", 1)[0]
    return TurnFraming(header, first_line or None)


def _prefix(render: Render, messages: list[dict[str, Any]], tools: Any, prompt: bool) -> str | None:
    if not messages:
        try:  # templates differ on an empty conversation; the first answer then starts after the header
            return render(messages, tools, prompt) if prompt else ""
        except Exception:
            return None
    return _render(render, messages, tools, prompt)


def answer_spans(
    render: Render, messages: list[dict[str, Any]], tools: Any = None, *, framing: TurnFraming | None = None,
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character span of each trained assistant answer in it.

    Messages with ``weight: 0`` (OpenAI's format) are context, not answers.
    """
    framing = framing or turn_framing(render)
    text = _render(render, messages, tools, False)
    spans: list[tuple[int, int]] = []
    for index, message in enumerate(messages):
        if message.get("role") != "assistant" or message.get("weight", 1) == 0:
            continue
        content = message.get("content")
        content = content.strip() if isinstance(content, str) else ""
        upto = _render(render, messages[: index + 1], tools, False)
        before = _prefix(render, messages[:index], tools, True)
        if before is not None and upto.startswith(before):
            start = len(before)
        else:  # no generation prompt (or a different one): the turn then starts with the template's header
            before = _prefix(render, messages[:index], tools, False) or ""
            if not upto.startswith(before):
                raise UnlocatedAnswer(index, "the template renders the conversation before this answer differently "
                                             "once the answer is added, so its tokens cannot be told apart")
            start = len(before)
            turn = upto[start:]
            limit = turn.find(content) if content and content in turn else len(turn)
            header_at = turn.rfind(framing.header, 0, limit) if framing.header else -1
            if header_at >= 0:
                start += header_at + len(framing.header)
        answer = _cut_after_end_of_turn(upto[start:], framing.end_of_turn)
        if not answer.strip():
            raise UnlocatedAnswer(index, "the template renders nothing for this answer")
        if content and content not in answer:
            raise UnlocatedAnswer(index, "the rendered turn does not contain the assistant's text (the template "
                                         "changes or drops it)")
        if not text.startswith(upto[:start + len(answer)]):
            found = text.find(answer, spans[-1][1] if spans else 0)
            if found < 0:
                raise UnlocatedAnswer(index, "the template rewrites this answer once later turns follow it (e.g. "
                                             "drops its reasoning), so it cannot be placed in the conversation")
            start = found
        spans.append((start, start + len(answer)))
    return text, spans


def _cut_after_end_of_turn(answer: str, end_of_turn: str | None) -> str:
    """The answer up to and including its end-of-turn text; the separator after it is framing."""
    if end_of_turn:
        at = answer.rfind(end_of_turn)
        if at >= 0 and not answer[at + len(end_of_turn):].strip():
            return answer[: at + len(end_of_turn)]
    return answer.rstrip()


def mask_from_offsets(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> list[int]:
    """1 for every token whose characters overlap a span (transformers' rule for generation blocks)."""
    mask = [0] * len(offsets)
    span = 0
    for i, (start, end) in enumerate(offsets):
        while span < len(spans) and start >= spans[span][1]:
            span += 1
        if span == len(spans):
            break
        if end > spans[span][0]:
            mask[i] = 1
    return mask


def tokenize_conversation(tokenizer: Any, messages: list[dict[str, Any]], tools: Any = None, *,
                          template: str | None = None, framing: TurnFraming | None = None) -> dict[str, list[int]]:
    """``input_ids`` and ``assistant_masks`` of one conversation with a transformers tokenizer."""
    template = template if template is not None else tokenizer.chat_template
    if has_generation_markers(template):
        out = tokenizer.apply_chat_template(messages, tools=tools, chat_template=template, tokenize=True,
                                            return_dict=True, return_assistant_tokens_mask=True)
        mask = list(out["assistant_masks"])
        if 1 not in mask:
            raise UnlocatedAnswer(0, "the template's {% generation %} blocks hold no tokens")
        return {"input_ids": list(out["input_ids"]), "assistant_masks": mask}
    render = tokenizer_render(tokenizer, template)
    text, spans = answer_spans(render, messages, tools, framing=framing or framing_of(tokenizer, template))
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = mask_from_offsets(encoded["offset_mapping"], spans)
    if spans and 1 not in mask:
        raise UnlocatedAnswer(0, "the answers' characters map to no tokens")
    return {"input_ids": list(encoded["input_ids"]), "assistant_masks": mask}


def tokenizer_render(tokenizer: Any, template: str | None = None) -> Render:
    def render(messages: list[dict[str, Any]], tools: Any, add_generation_prompt: bool) -> str:
        if not messages and not add_generation_prompt:
            return ""
        return tokenizer.apply_chat_template(messages, tools=tools, chat_template=template, tokenize=False,
                                             add_generation_prompt=add_generation_prompt)

    return render


def framing_of(tokenizer: Any, template: str | None = None) -> TurnFraming:
    specials = [t.content for t in tokenizer.added_tokens_decoder.values()]
    return turn_framing(tokenizer_render(tokenizer, template), specials)
