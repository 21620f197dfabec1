"""The bootstrap on known examples: reproducible, equal to a plain loop, close to the normal interval."""

from __future__ import annotations

import numpy as np
import pytest

from ftkit.evaluation import Classification, ExactMatch, ScoringInput
from ftkit.evaluation.stats import bootstrap_counts, flips, interval, paired_difference


def stats_of(metric, predictions, references):
    return metric.stats(ScoringInput(predictions=predictions, references=references))


def test_interval_of_a_constant_is_the_constant():
    stats = stats_of(ExactMatch(), ["a"] * 50, ["a"] * 50)
    got = interval(ExactMatch(), stats)["exact_match"]
    assert (got.value, got.low, got.high, got.n) == (1.0, 1.0, 1.0, 50)


def test_vectorised_bootstrap_equals_a_plain_loop_over_the_same_draws():
    rng = np.random.default_rng(3)
    correct = rng.random(40) < 0.6
    stats = stats_of(ExactMatch(), ["a" if c else "b" for c in correct], ["a"] * 40)
    got = interval(ExactMatch(), stats, resamples=300, seed=11)["exact_match"]
    # the same draws, one resample at a time, mean of the drawn examples
    draws = np.random.default_rng(11).integers(0, 40, size=(300, 40))
    means = np.array([correct[row].mean() for row in draws])
    assert got.low == pytest.approx(np.percentile(means, 2.5))
    assert got.high == pytest.approx(np.percentile(means, 97.5))


def test_bernoulli_interval_matches_the_normal_approximation():
    n, p = 2000, 0.3
    predictions = ["a"] * int(n * p) + ["b"] * int(n * (1 - p))
    got = interval(ExactMatch(), stats_of(ExactMatch(), predictions, ["a"] * n), resamples=2000)["exact_match"]
    half_width = 1.96 * np.sqrt(p * (1 - p) / n)  # 0.0201
    assert got.value == pytest.approx(p)
    assert got.low == pytest.approx(p - half_width, abs=0.004)
    assert got.high == pytest.approx(p + half_width, abs=0.004)


def test_seeded_and_reproducible():
    stats = stats_of(ExactMatch(), list("abab"), list("aaaa"))
    assert interval(ExactMatch(), stats, seed=5) == interval(ExactMatch(), stats, seed=5)


def test_resample_counts_sum_to_n():
    blocks = list(bootstrap_counts(7, 600, np.random.default_rng(0)))
    assert sum(b.shape[0] for b in blocks) == 600
    assert all((b.sum(axis=1) == 7).all() for b in blocks)


def test_paired_difference_on_a_known_example():
    # 100 examples: base right on the first 50; the candidate right on those 50 and 20 more
    refs = ["y"] * 100
    base = stats_of(ExactMatch(), ["y"] * 50 + ["n"] * 50, refs)
    cand = stats_of(ExactMatch(), ["y"] * 70 + ["n"] * 30, refs)
    diff = paired_difference(ExactMatch(), base, cand, resamples=2000)["exact_match"]
    assert (diff.baseline, diff.candidate) == (0.5, 0.7)
    assert diff.diff == pytest.approx(0.2)
    # per-example differences are 20 ones and 80 zeros: the paired interval is the one of their mean
    half_width = 1.96 * np.sqrt(0.2 * 0.8 / 100)
    assert diff.low == pytest.approx(0.2 - half_width, abs=0.02)
    assert diff.high == pytest.approx(0.2 + half_width, abs=0.02)
    assert diff.significant and diff.verdict == "better" and diff.p_value < 0.01


def test_no_change_is_not_significant():
    refs = ["y"] * 60
    same = stats_of(ExactMatch(), ["y", "n"] * 30, refs)
    diff = paired_difference(ExactMatch(), same, same)["exact_match"]
    assert diff.diff == 0 and diff.low == 0 and diff.high == 0
    assert not diff.significant and diff.verdict == "no clear change"


def test_paired_bootstrap_of_a_corpus_metric():
    refs = ["a", "b", "c"] * 20
    base = stats_of(Classification(), ["a"] * 60, refs)
    cand = stats_of(Classification(), refs, refs)
    diff = paired_difference(Classification(), base, cand, resamples=500)
    assert diff["macro_f1"].candidate == 1.0
    assert diff["macro_f1"].baseline == pytest.approx((0.5 + 0 + 0) / 3)
    assert diff["macro_f1"].low > 0.5


def test_flips():
    base = np.array([1.0, 0.0, 1.0, 0.0, np.nan])
    cand = np.array([1.0, 1.0, 0.0, 0.0, 1.0])
    got = flips("exact_match", base, cand)
    assert (got.fixed, got.broken, got.unchanged) == ([1], [2], 2)


def test_classification_prompts_list_the_training_labels(tmp_path):
    import json

    from ftkit.evaluation.harness import load_test, training_labels
    from ftkit.model import TrainedModel

    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"text": f"t{i}", "label": lab}) + "\n"
                             for i, lab in enumerate(["billing", "returns", "shipping"])))
    model = TrainedModel(provider="local", model_id="m", spec={"train": str(train)})
    assert training_labels(model) == ["billing", "returns", "shipping"]
    assert training_labels(TrainedModel(provider="local", model_id="m")) is None
    # the test set lacks "shipping", yet its prompt must list it, as training's did
    test = [{"text": "where is my parcel", "label": "returns"}]
    with_training = load_test(test, labels=training_labels(model))
    from_test_only = load_test(test)
    assert "shipping" in json.dumps(with_training.prompts[0])
    assert "shipping" not in json.dumps(from_test_only.prompts[0])
