"""The memory model against published figures: the seed guides' table and Unsloth's measured context lengths,
plus the shape facts it must read (head_dim, mixture of experts) from real transformers configs."""

from __future__ import annotations

import json

import pytest

from ftkit.estimation.catalog import load_catalog
from ftkit.estimation.memory import lora_parameters, memory_model, training_flops_per_token
from ftkit.estimation.modeldir import architecture_from_config

GIB = 2**30


def arch(name: str):
    return load_catalog("local").model(name).architecture


# seed 001 ("VRAM requirements", Adam + gradient checkpointing): 7B / 13B / 70B, full / LoRA / QLoRA
SEED_001 = {
    "meta-llama/Llama-2-7b-hf": {"full": 112, "lora": 20, "qlora": 8},
    "meta-llama/Llama-2-13b-hf": {"full": 210, "lora": 34, "qlora": 14},
    "meta-llama/Llama-2-70b-hf": {"full": 1120, "lora": 160, "qlora": 48},
}


@pytest.mark.parametrize("model", list(SEED_001))
@pytest.mark.parametrize("adapter", ["full", "lora", "qlora"])
def test_matches_the_seed_guide_table_within_20_percent(model, adapter):
    peak = memory_model(arch(model), adapter=adapter, sequence_tokens=2048, gradient_checkpointing=True).peak_gb(1)
    assert peak == pytest.approx(SEED_001[model][adapter], rel=0.2)


def _max_context(a, gib: float, **kw) -> int:
    lo, hi = 1, 1_000_000
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if memory_model(a, adapter="qlora", sequence_tokens=mid, **kw).peak_gb(1) <= gib * GIB / 1e9:
            lo = mid
        else:
            hi = mid - 1
    return lo


# unslothai/unsloth README, "Hugging Face + FA2" column: Llama 3.1 8B Instruct, 4-bit QLoRA on all linear
# layers, r=32, batch 1, sequences padded to the length; the largest that fit each GPU.
UNSLOTH_HF_FA2_8B = {24: 5_789, 40: 12_264, 48: 15_502, 80: 28_454}


@pytest.mark.parametrize(("gib", "published"), list(UNSLOTH_HF_FA2_8B.items()))
def test_qlora_context_matches_unsloths_measured_hf_stack(gib, published):
    # that stack materialised the logits (no fused LM head) and ran peft's fp32 upcast: the model must agree
    predicted = _max_context(arch("meta-llama/Llama-3.1-8B-Instruct"), gib, lora_r=32, gradient_checkpointing=True,
                             fused_lm_head=False)
    assert predicted == pytest.approx(published, rel=0.1)


def test_qlora_70b_context_on_80gb_matches_unsloths_measured_hf_stack():
    predicted = _max_context(arch("meta-llama/Llama-3.1-70B-Instruct"), 80, lora_r=32, gradient_checkpointing=True,
                             fused_lm_head=False)
    assert predicted == pytest.approx(6_916, rel=0.15)


def test_fused_lm_head_and_the_fp32_upcast_move_memory_as_they_should():
    a = arch("meta-llama/Llama-3.1-8B-Instruct")
    fused = memory_model(a, adapter="qlora", sequence_tokens=8192)
    unfused = memory_model(a, adapter="qlora", sequence_tokens=8192, fused_lm_head=False)
    # 8k tokens x 128k vocab x 14 bytes of logits chain, against two 4k x 32k fp32 tiles
    assert unfused.logits_bytes_per_sample / 1e9 == pytest.approx(8192 * 128_256 * 14 / 1e9)
    assert fused.logits_bytes_per_sample < unfused.logits_bytes_per_sample / 10
    no_upcast = memory_model(a, adapter="qlora", sequence_tokens=8192, qlora_fp32_upcast=False)
    embeddings_and_head = 2 * 128_256 * 4096
    assert fused.weights_bytes - no_upcast.weights_bytes == pytest.approx(2 * embeddings_and_head, rel=0.01)


def test_full_fine_tuning_with_master_weights_is_16_bytes_and_pure_bf16_is_8():
    a = arch("meta-llama/Llama-2-7b-hf")
    mixed = memory_model(a, adapter="full", sequence_tokens=512)
    pure = memory_model(a, adapter="full", sequence_tokens=512, master_weights=False)
    n = a.parameter_count()
    assert (mixed.weights_bytes + mixed.trainable_state_bytes) / n == 16
    assert (pure.weights_bytes + pure.trainable_state_bytes) / n == 8


def test_sharding_divides_weights_and_state_by_the_ranks():
    a = arch("meta-llama/Llama-2-7b-hf")
    one = memory_model(a, adapter="full", sequence_tokens=512)
    eight = memory_model(a, adapter="full", sequence_tokens=512, shards=8)
    assert eight.fixed_bytes - eight.overhead_bytes == pytest.approx((one.fixed_bytes - one.overhead_bytes) / 8)
    assert eight.per_sample_bytes == one.per_sample_bytes


def test_lora_dropout_costs_activation_memory_without_checkpointing():
    a = arch("meta-llama/Llama-2-7b-hf")
    off = memory_model(a, adapter="lora", sequence_tokens=1024, gradient_checkpointing=False)
    on = memory_model(a, adapter="lora", sequence_tokens=1024, gradient_checkpointing=False, lora_dropout=0.05)
    assert on.activation_bytes_per_sample > off.activation_bytes_per_sample * 1.1


def _from_transformers_config(config, tmp_path):
    config.save_pretrained(tmp_path / config.model_type)
    raw = json.loads((tmp_path / config.model_type / "config.json").read_text())
    return architecture_from_config(raw, "test")


def test_explicit_head_dim_is_read_and_counts_parameters_exactly(tmp_path):
    transformers = pytest.importorskip("transformers")
    # Qwen3 style: head_dim 32 although hidden / heads = 16
    config = transformers.Qwen3Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, head_dim=32, vocab_size=256, tie_word_embeddings=True)
    a = _from_transformers_config(config, tmp_path)
    assert a.head_dim == 32
    model = transformers.AutoModelForCausalLM.from_config(config)
    norms = sum(p.numel() for n, p in model.named_parameters() if "q_norm" in n or "k_norm" in n)
    assert a.parameter_count() == sum(p.numel() for p in model.parameters()) - norms  # q/k norms: 2 x 32 per layer
    peft = pytest.importorskip("peft")
    lora = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules="all-linear"))
    assert lora_parameters(a, 4) == sum(p.numel() for n, p in lora.named_parameters() if "lora_" in n)


def test_mixture_of_experts_counts_every_expert_but_flops_only_the_routed_ones(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.MixtralConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, vocab_size=256,
                                        num_local_experts=4, num_experts_per_tok=2, tie_word_embeddings=False)
    a = _from_transformers_config(config, tmp_path)
    assert (a.num_experts, a.experts_per_token) == (4, 2)
    model = transformers.AutoModelForCausalLM.from_config(config)
    assert a.parameter_count() == sum(p.numel() for p in model.parameters())
    dense_flops, _ = training_flops_per_token(a.model_copy(update={"num_experts": 0}), adapter="full",
                                              gradient_checkpointing=False)
    moe_flops, rule = training_flops_per_token(a, adapter="full", gradient_checkpointing=False)
    assert moe_flops == 6 * a.active_parameter_count() and "active parameters" in rule
    assert a.active_parameter_count() < a.parameter_count()
    assert moe_flops != dense_flops
