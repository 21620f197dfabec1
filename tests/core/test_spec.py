"""JobSpec: typed settings, YAML round trip, clear errors."""

from __future__ import annotations

import pytest

from ftkit import ConfigError, JobSpec
from ftkit.spec import Adapter, Method


def test_defaults_leave_settings_to_the_provider():
    spec = JobSpec(provider="Local", model="m", train="t.jsonl")
    assert spec.provider == "local"
    assert spec.method is Method.SFT and spec.adapter is Adapter.LORA
    assert spec.explicit_settings() == {}
    spec2 = JobSpec(provider="local", model="m", train="t.jsonl", epochs=3, learning_rate=1e-4)
    assert spec2.explicit_settings() == {"epochs": 3, "learning_rate": 1e-4}


def test_yaml_round_trip_resolves_relative_paths(tmp_path):
    (tmp_path / "data").mkdir()
    job_file = tmp_path / "job.yaml"
    job_file.write_text("provider: openai\nmodel: gpt-4o-mini-2024-07-18\ntrain: data/train.jsonl\nepochs: 2\n"
                        "options:\n  learning_rate_multiplier: 0.5\n")
    spec = JobSpec.from_yaml(job_file)
    assert spec.train == str((tmp_path / "data" / "train.jsonl").resolve())
    assert spec.options == {"learning_rate_multiplier": 0.5}
    again = tmp_path / "again.yaml"
    spec.to_yaml(again)
    assert JobSpec.from_yaml(again) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("provider: local\nmodel: m\ntrain: t.jsonl\nepochs: 0\n", "epochs"),
        ("provider: local\nmodel: m\ntrain: t.jsonl\nadapter: half\n", "adapter"),
        ("provider: local\nmodel: m\ntrain: t.jsonl\nepoch: 3\n", "epoch"),
        ("provider: local\nmodel: m\ntrain: t.jsonl\nadapter: full\nlora_r: 8\n", "lora_r"),
        ("- just\n- a list\n", "mapping"),
        ("provider: [\n", "not valid YAML"),
    ],
)
def test_bad_yaml_names_the_problem(tmp_path, text, message):
    path = tmp_path / "job.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        JobSpec.from_yaml(path)


def test_in_memory_data_cannot_be_saved_as_is():
    spec = JobSpec(provider="local", model="m", train=[{"text": "hi"}])
    assert not spec.is_serializable()
    with pytest.raises(ConfigError, match="JSONL"):
        spec.to_yaml()
