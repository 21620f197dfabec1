"""SFT with QLoRA and full fine-tuning, DPO with LoRA, and exports that load without ftkit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ftkit.errors import ConfigError
from ftkit.model import TrainedModel
from ftkit.testing.samples import preference_examples

from .conftest import local_job

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tiny, store) -> dict[str, TrainedModel]:
    """Four jobs trained side by side (each process is mostly import time)."""
    jobs = {
        "lora": local_job(store, tiny),
        "qlora": local_job(store, tiny, adapter="qlora"),
        "full": local_job(store, tiny, adapter="full"),
        "dpo": local_job(store, tiny, method="dpo", train=preference_examples(16), learning_rate=5e-3),
    }
    for job in jobs.values():
        job.start()
    return {name: job.wait(timeout=240) for name, job in jobs.items()}


def test_each_method_and_adapter_trains(trained) -> None:
    for name in ("lora", "qlora", "dpo"):
        adapter = Path(trained[name].adapter_path)
        assert (adapter / "adapter_model.safetensors").exists(), name
        assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 16
    full = Path(trained["full"].model_id)
    assert trained["full"].adapter_path is None and (full / "model.safetensors").exists()
    assert all(m.metrics["global_step"] == 6 for m in trained.values())
    assert trained["dpo"].metrics["train_loss"] > 0


def test_adapter_loads_with_plain_peft(trained, tiny) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny), trained["lora"].adapter_path)
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("name", ["lora", "qlora"])
def test_merge_writes_a_full_precision_model_with_the_same_outputs(trained, name, tmp_path) -> None:
    from ftkit.providers.local._export import load_dequantized
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = trained[name]
    out = model.merge(tmp_path / "merged", dtype="float32")
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "float32"
    merged = AutoModelForCausalLM.from_pretrained(out)
    # QLoRA merges into the dequantised 4-bit weights the adapter was trained against
    base = (load_dequantized(model.base_model, compute=torch.bfloat16).float() if name == "qlora"
            else AutoModelForCausalLM.from_pretrained(model.base_model))
    with_adapter = PeftModel.from_pretrained(base, model.adapter_path)
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, with_adapter(ids).logits, atol=1e-4)


def test_qlora_merge_is_closer_to_the_trained_4bit_model_than_a_merge_into_the_original(trained, tmp_path) -> None:
    from ftkit.providers.local._training import quantization_config
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = trained["qlora"]
    dequantized = AutoModelForCausalLM.from_pretrained(model.merge(tmp_path / "deq", dtype="float32"))
    original = AutoModelForCausalLM.from_pretrained(model.merge(tmp_path / "orig", dtype="float32",
                                                                from_quantized=False))
    settings = type("S", (), {"dtype": "bfloat16"})()
    four_bit = AutoModelForCausalLM.from_pretrained(model.base_model, quantization_config=quantization_config(settings),
                                                    dtype=torch.bfloat16)
    as_trained = PeftModel.from_pretrained(four_bit, model.adapter_path)
    ids = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11]])
    with torch.no_grad():
        reference = as_trained(ids).logits.float()
        gap_dequantized = (dequantized(ids).logits - reference).abs().mean()
        gap_original = (original(ids).logits - reference).abs().mean()
    assert gap_dequantized < gap_original


def test_merge_defaults_to_16_bits_and_refuses_a_non_empty_folder(trained, tmp_path) -> None:
    out = trained["lora"].merge(tmp_path / "merged")
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    with pytest.raises(ConfigError, match="not empty"):
        trained["lora"].merge(keep)
    assert (keep / "notes.txt").read_text() == "precious"


def test_generate_is_batched_and_greedy(trained) -> None:
    model = trained["full"]
    prompts = ["What colour is snow?", "Name the colour of grass.", "What colour is coal?"]
    one_by_one = [model.generate([p], max_new_tokens=6)[0].text for p in prompts]
    batched = model.generate(prompts, max_new_tokens=6, batch_size=3)
    assert [g.text for g in batched] == one_by_one, "left padding: batching does not change answers"
    assert all(g.prompt_tokens and g.completion_tokens and g.latency_s for g in batched)


def test_export_ollama_writes_a_modelfile(trained, tmp_path) -> None:
    provider = trained["lora"].provider_instance()
    out = provider.export_ollama(trained["lora"], tmp_path / "ollama", system_prompt="Answer with one colour word.")
    modelfile = (out / "Modelfile").read_text()
    assert modelfile.startswith("FROM .")
    assert "<|im_start|>{{ .Role }}" in modelfile
    assert 'SYSTEM """Answer with one colour word."""' in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile
    assert (out / "model.safetensors").exists()
