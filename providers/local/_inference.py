"""Use a local model: batched generation and per-example loss on reference tokens (for evaluation)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ftkit.types import Generation, GenerationSettings

if TYPE_CHECKING:
    from ftkit.model import TrainedModel

__all__ = ["ExampleLoss", "LoadedModel", "example_losses", "generate", "load_for_inference", "stop_token_ids"]


class ExampleLoss(NamedTuple):
    """Summed negative log-likelihood of one example's reference tokens, and how many there were."""

    total_nll: float
    tokens: int

    @property
    def mean(self) -> float:
        return self.total_nll / self.tokens if self.tokens else 0.0


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: str
    #: generation ends at any of these: eos and the chat template's end-of-turn token(s)
    stop_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.stop_ids:
            self.stop_ids = stop_token_ids(self.tokenizer, getattr(self.model, "generation_config", None))


def stop_token_ids(tokenizer: Any, generation_config: Any = None) -> tuple[int, ...]:
    """eos, the generation config's eos ids and the template's end-of-turn token (``<|im_end|>``,
    ``<|eot_id|>``, ``<end_of_turn>``...), found by rendering a probe turn: where an answer ends."""
    from ._assistant_spans import framing_of

    ids: list[int] = []
    configured = getattr(generation_config, "eos_token_id", None)
    for value in (tokenizer.eos_token_id, *(configured if isinstance(configured, list) else [configured])):
        if isinstance(value, int):
            ids.append(value)
    if tokenizer.chat_template:
        end = framing_of(tokenizer).end_of_turn
        if end and end.strip():
            encoded = tokenizer.encode(end.strip(), add_special_tokens=False)
            if len(encoded) == 1:  # a single token (not text like a newline that also appears inside answers)
                ids.append(encoded[0])
    return tuple(dict.fromkeys(ids))


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_for_inference(trained: TrainedModel) -> LoadedModel:
    """Base (+ adapter) in eval mode; the tokenizer saved with the adapter wins (it is what training used)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    from ._quiet import quiet_libraries

    quiet_libraries()
    logging.disable_progress_bar()
    device = _device()
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    adapter = Path(trained.adapter_path) if trained.adapter_path else None
    base = trained.base_model or trained.model_id if adapter else trained.model_id
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    if adapter is not None:
        from peft import PeftModel

        # Merged weights answer the same (within float rounding) and skip the LoRA matmuls each step.
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    tokenizer_dir = adapter if adapter is not None and (adapter / "tokenizer_config.json").exists() else base
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(model.to(device).eval(), tokenizer, device)


def generate(loaded: LoadedModel, prompts: list[list[dict[str, Any]]], settings: GenerationSettings) -> list[Generation]:
    """Answer each conversation; batches whose prompts open with the same tokens compute that part once.

    A few-shot evaluation sends every test example behind the same system prompt and demonstrations, often
    most of each prompt's tokens. Their keys and values are computed for one row and copied to the batch,
    and each row's own tokens follow after a gap of padding that the attention mask hides (positions come
    from the mask, so each row sees exactly the positions it would unshared). On SmolLM2-135M with the
    demo's 7-shot prompt (331 shared tokens of about 360) a batch of 32 answered in 4.8 s instead of 24 s,
    with the same greedy answers.
    """
    import torch

    tok = loaded.tokenizer
    sample = settings.temperature > 0
    out: list[Generation] = []
    for start in range(0, len(prompts), settings.batch_size):
        batch = prompts[start:start + settings.batch_size]
        rows = [tok.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
                for p in batch]
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        began = time.perf_counter()
        with torch.inference_mode():
            shared = _shared_prefix_length(rows)
            cache = _prefix_cache(loaded, rows[0][:shared], len(rows)) if shared else None
            if cache is None:
                shared = 0
            input_ids, attention_mask = _gapped(rows, shared, tok.pad_token_id, loaded.device)
            ids = loaded.model.generate(
                input_ids=input_ids, attention_mask=attention_mask, **({"cache": cache} if cache is not None else {}),
                max_new_tokens=settings.max_new_tokens, do_sample=sample,
                temperature=settings.temperature if sample else None, top_p=settings.top_p if sample else None,
                top_k=None, pad_token_id=tok.pad_token_id, eos_token_id=list(loaded.stop_ids) or tok.eos_token_id,
            )
        latency = time.perf_counter() - began  # every answer of a batch waits for the whole batch
        new = ids[:, input_ids.shape[1]:]
        for row, prompt in zip(new.tolist(), rows, strict=True):
            completion = _until_eos(row, loaded.stop_ids, tok.pad_token_id)
            text = _cut_at_stop(tok.decode(completion, skip_special_tokens=True), settings.stop)
            out.append(Generation(text=text, prompt_tokens=len(prompt), completion_tokens=len(completion),
                                  latency_s=latency))
    return out


#: below this many shared tokens a separate prefix pass costs about what it saves
MIN_SHARED_PREFIX = 16


def _shared_prefix_length(rows: list[list[int]]) -> int:
    """Tokens every row starts with, leaving each row at least one of its own (generation continues from
    the row's last token); 0 when a single row or too few to be worth a pass of their own."""
    if len(rows) < 2:
        return 0
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    length = 0
    while length < limit and all(r[length] == first[length] for r in rows):
        length += 1
    return length if length >= MIN_SHARED_PREFIX else 0


def _prefix_cache(loaded: LoadedModel, prefix: list[int], copies: int) -> Any:
    """Keys and values of ``prefix`` computed once and repeated for ``copies`` rows; None where the model's
    cache cannot be shared so (sliding-window or recurrent layers keep state that a gap would corrupt)."""
    import torch

    result = loaded.model(input_ids=torch.tensor([prefix], device=loaded.device), use_cache=True)
    cache = getattr(result, "cache", None) or getattr(result, "past_key_values", None)
    if (cache is None or not hasattr(cache, "batch_repeat_interleave")
            or any(getattr(cache, "is_sliding", ())) or any(getattr(cache, "is_linear", ()))):
        return None
    cache.batch_repeat_interleave(copies)
    return cache


def _gapped(rows: list[list[int]], shared: int, pad: int, device: str) -> tuple[Any, Any]:
    """``[shared prefix][padding][row's own tokens]`` per row, and the mask that hides the padding. With
    ``shared=0`` this is plain left padding."""
    import torch

    own = max(len(r) - shared for r in rows)
    input_ids = torch.full((len(rows), shared + own), pad, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for i, row in enumerate(rows):
        input_ids[i, :shared] = torch.tensor(row[:shared])
        attention_mask[i, :shared] = 1
        tail = row[shared:]
        input_ids[i, shared + own - len(tail):] = torch.tensor(tail)
        attention_mask[i, shared + own - len(tail):] = 1
    return input_ids.to(device), attention_mask.to(device)


def _until_eos(row: list[int], stops: tuple[int, ...], pad: int | None) -> list[int]:
    """Generated ids up to and including the first stop token (the rest is padding of shorter answers)."""
    for i, token in enumerate(row):
        if token in stops:
            return row[:i + 1]
    return [t for t in row if t != pad] if pad not in stops else row


def _cut_at_stop(text: str, stop: list[str] | None) -> str:
    for s in stop or ():
        index = text.find(s)
        if index != -1:
            text = text[:index]
    return text


def example_losses(loaded: LoadedModel, examples: list[dict[str, Any]]) -> list[ExampleLoss]:
    """NLL of the reference tokens of each example (any ftkit data format with an assistant turn)."""
    import torch
    from torch.nn.functional import cross_entropy

    from ftkit.data.formats import to_chat

    from ._assistant_spans import framing_of, has_generation_markers, tokenize_conversation

    tok = loaded.tokenizer
    framing = None if has_generation_markers(tok.chat_template) else framing_of(tok)
    results = []
    for example in examples:
        chat = to_chat(example)
        messages = chat["messages"] if "messages" in chat else chat["prompt"] + chat["chosen"]
        enc = tokenize_conversation(tok, messages, chat.get("tools"), framing=framing)  # the tokens training used
        ids = torch.tensor([enc["input_ids"]], device=loaded.device)
        labels = ids.clone()
        labels[0, torch.tensor(enc["assistant_masks"], device=loaded.device) == 0] = -100
        with torch.inference_mode():
            logits = loaded.model(input_ids=ids).logits
        shifted = labels[:, 1:]
        nll = cross_entropy(logits[:, :-1].flatten(0, 1).float(), shifted.flatten(), ignore_index=-100,
                            reduction="sum")
        results.append(ExampleLoss(float(nll), int((shifted != -100).sum())))
    return results
