"""Assistant-only loss for any chat template: incremental rendering finds exactly the answer tokens.

On templates that mark answers with ``{% generation %}`` (Llama-3's from TRL's own training templates,
and a Qwen2.5-style one built here), the masks equal the ones transformers/TRL compute from the
markers; on templates without markers (most real models), the same masks come from rendering alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ftkit.providers.local._assistant_spans import (
    UnlocatedAnswer,
    answer_spans,
    framing_of,
    tokenize_conversation,
    tokenizer_render,
)

transformers = pytest.importorskip("transformers")
trl = pytest.importorskip("trl")

TRL_TEMPLATES = Path(trl.__file__).parent / "chat_templates"

#: Qwen2.5's template (default system prompt, tools, tool calls and responses) with the answer and its
#: <|im_end|> inside {% generation %}: the marking assistant-only loss should train (TRL's own Qwen2.5 patch
#: also marks the newlines around the turn)
QWEN_STYLE_MARKED = (
    "{%- if tools %}{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}"
    "{%- else %}{{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}{%- endif %}"
    "{{- '\\n\\n# Tools\\n\\n<tools>' }}{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools><|im_end|>\\n' }}"
    "{%- else %}{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\\n' }}{%- endif %}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}{{- '<|im_start|>assistant\\n' }}{%- generation %}"
    "{%- if message.content %}{{- message.content }}{%- endif %}"
    "{%- for tool_call in message.tool_calls or [] %}{%- set tool_call = tool_call.function %}"
    "{{- '<tool_call>\\n{\"name\": \"' + tool_call.name + '\", \"arguments\": ' }}"
    "{{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}{%- endfor %}"
    "{{- '<|im_end|>' }}{%- endgeneration %}{{- '\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def _unmarked(template: str) -> str:
    """The same template without markers (and without TRL's header comment, which mentions them)."""
    without_comments = re.sub(r"\{#.*?#\}", "", template, flags=re.S)
    return re.sub(r"\{%-?\s*(end)?generation\s*-?%\}", "", without_comments)


CONVERSATIONS = {
    "single turn, template inserts its default system prompt": [
        {"role": "user", "content": "What is two plus two?"},
        {"role": "assistant", "content": "Four."},
    ],
    "multi-turn with a system prompt": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Goodbye and have a nice day."},
    ],
}


@pytest.fixture(scope="module")
def tokenizer(tiny: str):
    tok = transformers.AutoTokenizer.from_pretrained(tiny)
    tok.add_special_tokens({"additional_special_tokens": [
        "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|begin_of_text|>"]})
    return tok


def _reference(tok, messages, template, tools=None):
    out = tok.apply_chat_template(messages, tools=tools, chat_template=template, tokenize=True, return_dict=True,
                                  return_assistant_tokens_mask=True)
    return list(out["input_ids"]), list(out["assistant_masks"])


def _trained_text(tok, encoded) -> str:
    return tok.decode([t for t, m in zip(encoded["input_ids"], encoded["assistant_masks"], strict=True) if m])


@pytest.mark.parametrize("name", list(CONVERSATIONS))
@pytest.mark.parametrize("family", ["llama3", "qwen2.5"])
def test_masks_equal_trls_on_templates_with_generation_markers(tokenizer, family: str, name: str):
    marked = (TRL_TEMPLATES / "llama3_training.jinja").read_text() if family == "llama3" else QWEN_STYLE_MARKED
    assert "generation" in marked and marked != _unmarked(marked)
    messages = CONVERSATIONS[name]
    ids, mask = _reference(tokenizer, messages, marked)
    ours = tokenize_conversation(tokenizer, messages, template=_unmarked(marked))
    assert ours["input_ids"] == ids
    assert ours["assistant_masks"] == mask
    end = "<|eot_id|>" if family == "llama3" else "<|im_end|>"
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    assert _trained_text(tokenizer, ours) == "".join(a + end for a in answers)


def test_tool_calls_are_answers_and_tool_results_are_not(tokenizer):
    tools = [{"type": "function", "function": {"name": "add", "description": "add two numbers",
                                               "parameters": {"type": "object", "properties": {}}}}]
    messages = [
        {"role": "user", "content": "Add 2 and 3."},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}]},
        {"role": "tool", "content": "5"},
        {"role": "assistant", "content": "The sum is 5."},
    ]
    ours = tokenize_conversation(tokenizer, messages, tools, template=_unmarked(QWEN_STYLE_MARKED))
    assert (ours["input_ids"], ours["assistant_masks"]) == _reference(tokenizer, messages, QWEN_STYLE_MARKED, tools)
    trained = _trained_text(tokenizer, ours)
    assert '"name": "add"' in trained and "The sum is 5.<|im_end|>" in trained
    assert "<tool_response>" not in trained and "Add 2 and 3." not in trained
    assert "# Tools" not in trained  # the tool list is in the (template-made) system prompt: context


def test_smollm2_style_template_without_markers_and_default_system_prompt(tokenizer):
    # SmolLM2's template verbatim: no markers, a default system prompt, no TRL patch for it
    smollm = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
              "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
              "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
              "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
              "{% endif %}")
    tokenizer.chat_template = smollm
    try:
        framing = framing_of(tokenizer)
        assert framing.end_of_turn == "<|im_end|>"
        messages = CONVERSATIONS["multi-turn with a system prompt"]
        assert _trained_text(tokenizer, tokenize_conversation(tokenizer, messages)) == (
            "Hello!<|im_end|>Goodbye and have a nice day.<|im_end|>")
        first = [{"role": "assistant", "content": "I start."}]  # no prompt before the first answer
        assert _trained_text(tokenizer, tokenize_conversation(tokenizer, first)) == "I start.<|im_end|>"
    finally:
        tokenizer.chat_template = transformers.AutoTokenizer.from_pretrained(tokenizer.name_or_path).chat_template


def test_weight_zero_answers_are_context(tokenizer):
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Old answer", "weight": 0},
                {"role": "user", "content": "Again"}, {"role": "assistant", "content": "New answer"}]
    text, spans = answer_spans(tokenizer_render(tokenizer), messages, framing=framing_of(tokenizer))
    assert [text[a:b] for a, b in spans] == ["New answer<|im_end|>"]


def test_an_answer_the_template_drops_is_never_trained_on_everything(tokenizer):
    drops_answers = ("{% for m in messages %}{% if m['role'] != 'assistant' %}"
                     "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endif %}"
                     "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    with pytest.raises(UnlocatedAnswer, match="assistant message 1"):
        tokenize_conversation(tokenizer, CONVERSATIONS["single turn, template inserts its default system prompt"],
                              template=drops_answers)
