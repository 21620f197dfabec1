"""How OpenAI counts: tiktoken with the model's encoding and the cookbook chat formula; its reserved tokens."""

from __future__ import annotations

from ftkit.estimation.tokens import TiktokenChatCounter

__all__ = ["RESERVED_TOKENS", "encoding_for", "token_counter"]

#: strings OpenAI's tokenizers treat as special; content holding them is refused or mis-trained
RESERVED_TOKENS = ("<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>")


def encoding_for(model: str | None) -> str:
    """The tiktoken encoding of an OpenAI model: the catalog's, else by family (gpt-3.5: cl100k_base).

    >>> encoding_for("gpt-4o-mini"), encoding_for("gpt-3.5-turbo-0125")
    ('o200k_base', 'cl100k_base')
    """
    if model:
        from ftkit.estimation.catalog import load_catalog

        entry = load_catalog("openai").find(model)
        if entry is not None and entry.encoding:
            return entry.encoding
        base = model.split(":")[1] if model.startswith("ft:") and ":" in model[3:] else model
        if base.startswith(("gpt-3.5", "gpt-4-", "babbage", "davinci")) or base == "gpt-4":
            return "cl100k_base"
    return "o200k_base"


def token_counter(model: str | None) -> TiktokenChatCounter:
    return TiktokenChatCounter(encoding_for(model))
