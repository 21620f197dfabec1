"""Compare a base model, its LoRA fine-tune and a planned OpenAI fine-tune on the bundled ticket data.

Runs offline on a CPU in a couple of minutes: .venv/bin/python examples/compare_models.py
"""

from __future__ import annotations

from pathlib import Path

import ftkit
from ftkit.demo import data_path
from ftkit.evaluation import Candidate
from ftkit.testing.tiny import default_corpus, tiny_model


def main() -> None:
    base = tiny_model(Path("example-out/tiny-base"), corpus=default_corpus())
    job = ftkit.FineTuneJob(
        provider="local", model=str(base), train=str(data_path("train")), validation=str(data_path("validation")),
        adapter="lora", lora_r=16, lora_alpha=32, learning_rate=3e-3, batch_size=16, seed=0,
        options={"max_steps": 120},
    )
    job.start()
    tuned = job.wait()
    planned = ftkit.FineTuneJob(provider="openai", model="gpt-4o-mini-2024-07-18", train=str(data_path("train")))

    result = ftkit.evaluate(tuned, data_path("test"), metrics=["exact_match", "macro_f1"], base=True,
                            regression=True, max_new_tokens=8)
    diff = result.comparison.differences["exact_match"]
    print(f"exact match {diff.baseline:.2f} -> {diff.candidate:.2f}, "
          f"difference {diff.diff:+.2f} [{diff.low:+.2f}, {diff.high:+.2f}] ({diff.verdict})")

    report = ftkit.compare(
        [Candidate(name="base", model=str(base)), Candidate(name="LoRA fine-tune", model=tuned),
         Candidate(name="OpenAI fine-tune (planned)", provider="openai", base_model="gpt-4o-mini-2024-07-18",
                   estimate=planned.estimate())],
        test=data_path("test"), metrics=["exact_match", "macro_f1"], monthly_tokens=20e6, max_new_tokens=8,
    )
    from rich import print as rich_print

    rich_print(report.table())
    print("report:", report.save_html("example-out/report.html").resolve())


if __name__ == "__main__":
    main()
