"""What ftkit writes and reads back later (saved results, cached predictions) survives a newer writer.

The models keep ``extra="forbid"`` where they are built (a typo is an error); only reading back what a
newer ftkit may have written ignores the fields this version does not know.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from pydantic import ValidationError

from ftkit.evaluation.cache import PredictionCache
from ftkit.evaluation.results import EvalResult
from ftkit.types import Generation, GenerationSettings


def test_a_saved_result_with_fields_from_a_newer_ftkit_loads(tmp_path):
    saved = EvalResult(model="echo:ftk-1", test="test.jsonl", settings=GenerationSettings(max_new_tokens=8))
    data = json.loads(saved.model_dump_json())
    data["carbon_grams"] = 12.5  # a field a newer ftkit added, at the top and nested
    data["settings"]["speculative"] = True
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    loaded = EvalResult.load(path)
    assert loaded.model == "echo:ftk-1" and loaded.settings.max_new_tokens == 8
    with pytest.raises(ValidationError):
        EvalResult.model_validate(data)  # built directly, the model is still strict


def test_cached_predictions_with_fields_from_a_newer_ftkit_are_used(tmp_path):
    cache = PredictionCache(tmp_path / "predictions.db")
    cache.put_many({"k1": Generation(text="BLUE", latency_s=0.1)}, model="echo:ftk-1")
    cache.close()
    db = sqlite3.connect(tmp_path / "predictions.db")
    body = json.loads(db.execute("SELECT generation FROM predictions WHERE key = 'k1'").fetchone()[0])
    body["reasoning_tokens"] = 7
    db.execute("UPDATE predictions SET generation = ? WHERE key = 'k1'", (json.dumps(body),))
    db.commit()
    db.close()
    found = PredictionCache(tmp_path / "predictions.db").get_many(["k1"])
    assert found["k1"].text == "BLUE"
