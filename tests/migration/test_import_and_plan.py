"""Import, inventory, keep, record and plan against the OpenAI emulator, for jobs made with the plain ``openai`` SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftkit import FineTuneJob
from ftkit.cli import main
from ftkit.errors import ConfigError, JobNotFoundError
from ftkit.migration import keep_data, plan_migration, record_source
from ftkit.store import JobStore
from ftkit.testing.samples import colour_examples, preference_examples
from ftkit.types import JobState
from tests.migration.conftest import RemoteJob, create_with_sdk, write_jsonl
from tests.providers.harness_openai import OPENAI_KEY


def _cli(remote: RemoteJob, *args: str) -> list[str]:
    return [*args, "--api-key", OPENAI_KEY, "--base-url", remote.server.base_url]


def test_import_rebuilds_the_spec_from_what_openai_resolved(remote_job: RemoteJob) -> None:
    job = FineTuneJob.import_remote("openai", remote_job.job_id, **remote_job.connection())
    resolved = remote_job.server.job(remote_job.job_id)["method"]["supervised"]["hyperparameters"]
    assert job.spec.epochs == resolved["n_epochs"] and isinstance(job.spec.epochs, int)  # "auto" as it ran
    assert job.spec.batch_size == 2 and job.spec.seed == 1234 and job.spec.suffix == "router"
    assert job.spec.options == {"learning_rate_multiplier": 0.5}
    assert job.record.remote_id == remote_job.job_id
    # afterwards it is a job like any other: status, events, result
    assert job.status().state is JobState.SUCCEEDED
    assert any(e.metrics for e in job.events())
    assert job.result().model_id == remote_job.fine_tuned_model
    assert job.record.actual["cost_usd"] > 0  # trained tokens at the catalog's training price


def test_importing_twice_gives_the_same_job(remote_job: RemoteJob, ftkit_home: Path) -> None:
    first = FineTuneJob.import_remote("openai", remote_job.job_id, **remote_job.connection())
    second = FineTuneJob.import_remote("openai", remote_job.job_id, **remote_job.connection())
    assert first.id == second.id
    assert len(JobStore().list_jobs()) == 1
    attached = FineTuneJob.attach(first.id, **remote_job.connection())
    assert attached.result().model_id == remote_job.fine_tuned_model


def test_jobs_import_command_then_show(remote_job: RemoteJob, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_cli(remote_job, "jobs", "import", "openai", remote_job.job_id, "--json")) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["status"]["remote_id"] == remote_job.job_id and imported["spec"]["batch_size"] == 2
    assert main(_cli(remote_job, "jobs", "show", imported["status"]["job_id"], "--json")) == 0
    assert json.loads(capsys.readouterr().out)["status"]["state"] == "succeeded"


def test_dpo_import_keeps_beta(emulator) -> None:
    rows = [{"input": {"messages": r["prompt"]}, "preferred_output": r["chosen"],
             "non_preferred_output": r["rejected"]} for r in preference_examples(12)]
    remote = create_with_sdk(emulator, train=rows, validation=None,
                             method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.3}}})
    job = FineTuneJob.import_remote("openai", remote.job_id, **remote.connection())
    assert job.spec.method.value == "dpo" and job.spec.options["beta"] == 0.3
    plans = plan_migration(remote.job_id, ["together:Qwen/Qwen3-8B"], provider="openai", **remote.data(),
                           **remote.connection())
    beta = next(t for t in plans[0].translations if t.setting == "options.dpo_beta")
    assert beta.target == 0.3 and plans[0].spec["options"]["dpo_beta"] == 0.3


def test_inventory_lists_jobs_models_files_and_days_left(remote_job: RemoteJob, emulator,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    rows = colour_examples(12)
    second = create_with_sdk(emulator, train=rows, validation=None, suffix=None)
    emulator.files.pop(second.training_file)  # its data was deleted on OpenAI's side
    FineTuneJob.import_remote("openai", remote_job.job_id, **remote_job.connection())
    assert main(_cli(remote_job, "migrate", "inventory", "--json", "--today", "2026-12-01")) == 0
    items = {i["id"]: i for i in json.loads(capsys.readouterr().out)}
    assert main(_cli(remote_job, "migrate", "inventory", "--wide")) == 0
    table = capsys.readouterr().out
    assert remote_job.job_id in table and "DELETED" in table and "2027-01-14" in table
    job = items[remote_job.job_id]
    assert job["kind"] == "job" and job["epochs"] >= 1 and job["batch_size"] == 2
    assert job["learning_rate_multiplier"] == 0.5 and job["trained_tokens"] > 0
    assert [f["exists"] for f in job["files"]] == [True, True]
    assert job["days_left"] == 44 and job["shutdown_date"] == "2027-01-14"  # from the model listing
    assert job["ftkit_job"] is not None and items[second.job_id]["ftkit_job"] is None
    assert items[second.job_id]["files"][0]["exists"] is False
    model = items[remote_job.fine_tuned_model]
    assert model["kind"] == "model" and model["job_id"] == remote_job.job_id and model["days_left"] == 44


def test_keep_data_takes_the_users_copy_once_and_checks_it(remote_job: RemoteJob) -> None:
    job = FineTuneJob.import_remote("openai", remote_job.job_id, **remote_job.connection())
    with pytest.raises(ConfigError, match="never releases files uploaded for fine-tuning"):
        keep_data(job)  # OpenAI refuses to hand training files back: the user's copy is needed
    kept = keep_data(job, **remote_job.data())
    rows = [json.loads(line) for line in Path(kept.train).read_text().splitlines()]
    assert [r["messages"] for r in rows] == [r["messages"] for r in remote_job.train_rows]
    assert job.spec.train == kept.train and FineTuneJob.attach(job.id).spec.validation == kept.validation
    again = keep_data(FineTuneJob.attach(job.id, **remote_job.connection()))  # kept: no copy needed any more
    assert again.sha256 == kept.sha256 and again.train == kept.train


def test_a_copy_that_is_not_the_uploaded_file_is_refused(remote_job: RemoteJob, tmp_path: Path) -> None:
    job = FineTuneJob.import_remote("openai", remote_job.job_id, **remote_job.connection())
    other = write_jsonl(tmp_path / "other.jsonl", remote_job.train_rows[:-1])
    with pytest.raises(ConfigError, match="not the file the job trained on"):
        keep_data(job, train=other)


def test_plan_shows_the_epochs_openai_ran(remote_job: RemoteJob, capsys: pytest.CaptureFixture[str]) -> None:
    ran = remote_job.server.job(remote_job.job_id)["method"]["supervised"]["hyperparameters"]["n_epochs"]
    assert main(_cli(remote_job, "migrate", "plan", remote_job.job_id, "--to", "together:Qwen/Qwen3-8B",
                     "--to", "together", "--json", *remote_job.data_flags())) == 0
    plans = json.loads(capsys.readouterr().out)
    for plan in plans:
        epochs = next(t for t in plan["translations"] if t["setting"] == "epochs")
        assert epochs["source"] == ran and epochs["target"] == ran and plan["spec"]["epochs"] == ran
        rate = next(t for t in plan["translations"] if t["setting"] == "learning_rate")
        assert rate["target"] == pytest.approx(1e-5 * 0.5) and "multiplier" in rate["rule"]
        assert plan["source_cost_usd"] > 0 and plan["estimate"]["cost_usd"] > 0
    suggested = plans[1]
    assert suggested["model_reason"].startswith("suggested: the same quality class as gpt-4o-mini")
    assert main(_cli(remote_job, "migrate", "plan", remote_job.job_id, "--to", "together:Qwen/Qwen3-8B",
                     *remote_job.data_flags())) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"epochs {ran} {ran}" in text and "epochs: the epochs openai actually ran" in text


def test_batch_size_is_clamped_to_the_target_limits(remote_job: RemoteJob) -> None:
    plan = plan_migration(remote_job.job_id, ["together:openai/gpt-oss-20b"], **remote_job.data(),
                          **remote_job.connection())[0]
    batch = next(t for t in plan.translations if t.setting == "batch_size")
    assert (batch.source, batch.target) == (2, 8) and "clamped" in batch.rule


def test_record_twice_calls_the_fine_tune_once_per_prompt(remote_job: RemoteJob, tmp_path: Path) -> None:
    test = write_jsonl(tmp_path / "test.jsonl", colour_examples(40)[30:])
    first = record_source(remote_job.job_id, test=str(test), **remote_job.data(), **remote_job.connection())
    assert first.complete and first.n == 10 and first.cost_usd > 0
    calls = len(remote_job.chat_calls())
    assert calls == 10
    second = record_source(remote_job.job_id, test=str(test), **remote_job.data(), **remote_job.connection())
    assert second.complete and len(remote_job.chat_calls()) == calls
    answers = [json.loads(line)["answer"] for line in Path(second.path).read_text().splitlines()]
    assert all(a is not None for a in answers)


def test_without_validation_a_held_out_split_is_left_out_of_the_retrain(emulator) -> None:
    remote = create_with_sdk(emulator, train=colour_examples(20), validation=None)
    recording = record_source(remote.job_id, **remote.data(), **remote.connection())
    plan = plan_migration(remote.job_id, ["together:Qwen/Qwen3-8B"], **remote.data(), **remote.connection())[0]
    held = {json.dumps(json.loads(line)["prompt"]) for line in Path(recording.path).read_text().splitlines()}
    trained = [json.loads(line)["messages"][:-1] for line in Path(plan.spec["train"]).read_text().splitlines()]
    assert held and not held & {json.dumps(t) for t in trained}
    assert len(trained) + recording.n == 20


def test_a_shut_down_model_is_said_and_the_references_remain(remote_job: RemoteJob) -> None:
    remote_job.server.retire_model(remote_job.fine_tuned_model)
    recording = record_source(remote_job.job_id, **remote_job.data(), **remote_job.connection())
    assert recording.recorded == 0 and "no longer answers" in (recording.unavailable or "")


@pytest.mark.parametrize("case", ["unknown", "not-an-id", "failed", "running", "deleted", "no-copy", "forbidden"])
def test_bad_input_is_a_message_and_exit_code_1(case: str, remote_job: RemoteJob, emulator, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    job_id = remote_job.job_id
    expected = {"unknown": "ftjob-doesnotexist", "not-an-id": "not an OpenAI fine-tuning job id",
                "failed": "did not succeed", "running": "wait for it", "deleted": "was deleted from OpenAI", "no-copy": "--train FILE",
                "forbidden": "permission denied"}[case]
    if case == "unknown":
        job_id = "ftjob-doesnotexist"
    elif case == "not-an-id":
        job_id = "ft:gpt-4o-mini"
    elif case == "failed":
        emulator.fail_next_job("The job failed due to an internal error.", step=1)
        job_id = create_with_sdk(emulator, train=colour_examples(12), validation=None).job_id
    elif case == "running":  # held where it is (paused) so it cannot finish during the test
        from tests.migration.conftest import sdk_client

        client = sdk_client(emulator)
        job_id = create_with_sdk(emulator, train=colour_examples(12), validation=None, wait=False).job_id
        while client.fine_tuning.jobs.retrieve(job_id).status == "validating_files":
            pass  # pause is accepted once the job is queued or running (a fraction of a second here)
        client.fine_tuning.jobs.pause(job_id)
    elif case == "deleted":
        emulator.files.pop(remote_job.training_file)
    elif case == "forbidden":
        emulator.faults.add("GET", "/v1/fine_tuning/jobs/{job_id}", status=403, times=None)
    flags = [] if case in ("deleted", "no-copy") else remote_job.data_flags()
    code = main(_cli(remote_job, "migrate", job_id, "--to", "together:Qwen/Qwen3-8B", "--out", str(tmp_path / "o"),
                     *flags))
    err = capsys.readouterr().err
    assert code == 1
    assert expected in " ".join(err.split()) and "Traceback" not in err


def test_deleted_training_file_can_be_replaced_by_the_users_copy(remote_job: RemoteJob, tmp_path: Path) -> None:
    remote_job.server.files.pop(remote_job.training_file)
    job = FineTuneJob.import_remote("openai", remote_job.job_id, **remote_job.connection())
    with pytest.raises(ConfigError, match="--train FILE"):
        keep_data(job)
    own = write_jsonl(tmp_path / "mine.jsonl", remote_job.train_rows)
    kept = keep_data(job, train=own)
    assert len(Path(kept.train).read_text().splitlines()) == len(remote_job.train_rows)


def test_out_folder_with_other_files_is_never_written_into(remote_job: RemoteJob, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code = main(_cli(remote_job, "migrate", remote_job.job_id, "--to", "together", "--out", str(out)))
    assert code == 1 and "never writes into them" in " ".join(capsys.readouterr().err.split())
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_unknown_remote_job_from_the_python_api(remote_job: RemoteJob, ftkit_home: Path) -> None:
    with pytest.raises(JobNotFoundError, match="ftjob-nope"):
        FineTuneJob.import_remote("openai", "ftjob-nope", **remote_job.connection())
    assert JobStore().list_jobs() == []


def test_a_job_ftkit_started_can_be_migrated_too(emulator, ftkit_home: Path) -> None:
    from tests.migration.conftest import RemoteJob
    from tests.providers.harness_openai import FAST_RETRIES

    job = FineTuneJob(provider="openai", model="gpt-4o-mini-2024-07-18", train=colour_examples(20), api_key=OPENAI_KEY,
                      base_url=emulator.base_url, poll_interval=0.02, retry_policy=FAST_RETRIES)
    job.start()
    job.wait(timeout=30)
    remote = RemoteJob(emulator, str(job.record.remote_id), job.record.model_id or "", "", None, [], [])
    plan = plan_migration(remote.job_id, ["together:Qwen/Qwen3-8B"], **remote.connection())[0]
    ran = emulator.job(remote.job_id)["method"]["supervised"]["hyperparameters"]["n_epochs"]
    assert plan.spec["epochs"] == ran
    assert len(JobStore().list_jobs()) == 1  # the job itself, not a second (imported) copy
    assert FineTuneJob.attach(job.id).spec.train == job.spec.train  # the user's own data path is kept


def test_inventory_reads_every_page(emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from ftkit.providers.openai import _import

    from ftkit.migration import inventory

    made = [create_with_sdk(emulator, train=colour_examples(10), validation=None, wait=False).job_id
            for _ in range(5)]
    monkeypatch.setattr(_import, "PAGE_SIZE", 2)
    items = inventory("openai", api_key=OPENAI_KEY, base_url=emulator.base_url)
    assert sorted(i.id for i in items if i.kind == "job") == sorted(made)
    pages = emulator.requests_to("GET", "/v1/fine_tuning/jobs")
    assert len(pages) == 3  # 2 + 2 + 1


def test_the_closing_service_is_the_default_source() -> None:
    from ftkit.migration import default_source

    assert default_source() == "openai"  # the one installed provider that imports and stops taking jobs


def test_recording_keeps_the_requests_per_minute_across_windows(remote_job: RemoteJob, tmp_path: Path) -> None:
    import time as clock

    from ftkit.types import GenerationSettings

    test = write_jsonl(tmp_path / "test.jsonl", colour_examples(36)[30:])  # 6 prompts, windows of 2
    started = clock.monotonic()
    recording = record_source(remote_job.job_id, test=str(test), settings=GenerationSettings(
        concurrency=2, requests_per_minute=240), **remote_job.data(), **remote_job.connection())
    assert recording.complete
    assert clock.monotonic() - started >= 1.0  # 6 requests at 4 per second: the third window waits past 1 s
