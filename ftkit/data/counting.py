"""Count a dataset's tokens for one counter: the ``TokenCount`` every estimate starts from.

>>> from ftkit.estimation.tokens import token_counter
>>> rows = [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}] * 3
>>> count_dataset(rows, token_counter("openai", "gpt-4o-mini")).total_tokens
42
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from ftkit.errors import ConfigError
from ftkit.estimation.tokens import TokenCounter
from ftkit.estimation.types import TokenCount

__all__ = ["canonical_examples", "count_dataset", "count_for_estimate", "count_spec"]

_BATCH = 1024


def canonical_examples(source: Any) -> Iterator[dict[str, Any]]:
    """Each example of ``source`` (JSONL path, list of dicts, Dataset, DataFrame) in canonical form.

    Classification examples need the dataset's label set for their system prompt, so a classification
    dataset is read twice (labels first).
    """
    from ftkit.data.formats import detect_format, to_chat
    from ftkit.data.source import iter_records

    labels: list[Any] | None = None
    for _, record in iter_records(source):
        if labels is None and detect_format(record) == "classification":
            labels = sorted({r.get("label") for _, r in iter_records(source) if "label" in r}, key=str)
        yield to_chat(record, labels=labels)


def _batches(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def count_dataset(
    source: Any,
    counter: TokenCounter,
    *,
    max_tokens_per_example: int | None = None,
    max_seq_length: int | None = None,
) -> TokenCount:
    """Token counts of a dataset. Examples above ``max_tokens_per_example`` count at the cap (and are
    reported in ``capped_examples``); tokens beyond ``max_seq_length`` are reported in ``truncated_tokens``."""
    examples = total = trained = capped = truncated = longest = raw_total = 0
    rows = canonical_examples(source) if not _is_canonical_list(source) else iter(source)
    for batch in _batches(rows, _BATCH):
        for n_total, n_trained in counter.count_batch(batch):
            examples += 1
            raw_total += n_total
            longest = max(longest, n_total)
            if max_tokens_per_example is not None and n_total > max_tokens_per_example:
                capped += 1
                n_trained = min(n_trained, max_tokens_per_example)
                n_total = max_tokens_per_example
            if max_seq_length is not None and n_total > max_seq_length:
                truncated += n_total - max_seq_length
            total += n_total
            trained += n_trained
    return TokenCount(
        examples=examples,
        total_tokens=total,
        trained_tokens=trained,
        method="exact" if counter.exact else "approximate",
        tokenizer=counter.name,
        expected_error=counter.expected_error,
        capped_examples=capped,
        truncated_tokens=truncated,
        max_example_tokens=longest,
        mean_example_tokens=round(raw_total / examples, 2) if examples else 0.0,
    )


def _is_canonical_list(source: Any) -> bool:
    """Already-canonical in-memory rows (what the data helpers hand over) skip conversion."""
    return isinstance(source, list) and all(
        isinstance(r, dict) and ("messages" in r or ("chosen" in r and isinstance(r.get("prompt"), list)))
        for r in source[:50]
    ) and bool(source)


def count_spec(
    spec: Any, counter: TokenCounter, *, max_tokens_per_example: int | None = None
) -> TokenCount:
    """Counts of ``spec.train``, with ``spec.validation``'s tokens in ``validation_tokens``."""
    if spec.train is None:
        raise ConfigError("The job has no training data to estimate; pass train=... (a JSONL path or a list).")
    counts = count_dataset(
        spec.train, counter, max_tokens_per_example=max_tokens_per_example, max_seq_length=spec.max_seq_length
    )
    if spec.validation is not None:
        val = count_dataset(spec.validation, counter, max_tokens_per_example=max_tokens_per_example)
        counts = counts.model_copy(
            update={"validation_tokens": val.total_tokens, "validation_examples": val.examples}
        )
    return counts


def count_for_estimate(
    spec: Any, provider: str, counts: TokenCount | None = None, *, max_tokens_per_example: int | None = None
) -> tuple[TokenCount, list[str]]:
    """``counts`` (or ``spec``'s data counted with ``provider``'s counter for ``spec.model``) and the warnings
    an estimate should carry about them."""
    from ftkit.estimation.tokens import token_counter

    if counts is None:
        counts = count_spec(spec, token_counter(provider, spec.model), max_tokens_per_example=max_tokens_per_example)
    warnings = []
    if counts.method == "approximate":
        warnings.append(
            f"Token counts are approximate (expected error about {counts.expected_error or 0:.0%}): "
            f"{counts.tokenizer}. Put the model's tokenizer in a local directory or the Hugging Face cache "
            "for exact counts."
        )
    return counts, warnings
