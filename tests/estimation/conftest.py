"""Fixtures for the estimation tests: a tiny tokenizer with a chat template, built offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CORPUS = [
    "The capital of France is Paris.",
    "What is 2 plus 2? It is 4.",
    "Hello there, how are you today? I am fine, thanks.",
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
] * 20

#: A ChatML template with {% generation %} markers around assistant answers (as TRL expects).
CHATML_GENERATION = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\\n' }}{% else %}{{ message['content'] + '<|im_end|>' + '\\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
#: The same template without markers: trained spans must be found prefix by prefix.
CHATML_PLAIN = CHATML_GENERATION.replace("{% generation %}", "").replace("{% endgeneration %}", "")


def build_tokenizer_dir(directory: Path, template: str | None) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    directory.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok.save(str(directory / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
    if template is not None:
        config["chat_template"] = template
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    return directory


@pytest.fixture(scope="session")
def chatml_dir(tmp_path_factory) -> Path:
    return build_tokenizer_dir(tmp_path_factory.mktemp("tok") / "generation", CHATML_GENERATION)


@pytest.fixture(scope="session")
def chatml_plain_dir(tmp_path_factory) -> Path:
    return build_tokenizer_dir(tmp_path_factory.mktemp("tok") / "plain", CHATML_PLAIN)


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Catalog and counter caches are per process; tests change files and environment between them."""
    from ftkit.estimation.catalog import clear_catalog_cache
    from ftkit.estimation.tokens import token_counter

    clear_catalog_cache()
    token_counter.cache_clear()
    yield
    clear_catalog_cache()
    token_counter.cache_clear()
