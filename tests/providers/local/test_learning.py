"""Training the tiny model measurably learns: held-out loss drops and exact-match accuracy rises."""

from __future__ import annotations

import pytest

from ftkit.model import TrainedModel
from ftkit.testing.samples import colour_examples

from .conftest import local_job

pytestmark = pytest.mark.slow


def _exact_match(model: TrainedModel, examples: list[dict]) -> float:
    prompts = [e["messages"][:-1] for e in examples]
    answers = model.generate(prompts, max_new_tokens=4, batch_size=16)
    right = [a.text.strip() == e["messages"][-1]["content"] for a, e in zip(answers, examples, strict=True)]
    return sum(right) / len(right)


def test_held_out_loss_drops_and_accuracy_rises(tiny, store) -> None:
    examples = colour_examples(80)
    train, held_out = examples[:64], examples[64:]
    job = local_job(store, tiny, train=train, validation=held_out, learning_rate=3e-3, batch_size=8,
                    options={"max_steps": 120, "save_steps": 40, "logging_steps": 20})
    job.start()
    model = job.wait(timeout=240)
    base = TrainedModel.from_ref(tiny)

    provider = model.provider_instance()
    def mean_loss(m: TrainedModel) -> float:
        losses = provider.loss(m, held_out)
        return sum(x.total_nll for x in losses) / sum(x.tokens for x in losses)

    base_loss, tuned_loss = mean_loss(base), mean_loss(model)
    assert tuned_loss < base_loss - 1.0, (base_loss, tuned_loss)  # nats per reference token
    assert abs(tuned_loss - model.metrics["best_eval_loss"]) < 0.05, "loss() agrees with the trainer's eval_loss"
    base_acc, tuned_acc = _exact_match(base, held_out), _exact_match(model, held_out)
    assert tuned_acc >= base_acc + 0.5, (base_acc, tuned_acc)
