"""Fine-tune on OpenAI, follow the job, and check the fine-tune beats its base model.

Runs offline out of the box: without OPENAI_API_KEY it starts ftkit's OpenAI emulator on 127.0.0.1 and
the real ``openai`` client talks to it. With a key (and an org OpenAI still lets fine-tune, before
2027-01-06), the same code trains on OpenAI::

    python examples/openai_job.py                      # emulator
    OPENAI_API_KEY=sk-... python examples/openai_job.py  # OpenAI (billed!)

Moving the job elsewhere is one argument: ``provider="together"`` (with a Together model name) or
``provider="local"``.
"""

from __future__ import annotations

import contextlib
import os

from ftkit.providers.openai.testing import openai_server

from ftkit import FineTuneJob
from ftkit.model import TrainedModel
from ftkit.testing import colour_examples

MODEL = "gpt-4o-mini-2024-07-18"


def main() -> None:
    offline = not os.environ.get("OPENAI_API_KEY")
    with openai_server() if offline else contextlib.nullcontext() as server:
        connection = {"api_key": server.api_key, "base_url": server.base_url, "poll_interval": 0.1} if offline else {}
        examples = colour_examples(40)
        train, held_out = examples[:30], examples[30:]

        job = FineTuneJob(provider="openai", model=MODEL, train=train, epochs=2, suffix="colours",
                          options={"learning_rate_multiplier": 0.5, "metadata": {"project": "ftkit-example"}},
                          **connection)
        estimate = job.estimate()
        print(f"estimate: {estimate.billed_tokens} billed tokens, ${estimate.cost_usd or 0:.4f}")
        job.start()
        tuned = job.wait(timeout=3600, on_event=print)
        print(f"model: {tuned.model_id}  final train_loss={tuned.metrics.get('train_loss')}")
        record = job.record
        print(f"OpenAI trained on {record.actual['trained_tokens']} tokens (estimated {estimate.billed_tokens})")

        base = TrainedModel.from_ref(f"openai:{MODEL}", **connection)
        prompts = [e["messages"][:-1] for e in held_out]
        labels = [e["messages"][-1]["content"] for e in held_out]
        for model in (base, tuned):
            answers = model.generate(prompts, max_new_tokens=4, concurrency=4)
            accuracy = sum(a.text.strip().lower() == y for a, y in zip(answers, labels, strict=True)) / len(labels)
            print(f"{model.label}: exact match {accuracy:.0%} on {len(labels)} held-out prompts")


if __name__ == "__main__":
    main()
