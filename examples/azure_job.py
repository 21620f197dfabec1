"""Fine-tune a GPT model on Azure OpenAI, deploy it on the Developer tier, check it beats its base.

Runs offline out of the box: without AZURE_OPENAI_API_KEY it starts ftkit's Azure OpenAI emulator on
127.0.0.1 and the real ``openai.AzureOpenAI`` client talks to it. With a key, an endpoint and the ARM settings
(AZURE_OPENAI_ENDPOINT, AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZURE_MANAGEMENT_TOKEN), the same code
trains on your resource (billed)::

    python examples/azure_job.py                                    # emulator
    AZURE_OPENAI_API_KEY=... AZURE_OPENAI_ENDPOINT=... python examples/azure_job.py

A fine-tune on Azure answers only through a deployment; the Developer tier has no hosting fee and Azure
removes it after 24 hours, and the ``with`` block deletes it sooner (docs/providers/azure.md).
"""

from __future__ import annotations

import contextlib
import os

from ftkit.providers.azure.testing import azure_server

from ftkit import FineTuneJob
from ftkit.testing import colour_examples

MODEL = "gpt-4.1-mini-2025-04-14"


def main() -> None:
    offline = not os.environ.get("AZURE_OPENAI_API_KEY")
    with azure_server(time_scale=400, deploy_seconds=2.0) if offline else contextlib.nullcontext() as server:
        connection = {**server.connection(), "poll_interval": 0.1} if offline else {}
        examples = colour_examples(16)
        tiers = {t: FineTuneJob(provider="azure", model=MODEL, train=examples[:12], epochs=3,
                                options={"training_type": t}, **connection).estimate().cost_usd
                 for t in ("standard", "globalstandard", "developer")}  # fmt: skip
        print("training cost by tier:", {t: f"${c:.4f}" for t, c in tiers.items()})
        job = FineTuneJob(provider="azure", model=MODEL, train=examples[:12], epochs=3, suffix="colours",
                          options={"training_type": "globalstandard"}, **connection)  # fmt: skip
        job.start()
        tuned = job.wait(timeout=6 * 3600, on_event=print)
        print(f"model: {tuned.model_id}")
        prompts = [e["messages"][:-1] for e in examples]
        labels = [e["messages"][-1]["content"] for e in examples]
        with tuned.deploy(deployment_type="developer") as deployment:
            deployment.wait_ready(poll_interval=0.2 if offline else 10.0)
            answers = deployment.model.generate(prompts, max_new_tokens=4, concurrency=4)
            right = sum(a.text.strip().lower() == y for a, y in zip(answers, labels, strict=True))
            print(f"{deployment.serving_id}: exact match {right}/{len(labels)} (4 prompts held out of training)")
        print(f"deployment {deployment.state.value}; hosting ${deployment.cost_usd or 0:.2f}")


if __name__ == "__main__":
    main()
