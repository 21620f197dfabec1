"""The Together provider through the public API (FineTuneJob), against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ftkit.providers.together.testing.emulator import TogetherServer

from ftkit.data import convert
from ftkit.errors import (
    DatasetError,
    JobFailedError,
    JobNotFoundError,
    ProviderError,
    RateLimitError,
)
from ftkit.job import FineTuneJob
from ftkit.model import TrainedModel
from ftkit.testing.samples import colour_examples, preference_examples
from ftkit.types import JobState
from tests.providers.harness_together import FAST_RETRIES
from tests.providers.together.conftest import job_kwargs


def test_every_setting_reaches_the_wire_in_togethers_shape(server: TogetherServer, make_job, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "wandb-key-must-stay-secret-42")
    options = {
        "n_evals": 4, "n_checkpoints": 2, "warmup_ratio": 0.1, "lr_scheduler_type": "cosine", "min_lr_ratio": 0.1,
        "scheduler_num_cycles": 1.0, "max_grad_norm": 0.5, "weight_decay": 0.01, "gradient_accumulation_steps": 2,
        "packing": False, "train_on_inputs": False, "lora_trainable_modules": ["q_proj", "v_proj"],
        "early_stopping": True, "early_stopping_patience": 2, "wandb_project_name": "ftkit", "wandb_name": "run-1",
    }  # fmt: skip
    job = make_job(validation=colour_examples(8, seed=1), epochs=2, learning_rate=2e-5, batch_size=8, lora_r=16,
                   lora_alpha=32, lora_dropout=0.05, max_seq_length=1024, seed=3, suffix="colours", options=options)  # fmt: skip
    job.start()
    body = server.requests_to("POST", "/v1/fine-tunes")[-1].body
    assert body["training_type"] == {"type": "Lora", "lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.05,
                                     "lora_trainable_modules": "q_proj,v_proj"}  # fmt: skip
    assert body["training_method"] == {"method": "sft", "train_on_inputs": False}
    assert body["lr_scheduler"] == {"lr_scheduler_type": "cosine",
                                    "lr_scheduler_args": {"min_lr_ratio": 0.1, "num_cycles": 1.0}}  # fmt: skip
    expected = {"n_epochs": 2, "learning_rate": 2e-5, "batch_size": 8, "max_seq_length": 1024, "random_seed": 3,
                "n_evals": 4, "n_checkpoints": 2, "warmup_ratio": 0.1, "max_grad_norm": 0.5, "weight_decay": 0.01,
                "gradient_accumulation_steps": 2, "packing": False, "early_stopping_enabled": True,
                "early_stopping_patience": 2, "wandb_project_name": "ftkit", "wandb_name": "run-1",
                "wandb_key": "wandb-key-must-stay-secret-42", "model": "Qwen/Qwen3-8B"}  # fmt: skip
    assert {k: body[k] for k in expected} == expected
    assert body["suffix"].startswith("colours-ftk-")
    assert body["validation_file"] and body["validation_file"] != body["training_file"]
    job.wait(timeout=30)
    stored = job.store.path.read_bytes()
    assert b"wandb-key-must-stay-secret-42" not in stored
    assert all("wandb-key-must" not in e.model_dump_json() for e in job.events())


def test_dpo_job(server: TogetherServer, make_job) -> None:
    rows = convert(preference_examples(16), "together", method="dpo")  # Together's input/preferred_output rows
    job = make_job(train=rows, method="dpo", options={"dpo_beta": 0.2, "simpo_gamma": 0.5})
    job.start()
    model = job.wait(timeout=30)
    method = server.created_jobs[0]["request"]["training_method"]
    assert method["method"] == "dpo" and method["dpo_beta"] == 0.2 and method["dpo_reference_free"] is True
    train_file = server.files[server.created_jobs[0]["training_file"]]
    assert train_file.summary.dataset_format == "PREFERENCE"
    assert model.model_id


def test_full_fine_tune_downloads_the_whole_model(server: TogetherServer, make_job, tmp_path: Path) -> None:
    job = make_job(adapter="full")
    job.start()
    model = job.wait(timeout=30)
    assert server.created_jobs[0]["request"]["training_type"] == {"type": "Full"}
    weights = job.provider.download(model, dest=tmp_path / "full")
    assert (weights / "config.json").is_file() and model.merged_path == str(weights)


def test_lora_adapter_and_merged_downloads(server: TogetherServer, make_job, tmp_path: Path) -> None:
    job = make_job(lora_r=8)
    job.start()
    model = job.wait(timeout=30)
    adapter = job.provider.download(model, kind="adapter", dest=tmp_path / "adapter")
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["base_model_name_or_path"] == "Qwen/Qwen3-8B"
    assert model.adapter_path == str(adapter)
    safetensors = pytest.importorskip("safetensors.numpy")
    tensors = safetensors.load_file(str(adapter / "adapter_model.safetensors"))
    assert {t.shape for name, t in tensors.items() if "lora_A" in name} == {(8, 8)}
    merged = job.provider.download(model, kind="merged", dest=tmp_path / "merged")
    assert (merged / "model.safetensors").is_file()
    assert model.info["checkpoints"][-1]["type"] == "Final"


def test_merged_weights_refused_where_together_has_none(server: TogetherServer, make_job, tmp_path: Path) -> None:
    job = make_job(model="meta-llama/Llama-3.3-70B-Instruct-Reference")
    job.start()
    model = job.wait(timeout=30)
    with pytest.raises(ProviderError, match="merged") as info:
        job.provider.download(model, kind="merged", dest=tmp_path / "merged")
    assert info.value.status_code == 400 and info.value.request_id


def test_server_side_invalid_file_is_a_dataset_error(server: TogetherServer, make_job) -> None:
    server.reject_next_file("Line 3: conversation has two consecutive user messages")
    job = make_job()
    with pytest.raises(DatasetError, match="two consecutive user messages") as info:
        job.start()
    assert info.value.report.errors[0].code == "together_invalid_format"
    assert server.created_jobs == []


@pytest.mark.parametrize("status", ["error", "user_error"])
def test_failed_job_reports_togethers_reason(server: TogetherServer, make_job, status: str) -> None:
    server.fail_next_job(status, f"scripted {status} reason")
    job = make_job()
    job.start()
    with pytest.raises(JobFailedError, match=f"scripted {status} reason"):
        job.wait(timeout=30)
    final = job.status()
    assert final.state is JobState.FAILED and final.raw_status == status


def test_cost_is_recorded_next_to_the_estimate(server: TogetherServer, make_job) -> None:
    job = make_job(epochs=2)
    job.start()
    job.wait(timeout=30)
    remote = server.jobs[job.record.remote_id]
    assert job.record.actual == {"cost_usd": remote.total_price / 1e9, "trained_tokens": remote.token_count}
    assert job.record.provider_data["reported"]["total_price_nano_usd"] == remote.total_price
    assert job.status().cost_usd == pytest.approx(remote.total_price / 1e9)
    assert job.record.estimate is not None and job.record.estimate["provider"] == "together"


def test_same_data_is_uploaded_once_and_again_after_deletion(server: TogetherServer, make_job) -> None:
    for _ in range(2):
        job = make_job()
        job.start()
    assert len(server.uploads) == 1 and len(server.created_jobs) == 2
    server.files[server.uploads[0]["file_id"]].deleted = True
    make_job().start()
    assert len(server.uploads) == 2, "a file deleted on Together's side is uploaded again"


def test_events_have_metrics_and_survive_attach(server: TogetherServer, make_job) -> None:
    job = make_job(epochs=3)
    job.start()
    job.wait(timeout=30)
    events = [e for e in job.events() if e.type != "ftkit"]
    epochs = [e for e in events if e.type == "epoch_complete"]
    assert len(epochs) == 3 and all(not e.metrics for e in epochs)  # event text stays text
    steps = [e for e in events if e.type == "metrics"]  # from GET /v1/fine-tunes/{id}/metrics
    assert steps and all("train_loss" in e.metrics for e in steps) and steps[-1].step == steps[-1].total_steps
    # each stream is oldest first; the two are read by separate calls, so across pages they may interleave
    for stream in ([e for e in events if e.type != "metrics"], steps):
        assert [e.time for e in stream] == sorted(e.time for e in stream)
    assert [e.step for e in steps] == sorted(e.step for e in steps)
    again = FineTuneJob.attach(job.id, api_key=server.api_key, base_url=server.base_url)
    assert [e.id for e in again.events()] == [e.id for e in job.events()]


def test_fine_tune_beats_its_base_model(server: TogetherServer, make_job) -> None:
    job = make_job()
    job.start()
    tuned = job.wait(timeout=30)
    base = TrainedModel.from_ref("together:Qwen/Qwen3-8B", api_key=server.api_key, base_url=server.base_url)
    rows = colour_examples(16)
    prompts = [[m for m in r["messages"] if m["role"] != "assistant"] for r in rows]
    truth = [r["messages"][-1]["content"] for r in rows]
    with tuned.deploy() as deployment:  # Together answers a fine-tune only through a dedicated endpoint
        deployment.wait_ready(poll_interval=0.02)
        answers = deployment.model.generate(prompts, concurrency=4)
    tuned_right = sum(a.text == t for a, t in zip(answers, truth, strict=False))
    base_right = sum(a.text == t for a, t in zip(base.generate(prompts), truth, strict=False))
    assert tuned_right == len(rows) and base_right == 0


def test_job_gone_from_together_is_job_not_found(server: TogetherServer, make_job) -> None:
    job = make_job()
    job.start()
    server.jobs.clear()
    with pytest.raises(JobNotFoundError):
        job.status()


def test_errors_keep_status_request_id_and_retry_after(server: TogetherServer, make_job) -> None:
    job = make_job()
    server.faults.add("GET", "/v1/fine-tunes/models/limits", status=429, retry_after=0.01, times=None)
    with pytest.raises(RateLimitError) as limited:
        job.start()
    assert limited.value.retry_after == pytest.approx(0.01) and limited.value.status_code == 429
    assert len(server.requests_to("GET", "/v1/fine-tunes/models/limits")) == FAST_RETRIES.attempts
    server.faults.clear()
    server.faults.add("GET", "/v1/fine-tunes/models/limits", status=503, times=None)
    with pytest.raises(ProviderError) as broken:
        FineTuneJob(**job_kwargs(server)).start()
    assert broken.value.status_code == 503 and broken.value.request_id.startswith("req_")
