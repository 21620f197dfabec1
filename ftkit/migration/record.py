"""Recording what a fine-tune answers while it still answers: every held-out prompt, once, crash-safe.

The held-out set is the user's file (``test=``), else the job's validation file, else a deduplicated split of
its training file that the retrain then leaves out (so the replacement is never scored on what it trained on).
Answers go through :func:`ftkit.evaluation.harness.predict` in windows of ``settings.concurrency`` requests
(within ``settings.requests_per_minute``), each window written to the evaluation cache
(:class:`~ftkit.evaluation.PredictionCache`) as it returns: a second run, also after a crash, asks the model
only for prompts not answered yet. The answers, their tokens and cost are also written to
``recording.jsonl`` next to the kept data, which outlives the model and the cache.

A model the service no longer serves (shut down, deleted) cannot be recorded: the recording says so, keeps
whatever was recorded before, and the migration goes on with the references alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ftkit._progress import report
from ftkit.errors import ConfigError, JobNotFoundError, ProviderError
from ftkit.migration.keep import KeptData
from ftkit.types import GenerationSettings

if TYPE_CHECKING:
    from ftkit.evaluation.cache import PredictionCache
    from ftkit.job import FineTuneJob
    from ftkit.model import TrainedModel

__all__ = ["HeldOut", "Recording", "choose_held_out", "load_recording", "record", "source_model"]

#: share of a training file held out when the job has no validation file and no test file is given
HOLD_OUT_SHARE = 0.1
MAX_HOLD_OUT = 200


class HeldOut(BaseModel):
    """The prompts the fine-tune is recorded on and the replacement is scored on, and what the retrain uses."""

    model_config = ConfigDict(extra="forbid")

    test: str
    source: str = Field(description="'test file', 'validation file' or 'held-out split of the training file'")
    train: str = Field(description="what the retrain trains on (the training file minus a held-out split)")
    excluded: int = Field(default=0, description="training rows left out of the retrain (held out)")


class Recording(BaseModel):
    """What was recorded of the source fine-tune on the held-out set."""

    model_config = ConfigDict(extra="forbid")

    model: str
    test: str
    n: int
    recorded: int
    path: str
    settings: GenerationSettings
    unavailable: str | None = Field(default=None, description="why the model could not (fully) be recorded")
    cost_usd: float | None = Field(default=None, description="what the recorded answers cost at catalog prices")

    @property
    def complete(self) -> bool:
        return self.recorded == self.n


def source_model(job: FineTuneJob) -> TrainedModel:
    """The imported job's fine-tuned model, bound to the job's provider instance (its credentials)."""
    from ftkit.model import TrainedModel

    record = job.record
    if not record.model_id:
        raise ConfigError(f"Job {job.id} ({record.remote_id}) has no fine-tuned model: it is {record.state.value}. "
                          "Only a succeeded job can be migrated.")
    return TrainedModel(provider=record.provider, model_id=record.model_id, base_model=job.spec.model,
                        job_id=job.id, spec=record.spec).bind(job.provider)


def choose_held_out(job: FineTuneJob, kept: KeptData, test: str | Path | None) -> HeldOut:
    """The held-out set (see the module docstring); a split is written once and reused after that."""
    assert kept.train is not None
    if test is not None:
        if not Path(test).is_file():
            raise ConfigError(f"No test file at {test}.")
        return HeldOut(test=str(Path(test).resolve()), source="test file", train=kept.train)
    if kept.validation is not None:
        return HeldOut(test=kept.validation, source="validation file", train=kept.train)
    folder = Path(kept.folder)
    held, rest = folder / "held-out.jsonl", folder / "train-without-held-out.jsonl"
    rows = [json.loads(line) for line in Path(kept.train).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not (held.is_file() and rest.is_file()):
        prompts = {_prompt_key(r) for r in rows}
        ranked = sorted(prompts, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
        count = max(1, min(MAX_HOLD_OUT, round(len(ranked) * HOLD_OUT_SHARE)))
        chosen = set(ranked[:count])
        firsts: dict[str, dict[str, Any]] = {}
        for row in rows:
            if _prompt_key(row) in chosen:
                firsts.setdefault(_prompt_key(row), row)  # deduplicated: one example per prompt
        _write_jsonl(held, list(firsts.values()))
        _write_jsonl(rest, [r for r in rows if _prompt_key(r) not in chosen])
    excluded = len(rows) - sum(1 for line in rest.read_text(encoding="utf-8").splitlines() if line.strip())
    return HeldOut(test=str(held), source="held-out split of the training file", train=str(rest), excluded=excluded)


def _prompt_key(row: dict[str, Any]) -> str:
    messages = row.get("messages") or row.get("prompt") or row
    if isinstance(messages, list) and messages and messages[-1].get("role") == "assistant":
        messages = messages[:-1]
    return json.dumps(messages, sort_keys=True, ensure_ascii=False)


def record(
    job: FineTuneJob,
    test: str | Path,
    *,
    settings: GenerationSettings | None = None,
    cache: PredictionCache | None = None,
    out: str | Path | None = None,
) -> Recording:
    """Answer every prompt of ``test`` with the job's fine-tuned model (only those not answered before)."""
    from ftkit.evaluation.cache import PredictionCache, model_identity, prediction_key
    from ftkit.evaluation.costs import serving_price
    from ftkit.evaluation.harness import load_test, predict

    settings = settings or GenerationSettings()
    model = source_model(job)
    test_set = load_test(test)
    own_cache = cache is None
    cache = cache or PredictionCache()
    identity = model_identity(model)
    keys = [prediction_key(identity, p, settings) for p in test_set.prompts]
    unavailable = None
    task = f"recording {model.model_id}"
    try:
        have = cache.get_many(keys)
        missing = [i for i, k in enumerate(keys) if k not in have]
        done = len(keys) - len(missing)
        report(task, done, len(keys), unit="examples")
        window = max(1, settings.concurrency)
        # each window is one generate() call, whose own limiter starts afresh: space the windows here so the
        # requests per minute hold across them
        spacing = 60.0 / settings.requests_per_minute if settings.requests_per_minute else 0.0
        next_start = time.monotonic()
        for start in range(0, len(missing), window):
            chunk = missing[start:start + window]
            time.sleep(max(0.0, next_start - time.monotonic()))
            next_start = time.monotonic() + spacing * len(chunk)
            try:
                with job._provider_call():
                    predict(model, [test_set.prompts[i] for i in chunk], settings, cache=cache)
            except (JobNotFoundError, ProviderError) as e:
                if isinstance(e, ProviderError) and e.status_code not in (404, 410):
                    raise
                unavailable = (f"{model.model_id} no longer answers ({e}); recorded {done} of {len(keys)} "
                               "prompts before that. The comparison uses the references (and what was recorded).")
                break
            done += len(chunk)
            report(task, done, len(keys), unit="examples")
        report(task, done, len(keys), unit="examples", finished=True)
        found = cache.get_many(keys)
    finally:
        if own_cache:
            cache.close()
    price = serving_price(model.provider, model.model_id)
    rows, cost = [], 0.0
    for i, key in enumerate(keys):
        generation = found.get(key)
        row_cost = None
        if generation is not None and price is not None:
            row_cost = price.per_example(generation.prompt_tokens or 0, generation.completion_tokens or 0)
            cost += row_cost
        rows.append({"index": i, "prompt": test_set.prompts[i], "reference": test_set.references[i],
                     "answer": generation.text.strip() if generation else None,
                     "prompt_tokens": generation.prompt_tokens if generation else None,
                     "completion_tokens": generation.completion_tokens if generation else None,
                     "cost_usd": row_cost})
    from ftkit.migration.keep import import_dir

    path = import_dir(job) / "recording.jsonl"
    _write_jsonl(path, rows)
    if out is not None:
        _write_jsonl(Path(out) / "recording.jsonl", rows)
    recorded = sum(1 for k in keys if k in found)
    return Recording(model=model.model_id, test=str(test), n=len(keys), recorded=recorded, path=str(path),
                     settings=settings, unavailable=unavailable,
                     cost_usd=round(cost, 6) if price is not None else None)


def load_recording(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``recording.jsonl`` (index, prompt, reference, answer, tokens, cost)."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
