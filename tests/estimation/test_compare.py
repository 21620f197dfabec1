"""plan() across providers, the inference break-even, and the CLI commands."""

from __future__ import annotations

import json

import pytest

from ftkit.estimation.catalog import load_catalog
from ftkit.estimation.compare import breakeven, plan
from ftkit.estimation.gpus import find_gpu

ROWS = [{"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": f"{i} plus {i}?"},
                      {"role": "assistant", "content": f"{2 * i}."}]} for i in range(30)]


def test_plan_covers_each_provider_with_its_own_counts():
    estimates = plan(ROWS, targets=[("openai", "gpt-4o-mini"), "together:meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
                                    ("local", "Qwen/Qwen2.5-0.5B-Instruct")], epochs=2)
    assert [e.provider for e in estimates] == ["openai", "together", "local"]
    assert all(e.epochs == 2 and e.tokens.examples == 30 for e in estimates)
    local = estimates[2]
    assert local.gpus and all(g.fits for g in local.gpus)


def test_plan_without_targets_uses_each_installed_providers_catalog_default():
    from ftkit.registry import get_provider

    estimates = plan(ROWS)
    expected = {name: get_provider(name).default_model() for name in ("openai", "together", "local")}
    planned = {e.provider: e.model for e in estimates}
    assert {name: planned.get(name) for name in expected} == expected  # plugins (the test echo) add theirs
    assert all(expected.values())


def test_plan_forwards_knobs_only_to_providers_that_declare_them_and_qlora_by_capability():
    from ftkit.errors import ConfigError

    slow, fast = (plan(ROWS, targets=["openai:gpt-4o-mini", "local:Qwen/Qwen2.5-0.5B-Instruct"], utilization=u)
                  for u in (0.1, 0.5))
    assert slow[0].cost_usd == fast[0].cost_usd  # openai declares no utilization knob
    assert slow[1].duration_hours == pytest.approx(5 * fast[1].duration_hours, rel=0.05)  # rounded figures
    qlora = plan(ROWS, targets=["together:Qwen/Qwen2.5-7B-Instruct", "local:Qwen/Qwen2.5-7B-Instruct"],
                 adapter="qlora")
    assert [e.adapter for e in qlora] == ["lora", "qlora"]
    assert any("QLoRA" in a for a in qlora[0].assumptions)
    with pytest.raises(ConfigError, match="estimator knob"):
        plan(ROWS, targets=["openai:gpt-4o-mini"], utilization=0.4)


def test_breakeven_crosses_where_costs_are_equal():
    b = breakeven(monthly_tokens=1e8, managed_model="gpt-4o-mini", self_hosted_model="Qwen/Qwen2.5-7B-Instruct",
                  gpu="L4", output_share=0.25)
    prices = load_catalog("openai").model("gpt-4o-mini")
    blended = 0.75 * prices.inference_input.usd_per_1m_tokens + 0.25 * prices.inference_output.usd_per_1m_tokens
    assert b.managed_usd_per_1m_blended == pytest.approx(blended)
    assert b.self_hosted_usd_per_month == pytest.approx(find_gpu("L4").price.usd_per_hour * 730)
    at_crossing = breakeven(monthly_tokens=b.breakeven_tokens_per_month, managed_model="gpt-4o-mini",
                            self_hosted_model="Qwen/Qwen2.5-7B-Instruct", gpu="L4")
    assert at_crossing.managed_usd_per_month == pytest.approx(at_crossing.self_hosted_usd_per_month, rel=1e-3)
    assert b.cheaper == "managed"
    busy = breakeven(monthly_tokens=2e9, managed_model="gpt-4o", self_hosted_model="Qwen/Qwen2.5-7B-Instruct",
                     gpu="H100 SXM", throughput_tokens_per_s=3000)
    assert busy.cheaper == "self-hosted" and busy.gpus_needed == 1


def test_cli_estimate_plan_and_breakeven(tmp_path, capsys):
    from ftkit.cli import main

    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    assert main(["estimate", str(path), "--provider", "openai", "--model", "gpt-4o-mini", "--epochs", "2",
                 "--today", "2026-11-22", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    assert est["epochs"] == 2 and est["billed_tokens"] == 2 * est["tokens"]["total_tokens"]
    assert main(["estimate", str(path), "-p", "openai", "-m", "gpt-4.1-nano", "--today", "2026-11-22"]) == 1
    assert "retired" in capsys.readouterr().out
    assert main(["plan", str(path), "--target", "openai:gpt-4o-mini", "--target", "local:Qwen/Qwen2.5-7B-Instruct",
                 "--monthly-tokens", "1e8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [e["provider"] for e in out["estimates"]] == ["openai", "local"]
    assert out["breakeven"]["breakeven_tokens_per_month"] > 0
    assert main(["plan", str(path), "--target", "local:Qwen/Qwen2.5-7B-Instruct", "--adapter", "qlora", "--wide"]) == 0
    assert "RTX 4090" in capsys.readouterr().out
    assert main(["breakeven", "--monthly-tokens", "5e7", "--managed-model", "gpt-4o-mini",
                 "--self-hosted-model", "Qwen/Qwen2.5-0.5B-Instruct", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cheaper"] in ("managed", "self-hosted")


@pytest.mark.parametrize("module", [
    "ftkit.estimation", "ftkit.estimation.tokens", "ftkit.data.counting", "ftkit.estimation.catalog",
    "ftkit.estimation.gpus", "ftkit.estimation.modeldir", "ftkit.estimation.compare",
    "ftkit.providers.openai._estimate", "ftkit.providers.together._estimate", "ftkit.providers.local._estimate",
])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_breakeven_needs_a_managed_model_priced_per_token():
    from ftkit.errors import ConfigError

    # Together serves fine-tunes on dedicated endpoints billed per minute: no per-token price to cross
    with pytest.raises(ConfigError, match="per-token"):
        breakeven(monthly_tokens=1e8, managed_model="Qwen/Qwen2.5-7B-Instruct", managed_provider="together",
                  self_hosted_model="Qwen/Qwen2.5-7B-Instruct")
