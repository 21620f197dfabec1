"""OpenAI estimates: the default-epoch rule at its edges, cost arithmetic against the catalog, dates."""

from __future__ import annotations

from datetime import date

import pytest
from ftkit.providers.openai._estimate import estimate

from ftkit.estimation.catalog import availability_problems, load_catalog
from ftkit.estimation.types import TokenCount
from ftkit.spec import JobSpec

TODAY = date(2026, 11, 22)


def rows(n: int) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]}
            for i in range(n)]


def counts(n: int, tokens_each: int = 100) -> TokenCount:
    return TokenCount(examples=n, total_tokens=n * tokens_each, trained_tokens=n * 10, tokenizer="test")


@pytest.mark.parametrize("n, epochs", [(1, 25), (5, 20), (10, 10), (34, 3), (33, 3), (50, 3), (8333, 3),
                                       (8334, 2), (10_000, 2), (25_001, 1)])
def test_default_epoch_rule_edges(n, epochs):
    spec = JobSpec(provider="openai", model="gpt-4o-mini", train=rows(1))
    est = estimate(spec, counts=counts(n), today=TODAY)
    assert (est.epochs, est.epochs_source) == (epochs, "default rule")
    assert est.billed_tokens == n * 100 * epochs


@pytest.mark.parametrize("n", [1, 5, 10, 50])
def test_default_epochs_from_real_files(n):
    est = estimate(JobSpec(provider="openai", model="gpt-4o-mini", train=rows(n)), today=TODAY)
    assert est.epochs == {1: 25, 5: 20, 10: 10, 50: 3}[n]
    assert est.tokens.examples == n
    assert est.billed_tokens == est.tokens.total_tokens * est.epochs
    assert any("default-epoch rule" in a and "cookbook" in a for a in est.assumptions)


def test_user_epochs_win_and_min_examples_is_an_error():
    est = estimate(JobSpec(provider="openai", model="gpt-4o-mini", train=rows(5), epochs=2), today=TODAY)
    assert (est.epochs, est.epochs_source) == (2, "user")
    assert any("at least 10 training examples" in e for e in est.errors)


@pytest.mark.parametrize("model", [m for m, e in load_catalog("openai").models.items()
                                   if e.training_price("sft", "lora") and e.training_price("sft", "lora").usd_per_1m_tokens])
def test_cost_is_billed_tokens_times_the_catalog_price(model):
    entry = load_catalog("openai").model(model)
    est = estimate(JobSpec(provider="openai", model=model, train=rows(1), epochs=4), counts=counts(1234, 321),
                   today=TODAY)
    price = entry.training_price("sft", "lora").usd_per_1m_tokens
    assert est.billed_tokens == 1234 * 321 * 4
    assert est.cost_usd == pytest.approx(1234 * 321 * 4 / 1e6 * price, abs=1e-4)
    assert est.price_source and "read 2026-11-22" in est.price_source
    assert est.inference_usd_per_1m["input"] == entry.inference_input.usd_per_1m_tokens


def test_published_price_table():
    """The catalog carries the prices of the reference table (USD per 1M training tokens)."""
    cat = load_catalog("openai")
    table = {"gpt-4o-mini": 3.00, "gpt-4o": 25.00, "gpt-4.1": 25.00, "gpt-4.1-mini": 5.00, "gpt-4.1-nano": 1.50,
             "gpt-3.5-turbo": 8.00}
    for name, price in table.items():
        assert cat.model(name).training_price("sft", "lora").usd_per_1m_tokens == price


def test_aliases_snapshots_and_fine_tuned_ids_resolve():
    cat = load_catalog("openai")
    assert cat.model("gpt-4o-mini").name == "gpt-4o-mini-2024-07-18"
    assert cat.model("ft:gpt-4o-mini-2024-07-18:acme:demo:AbC123").name == "gpt-4o-mini-2024-07-18"
    assert cat.model("gpt-3.5-turbo").encoding == "cl100k_base"
    with pytest.raises(Exception, match="Known models"):
        cat.model("gpt-9")


def test_availability_before_and_after_the_dates():
    before = availability_problems("openai", "gpt-4o-mini", TODAY)
    assert [p.level for p in before] == ["warning", "warning"]
    assert "2027-01-06" in before[0].message and "2027-01-14" in before[1].message
    retired = availability_problems("openai", "gpt-4.1-nano", TODAY)
    assert retired[0].level == "error" and "2026-10-23" in retired[0].message
    after_jobs_end = availability_problems("openai", "gpt-4.1", date(2027, 1, 6))
    assert [p.level for p in after_jobs_end] == ["error", "warning"]
    assert all(p.level == "error" for p in availability_problems("openai", "gpt-4o", date(2027, 1, 14)))


def test_estimate_on_a_retired_model_reports_an_error_and_still_prices_it():
    est = estimate(JobSpec(provider="openai", model="gpt-3.5-turbo", train=rows(12)), today=TODAY)
    assert est.errors and "retired" in est.errors[0]
    assert est.cost_usd is not None and "cl100k_base" in est.tokens.tokenizer


def test_unknown_model_is_counted_but_not_priced():
    est = estimate(JobSpec(provider="openai", model="gpt-5-future", train=rows(12)), today=TODAY)
    assert est.cost_usd is None and est.tokens.total_tokens > 0
    assert any("not in ftkit's OpenAI catalog" in w for w in est.warnings)


def test_user_catalog_overrides_merge_per_model_with_precedence(tmp_path, monkeypatch, ftkit_home):
    from ftkit.estimation.catalog import clear_catalog_cache

    (ftkit_home / "catalog").mkdir(parents=True)
    (ftkit_home / "catalog" / "openai.yaml").write_text(
        "models:\n  gpt-4o-mini-2024-07-18:\n    training: {'*': {usd_per_1m_tokens: 4.0, source: home, read_on: 2026-12-01}}\n"
        "  gpt-4o-2024-08-06:\n    max_tokens_per_example: 1000\n"
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "openai.yaml").write_text(
        "models:\n  gpt-4o-mini-2024-07-18:\n    training: {'*': {usd_per_1m_tokens: 5.0, source: project, read_on: 2026-12-02}}\n"
    )
    monkeypatch.setenv("FTKIT_CATALOG_DIR", str(project))
    clear_catalog_cache()
    cat = load_catalog("openai")
    mini = cat.model("gpt-4o-mini")
    assert mini.training_price("sft", "lora").usd_per_1m_tokens == 5.0  # FTKIT_CATALOG_DIR beats FTKIT_HOME
    assert mini.encoding == "o200k_base" and mini.retires == date(2027, 1, 14)  # other fields kept
    assert cat.model("gpt-4o").max_tokens_per_example == 1000
    assert cat.model("gpt-4o").inference_output.usd_per_1m_tokens == 15.0
    assert len(cat.files) == 3
