"""The `ftkit` command line: providers, train from YAML, jobs list/show/events/wait/cancel, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftkit import FineTuneJob
from ftkit.cli import main
from ftkit.testing import colour_examples

KEY = "echo-cli-key-0123456789"
PLUGINS = Path(__file__).parents[1] / "plugins"


@pytest.fixture(autouse=True)
def echo_key(monkeypatch):
    monkeypatch.setenv("ECHO_API_KEY", KEY)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def train_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in colour_examples(12)))
    return path


def test_providers_lists_the_plugin_from_its_entry_point_in_a_fresh_process(ftkit_home):
    env = {**os.environ, "PYTHONPATH": str(PLUGINS)}
    done = subprocess.run([sys.executable, "-m", "ftkit.cli", "providers", "--json"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["echo"]["origin"] == "entry point (ftkit-echo)"
    assert {"cancel", "generate", "lora", "sft"} <= set(rows["echo"]["capabilities"])
    assert set(rows["echo"]["options"]) == {"steps", "step_seconds", "page_size"}
    assert {"local", "openai", "together"} <= set(rows)


def test_train_from_yaml_then_follow_with_jobs_commands(tmp_path, capsys):
    train_file(tmp_path)
    job_yaml = tmp_path / "job.yaml"
    job_yaml.write_text("provider: echo\nmodel: echo-base\ntrain: train.jsonl\noptions:\n  steps: 3\n  step_seconds: 0.01\n")
    code, out, _ = run(capsys, "train", str(job_yaml), "--json")
    assert code == 0
    result = json.loads(out)
    job_id = result["status"]["job_id"]
    assert result["status"]["state"] == "succeeded" and result["model"]["model_id"] == f"echo:{job_id}"
    # the YAML ran the same job the Python call would
    assert FineTuneJob.attach(job_id).spec.train == str((tmp_path / "train.jsonl").resolve())

    code, out, _ = run(capsys, "jobs", "list", "--json")
    assert code == 0 and [j["job_id"] for j in json.loads(out)] == [job_id]
    code, out, _ = run(capsys, "jobs", "show", job_id[:-2], "--json")
    shown = json.loads(out)
    assert code == 0 and shown["status"]["state"] == "succeeded" and shown["actual"] == {"trained_tokens": 100}
    code, out, _ = run(capsys, "jobs", "events", job_id, "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [e["id"] for e in events if e["id"].isdigit()] == ["0", "1", "2", "3"]
    code, out, _ = run(capsys, "jobs", "wait", job_id, "--json")
    assert code == 0 and json.loads(out)["status"]["state"] == "succeeded"
    # cancelling a finished job is the job's failure to do so: exit 1 with the reason
    code, _, err = run(capsys, "jobs", "cancel", job_id)
    assert code == 1 and "already ended" in err


def test_flags_override_and_detach_then_cancel(tmp_path, capsys):
    data = train_file(tmp_path)
    code, out, _ = run(capsys, "train", "--provider", "echo", "--model", "echo-base", "--train", str(data),
                       "-o", "steps=500", "-o", "step_seconds=0.05", "--detach", "--json")
    assert code == 0
    job_id = json.loads(out)["job_id"]
    code, out, _ = run(capsys, "jobs", "cancel", job_id, "--json")
    assert code == 0 and json.loads(out)["state"] == "cancelled"
    code, out, _ = run(capsys, "jobs", "wait", job_id, "--json")
    assert code == 1 and json.loads(out)["status"]["state"] == "cancelled"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--provider", "echo"], "Missing model, train"),
        (["train", "--provider", "echo", "--model", "m", "--train", "x.jsonl", "-o", "nokey"], "KEY=VALUE"),
        (["jobs", "show", "ftk-nope"], "No job"),
        (["train", "--provider", "nosuch", "--model", "m", "--train", "x.jsonl"], "Unknown provider"),
    ],
)
def test_bad_usage_exits_2_with_a_message(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_unknown_flag_is_a_usage_error(capsys):
    code, _, _ = run(capsys, "jobs", "list", "--no-such-flag")
    assert code == 2


def test_bad_data_exits_1_and_lists_the_lines(tmp_path, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_text("".join(json.dumps(e) + "\n" for e in colour_examples(12)) + "{broken\n")
    code, _, err = run(capsys, "train", "--provider", "echo", "--model", "m", "--train", str(data))
    assert code == 1 and "13" in err
