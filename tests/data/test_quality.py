"""Whole-dataset checks: near duplicates, leakage, labels, statistics, special tokens, worker processes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ftkit.data import validate
from ftkit.data.lsh import near_duplicate_pairs
from ftkit.data.minhash import signatures
from tests.data.data_rows import chat, rows_of

#: 300 distinct random words: one changed word moves Jaccard similarity (3-word shingles) by about 0.02.
BASE = " ".join(f"w{x}" for x in np.random.default_rng(1).integers(0, 10**6, 300))
LOREM = ("the quick brown fox jumps over the lazy dog while seven wizards quietly judge boxing matches near "
         "a river bank where old fishermen tell long stories about storms ships and distant harbours")


def _near_copy(text: str, changes: int) -> str:
    words = text.split()
    for k in range(changes):
        words[(3 + 7 * k) % len(words)] = f"changed{k}"
    return " ".join(words)


def test_signatures_estimate_jaccard_and_are_deterministic():
    import re

    def shingles(t: str) -> set[tuple[str, ...]]:
        w = [x for x in re.split(r"[^\w]+", t.lower()) if x]
        return {tuple(w[i:i + 3]) for i in range(len(w) - 2)}

    rng = np.random.default_rng(0)
    for words, changes in ((300, 3), (300, 20), (40, 2), (12, 1)):
        base = " ".join(f"w{x}" for x in rng.integers(0, 10**6, words))
        other = _near_copy(base, changes)
        exact = len(shingles(base) & shingles(other)) / len(shingles(base) | shingles(other))
        a, b = signatures([base, other])
        assert abs((a == b).mean() - exact) < 0.15  # about 3.5 standard deviations at 128 bins
    assert np.array_equal(signatures([base]), signatures([base]))
    assert (signatures([""]) == 0xFFFF).all()


def test_near_duplicate_pairs_respects_the_threshold():
    base = BASE
    texts = [base, _near_copy(base, 1), _near_copy(base, 12), "something else entirely, nothing alike at all"]
    later, earlier, _ = near_duplicate_pairs(signatures(texts), 0.9)
    assert list(zip(later.tolist(), earlier.tolist(), strict=True)) == [(1, 0)]
    later, _, _ = near_duplicate_pairs(signatures(texts), 0.5)
    assert 2 in later.tolist()


def _chat_text(text: str) -> dict:
    return {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok " + text}]}


def test_near_duplicates_are_one_cluster_led_by_the_first_line(write):
    base = BASE
    rows = [*rows_of("chat", 5), _chat_text(base), *rows_of("chat", 3)[1:], _chat_text(_near_copy(base, 1))]
    report = validate(write(rows))
    issue = next(i for i in report.issues if i.code == "near_duplicate")
    assert issue.line == 6 and issue.related_lines == [len(rows)]
    assert issue.cluster is not None and issue.cluster.model_dump() == {
        "size": 2, "representative": 6, "members": [6, len(rows)]}
    assert "near_duplicate" not in validate(write(rows[:-1])).issue_counts
    # a stricter threshold than the pair's similarity lets it through
    assert "near_duplicate" not in validate(write(rows), near_duplicate_threshold=0.99).issue_counts


def test_leakage_between_train_validation_and_test(write):
    base = BASE
    train = write([*rows_of("chat", 6), _chat_text(base)], "train.jsonl")
    val = write([chat(100), chat(3)], "val.jsonl")
    test = write([chat(200), _chat_text(_near_copy(base, 1))], "test.jsonl")
    report = validate(train, validation=val, test=test)
    leak = next(i for i in report.issues if i.code == "leakage")
    assert (leak.file, leak.line, leak.related_lines) == (str(val), 2, [4])
    near = next(i for i in report.issues if i.code == "near_leakage")
    assert (near.file, near.line, near.related_lines) == (str(test), 2, [7])
    assert report.files["validation"].examples == 2
    clean = validate(train, validation=write([chat(300)], "v2.jsonl"))
    assert "leakage" not in clean.issue_counts and "near_leakage" not in clean.issue_counts


def test_statistics_with_the_openai_tokenizer(write):
    report = validate(write(rows_of("chat", 12)), provider="openai", model="gpt-4o-mini")
    stats = report.stats
    assert stats.examples == 12 and stats.format == "chat" and stats.tokens_exact
    assert "o200k_base" in (stats.tokenizer or "")
    assert stats.messages_per_example == {"min": 3.0, "mean": 3.0, "max": 3.0}
    t = stats.tokens_per_example
    assert t["min"] <= t["p50"] <= t["p95"] <= t["max"] and 0 < stats.trained_tokens < stats.total_tokens
    from ftkit.estimation.tokens import token_counter

    counter = token_counter("openai", "gpt-4o-mini")
    assert stats.total_tokens == sum(counter.count(r)[0] for r in rows_of("chat", 12))


def test_approximate_counts_are_labelled(write):
    stats = validate(write(rows_of("chat", 3))).stats
    assert not stats.tokens_exact and "approximate" in (stats.tokenizer or "")


def test_classification_stats_include_the_label_system_prompt(write):
    rows = rows_of("classification", 10)
    report = validate(write(rows), provider="openai", model="gpt-4o-mini")
    from ftkit.data import to_chat
    from ftkit.estimation.tokens import token_counter

    counter = token_counter("openai", "gpt-4o-mini")
    expected = sum(counter.count(to_chat(r, labels=["bad", "good"]))[0] for r in rows)
    assert report.stats.total_tokens == expected
    assert report.stats.labels == {"good": 5, "bad": 5}


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    """A byte-level BPE tokenizer with ChatML specials, built offline (no transformers)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|pad|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator([LOREM] * 20, trainer=trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    directory = tmp_path_factory.mktemp("tok")
    tok.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|im_end|>"}))
    (directory / "chat_template.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}")
    return directory


def test_special_tokens_in_content_and_local_tokenizer_counts(write, tokenizer_dir):
    rows = rows_of("chat", 4)
    rows[2]["messages"][1]["content"] += " <|im_end|> sneaky"
    report = validate(write(rows), model=str(tokenizer_dir), max_seq_length=20)
    issue = next(i for i in report.issues if i.code == "special_token_in_content")
    assert issue.line == 3 and "<|im_end|>" in issue.message
    assert report.stats.tokens_exact and str(tokenizer_dir) in (report.stats.tokenizer or "")
    assert report.issue_counts.get("truncated") == 4
    clean = validate(write(rows_of("chat", 4)), model=str(tokenizer_dir))
    assert "special_token_in_content" not in clean.issue_counts


@pytest.mark.slow
def test_worker_processes_give_the_same_report(write, monkeypatch):
    import ftkit.data.scan

    monkeypatch.setattr(ftkit.data.scan, "CHUNK_BYTES", 4096)  # many chunks, several in flight
    rows = [*rows_of("chat", 150), chat(7), {"messages": []}]
    path = write(rows)
    serial = validate(path, provider="openai", model="gpt-4o-mini", workers=1)
    parallel = validate(path, provider="openai", model="gpt-4o-mini", workers=2)
    assert parallel.model_dump() == serial.model_dump()
    assert {"duplicate", "empty_messages"} <= set(parallel.issue_counts)


def test_a_counter_object_is_used_for_that_call_only(write):
    from ftkit.estimation.tokens import ApproximateCounter

    class Fixed(ApproximateCounter):
        """Counts every example as 7 tokens, 2 of them trained (to tell it apart)."""

        def count_batch(self, examples):
            return [(7, 2)] * len(examples)

    counter = Fixed(None, "test")
    path = write(rows_of("chat", 4))
    assert validate(path, tokenizer=counter).stats.total_tokens == 28
    assert validate(path).stats.total_tokens != 28


def test_docs_list_every_issue_code():
    from ftkit.data.codes import CODES

    docs = (Path(__file__).parents[2] / "docs" / "data.md").read_text()
    assert [c for c in CODES if f"`{c}`" not in docs] == []
