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


@pytest.mark.slow
def test_demo_quick_end_to_end_then_local_perplexity(tmp_path, ftkit_home):
    out = tmp_path / "demo"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ftkit"), "demo", "--quick", "--json", "--out", str(out)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "FTKIT_HOME": str(ftkit_home)},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["fine_tune_wins"] and summary["quick"]
    assert summary["difference"]["low"] > 0  # the interval excludes zero
    assert summary["exact_match_fine_tuned"] >= summary["exact_match_base"] + 0.15
    report = json.loads((out / "report.json").read_text())
    names = [row["name"] for row in report["rows"]]
    assert names[:2] == ["local tiny base", "local tiny + LoRA (this run)"]
    assert any("planned" in n for n in names)  # managed options priced, not run
    tuned = report["rows"][1]
    assert tuned["loss_curve"] and tuned["training_cost_source"] in ("actual", "estimate")
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # loss curves, metric bars, cost against quality
    assert "4. Fine-tune" in run.stderr  # progress went to stderr, JSON alone to stdout

    # the trained adapter, evaluated in this process: batched local generation is served from the
    # demo's cache, perplexity on reference tokens comes from the local provider
    model = FineTuneJob.attach(summary["job_id"]).result()
    result = evaluate(model, data_path("test"), metrics=["exact_match", "perplexity"], base=True, limit=16,
                      max_new_tokens=8, batch_size=32)
    assert result.cached == 16 and result.comparison.base.cached == 16
    tuned_ppl, base_ppl = result.metrics["perplexity"].value, result.comparison.base.metrics["perplexity"].value
    assert 1.0 < tuned_ppl < base_ppl
    assert result.comparison.differences["perplexity"].verdict == "better"
