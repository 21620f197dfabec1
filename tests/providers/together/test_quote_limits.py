"""Together's own quote after upload, per-model limits before upload, metrics and loss curves, resumable
downloads and continuations, through the public API against the emulator with the real SDK."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from ftkit.providers.together import TogetherProvider
from ftkit.providers.together.testing.emulator import ModelSpec, TogetherServer

from ftkit.errors import ProviderError, UnsupportedSettingError
from ftkit.evaluation.costs import job_costs
from ftkit.job import FineTuneJob
from ftkit.spec import JobSpec
from ftkit.testing.samples import colour_examples
from tests.providers.harness_together import FAST_RETRIES, fast_server
from tests.providers.together.conftest import job_kwargs


def provider_for(server: TogetherServer) -> TogetherProvider:
    return TogetherProvider(api_key=server.api_key, base_url=server.base_url, poll_interval=0.02,
                            retry_policy=FAST_RETRIES)  # fmt: skip


def spec(**overrides) -> JobSpec:
    return JobSpec(**{"provider": "together", "model": "Qwen/Qwen3-8B", "train": colour_examples(16), **overrides})


# -- Together's quote -------------------------------------------------------------------------------------------


def test_quote_is_what_estimate_shows_online(server: TogetherServer) -> None:
    provider = provider_for(server)
    quote = provider.quote(spec(epochs=3, lora_r=16))
    online = provider.estimate(spec(epochs=3, lora_r=16), online=True)
    offline = provider.estimate(spec(epochs=3, lora_r=16))
    assert quote.available and online.cost_usd == quote.total_usd and online.billed_tokens == quote.billed_tokens
    assert online.price_source.startswith("Together's own quote")
    line = next(a for a in online.assumptions if a.startswith("Together's quote"))
    assert "authoritative" in line and f"${offline.cost_usd:.4f}" in line and "difference" in line
    body = server.requests_to("POST", "/v1/fine-tunes/estimate-price")[-1].body
    assert body["training_type"] == {"type": "Lora", "lora_r": 16, "lora_alpha": 32}  # every required field
    assert body["training_method"] == {"method": "sft", "train_on_inputs": "auto"} and body["n_epochs"] == 3
    once = provider.quote(spec(epochs=1, lora_r=16))
    assert quote.train_tokens == 3 * once.train_tokens  # epochs counted the same way as ftkit's billed tokens
    assert len(server.uploads) == 1  # the same bytes are uploaded once, however often they are quoted


def test_start_logs_the_quote_next_to_the_estimate(server: TogetherServer, make_job) -> None:
    job = make_job()
    job.start()
    lines = [e.message for e in job.events() if e.type == "ftkit" and "Together's quote" in e.message]
    assert len(lines) == 1 and "ftkit's offline estimate" in lines[0]
    assert job.record.provider_data["quote"]["available"] is True


def test_a_quote_together_refuses_stops_start_before_a_job_exists(tmp_path: Path) -> None:
    with fast_server(credit_limit_usd=0.0) as server:
        job = FineTuneJob(**job_kwargs(server))
        with pytest.raises(ProviderError, match="allowed_to_proceed=false") as refused:
            job.start()
        assert "settings/billing" in str(refused.value)
        assert server.created_jobs == []


# -- limits -----------------------------------------------------------------------------------------------------


def test_catalog_limits_refuse_offline_before_anything_is_sent(server: TogetherServer, make_job) -> None:
    problems = TogetherProvider.check_spec(spec(model="openai/gpt-oss-20b", batch_size=16, max_seq_length=32768))
    assert any("batch_size must be between 8 and 8" in p for p in problems)
    assert any("max_seq_length must be between" in p for p in problems)
    assert TogetherProvider.check_spec(spec(model="openai/gpt-oss-120b", batch_size=16)) == []
    with pytest.raises(UnsupportedSettingError):
        make_job(model="openai/gpt-oss-20b", batch_size=16).start()
    assert server.requests_to("GET", "/v1/fine-tunes/models/limits") == [] and server.uploads == []


@pytest.mark.parametrize(("settings", "message"), [
    ({"batch_size": 64}, "batch_size must be between 8 and 32"),
    ({"lora_r": 128}, "lora_r must be at most 64"),
    ({"max_seq_length": 100_000}, "max_seq_length must be between 512 and 16384"),
    ({"adapter": "full"}, "cannot be fully fine-tuned"),
])  # fmt: skip
def test_together_limits_refuse_online_before_upload(settings: dict, message: str) -> None:
    with fast_server(models=[ModelSpec("acme/tiny-7b", 7.0, full_training=False)]) as server:
        job = FineTuneJob(**job_kwargs(server, model="acme/tiny-7b", **settings))
        with pytest.raises(UnsupportedSettingError, match=message):
            job.start()
        assert server.uploads == [] and server.created_jobs == []


# -- metrics and loss curves --------------------------------------------------------------------------------------


def test_loss_curves_of_a_together_job_are_not_empty(server: TogetherServer, make_job, monkeypatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", server.api_key)  # job_costs re-attaches the job from the store
    monkeypatch.setenv("TOGETHER_BASE_URL", server.base_url)
    job = make_job(validation=colour_examples(8, seed=1), epochs=2, batch_size=8, options={"n_evals": 2})
    job.start()
    model = job.wait(timeout=30)
    assert {"train_loss", "eval_loss", "learning_rate"} <= set(model.metrics)
    curves = model.info["loss_curves"]
    assert len(curves["train_loss"]) == 4 and len(curves["eval_loss"]) == 2
    costs = job_costs(job.id)
    assert len(costs.loss_curve) == 4 and len(costs.eval_loss_curve) == 2
    assert costs.loss_curve[0][1] > costs.loss_curve[-1][1]  # it learned


# -- downloads and continuations ----------------------------------------------------------------------------------


def test_download_resumes_from_the_bytes_on_disk_with_a_range(server: TogetherServer, make_job, tmp_path: Path) -> None:
    job = make_job()
    job.start()
    model = job.wait(timeout=30)
    provider = job.provider
    first = provider.download(model, kind="adapter", dest=tmp_path / "a")
    whole = model.info["weights_bytes"]
    digest = model.info["weights_sha256"]
    # an earlier download stopped half-way: its bytes are kept, and the next one asks only for the rest
    archive = server.requests_to("GET", "/v1/finetune/download")
    assert len(archive) == 1 and not server.recorded("download_range")
    part = tmp_path / ".b.tar.zst.part"
    response = httpx.get(server.base_url + "/v1/finetune/download", params={"ft_id": model.info["remote_id"],
                         "checkpoint": "adapter"}, headers={"Authorization": f"Bearer {server.api_key}"})  # fmt: skip
    assert hashlib.sha256(response.content).hexdigest() == digest
    part.write_bytes(response.content[: whole // 2])
    second = provider.download(model, kind="adapter", dest=tmp_path / "b")
    assert server.recorded("download_range") == [{"range": f"bytes={whole // 2}-"}]
    assert model.info["weights_sha256"] == digest and not part.exists()
    assert sorted(p.name for p in second.iterdir()) == sorted(p.name for p in first.iterdir())


def test_a_continuation_keeps_the_parents_full_training(server: TogetherServer, make_job) -> None:
    parent = make_job(adapter="full")
    parent.start()
    parent.wait(timeout=30)
    child = make_job(options={"from_checkpoint": parent.record.remote_id})  # adapter left at its default
    child.start()
    body = server.requests_to("POST", "/v1/fine-tunes")[-1].body
    assert "training_type" not in body and body["from_checkpoint"] == parent.record.remote_id
    assert server.jobs[child.record.remote_id].lora is False  # Together inherited "Full"
    quoted = server.requests_to("POST", "/v1/fine-tunes/estimate-price")
    assert any(r.body.get("training_type") == {"type": "Full"} for r in quoted)
    problems = TogetherProvider.check_spec(spec(lora_r=8, options={"from_checkpoint": "ft-123"}))
    assert any("keeps the parent job's adapter" in p for p in problems)


def test_offline_estimate_names_the_hosting_cost_and_undeployable_bases() -> None:
    provider = TogetherProvider(api_key="unused-offline-key")
    hosted = provider.estimate(spec())
    assert any("$3.99/hour per replica" in a and "per minute" in a for a in hosted.assumptions)
    reference = provider.estimate(spec(model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"))
    assert any("cannot be deployed" in w and "Qwen/Qwen2.5-7B-Instruct" in w for w in reference.warnings)


def test_a_download_cut_short_continues_from_where_it_stopped(server: TogetherServer, make_job, tmp_path: Path) -> None:
    job = make_job()
    job.start()
    model = job.wait(timeout=30)
    server.cut_next_download(0.5)
    weights = job.provider.download(model, kind="adapter", dest=tmp_path / "adapter")
    (resumed,) = server.recorded("download_range")
    assert resumed["range"] == f"bytes={model.info['weights_bytes'] // 2}-"
    assert (weights / "adapter_config.json").is_file() and len(server.requests_to("GET", "/v1/finetune/download")) == 2
