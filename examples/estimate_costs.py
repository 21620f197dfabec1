"""What would this fine-tune cost on OpenAI, on Together, and on a rented GPU? Offline, in a second.

Run:  python examples/estimate_costs.py

It writes a small chat dataset, then prints the plan table's numbers from the Python API: tokens (exact
for OpenAI, approximate for open models whose tokenizer is not in the local Hugging Face cache), epochs,
billed tokens, dollars, memory per GPU and time, then the monthly inference break-even.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ftkit.estimation import breakeven, plan


def write_dataset(path: Path, n: int = 200) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"messages": [
                {"role": "system", "content": "You classify support tickets as billing, bug or other."},
                {"role": "user", "content": f"Ticket {i}: I was charged twice for my subscription this month."},
                {"role": "assistant", "content": "billing"},
            ]}) + "\n")
    return path


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = write_dataset(Path(tmp) / "tickets.jsonl")
        estimates = plan(
            str(data),
            targets=[
                ("openai", "gpt-4o-mini"),
                ("together", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"),
                ("local", "Qwen/Qwen2.5-7B-Instruct"),
            ],
            adapter="lora",
        )
    for est in estimates:
        approx = f" (approximate, ±{est.tokens.expected_error:.0%})" if est.tokens.method == "approximate" else ""
        print(f"\n== {est.provider}: {est.model}")
        print(f"   {est.tokens.examples} examples, {est.tokens.total_tokens:,} tokens{approx}, "
              f"{est.tokens.trained_tokens:,} trained; {est.epochs} epochs ({est.epochs_source})")
        if est.billed_tokens is not None:
            print(f"   billed tokens {est.billed_tokens:,} -> ${est.cost_usd}")
        for gpu in est.gpus:
            fit = f"fits, batch up to {gpu.max_batch_size}" if gpu.fits else "does not fit"
            cost = f"${gpu.cost_usd:.4f}" if gpu.cost_usd is not None else "-"
            print(f"   {gpu.gpu:<10} {gpu.required_memory_gb:5.1f}/{gpu.gpu_memory_gb:5.1f} GB {fit:<26} "
                  f"{gpu.duration_hours * 60:6.1f} min  {cost}")
        for warning in est.warnings + est.errors:
            print(f"   ! {warning}")

    b = breakeven(monthly_tokens=300e6, managed_model="gpt-4o-mini", self_hosted_model="Qwen/Qwen2.5-7B-Instruct",
                  gpu="L4")
    print(f"\nServing 300M tokens/month: managed ${b.managed_usd_per_month:,.0f} vs self-hosted "
          f"${b.self_hosted_usd_per_month:,.0f} on {b.gpus_needed} x {b.gpu}; {b.cheaper} is cheaper "
          f"(they cross at {b.breakeven_tokens_per_month or 0:,.0f} tokens/month).")
    for note in b.assumptions:
        print(f"   - {note}")


if __name__ == "__main__":
    main()
