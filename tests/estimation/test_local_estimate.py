"""Local estimates: the memory model against the figures fine-tuning guides publish, parameter counts from
config.json against a real transformers model, and the fit/batch/time/cost arithmetic per GPU."""

from __future__ import annotations

import json

import pytest
from ftkit.providers.local._estimate import DEFAULT_UTILIZATION, QLORA_SPEED_FACTOR, estimate

from ftkit.estimation.catalog import load_catalog
from ftkit.estimation.gpus import load_gpus
from ftkit.estimation.memory import memory_model
from ftkit.estimation.modeldir import architecture_from_config
from ftkit.estimation.types import TokenCount
from ftkit.spec import Adapter, JobSpec

# The configuration the guides' tables assume: LoRA r=16, AdamW, gradient checkpointing, one 2,048-token sequence.
GUIDE = {"sequence_tokens": 2048, "lora_r": 16, "gradient_checkpointing": True}
LLAMA2 = {"7b": "meta-llama/Llama-2-7b-hf", "13b": "meta-llama/Llama-2-13b-hf", "70b": "meta-llama/Llama-2-70b-hf"}


def arch(name: str):
    return load_catalog("local").model(name).architecture


@pytest.mark.parametrize("size", ["7b", "13b", "70b"])
def test_full_fine_tuning_is_about_16_bytes_per_parameter(size):
    a = arch(LLAMA2[size])
    peak = memory_model(a, adapter="full", **GUIDE).peak_gb(1)
    assert 16.0 <= peak * 1e9 / a.parameter_count() <= 17.0


@pytest.mark.parametrize("model", [LLAMA2["7b"], "mistralai/Mistral-7B-Instruct-v0.2"])
def test_lora_on_7b_needs_16_to_20_gb(model):
    assert 16 <= memory_model(arch(model), adapter="lora", **GUIDE).peak_gb(1) <= 20


@pytest.mark.parametrize("model", [LLAMA2["7b"], "mistralai/Mistral-7B-Instruct-v0.2"])
def test_qlora_on_7b_needs_about_8_gb(model):
    # seed 001: "~8 GB"; peft's fp32 upcast of embeddings, LM head and residual stream is counted (+0.5-1 GB)
    assert 6 <= memory_model(arch(model), adapter="qlora", **GUIDE).peak_gb(1) <= 8.5


def test_qlora_on_70b_needs_40_to_48_gb():
    assert 40 <= memory_model(arch(LLAMA2["70b"]), adapter="qlora", **GUIDE).peak_gb(1) <= 48


def test_checkpointing_and_batch_move_memory_the_right_way():
    a = arch(LLAMA2["7b"])
    on = memory_model(a, adapter="lora", sequence_tokens=2048, gradient_checkpointing=True)
    off = memory_model(a, adapter="lora", sequence_tokens=2048, gradient_checkpointing=False)
    assert off.peak_gb(1) > on.peak_gb(1) + 5
    assert on.breakdown_gb(1)["activations_without_checkpointing"] == pytest.approx(
        off.breakdown_gb(1)["activations"], rel=1e-3)
    assert on.peak_gb(4) > on.peak_gb(2) > on.peak_gb(1)
    dpo_full = memory_model(a, adapter="full", method="dpo", sequence_tokens=2048)
    assert dpo_full.reference_model_bytes == dpo_full.weights_bytes  # TRL copies the policy, fp32 master weights


def test_max_batch_is_the_largest_that_fits():
    mm = memory_model(arch(LLAMA2["7b"]), adapter="qlora", sequence_tokens=1024)
    for gpu in load_gpus():
        b = mm.max_batch_size(gpu.memory_gb)
        assert mm.peak_gb(b + 1) > gpu.memory_gb
        if b:
            assert mm.peak_gb(b) <= gpu.memory_gb


def test_parameter_count_from_config_matches_a_real_model(tmp_path):
    transformers = pytest.importorskip("transformers")
    configs = [
        transformers.LlamaConfig(hidden_size=64, intermediate_size=176, num_hidden_layers=3, num_attention_heads=4,
                                 num_key_value_heads=2, vocab_size=300, tie_word_embeddings=False),
        transformers.Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=2, vocab_size=256, tie_word_embeddings=True),
    ]
    for config in configs:
        model = transformers.AutoModelForCausalLM.from_config(config)
        config.save_pretrained(tmp_path / config.model_type)
        raw = json.loads((tmp_path / config.model_type / "config.json").read_text())
        a = architecture_from_config(raw, "test")
        assert a.parameter_count() == sum(p.numel() for p in model.parameters())


def tiny_model_dir(tmp_path):
    config = {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
              "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000, "tie_word_embeddings": False}
    directory = tmp_path / "tinyllama"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def test_estimate_reads_config_json_and_prices_each_gpu(tmp_path):
    directory = tiny_model_dir(tmp_path)
    counts = TokenCount(examples=1000, total_tokens=2_000_000, trained_tokens=500_000, tokenizer="test",
                        max_example_tokens=1024, mean_example_tokens=2000)
    spec = JobSpec(provider="local", model=str(directory), train=[{"text": "x"}], adapter="lora", epochs=2,
                   batch_size=4)
    est = estimate(spec, counts=counts)
    assert any(str(directory / "config.json") in a for a in est.assumptions)
    assert est.memory_gb and est.gpus and est.training_flops
    # it fits every catalog GPU without activation checkpointing, so start() would leave it off
    assert est.memory_gb == pytest.approx(memory_model(
        architecture_from_config(json.loads((directory / "config.json").read_text()), "t"), adapter="lora",
        sequence_tokens=1024, gradient_checkpointing=False).peak_gb(4), abs=0.01)
    for fit, gpu in zip(est.gpus, load_gpus(), strict=True):
        hours = est.training_flops / (gpu.bf16_tflops * 1e12 * DEFAULT_UTILIZATION) / 3600
        assert fit.duration_hours == pytest.approx(hours, rel=1e-3)
        assert fit.fits == (est.memory_gb <= gpu.memory_gb)
        if fit.fits:
            assert fit.cost_usd == pytest.approx(hours * gpu.price.usd_per_hour, rel=1e-3)
    cheapest = min((f for f in est.gpus if f.fits), key=lambda f: f.cost_usd)
    assert (est.gpu, est.cost_usd) == (cheapest.gpu, cheapest.cost_usd)

    slower = estimate(spec.model_copy(update={"adapter": Adapter.QLORA}), counts=counts)
    ratio = slower.gpus[0].duration_hours / est.gpus[0].duration_hours
    assert ratio == pytest.approx(1 / QLORA_SPEED_FACTOR, rel=1e-3)
    faster = estimate(spec, counts=counts, utilization=0.7)
    assert faster.gpus[0].duration_hours == pytest.approx(est.gpus[0].duration_hours / 2, rel=1e-3)


def test_catalog_of_gpus_covers_the_required_cards():
    names = {g.name for g in load_gpus()}
    assert {"RTX 4090", "L4", "A10G", "A100 40GB", "A100 80GB", "H100 PCIe", "H100 SXM", "H200", "B200"} <= names
    for g in load_gpus():
        assert g.price.source and g.price.read_on and g.tflops_source


def test_full_70b_fits_no_single_gpu_and_unknown_models_say_why():
    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}] * 20
    est = estimate(JobSpec(provider="local", model=LLAMA2["70b"], train=rows, adapter="full"))
    assert est.cost_usd is None and not any(g.fits for g in est.gpus)
    assert any("more than any single GPU" in w for w in est.warnings)
    unknown = estimate(JobSpec(provider="local", model="acme/mystery-3b", train=rows))
    assert unknown.memory_gb is None and any("config.json" in w for w in unknown.warnings)
