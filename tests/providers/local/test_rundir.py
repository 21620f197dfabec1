"""The run directory and tiny model without training: events, status, checkpoint trust, fingerprints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ftkit.providers.local import LocalProvider, fingerprint_of
from ftkit.providers.local._rundir import CHECKPOINT_MARKER, RunDir

from ftkit.errors import ConfigError
from ftkit.provider import JobContext
from ftkit.spec import JobSpec
from ftkit.types import JobState


def test_events_page_after_a_cursor_and_skip_a_half_written_line(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    for i in range(5):
        run.append_event(f"event {i}", type="metrics", step=i, metrics={"loss": 1.0 / (i + 1)})
    with run.events_file.open("a") as f:
        f.write('{"id": "6", "message": "cut off by a cra')  # no newline: still being written
    page, more = run.read_events(after="2", limit=2)
    assert [e["id"] for e in page] == ["3", "4"] and more
    page, more = run.read_events(after="4")
    assert [e["id"] for e in page] == ["5"] and not more


def test_status_updates_merge_and_replace_atomically(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.update_status(state="running", pid=123)
    run.update_status(step=7)
    assert run.read_status() | {"updated_at": None} == {"state": "running", "pid": 123, "step": 7,
                                                          "updated_at": None}
    assert not list(tmp_path.glob(".status.json.*")), "no temporary file is left behind"


def _checkpoint(run: RunDir, step: int, *, mark: bool = True) -> Path:
    d = run.checkpoints / f"checkpoint-{step}"
    d.mkdir(parents=True)
    (d / "adapter_model.safetensors").write_bytes(bytes(range(256)) * 8)
    (d / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if mark:
        run.mark_checkpoint_complete(d, step)
    return d


def test_the_newest_intact_checkpoint_wins_and_broken_ones_are_dropped(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    good = _checkpoint(run, 10)
    truncated = _checkpoint(run, 20)
    with (truncated / "adapter_model.safetensors").open("r+b") as f:
        f.truncate(100)
    corrupt = _checkpoint(run, 30)
    data = bytearray((corrupt / "adapter_model.safetensors").read_bytes())
    data[5] ^= 0xFF
    (corrupt / "adapter_model.safetensors").write_bytes(bytes(data))
    unfinished = _checkpoint(run, 40, mark=False)

    chosen, notes = run.last_good_checkpoint(discard_bad=True)
    assert chosen == good
    assert len(notes) == 3
    assert "incomplete" in notes[0] and "corrupt" in notes[1] and "truncated" in notes[2]
    assert not unfinished.exists() and not corrupt.exists() and not truncated.exists()
    assert (good / CHECKPOINT_MARKER).exists()


def test_resume_refuses_changed_data(tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"messages": [{"role": "user", "content": "a"},
                                              {"role": "assistant", "content": "b"}]}) + "\n")
    spec = JobSpec(provider="local", model=str(tmp_path), train=str(train))
    ctx = JobContext(job_id="ftk-test", spec=spec, workdir=tmp_path / "run",
                     data={"fingerprint": fingerprint_of(spec)})
    RunDir(ctx.workdir).path.mkdir()
    RunDir(ctx.workdir).update_status(state="failed", raw_status="worker_died")
    assert LocalProvider().status(ctx).state is JobState.FAILED
    train.write_text(train.read_text() + train.read_text())
    with pytest.raises(ConfigError, match="train data changed"):
        LocalProvider().resume(ctx)


def test_importing_the_provider_and_testing_package_loads_no_torch() -> None:
    code = ("import sys, ftkit.testing, ftkit.providers.local as p; p.LocalProvider.check_spec; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_tiny_model_is_reused_and_marks_assistant_turns(tiny: str) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftkit.testing.tiny import tiny_model

    before = (Path(tiny) / "model.safetensors").stat().st_mtime_ns
    assert tiny_model(tiny) == Path(tiny)
    assert (Path(tiny) / "model.safetensors").stat().st_mtime_ns == before, "same settings: reused, not rebuilt"
    model = AutoModelForCausalLM.from_pretrained(tiny)
    assert sum(p.numel() for p in model.parameters()) < 5_000_000
    tok = AutoTokenizer.from_pretrained(tiny)
    chat = [{"role": "user", "content": "What colour is snow?"}, {"role": "assistant", "content": "white"}]
    enc = tok.apply_chat_template(chat, return_dict=True, return_assistant_tokens_mask=True)
    trained = [t for t, m in zip(enc["input_ids"], enc["assistant_masks"], strict=True) if m]
    assert tok.decode(trained) == "white<|im_end|>"
    assert trained[-1] == tok.eos_token_id, "the end-of-turn token is trained and is eos"


def test_tiny_model_refuses_a_foreign_directory(tmp_path: Path) -> None:
    from ftkit.testing.tiny import tiny_model

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a tiny model"):
        tiny_model(tmp_path)
