"""Validate, convert, deduplicate and split a dataset before paying for a fine-tune.

    python examples/validate_data.py

Runs offline in a few seconds: it writes a small Alpaca-style dataset with a few typical mistakes,
validates it for OpenAI, fixes what can be fixed automatically (duplicates, format), splits it without
leakage and validates the result again.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import ftkit.data as data


def make_dataset(path: Path) -> None:
    rows = [
        {"instruction": f"Convert {i} degrees Celsius to Fahrenheit.", "input": "", "output": f"{i * 9 / 5 + 32:g} F"}
        for i in range(-20, 130)
    ]
    rows.append(rows[10])  # an exact duplicate
    rows.append({"instruction": "Convert 5 degrees Celsius to Fahrenheit.", "output": "   "})  # empty answer
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def show(title: str, report: data.ValidationReport) -> None:
    print(f"\n== {title}: ok={report.ok}, {report.stats.examples} examples, format {report.stats.format}")
    print(f"   tokens/example {report.stats.tokens_per_example} ({report.stats.tokenizer})")
    for issue in report.issues[:8]:
        print("  ", issue.format())
    if len(report.issues) > 8:
        print(f"   ... {len(report.issues) - 8} more; counts: {report.issue_counts}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        raw = work / "raw.jsonl"
        make_dataset(raw)

        # 1. What would OpenAI say? Alpaca rows are not an OpenAI format, one answer is empty, one row repeats.
        show("raw data for OpenAI", data.validate(raw, provider="openai", model="gpt-4o-mini"))

        # 2. Drop the broken row (its line number is in the report), then deduplicate.
        report = data.validate(raw)
        broken = {i.line for i in report.errors}
        clean = work / "clean.jsonl"
        clean.write_text("".join(json.dumps(r) + "\n" for n, r in data.iter_records(raw) if n not in broken))
        deduped = data.dedup(clean, work / "dedup.jsonl")
        print(f"\ndedup removed {[(r.line, r.kind, r.duplicate_of) for r in deduped.removed]}")

        # 3. Split without leakage, convert to OpenAI's chat format, and validate train + validation together.
        splits = data.split(deduped.path, work / "splits", train=0.8, validation=0.2, test=0.0, seed=0)
        train = data.convert(splits.paths["train"], "openai", out=work / "train.openai.jsonl")
        val = data.convert(splits.paths["validation"], "openai", out=work / "val.openai.jsonl")
        show("converted splits for OpenAI", data.validate(train, validation=val, provider="openai",
                                                          model="gpt-4o-mini", max_seq_length=512))

        # 4. The canonical form providers train from, and what evaluation compares against.
        first = next(data.iter_records(splits.paths["train"]))[1]
        print("\ncanonical:", data.to_chat(first))
        print("reference:", data.reference_of(first))


if __name__ == "__main__":
    main()
