"""Exact token counts for Hugging Face models from ``tokenizer.json`` and the chat template, without transformers.

The template is rendered with jinja2 in the same sandboxed environment transformers uses
(``trim_blocks``, ``lstrip_blocks``, ``loopcontrols``, a ``tojson`` that keeps non-ASCII, ``raise_exception``,
``strftime_now``), then the text is tokenized with the ``tokenizers`` library without adding special tokens,
as ``apply_chat_template(tokenize=True)`` does. Trained tokens are the assistant spans:

* marked by ``{% generation %}...{% endgeneration %}`` when the template has the markers (what TRL's
  ``assistant_only_loss`` uses);
* otherwise found by rendering prefix by prefix: the answer to turn *i* is what
  ``render(messages[:i+1])`` adds to ``render(messages[:i], add_generation_prompt=True)``, without the
  trailing newlines that separate turns.

A token is trained when its character span overlaps an assistant span.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ftkit.errors import ConfigError
from ftkit.estimation.tokens import is_trained, sequences_of

__all__ = ["ChatTemplateCounter", "load_chat_template"]

# Private-use characters bracket generation blocks while rendering; they are removed before tokenizing.
_OPEN, _CLOSE = "\ue000", "\ue001"


def load_chat_template(model_dir: Path) -> str | None:
    """The chat template of a model dir: ``chat_template.jinja`` (transformers 5) or tokenizer_config.json."""
    jinja_file = model_dir / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text(encoding="utf-8")
    config = _tokenizer_config(model_dir)
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) else None


def _tokenizer_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "tokenizer_config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _special_tokens(config: dict[str, Any]) -> dict[str, str]:
    """``bos_token``, ``eos_token``... as strings, the variables templates read."""
    tokens = {}
    for key, value in config.items():
        if key.endswith("_token"):
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                tokens[key] = value
    return tokens


def _environment() -> Any:
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationMarkers(Extension):
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.CallBlock(self.call_method("_mark", []), [], [], body).set_lineno(lineno)

        def _mark(self, caller: Any) -> str:
            return _OPEN + caller() + _CLOSE

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationMarkers, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def _split_spans(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Remove the generation sentinels; return the clean text and the character spans they bracketed."""
    if _OPEN not in text:
        return text, []
    head, *blocks = text.split(_OPEN)
    clean, spans, position = [head], [], len(head)
    for block in blocks:
        body, closed, rest = block.partition(_CLOSE)
        if closed:
            spans.append((position, position + len(body)))
        clean += [body, rest]
        position += len(body) + len(rest)
    return "".join(clean), spans


class ChatTemplateCounter:
    """Counts ``(total, trained)`` with a model's own tokenizer and chat template, offline."""

    exact = True
    expected_error: float | None = None

    def __init__(self, model_dir: Path):
        from ftkit._imports import require

        tokenizers = require("tokenizers", extra="tokenize")
        self.model_dir = Path(model_dir)
        self._tokenizer = tokenizers.Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self._specials = _special_tokens(_tokenizer_config(self.model_dir))
        source = load_chat_template(self.model_dir)
        self.has_template = source is not None
        self.uses_generation_markers = bool(source and "generation" in source and "endgeneration" in source)
        self._template = _environment().from_string(source) if source else None
        what = "chat template" if source else "no chat template: role/content lines"
        self.name = f"tokenizer.json + {what} ({self.model_dir})"
        if not source:
            # Without a template the framing is a guess; the content tokens are still exact.
            self.exact = False
            self.expected_error = 0.05

    # -- rendering -------------------------------------------------------------------------------------

    def render(self, messages: list[dict[str, Any]], tools: Any = None,
               add_generation_prompt: bool = False) -> str:
        """The template's text, with generation blocks bracketed by private-use sentinels."""
        if self._template is None:
            text = "".join(f"{m.get('role')}: {m.get('content') or ''}\n" for m in messages)
            return text + ("assistant: " if add_generation_prompt else "")
        visible = [{k: v for k, v in m.items() if k != "weight"} for m in messages]
        try:
            return self._template.render(messages=visible, tools=tools, documents=None,
                                         add_generation_prompt=add_generation_prompt, **self._specials)
        except Exception as e:  # jinja2 TemplateError, or a template's raise_exception()
            raise ConfigError(
                f"The chat template of {self.model_dir} refused an example: {e}. "
                "Check the roles and turn order with `ftkit validate`."
            ) from None

    def _sequence(self, messages: list[dict[str, Any]], tools: Any) -> tuple[str, list[tuple[int, int]]]:
        """Clean text of one sequence and the character spans of its trained answers."""
        text, spans = _split_spans(self.render(messages, tools))
        answers = [m for m in messages if m.get("role") == "assistant"]
        if self.uses_generation_markers:
            if len(spans) == len(answers):  # one block per assistant turn: drop the weight-0 ones
                spans = [s for s, m in zip(spans, answers, strict=True) if is_trained(m)]
            return text, spans
        spans = []
        for index, message in enumerate(messages):
            if not is_trained(message):
                continue
            before = _split_spans(self.render(messages[:index], tools, add_generation_prompt=True))[0]
            upto = _split_spans(self.render(messages[: index + 1], tools))[0]
            if upto.startswith(before) and text.startswith(upto):
                # The turn separator after the answer (a newline) is framing, not answer: leave it out.
                spans.append((len(before), len(upto.rstrip("\n"))))
            else:  # the template rewrites earlier turns: place the answer by its content instead
                content = message.get("content") if isinstance(message.get("content"), str) else ""
                found = text.find(content, len(before) if text.startswith(before) else 0) if content else -1
                if found >= 0:
                    spans.append((found, found + len(content)))
        return text, spans

    # -- counting ----------------------------------------------------------------------------------------

    def count(self, example: dict[str, Any]) -> tuple[int, int]:
        return self.count_batch([example])[0]

    def count_batch(self, examples: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
        rendered: list[list[tuple[str, list[tuple[int, int]]]]] = []
        for example in examples:
            rendered.append([self._sequence(messages, tools) for messages, tools in sequences_of(example)])
        unique = list(dict.fromkeys(text for seqs in rendered for text, _ in seqs))
        offsets = {
            text: enc.offsets
            for text, enc in zip(unique, self._tokenizer.encode_batch(unique, add_special_tokens=False), strict=True)
        }
        results = []
        for seqs in rendered:
            total = trained = 0
            for text, spans in seqs:
                token_offsets = offsets[text]
                total += len(token_offsets)
                trained += sum(
                    1 for start, end in token_offsets if any(start < s_end and end > s_start for s_start, s_end in spans)
                )
            results.append((total, trained))
        return results
