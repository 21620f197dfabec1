"""Token counts pinned to independent implementations: the OpenAI cookbook formula written out here with
bpe-openai (not tiktoken), and transformers' own apply_chat_template for Hugging Face models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftkit.data.counting import count_dataset
from ftkit.estimation.tokens import token_counter

# -- an independent implementation of the cookbook formula -------------------------------------------------


def cookbook_counts(example: dict, encoding) -> tuple[int, int]:
    """OpenAI cookbook num_tokens_from_messages, extended as ftkit documents it: tools and structured values
    as compact JSON, `weight` not counted, assistant content + tool calls trained unless weight is 0."""

    def text(value) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    total = 3
    if example.get("tools"):
        total += len(encoding.encode(text(example["tools"])))
    trained = 0
    for message in example["messages"]:
        total += 3
        for key, value in message.items():
            if key == "weight" or value is None:
                continue
            total += len(encoding.encode(text(value)))
            if key == "name":
                total += 1
        if message["role"] == "assistant" and message.get("weight", 1) != 0:
            for key in ("content", "tool_calls"):
                if message.get(key) is not None:
                    trained += len(encoding.encode(text(message[key])))
    return total, trained


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]

FILES = {
    "names": [
        {"messages": [{"role": "system", "content": "You are Marv, a sarcastic bot."},
                      {"role": "user", "name": "alice", "content": f"What's the capital of France? ({i})"},
                      {"role": "assistant", "name": "marv", "content": "Paris, as if everyone doesn't know that."}]}
        for i in range(12)
    ],
    "tools": [
        {"tools": TOOLS, "messages": [
            {"role": "user", "content": f"Weather in city number {i}?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": "get_weather", "arguments": json.dumps({"city": f"C{i}"})}}]},
            {"role": "tool", "tool_call_id": f"call_{i}", "content": "Sunny, 21°C"},
            {"role": "assistant", "content": "It is sunny and 21°C — enjoy! 日本語も大丈夫。"}]}
        for i in range(11)
    ],
    "weights": [
        {"messages": [{"role": "user", "content": "Say hi"},
                      {"role": "assistant", "content": "Hello!!", "weight": 0},
                      {"role": "user", "content": "Better, please" * (i + 1)},
                      {"role": "assistant", "content": "Hello, friend.", "weight": 1}]}
        for i in range(10)
    ],
}


@pytest.mark.parametrize("model, encoding_name", [("gpt-4o-mini", "o200k_base"), ("gpt-4.1", "o200k_base"),
                                                  ("gpt-3.5-turbo", "cl100k_base")])
@pytest.mark.parametrize("kind", sorted(FILES))
def test_openai_counts_match_the_cookbook_formula(tmp_path: Path, kind: str, model: str, encoding_name: str):
    import bpe_openai

    path = tmp_path / f"{kind}.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in FILES[kind]), encoding="utf-8")
    encoding = bpe_openai.get_encoding(encoding_name)
    expected = [cookbook_counts(row, encoding) for row in FILES[kind]]

    counter = token_counter("openai", model)
    assert encoding_name in counter.name and counter.exact
    assert counter.count_batch(FILES[kind]) == expected
    counts = count_dataset(str(path), counter)
    assert counts.examples == len(FILES[kind])
    assert counts.total_tokens == sum(t for t, _ in expected)
    assert counts.trained_tokens == sum(t for _, t in expected)
    assert counts.max_example_tokens == max(t for t, _ in expected)


def test_weight_zero_answers_are_not_trained_but_are_counted():
    counter = token_counter("openai", "gpt-4o-mini")
    row = FILES["weights"][0]
    unweighted = {"messages": [{k: v for k, v in m.items() if k != "weight"} for m in row["messages"]]}
    total, trained = counter.count(row)
    total_all, trained_all = counter.count(unweighted)
    assert total == total_all and trained < trained_all


def test_examples_over_the_cap_are_counted_at_the_cap_and_reported():
    counter = token_counter("openai", "gpt-3.5-turbo-0613")  # 4,096-token cap
    long = {"messages": [{"role": "user", "content": "word " * 5000}, {"role": "assistant", "content": "ok"}]}
    short = FILES["names"][0]
    counts = count_dataset([long, short], counter, max_tokens_per_example=4096)
    assert counts.capped_examples == 1
    assert counts.total_tokens == 4096 + counter.count(short)[0]
    assert counts.max_example_tokens > 4096


def test_seeded_tiktoken_cache_passes_tiktokens_own_hash_check(tmp_path, monkeypatch):
    import tiktoken.load
    from tiktoken_ext.openai_public import cl100k_base

    from ftkit.estimation.tiktoken_offline import seed_tiktoken_cache

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    assert seed_tiktoken_cache("cl100k_base")
    spec = cl100k_base()
    # load_tiktoken_bpe reads the cached file and verifies its SHA-256 (it would download on a mismatch,
    # which fails offline), so returning the ranks proves the file is OpenAI's.
    ranks = tiktoken.load.load_tiktoken_bpe(
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        expected_hash="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    )
    assert ranks == spec["mergeable_ranks"]
    assert len(ranks) == 100256


def test_seeding_builds_the_rank_file_in_a_child_so_the_callers_memory_stays_small(tmp_path):
    """bpe-openai's vocabulary (~200 MB) is loaded by a short-lived child, never by the seeding process;
    processes seeding at once (the validator and its helper) all get the same verified file."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from ftkit.estimation.tiktoken_offline import seed_tiktoken_cache;"
        "assert seed_tiktoken_cache('cl100k_base');"
        "assert 'bpe_openai' not in sys.modules, 'the vocabulary was loaded in the calling process'"
    )
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path)}
    seeders = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(3)]
    assert [p.wait(timeout=300) for p in seeders] == [0, 0, 0]
    rank_files = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(rank_files) == 1 and not [p for p in tmp_path.iterdir() if p.name.startswith(".ftkit-") and
                                        p.name != ".ftkit-seeding.lock"]  # no temporary file left behind
    check = (
        "import tiktoken.load;"
        "ranks = tiktoken.load.load_tiktoken_bpe("
        "'https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken',"
        "expected_hash='223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7');"
        "assert len(ranks) == 100256"
    )
    subprocess.run([sys.executable, "-c", check], env=env, check=True)  # tiktoken's own hash check


def test_later_processes_build_the_same_encoding_from_ftkits_copy_of_the_ranks(ftkit_home, monkeypatch):
    import tiktoken

    from ftkit.estimation.tiktoken_offline import (
        _from_ranks_cache,
        _ranks_cache_path,
        _write_ranks_cache,
        get_encoding,
        seed_tiktoken_cache,
    )

    assert seed_tiktoken_cache("cl100k_base")
    assert _from_ranks_cache("cl100k_base") is None  # nothing kept yet: tiktoken reads its own file
    verified = tiktoken.get_encoding("cl100k_base")
    _write_ranks_cache("cl100k_base", verified)
    assert Path(_ranks_cache_path("cl100k_base")).is_relative_to(ftkit_home)
    copy = _from_ranks_cache("cl100k_base")
    text = "Refund order 1234, s'il vous plaît: 日本語 <|endoftext|>\n\n  def f(x): return x**2"
    assert copy.n_vocab == verified.n_vocab
    assert copy.encode(text, allowed_special="all") == verified.encode(text, allowed_special="all")
    assert copy.encode_ordinary(text) == verified.encode_ordinary(text)

    def no_reading(name: str) -> None:
        raise AssertionError("tiktoken read its rank file although ftkit's copy was there")

    monkeypatch.setattr(tiktoken, "get_encoding", no_reading)
    built, backend = get_encoding.__wrapped__("cl100k_base")  # what a new process runs (no lru_cache)
    assert backend == "tiktoken" and built.encode_ordinary(text) == verified.encode_ordinary(text)

    Path(_ranks_cache_path("cl100k_base")).write_bytes(b"not marshal at all")  # damaged: ignored, not used
    assert _from_ranks_cache("cl100k_base") is None


# -- Hugging Face tokenizers with chat templates -------------------------------------------------------------

CHATS = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 plus 2?"},
                  {"role": "assistant", "content": "It is 4."}, {"role": "user", "content": "Capital of France?"},
                  {"role": "assistant", "content": "Paris."}]},
    {"messages": [{"role": "user", "content": "Hello there"}, {"role": "assistant", "content": "Hello, how are you?"}]},
]


def test_chat_template_counts_match_transformers(chatml_dir: Path):
    transformers = pytest.importorskip("transformers")
    from ftkit.estimation.chat_template import ChatTemplateCounter

    reference = transformers.AutoTokenizer.from_pretrained(str(chatml_dir))
    counter = ChatTemplateCounter(chatml_dir)
    assert counter.exact and counter.uses_generation_markers
    for chat, (total, trained) in zip(CHATS, counter.count_batch(CHATS), strict=True):
        out = reference.apply_chat_template(chat["messages"], tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
        assert total == len(out["input_ids"])
        assert trained == sum(out["assistant_masks"])


def test_prefix_rendering_finds_the_same_answers_without_generation_markers(chatml_dir, chatml_plain_dir):
    from ftkit.estimation.chat_template import ChatTemplateCounter

    marked = ChatTemplateCounter(chatml_dir).count_batch(CHATS)
    plain_counter = ChatTemplateCounter(chatml_plain_dir)
    assert not plain_counter.uses_generation_markers
    assert plain_counter.count_batch(CHATS) == marked


def test_weight_zero_and_preference_examples_with_a_chat_template(chatml_dir):
    from ftkit.estimation.chat_template import ChatTemplateCounter

    counter = ChatTemplateCounter(chatml_dir)
    chat = CHATS[0]
    weighted = {"messages": [*chat["messages"][:2], {**chat["messages"][2], "weight": 0}, *chat["messages"][3:]]}
    (total, trained), (total_w, trained_w) = counter.count_batch([chat, weighted])
    assert total == total_w and 0 < trained_w < trained

    prompt = [{"role": "user", "content": "Capital of France?"}]
    chosen, rejected = [{"role": "assistant", "content": "Paris."}], [{"role": "assistant", "content": "Lyon, I think."}]
    pair = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    seq_c, seq_r = counter.count_batch([{"messages": prompt + chosen}, {"messages": prompt + rejected}])
    assert counter.count(pair) == (seq_c[0] + seq_r[0], seq_c[1] + seq_r[1])


def test_hub_ids_resolve_from_the_local_cache_only(tmp_path, monkeypatch, chatml_dir):
    import shutil

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    approx = token_counter("local", "acme/tiny-chat")
    assert not approx.exact and approx.expected_error and "approximate" in approx.name
    snapshot = tmp_path / "hub" / "models--acme--tiny-chat" / "snapshots" / "abc123"
    shutil.copytree(chatml_dir, snapshot)
    (tmp_path / "hub" / "models--acme--tiny-chat" / "refs").mkdir()
    (tmp_path / "hub" / "models--acme--tiny-chat" / "refs" / "main").write_text("abc123")
    token_counter.cache_clear()
    exact = token_counter("local", "acme/tiny-chat")
    assert exact.exact and str(snapshot) in exact.name
    assert exact.count(CHATS[1]) == token_counter("local", str(chatml_dir)).count(CHATS[1])


def test_validate_path_never_imports_transformers(chatml_dir):
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from ftkit.estimation.tokens import token_counter;"
        f"c = token_counter('local', {str(chatml_dir)!r}); c.count({CHATS[1]!r});"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
