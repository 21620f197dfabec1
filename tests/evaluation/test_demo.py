"""`ftkit demo --quick` end to end in a real subprocess, then local evaluation on what it trained."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftkit.demo import data_path
from ftkit.evaluation import evaluate
from ftkit.job import FineTuneJob


def _demo(out: Path, home: Path, *flags: str) -> dict:
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ftkit"), "demo", "--quick", "--json", "--out", str(out), *flags],
        capture_output=True, text=True, timeout=1200, env={**os.environ, "FTKIT_HOME": str(home)},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "4. Fine-tune" in run.stderr  # progress went to stderr, JSON alone to stdout
    return json.loads(run.stdout)


@pytest.mark.slow
def test_demo_quick_on_smollm2_beats_zero_and_few_shot_then_local_perplexity(tmp_path, ftkit_home, smollm):
    out = tmp_path / "demo"
    summary = _demo(out, ftkit_home)  # FTKIT_GGUF_CACHE (set by the smollm fixture) reaches the subprocess
    assert summary["quick"] and summary["model"].endswith(".gguf")  # the job's model= is the GGUF file itself
    assert summary["fine_tune_wins"] and summary["difference"]["low"] > 0  # the interval excludes zero
    assert summary["difference_vs_few_shot"]["low"] > 0  # and it beats the base model with a strong prompt
    assert summary["fixed"] > summary["broken"]
    report = json.loads((out / "report.json").read_text())
    rows = {row["name"]: row for row in report["rows"]}
    zero, few, tuned = (rows[f"SmolLM2-135M {n}"] for n in ("base, zero-shot", "base, 7-shot prompt",
                                                             "+ LoRA (this run)"))
    assert zero["evaluated"] and few["evaluated"] and tuned["evaluated"]
    assert few["prompt_tokens_per_example"] > 2 * zero["prompt_tokens_per_example"]  # the demonstrations
    # self-hosted rows are priced from a stated hourly rate and the measured times, not $0
    assert tuned["training_cost_source"] == "measured" and tuned["training_cost_usd"] > 0
    assert all(r["cost_per_1k_examples_usd"] > 0 for r in (zero, few, tuned))
    assert any("planned" in n for n in rows)  # managed options priced, not run
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # loss curves, metric bars, cost against quality

    # the trained adapter, evaluated in this process: batched local generation is served from the
    # demo's cache, perplexity on reference tokens comes from the local provider
    model = FineTuneJob.attach(summary["job_id"]).result()
    result = evaluate(model, data_path("test"), metrics=["exact_match", "perplexity"], base=True, limit=16,
                      max_new_tokens=8, batch_size=32)
    assert result.cached == 16 and result.comparison.base.cached == 16
    tuned_ppl, base_ppl = result.metrics["perplexity"].value, result.comparison.base.metrics["perplexity"].value
    assert 1.0 < tuned_ppl < base_ppl
    assert result.comparison.differences["perplexity"].verdict == "better"


@pytest.mark.slow
def test_demo_random_init_path_still_runs_without_the_wheel(tmp_path, ftkit_home):
    out = tmp_path / "demo"
    summary = _demo(out, ftkit_home, "--random-init")
    assert summary["fine_tune_wins"] and summary["difference"]["low"] > 0
    assert summary["exact_match_fine_tuned"] >= summary["exact_match_base"] + 0.15
    names = [row["name"] for row in json.loads((out / "report.json").read_text())["rows"]]
    assert names[:2] == ["local tiny base, zero-shot", "local tiny + LoRA (this run)"]
