"""Fine-tune on Together AI, follow the job, download the adapter, deploy it and check it beats its base.

Runs offline out of the box: without TOGETHER_API_KEY it starts ftkit's Together emulator on 127.0.0.1
and the real ``together`` client talks to it. With a key, the same code trains on Together (billed)::

    python examples/together_job.py                         # emulator
    TOGETHER_API_KEY=... python examples/together_job.py    # Together AI

Together answers a fine-tune only from a dedicated endpoint, billed per minute per replica while it exists:
the script deploys it inside a ``with`` block, which deletes it whatever happens (see
docs/providers/together.md). The downloaded adapter can also be evaluated locally with PEFT.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ftkit.providers.together.testing import together_server

from ftkit import FineTuneJob
from ftkit.model import TrainedModel
from ftkit.testing import colour_examples

MODEL = "Qwen/Qwen3-8B"


def main() -> None:
    offline = not os.environ.get("TOGETHER_API_KEY")
    with together_server() if offline else contextlib.nullcontext() as server:
        connection = {"api_key": server.api_key, "base_url": server.base_url, "poll_interval": 0.1} if offline else {}
        examples = colour_examples(16)
        train, held_out = examples[:12], examples[12:]

        job = FineTuneJob(provider="together", model=MODEL, train=train, epochs=3, lora_r=16, suffix="colours",
                          options={"n_checkpoints": 2, "train_on_inputs": "auto"}, **connection)
        estimate = job.estimate()
        print(f"estimate: {estimate.billed_tokens} billed tokens, ${estimate.cost_usd or 0:.4f}")
        job.start()
        tuned = job.wait(timeout=6 * 3600, on_event=print)
        actual = job.record.actual or {}
        print(f"model: {tuned.model_id}; Together billed {actual.get('trained_tokens')} tokens, "
              f"${actual.get('cost_usd', 0):.6f} (estimated ${estimate.cost_usd or 0:.6f})")

        print(f"final train loss {tuned.metrics.get('train_loss')}, {len(tuned.info['loss_curves']['train_loss'])} steps")

        adapter = tuned.download(Path(tempfile.mkdtemp()) / "adapter", kind="adapter")
        print(f"adapter: {sorted(p.name for p in adapter.iterdir())} in {adapter}")

        prompts = [e["messages"][:-1] for e in examples]
        labels = [e["messages"][-1]["content"] for e in examples]

        def score(model: TrainedModel) -> None:
            answers = model.generate(prompts, max_new_tokens=4, concurrency=4)
            right = sum(a.text.strip().lower() == y for a, y in zip(answers, labels, strict=True))
            print(f"{model.label}: exact match {right}/{len(labels)} ({len(held_out)} prompts held out of training)")

        score(TrainedModel.from_ref(f"together:{MODEL}", **connection))  # a base model answers serverless
        with tuned.deploy() as deployment:  # deleted when the block ends, on success, error or Ctrl-C
            print(f"deployment {deployment.id}: ${deployment.price_per_hour}/hour while it exists")
            deployment.wait_ready(poll_interval=0.1 if offline else 15.0,
                                  on_progress=lambda d: print(f"  {d.state} ({d.id})"))
            score(deployment.model)


if __name__ == "__main__":
    main()
