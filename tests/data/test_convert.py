"""Formats, the canonical chat form, and conversion to every provider's format (round-tripped through validate)."""

from __future__ import annotations

import json

import pytest

from ftkit.data import (
    classification_system_prompt,
    convert,
    detect_format,
    label_set,
    reference_of,
    to_chat,
    validate,
)
from ftkit.errors import ConfigError, DatasetError
from tests.data.data_rows import FORMATS, rows_of


@pytest.mark.parametrize("fmt", FORMATS)
def test_detect_format(fmt):
    assert detect_format(rows_of(fmt, 1)[0]) == fmt


def test_detect_format_of_non_examples():
    assert detect_format([1]) == "unknown"
    assert detect_format({"foo": 1}) == "unknown"


def test_to_chat_canonical_forms():
    assert to_chat({"instruction": "Add", "input": "2 and 3", "output": "5"}) == {"messages": [
        {"role": "user", "content": "Add\n\n2 and 3"}, {"role": "assistant", "content": "5"}]}
    assert to_chat({"instruction": "Hi", "input": "", "output": "Hello"})["messages"][0]["content"] == "Hi"
    assert to_chat({"prompt": "2+2?", "completion": "4"})["messages"][1] == {"role": "assistant", "content": "4"}
    chat = to_chat({"text": "great", "label": "pos"}, labels=["pos", "neg"])
    assert chat["messages"] == [
        {"role": "system", "content": "Classify the text into exactly one of these labels: neg, pos. "
                                      "Answer with the label only."},
        {"role": "user", "content": "great"}, {"role": "assistant", "content": "pos"}]
    with pytest.raises(ConfigError, match="label"):
        to_chat({"text": "great", "label": "pos"})
    pref = to_chat({"prompt": "Q?", "chosen": "good", "rejected": "bad"})
    assert pref == {"prompt": [{"role": "user", "content": "Q?"}], "chosen": [{"role": "assistant", "content": "good"}],
                    "rejected": [{"role": "assistant", "content": "bad"}]}
    implicit = to_chat({"chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "a"}],
                        "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "b"}]})
    assert implicit["prompt"] == [{"role": "user", "content": "Q"}] and implicit["chosen"][0]["content"] == "a"
    assert to_chat(rows_of("openai_preference", 1)[0])["prompt"][0]["role"] == "user"


def test_reference_of_uses_the_training_prompt():
    prompt, reference = reference_of({"text": "meh", "label": "neg"}, labels=["pos", "neg"])
    assert prompt[0]["content"] == classification_system_prompt(["neg", "pos"]) and reference == "neg"
    chat = {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "a"},
                         {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
                         {"role": "assistant", "content": "d"}]}
    prompt, reference = reference_of(chat)
    assert [m["content"] for m in prompt] == ["S", "a", "b", "c"] and reference == "d"
    assert reference_of(rows_of("preference", 1)[0])[1].startswith("yes")
    with pytest.raises(ConfigError):
        reference_of({"text": "raw"})


# Which (format, target) pairs a target cannot express, and why.
NOT_EXPRESSIBLE = {("text", "openai")}
PROVIDER_OF = {"openai": "openai", "together": "together", "trl": "local"}


@pytest.mark.parametrize("target", ["openai", "together", "trl"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_conversion_round_trips_through_the_providers_rules(fmt, target, write, tmp_path):
    rows = rows_of(fmt, 12)
    if (fmt, target) in NOT_EXPRESSIBLE:
        with pytest.raises(DatasetError, match="cannot convert to messages"):  # the format openai declares
            convert(rows, target)
        return
    out = convert(write(rows, "in.jsonl"), target, out=tmp_path / "out.jsonl")
    converted = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(converted) == 12
    method = "dpo" if fmt in ("preference", "openai_preference") else "sft"
    report = validate(out, provider=PROVIDER_OF[target], model="gpt-4o-mini" if target == "openai" else None,
                      method=method)
    assert report.ok, [i.format() for i in report.errors]


def test_conversion_is_lossless_where_the_target_can_express_it():
    rows = rows_of("prompt_completion", 2)
    assert convert(rows, "together") == rows and convert(rows, "trl") == rows
    chat = rows_of("chat", 2)
    assert convert(chat, "openai") == chat
    weighted = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0},
                              {"role": "user", "content": "q2"}, {"role": "assistant", "content": "b"}]}]
    assert convert(weighted, "openai") == weighted
    with pytest.raises(DatasetError, match="weight 0"):
        convert(weighted, "trl")
    dpo = convert(rows_of("preference", 1), "openai")[0]
    assert set(dpo) == {"input", "preferred_output", "non_preferred_output"}


def test_conversion_reports_every_bad_row_and_method_mismatches():
    rows = [*rows_of("chat", 2), {"messages": []}, {"text": 3}]
    with pytest.raises(DatasetError) as info:
        convert(rows, "openai")
    assert [i.line for i in info.value.report.issues] == [3, 4]
    with pytest.raises(DatasetError, match="method_mismatch"):
        convert(rows_of("chat", 1), "openai", method="dpo")
    with pytest.raises(ConfigError, match="target"):
        convert(rows, "nowhere")


def test_label_set_and_inputs(tmp_path):
    import pandas as pd

    rows = rows_of("classification", 4)
    assert label_set(rows) == ["bad", "good"]
    frame = pd.DataFrame(rows)
    assert convert(frame, "chat") == convert(rows, "chat")
