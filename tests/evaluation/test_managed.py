"""Managed evaluation through the real OpenAI SDK against the loopback emulator: cache, resume, retries,
concurrency, comparison report and the CLI."""

from __future__ import annotations

import json
import time

import pytest
from ftkit.providers.openai.testing import openai_server

import ftkit
from ftkit.cli import main
from ftkit.demo import data_path
from ftkit.evaluation import Candidate, ComparisonReport, Judge, evaluate
from ftkit.model import TrainedModel

MODEL = "gpt-4o-mini-2024-07-18"
CHAT = ("POST", "/v1/chat/completions")


@pytest.fixture
def server():
    with openai_server() as srv:
        yield srv


def managed(server) -> TrainedModel:
    return TrainedModel.from_ref(f"openai:{MODEL}", api_key=server.api_key, base_url=server.base_url)


def chat_calls(server) -> int:
    return len(server.requests_to(*CHAT))


def test_predictions_are_cached_and_a_rerun_costs_nothing(server):
    first = evaluate(managed(server), data_path("test"), metrics=["exact_match", "tokens"], limit=12)
    assert (first.generated, first.cached, chat_calls(server)) == (12, 0, 12)
    assert first.metrics["prompt_tokens"].value > 50  # usage reported by the API is kept
    again = evaluate(managed(server), data_path("test"), metrics=["exact_match"], limit=12)
    assert (again.generated, again.cached, chat_calls(server)) == (0, 12, 12)
    assert [e.prediction for e in again.examples] == [e.prediction for e in first.examples]
    # other decoding settings are other predictions
    evaluate(managed(server), data_path("test"), limit=12, max_new_tokens=3)
    assert chat_calls(server) == 24


def test_interrupted_evaluation_resumes_where_it_stopped(server):
    class Stop(Exception):
        pass

    def stop_after_first_chunk(done, total, what):
        if 0 < done < total:
            raise Stop

    with pytest.raises(Stop):
        evaluate(managed(server), data_path("test"), limit=40, concurrency=2, progress=stop_after_first_chunk)
    made = chat_calls(server)
    assert made == 32  # one chunk of 8 x concurrency landed in the cache before the interruption
    resumed = evaluate(managed(server), data_path("test"), limit=40, concurrency=2)
    assert (resumed.cached, resumed.generated) == (32, 8)
    assert chat_calls(server) == 40


def test_rate_limits_and_server_errors_are_retried(server):
    server.faults.add(*CHAT, status=429, retry_after=0.01, times=3)
    server.faults.add(*CHAT, status=500, times=2)
    result = evaluate(managed(server), data_path("test"), limit=6)
    assert result.generated == 6 and all(e.prediction for e in result.examples)


def test_bounded_concurrency_overlaps_slow_calls(server):
    server.faults.add(*CHAT, delay=0.1, times=None)
    started = time.perf_counter()
    evaluate(managed(server), data_path("test"), limit=32, concurrency=8)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.6, f"32 calls of 100 ms at concurrency 8 should take ~0.4 s, took {elapsed:.2f} s"


def test_base_comparison_and_judge_with_any_provider_model(server, tmp_path):
    rubric = tmp_path / "rubric.md"
    rubric.write_text("5: the queue is exactly right. 1: wrong queue or no queue.", encoding="utf-8")
    judge = Judge(rubric=rubric, model=managed(server))
    result = evaluate(managed(server), data_path("test"), metrics=["exact_match", judge], base=managed(server), limit=5)
    # same model as its own base: no differences, no flips
    assert result.comparison.differences["exact_match"].diff == 0
    assert result.comparison.flips.unchanged == 5
    # the emulator's base model answers "I am not sure." without a score: counted as unscored, not as 0
    assert result.details["judge"]["unscored"] == 5 and result.metrics["judge"].value is None
    judged = [r for r in server.requests_to(*CHAT) if "Rubric:" in json.dumps(r.body)]
    assert len(judged) == 5


def test_compare_report_json_and_html(server, tmp_path):
    planned = Candidate(name="openai fine-tune (planned)", provider="openai", base_model=MODEL, training_cost_usd=0.32)
    report = ftkit.compare(
        [Candidate(name="gpt-4o-mini", model=managed(server)), planned],
        test=data_path("test"), metrics=["exact_match", "macro_f1", "latency"], monthly_tokens=5e6, limit=10,
    )
    assert report.metrics == ["exact_match", "macro_f1", "latency_s"]
    live, plan = report.rows
    assert live.evaluated and not plan.evaluated
    assert live.price.input_per_1m == 0.30 and live.price.output_per_1m == 1.20
    per_example = (live.prompt_tokens_per_example * 0.30 + live.completion_tokens_per_example * 1.20) / 1e6
    assert live.cost_per_1k_examples_usd == pytest.approx(1000 * per_example)
    assert plan.cost_per_1k_examples_usd == pytest.approx(live.cost_per_1k_examples_usd)  # borrowed tokens
    assert plan.training_cost_usd == 0.32 and plan.training_cost_source == "given"
    assert live.monthly_cost_usd == pytest.approx(5e6 * per_example / (
        live.prompt_tokens_per_example + live.completion_tokens_per_example))

    loaded = ComparisonReport.model_validate_json(report.save_json(tmp_path / "r.json").read_text())
    assert loaded.rows[0].metrics["exact_match"] == live.metrics["exact_match"]
    assert loaded.results["gpt-4o-mini"].examples[0].prediction == "I am not sure."
    html = report.save_html(tmp_path / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert "openai fine-tune (planned)" in html and "$0.32 (given)" in html
    assert html.count("data:image/png;base64,") >= 2  # metric bars and cost against quality
    assert "Confusion matrix" in html


def test_cli_eval_and_compare_json(server, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    code = main(["eval", f"openai:{MODEL}", "--test", str(data_path("test")), "--limit", "4",
                 "--metric", "exact_match", "--metric", "chrf", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["metrics"]) == {"exact_match", "chrf"} and len(result["examples"]) == 4
    code = main(["compare", f"openai:{MODEL}", "--test", str(data_path("test")), "--limit", "4",
                 "--out", str(tmp_path / "rep")])
    assert code == 0
    assert "ftkit compare" in capsys.readouterr().out
    assert (tmp_path / "rep" / "report.html").is_file() and (tmp_path / "rep" / "report.json").is_file()
    assert main(["eval", f"openai:{MODEL}", "--test", str(data_path("test")), "--metric", "bleu"]) == 2
