"""Fine-tune on Fireworks AI, deploy the fine-tune on demand, check it beats its base, download the adapter.

Runs offline out of the box: without FIREWORKS_API_KEY it starts ftkit's Fireworks emulator on 127.0.0.1
and the real ``fireworks-ai`` client talks to it. With a key (and FIREWORKS_ACCOUNT_ID), the same code
trains on Fireworks (billed)::

    python examples/fireworks_job.py                                                # emulator
    FIREWORKS_API_KEY=... FIREWORKS_ACCOUNT_ID=... python examples/fireworks_job.py # Fireworks AI

A LoRA fine-tune on Fireworks answers only through an on-demand deployment billed per GPU-second: the
script deploys it inside a ``with`` block, which deletes it whatever happens (docs/providers/fireworks.md).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ftkit.providers.fireworks.testing import fireworks_server

from ftkit import FineTuneJob
from ftkit.model import TrainedModel
from ftkit.testing import colour_examples

MODEL = "llama-v3p1-8b-instruct"


def main() -> None:
    offline = not os.environ.get("FIREWORKS_API_KEY")
    with fireworks_server(deploy_seconds=2.0) if offline else contextlib.nullcontext() as server:
        connection = ({"api_key": server.api_key, "account_id": server.account_id, "base_url": server.base_url,
                       "poll_interval": 0.1} if offline else {})  # fmt: skip
        examples = colour_examples(16)
        job = FineTuneJob(provider="fireworks", model=MODEL, train=examples[:12], epochs=3, lora_r=16,
                          suffix="colours", **connection)  # fmt: skip
        estimate = job.estimate()
        print(f"estimate: {estimate.billed_tokens} billed tokens, ${estimate.cost_usd or 0:.4f}")
        job.start()
        tuned = job.wait(timeout=6 * 3600, on_event=print)
        print(f"model: {tuned.model_id}; final train loss {tuned.metrics.get('train_loss')}")

        prompts = [e["messages"][:-1] for e in examples]
        labels = [e["messages"][-1]["content"] for e in examples]

        def score(model: TrainedModel) -> None:
            answers = model.generate(prompts, max_new_tokens=4, concurrency=4)
            right = sum(a.text.strip().lower() == y for a, y in zip(answers, labels, strict=True))
            print(f"{model.label}: exact match {right}/{len(labels)} (4 prompts held out of training)")

        score(TrainedModel.from_ref(f"fireworks:{MODEL}", **connection))  # a base model answers serverless
        with tuned.deploy() as deployment:  # one H100 replica until the block ends
            deployment.wait_ready(poll_interval=0.2 if offline else 10.0)
            print(f"deployment {deployment.remote_id}: ${deployment.price_per_hour}/hour")
            score(deployment.model)
        print(f"deployment {deployment.state.value} after {deployment.hours * 60:.2f} minutes")

        adapter = tuned.download(Path(tempfile.mkdtemp()) / "adapter")
        print(f"adapter: {sorted(p.name for p in adapter.iterdir())} in {adapter}")


if __name__ == "__main__":
    main()
