"""Every metric on hand-checked cases (values worked out by hand or published by the reference tool)."""

from __future__ import annotations

import numpy as np
import pytest

from ftkit.errors import ConfigError
from ftkit.evaluation import (
    ChrF,
    Classification,
    Contains,
    ExactMatch,
    FunctionMetric,
    JsonSchema,
    JsonValid,
    Normalization,
    RougeL,
    ScoringInput,
    resolve_metrics,
)
from ftkit.evaluation.json_schema import schema_errors
from ftkit.evaluation.judge import parse_score
from ftkit.evaluation.metrics import chrf, exact_match, rouge_l


def value(metric, predictions, references):
    stats = metric.stats(ScoringInput(predictions=predictions, references=references))
    return {k: float(v) for k, v in metric.values(stats.sum(axis=0)).items()}


@pytest.mark.parametrize(
    ("prediction", "reference", "how", "expected"),
    [
        ("billing", "billing", Normalization(), 1.0),
        ("  billing \n", "billing", Normalization(), 1.0),  # whitespace is always trimmed
        ("Billing", "billing", Normalization(), 0.0),  # case matters by default
        ("Billing", "billing", Normalization(lowercase=True), 1.0),
        ("billing.", "billing", Normalization(lowercase=True), 0.0),
        ("billing.", "billing", Normalization(punctuation=True), 1.0),
        ("The Eiffel Tower!", "eiffel tower", Normalization.parse("squad"), 1.0),
        ("an  apple", "apple", Normalization.parse("articles"), 1.0),
    ],
)
def test_exact_match_normalisation(prediction, reference, how, expected):
    assert exact_match(prediction, reference, how) == expected


def test_normalisation_rejects_unknown_option():
    with pytest.raises(ConfigError, match="lower, punct"):
        Normalization.parse("lower,stem")


def test_exact_match_metric_is_the_mean():
    assert value(ExactMatch(), ["a", "b", "a", "a"], ["a", "a", "a", "b"]) == {"exact_match": 0.5}


def test_rouge_l_by_hand():
    # LCS of "the cat sat on the mat" / "the cat is on the mat" is "the cat on the mat" (5 tokens of 6 each)
    assert rouge_l("the cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    # LCS 2 ("a c"), P = 2/3, R = 2/2 -> F1 = 0.8; punctuation and case do not split tokens differently
    assert rouge_l("A, b, C", "a c") == pytest.approx(0.8)
    assert rouge_l("", "anything") == 0.0
    assert value(RougeL(), ["a b", "x"], ["a b", "y"]) == {"rouge_l": 0.5}


def test_chrf_matches_sacrebleu_published_value():
    # sacrebleu CHRF() sentence score 61.576379378113785 (HF `chrf` metric card)
    score = chrf("The relationship between Obama and Netanyahu is not exactly friendly.",
                 "The ties between Obama and Netanyahu are not particularly friendly.")
    assert score == pytest.approx(0.61576379378113785, abs=1e-12)


def test_chrf_by_hand():
    assert chrf("abc", "abc") == pytest.approx(1.0)
    # "ab" vs "abc": unigrams P=1 R=2/3, bigrams P=1 R=1/2 (trigrams: hyp has none, order skipped)
    p, r = 1.0, (2 / 3 + 1 / 2) / 2
    assert chrf("ab", "abc") == pytest.approx(5 * p * r / (4 * p + r))
    assert chrf("", "abc") == 0.0
    assert chrf("a b", "ab") == pytest.approx(1.0)  # whitespace is ignored
    assert value(ChrF(), ["abc"], ["abc"]) == {"chrf": pytest.approx(1.0)}


def test_classification_macro_scores_and_confusion_by_hand():
    gold = ["billing", "billing", "billing", "technical", "technical", "account"]
    pred = ["billing", "billing", "technical", "technical", "refund?", "account"]
    metric = Classification()
    got = value(metric, pred, gold)
    # billing P=2/2 R=2/3 F1=0.8; technical P=1/2 R=1/2 F1=0.5; account P=1 R=1 F1=1
    assert got["accuracy"] == pytest.approx(4 / 6)
    assert got["macro_precision"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert got["macro_recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert got["macro_f1"] == pytest.approx((0.8 + 0.5 + 1) / 3)
    data = ScoringInput(predictions=pred, references=gold)
    details = metric.details(data, metric.stats(data))
    assert details["labels"] == ["account", "billing", "technical"]
    assert details["confusion_matrix"]["columns"][-1] == "(other)"
    assert details["confusion_matrix"]["counts"] == [[1, 0, 0, 0], [0, 2, 1, 0], [0, 0, 1, 1]]
    assert details["unknown_predictions"] == 1
    assert details["per_class"]["billing"]["f1"] == pytest.approx(0.8)


def test_classification_labels_are_case_insensitive_by_default():
    assert value(Classification(), ["BILLING"], ["billing"])["accuracy"] == 1.0


def test_json_validity_and_schema_compliance():
    schema = {
        "type": "object",
        "properties": {"queue": {"enum": ["billing", "technical"]}, "priority": {"type": "integer", "minimum": 1}},
        "required": ["queue"],
        "additionalProperties": False,
    }
    predictions = ['{"queue": "billing", "priority": 2}', '{"queue": "sales"}', "not json",
                   '{"queue": "technical", "extra": 1}', '```json\n{"queue": "billing"}\n```']
    refs = [""] * len(predictions)
    assert value(JsonValid(), predictions, refs)["json_valid"] == pytest.approx(3 / 5)
    assert value(JsonValid(allow_code_fence=True), predictions, refs)["json_valid"] == pytest.approx(4 / 5)
    assert value(JsonSchema(schema=schema), predictions, refs)["json_schema"] == pytest.approx(1 / 5)
    assert schema_errors({"queue": "sales"}, schema) == ["$.queue: 'sales' is not one of ['billing', 'technical']"]
    assert schema_errors({"priority": 0}, schema) == ["$: missing required 'queue'", "$.priority: 0 breaks minimum 1"]
    assert schema_errors([1, 1], {"type": "array", "uniqueItems": True, "items": {"type": "integer"}}) == [
        "$: items are not unique"
    ]
    assert schema_errors("x", {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^x$"}]}) == []


def test_contains_and_custom_callables():
    assert value(Contains(), ["The answer is Paris."], ["paris"]) == {"contains": 1.0}

    def starts_with_reference(prediction, reference):
        return prediction.startswith(reference)

    def skip_empty(prediction, reference, example):
        return None if not reference else len(prediction) == len(reference)

    assert value(FunctionMetric(starts_with_reference), ["billing now", "x"], ["billing", "y"]) == {
        "starts_with_reference": 0.5
    }
    metric = FunctionMetric(skip_empty)
    stats = metric.stats(ScoringInput(predictions=["ab", "c"], references=["xy", ""]))
    assert np.isnan(metric.example_scores(stats)[1])
    assert float(metric.values(stats.sum(axis=0))["skip_empty"]) == 1.0


def test_registry_resolves_names_once_and_rejects_unknown():
    metrics = resolve_metrics(["exact_match", "accuracy", "macro_f1", "tokens", len])
    assert [m.name for m in metrics] == ["exact_match", "classification", "prompt_tokens", "completion_tokens", "len"]
    with pytest.raises(ConfigError, match="Unknown metric"):
        resolve_metrics(["bleu"])
    with pytest.raises(ConfigError, match="JsonSchema"):
        resolve_metrics(["json_schema"])


def test_judge_score_parsing():
    assert parse_score("Routes to billing correctly.\nScore: 4", 1, 5) == 4.0
    assert parse_score("Score: 2 ... on reflection, **Score: 5**", 1, 5) == 5.0
    assert parse_score("Score: 9", 1, 5) is None
    assert parse_score("no verdict", 1, 5) is None
