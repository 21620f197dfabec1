"""`tiny_model`: a few-million-parameter causal LM with its own tokenizer, built offline in seconds.

Tests, the demo and the benchmarks train it instead of a hub model, so nothing ever reaches a model
hub. Its chat template marks assistant turns with ``{% generation %}`` (the end-of-turn token inside
the markers, and used as eos), which is what assistant-only loss and ``generate()`` stopping need.

>>> from ftkit.testing.tiny import tiny_model
>>> path = tiny_model("/tmp/tiny-llama")                       # doctest: +SKIP
>>> AutoModelForCausalLM.from_pretrained(path)                 # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from ftkit.errors import ConfigError

__all__ = ["CHAT_TEMPLATE", "SPECIAL_TOKENS", "default_corpus", "tiny_model"]

#: the marker file that records how a tiny model was built (what makes ``tiny_model`` idempotent)
MARKER = "ftkit-tiny.json"
_BUILD_VERSION = 1

SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|im_start|>", "<|im_end|>", "<|unk|>"]

#: ChatML with generation markers; ``<|im_end|>`` ends each turn, sits inside the assistant's markers
#: (so the model learns to stop) and is the tokenizer's eos (so ``generate()`` stops on it).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_ENGLISH = """\
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step.
Please let me know if you have any questions about your order, your account or your last invoice.
Thank you for contacting support. We are sorry for the trouble and will fix it as soon as possible.
The weather today is sunny with a light breeze, and tomorrow it will rain in the afternoon.
She opened the window, looked at the garden and decided to plant tomatoes, beans and roses.
Our team reviewed the report and found three errors in the summary table on page four.
Can you help me reset my password? I forgot it and the reset email never arrived.
My card was charged twice for the same subscription this month. Please refund the extra payment.
The application crashes when I upload a large file. It shows an error and then closes.
I would like to cancel my plan and delete my account. How do I export my data first?
The capital of France is Paris. The capital of Japan is Tokyo. The capital of Italy is Rome.
Water boils at one hundred degrees Celsius at sea level and freezes at zero degrees.
Two plus two is four. Ten minus three is seven. Six times seven is forty-two.
Reading a good book on a quiet evening is one of the simplest pleasures in life.
The meeting has been moved to Thursday at three o'clock; please update your calendar.
He answered the question clearly, explained his reasoning and then asked for feedback.
Yes. No. Maybe. Thanks! Hello, how are you? I am fine, thank you. Goodbye and have a nice day.
Billing, technical, account, shipping, refund, bug, feature request, urgent, low priority.
The package was shipped on Monday and should arrive within five business days.
Machine learning models learn patterns from examples and can make mistakes on new inputs.
"""


def default_corpus() -> list[str]:
    """Ordinary English plus, when present, the texts of the bundled demo data (``ftkit/demo/*.jsonl``)."""
    texts = [line for line in _ENGLISH.splitlines() if line.strip()]
    texts += [f"{a} plus {b} is {a + b}. {a} times {b} is {a * b}." for a in range(12) for b in range(12)]
    demo_dir = Path(__file__).resolve().parent.parent / "demo"
    for path in sorted(demo_dir.glob("**/*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    texts.extend(_strings(json.loads(line)))
                except json.JSONDecodeError:
                    continue
    return texts


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value (message contents, prompts, labels...)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def tiny_model(
    path: str | Path,
    *,
    arch: Literal["llama", "qwen2"] = "llama",
    corpus: Iterable[str] | None = None,
    hidden_size: int = 128,
    layers: int = 4,
    vocab_size: int = 1024,
    seed: int = 0,
) -> Path:
    """Build (or reuse) a tiny randomly initialised causal LM with a BPE tokenizer trained on ``corpus``.

    Defaults give about 1M parameters (4 MB of safetensors), built in about a second. Calling it again
    with the same settings and corpus reuses the directory; the build goes to a temporary directory that
    is renamed into place, so concurrent callers never see half a model.
    """
    if arch not in ("llama", "qwen2"):
        raise ConfigError(f"tiny_model(arch={arch!r}): choose 'llama' or 'qwen2'.")
    if hidden_size % 32:
        raise ConfigError(f"tiny_model(hidden_size={hidden_size}): use a multiple of 32 (heads of 32 dims).")
    path = Path(path)
    texts = list(corpus) if corpus is not None else default_corpus()
    settings = {
        "version": _BUILD_VERSION,
        "arch": arch,
        "hidden_size": hidden_size,
        "layers": layers,
        "vocab_size": vocab_size,
        "seed": seed,
        "corpus_sha256": hashlib.sha256("\n\x00".join(texts).encode("utf-8")).hexdigest(),
    }
    marker = path / MARKER
    if marker.exists():
        if json.loads(marker.read_text(encoding="utf-8")) == settings:
            return path
        shutil.rmtree(path)  # our own earlier build with other settings
    elif path.exists() and any(path.iterdir()):
        raise ConfigError(f"{path} exists and is not a tiny model built by ftkit; pass an empty or new directory.")

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        _build(staging, texts, settings)
        (staging / MARKER).write_text(json.dumps(settings, indent=2), encoding="utf-8")
        if path.exists():
            path.rmdir()  # empty (checked above)
        try:
            os.replace(staging, path)
        except OSError:
            if (path / MARKER).exists():  # a concurrent caller won the race with the same build
                return path
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _build(out: Path, texts: list[str], settings: dict[str, Any]) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast, Qwen2Config
    from transformers.utils import logging

    logging.disable_progress_bar()

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=settings["vocab_size"],
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|bos|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token="<|unk|>",
        extra_special_tokens=["<|im_start|>", "<|eos|>"],
        model_max_length=2048,
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    hidden = settings["hidden_size"]
    heads = hidden // 32
    config_cls = LlamaConfig if settings["arch"] == "llama" else Qwen2Config
    config = config_cls(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=settings["layers"],
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(settings["seed"])
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
