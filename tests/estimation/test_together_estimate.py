"""Together estimates offline: billed tokens with evaluations, bracket and per-model prices. Together's own quote
is tested against the emulator with the real SDK (tests/providers/together/test_quote.py)."""

from __future__ import annotations

import pytest
from ftkit.providers.together._estimate import estimate

from ftkit.estimation.catalog import load_catalog
from ftkit.estimation.types import TokenCount
from ftkit.spec import JobSpec

ROWS = [{"messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": f"A{i}"}]} for i in range(20)]


def counts(train: int, validation: int = 0) -> TokenCount:
    return TokenCount(examples=100, total_tokens=train, trained_tokens=train // 3, tokenizer="test",
                      validation_tokens=validation)


@pytest.mark.parametrize("model, method, adapter, rate", [
    ("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "sft", "lora", 0.48),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "dpo", "full", 1.35),
    ("meta-llama/Meta-Llama-3.1-70B-Instruct-Reference", "sft", "lora", 2.90),
    ("meta-llama/Meta-Llama-3.1-70B-Instruct-Reference", "dpo", "lora", 7.25),
    ("Qwen/Qwen3.8-27B", "sft", "lora", 1.05),  # its own price, below the 17B-69B bracket's 1.50
    ("Qwen/Qwen3.5-9B", "dpo", "lora", 0.84),
    ("Qwen/Qwen3.5-9B", "sft", "full", 0.54),  # no own full price: the bracket's
])
def test_price_per_model_or_bracket_and_billed_tokens(model, method, adapter, rate):
    spec = JobSpec(provider="together", model=model, train=ROWS, validation=ROWS, method=method, adapter=adapter,
                   epochs=3, options={"n_evals": 2})
    est = estimate(spec, counts=counts(1_000_000, 50_000))
    assert est.billed_tokens == 3 * 1_000_000 + 2 * 50_000
    assert est.cost_breakdown_usd["training"] == pytest.approx(3.0 * rate)
    assert est.cost_breakdown_usd["evaluation"] == pytest.approx(0.1 * rate)
    assert est.cost_usd == pytest.approx(3.1 * rate)


def test_default_epochs_packing_off_and_unknown_models():
    est = estimate(JobSpec(provider="together", model="Qwen/Qwen2.5-7B-Instruct", train=ROWS), counts=counts(9000))
    assert (est.epochs, est.epochs_source) == (1, "provider default") and est.billed_tokens == 9000
    packed_off = estimate(JobSpec(provider="together", model="Qwen/Qwen2.5-7B-Instruct", train=ROWS, max_seq_length=512,
                                  options={"packing": False}), counts=counts(9000))
    assert packed_off.billed_tokens == 100 * 512
    unknown = estimate(JobSpec(provider="together", model="acme/unknown-13b", train=ROWS))
    assert unknown.cost_usd is None and unknown.tokens.method == "approximate"
    assert len(load_catalog("together").brackets) == 3
