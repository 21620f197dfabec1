"""Throughput and peak memory of ``ftkit validate`` next to the OpenAI cookbook's checks, on the same file.

    python benchmarks/validate.py                        # short, long and mixed, 200,000 examples each
    python benchmarks/validate.py --shape short --repeat 5
    python benchmarks/validate.py --examples 20000 --single

Shapes: ``short`` (routing tickets: a system prompt, one user ticket, a one-word label; about 50 tokens and
350 bytes a line, from a dozen ticket families, so with duplicates and near-duplicates), ``long`` (1-3 turns
of English prose, about 2 KB a line) and ``mixed`` (each example one or the other).

Both run as separate processes on the same generated chat file, so each one's peak RSS is its own:

* cookbook: ``Chat_finetuning_data_prep.ipynb`` reimplemented faithfully (load the whole file, its format
  checks, ``num_tokens_from_messages`` with tiktoken ``cl100k_base`` per string, assistant tokens,
  missing system/user counts, distributions, examples over 16,385 tokens);
* ftkit: ``ftkit validate FILE --provider openai --model gpt-4o-mini-2024-07-18 --json`` (exact o200k_base
  token counts, every structural check, exact and near-duplicate detection, statistics, every issue listed),
  on every core.

The two alternate ``--repeat`` times; the best run of each counts, and every run prints its wall and CPU
seconds and the machine's load average before and after it, so a run slowed by other work shows. Peak RSS
is sampled every 20 ms with psutil: the ftkit main process alone and the sum over its process tree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEEDS = Path("/work/shared/seeds")
FALLBACK_TEXT = (
    "the model learns from examples that show the task clearly and a good answer is short specific and "
    "polite while a bad answer repeats the question or invents facts about the order the refund or the "
    "account settings so we check every reply before training and keep the data clean and varied"
)


def _vocabulary() -> tuple[np.ndarray, np.ndarray]:
    text = " ".join(p.read_text(errors="ignore") for p in sorted(SEEDS.glob("*.txt"))) if SEEDS.is_dir() else ""
    words = [w.strip(".,;:()[]\"'") for w in (text or FALLBACK_TEXT).split()]
    words = [w for w in words if w.isalpha() and len(w) < 15]
    unique, counts = np.unique(np.asarray(words), return_counts=True)
    return unique, counts / counts.sum()


SYSTEM_LONG = "You are a helpful support assistant for Acme. Answer briefly, politely and accurately."
SYSTEM_SHORT = ("You route Acme support tickets. Read the ticket and answer with exactly one label: billing, "
                "shipping, returns, account, technical or other.")
LABELS = ("billing", "shipping", "returns", "account", "technical", "other")
#: Ticket families as users write them: a fixed frame, a few slots, some free words. Rows of one family
#: with the same slot values are near-copies (the shared system prompt counts in their similarity too).
TICKETS = (
    ("billing", "I was charged twice for order {n} last {day}, please refund the second payment {w}"),
    ("billing", "Why does my invoice for {month} show {n} dollars more than my plan {w}"),
    ("shipping", "My package {n} has not arrived yet and the tracking page says {w}"),
    ("shipping", "Can you ship order {n} to my office address instead {w}"),
    ("returns", "I want to return the {item} from order {n} because {w}"),
    ("returns", "The {item} I received is broken, how do I send it back {w}"),
    ("account", "I cannot log in since {day}, the reset link does not work {w}"),
    ("account", "Please delete my account and all data linked to {item} {w}"),
    ("technical", "The app crashes when I open the {item} page on my phone {w}"),
    ("technical", "Error {n} appears every time I try to sync my {item} {w}"),
    ("other", "Do you have a store near {item} street where I can pick things up {w}"),
    ("other", "Who can I talk to about a partnership with {item} {w}"),
)
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "weekend")
MONTHS = ("january", "february", "march", "april", "may", "june")
ITEMS = ("blender", "headphones", "desk lamp", "kettle", "backpack", "charger", "camera", "jacket")


class _Writer:
    """Deterministic example generators for the three shapes."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        vocab, p = _vocabulary()
        self.pool = self.rng.choice(vocab, size=2_000_000, p=p)
        self.cursor = 0

    def words(self, n: int) -> str:
        if self.cursor + n > len(self.pool):
            self.cursor = 0
        words = self.pool[self.cursor : self.cursor + n]
        self.cursor += n + int(self.rng.integers(0, 50))
        return " ".join(words)

    def long(self) -> dict:
        """A shared system prompt, 1-3 turns, English word frequencies, about 2 KB a line."""
        messages = [{"role": "system", "content": SYSTEM_LONG}]
        for _ in range(int(self.rng.choice([1, 1, 2, 3]))):
            messages.append({"role": "user", "content": self.words(int(self.rng.integers(18, 85))).capitalize() + "."})
            messages.append({"role": "assistant",
                             "content": self.words(int(self.rng.integers(36, 180))).capitalize() + "."})
        return {"messages": messages}

    def short(self) -> dict:
        """A routing example: the system prompt, one ticket, a one-word label; about 50 tokens."""
        rng = self.rng
        label, frame = TICKETS[int(rng.integers(len(TICKETS)))]
        ticket = frame.format(n=int(rng.integers(100, 140)), day=DAYS[int(rng.integers(len(DAYS)))],
                              month=MONTHS[int(rng.integers(len(MONTHS)))], item=ITEMS[int(rng.integers(len(ITEMS)))],
                              w=self.words(int(rng.integers(0, 6))))
        if rng.random() < 0.05:  # some tickets carry another label than their family's (real data is noisy)
            label = LABELS[int(rng.integers(len(LABELS)))]
        return {"messages": [{"role": "system", "content": SYSTEM_SHORT},
                             {"role": "user", "content": ticket.strip().capitalize() + "."},
                             {"role": "assistant", "content": label}]}


SHAPES = ("short", "long", "mixed")


def generate(path: Path, examples: int, seed: int = 0, shape: str = "long") -> None:
    """A chat file of ``shape``: ``short`` (routing tickets, ~50 tokens), ``long`` (~2 KB lines) or
    ``mixed`` (each example short or long at random, half and half)."""
    writer = _Writer(seed)
    make = {"short": writer.short, "long": writer.long}
    with path.open("w", encoding="utf-8") as f:
        for _ in range(examples):
            kind = shape if shape != "mixed" else ("short" if writer.rng.random() < 0.5 else "long")
            f.write(json.dumps(make[kind]()) + "\n")


COOKBOOK = r'''
import json, sys
from collections import defaultdict
import numpy as np
import tiktoken
from ftkit.estimation.tiktoken_offline import seed_tiktoken_cache

seed_tiktoken_cache("cl100k_base")  # tiktoken's own rank file, written offline and checked by its hash
encoding = tiktoken.get_encoding("cl100k_base")
data_path = sys.argv[1]

with open(data_path, "r", encoding="utf-8") as f:
    dataset = [json.loads(line) for line in f]

format_errors = defaultdict(int)
for ex in dataset:
    if not isinstance(ex, dict):
        format_errors["data_type"] += 1
        continue
    messages = ex.get("messages", None)
    if not messages:
        format_errors["missing_messages_list"] += 1
        continue
    for message in messages:
        if "role" not in message or "content" not in message:
            format_errors["message_missing_key"] += 1
        if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
            format_errors["message_unrecognized_key"] += 1
        if message.get("role", None) not in ("system", "user", "assistant", "function"):
            format_errors["unrecognized_role"] += 1
        content = message.get("content", None)
        function_call = message.get("function_call", None)
        if (not content and not function_call) or not isinstance(content, str):
            format_errors["missing_content"] += 1
    if not any(message.get("role", None) == "assistant" for message in messages):
        format_errors["example_missing_assistant_message"] += 1

def num_tokens_from_messages(messages, tokens_per_message=3, tokens_per_name=1):
    num_tokens = 0
    for message in messages:
        num_tokens += tokens_per_message
        for key, value in message.items():
            num_tokens += len(encoding.encode(value))
            if key == "name":
                num_tokens += tokens_per_name
    num_tokens += 3
    return num_tokens

def num_assistant_tokens_from_messages(messages):
    num_tokens = 0
    for message in messages:
        if message["role"] == "assistant":
            num_tokens += len(encoding.encode(message["content"]))
    return num_tokens

def print_distribution(values, name):
    print(f"#### Distribution of {name}:")
    print(f"min / max: {min(values)}, {max(values)}")
    print(f"mean / median: {np.mean(values)}, {np.median(values)}")
    print(f"p5 / p95: {np.quantile(values, 0.1)}, {np.quantile(values, 0.9)}")

n_missing_system = 0
n_missing_user = 0
n_messages = []
convo_lens = []
assistant_message_lens = []
for ex in dataset:
    messages = ex["messages"]
    if not any(message["role"] == "system" for message in messages):
        n_missing_system += 1
    if not any(message["role"] == "user" for message in messages):
        n_missing_user += 1
    n_messages.append(len(messages))
    convo_lens.append(num_tokens_from_messages(messages))
    assistant_message_lens.append(num_assistant_tokens_from_messages(messages))

print("Num examples missing system message:", n_missing_system)
print("Num examples missing user message:", n_missing_user)
print_distribution(n_messages, "num_messages_per_example")
print_distribution(convo_lens, "num_total_tokens_per_example")
print_distribution(assistant_message_lens, "num_assistant_tokens_per_example")
n_too_long = sum(l > 16385 for l in convo_lens)
print(f"{n_too_long} examples may be over the 16,385 token limit")
print("errors:", dict(format_errors), "total tokens:", sum(convo_lens))
'''


def run(command: list[str]) -> dict[str, float | str]:
    """Wall seconds, CPU seconds (the process and its children), peak RSS (MB, the process / its tree), stdout."""
    import resource
    import threading

    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    handle = psutil.Process(process.pid)
    peak_main = peak_tree = 0
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(process.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    while process.poll() is None:
        try:
            main = handle.memory_info().rss
            tree = main + sum(c.memory_info().rss for c in handle.children(recursive=True))
        except psutil.Error:
            continue
        peak_main, peak_tree = max(peak_main, main), max(peak_tree, tree)
        time.sleep(0.02)
    reader.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "rss": peak_main / 2**20, "rss_tree": peak_tree / 2**20, "out": "".join(chunks)}


def _line(name: str, r: dict, examples: int) -> str:
    return (f"  {name:16s} {r['wall']:6.2f} s  {examples / r['wall']:9,.0f} examples/s  CPU {r['cpu']:6.2f} s  "
            f"RSS {r['rss']:4.0f} MB ({r['rss_tree']:4.0f} MB with helpers)  load {r['load_before']:.2f}"
            f"->{r['load_after']:.2f}")


def _timed(command: list[str]) -> dict:
    load_before = os.getloadavg()[0]
    r = run(command)
    r["load_before"], r["load_after"] = load_before, os.getloadavg()[0]
    return r


def bench_shape(shape: str, examples: int, repeat: int, single: bool, directory: Path) -> dict:
    """Cookbook and ftkit alternately, ``repeat`` times each, on one generated file of ``shape``."""
    path = directory / f"{shape}.jsonl"
    started = time.perf_counter()
    generate(path, examples, shape=shape)
    print(f"\n{shape}: {examples:,} examples, {path.stat().st_size / 2**20:.0f} MB "
          f"(generated in {time.perf_counter() - started:.1f} s)")
    script = directory / "cookbook.py"
    script.write_text(COOKBOOK)
    ftkit = [str(Path(sys.executable).parent / "ftkit"), "validate", str(path), "--provider", "openai",
             "--model", "gpt-4o-mini-2024-07-18", "--json"]  # as a user runs it: every issue listed
    cook_runs, fast_runs = [], []
    for i in range(repeat):
        cook_runs.append(_timed([sys.executable, str(script), str(path)]))
        print(_line(f"cookbook #{i + 1}", cook_runs[-1], examples))
        fast_runs.append(_timed(ftkit))
        print(_line(f"ftkit #{i + 1}", fast_runs[-1], examples))
        if i == 0:
            report = json.loads(fast_runs[-1]["out"])
            print(f"  {'':16s} ok={report['ok']} tokens={report['stats']['total_tokens']:,} "
                  f"issues={report['issue_counts']} clustered lines={report.get('clustered_lines')}")
    if single:
        one = _timed([*ftkit, "--workers", "1"])
        print(_line("ftkit 1 process", one, examples))
    cook = min(cook_runs, key=lambda r: r["wall"])
    fast = min(fast_runs, key=lambda r: r["wall"])
    paired = sorted(c["wall"] / f["wall"] for c, f in zip(cook_runs, fast_runs, strict=True))
    return {"shape": shape, "cook": cook, "fast": fast, "paired": paired,
            "loads": [r["load_before"] for r in cook_runs + fast_runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=SHAPES, action="append",
                        help="short, long or mixed (repeat the option for several; default: all three)")
    parser.add_argument("--examples", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the best one counts")
    parser.add_argument("--single", action="store_true", help="also run ftkit in one process")
    parser.add_argument("--keep", type=Path, help="write the generated files into this directory and keep them")
    args = parser.parse_args()
    shapes = args.shape or list(SHAPES)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} (other work slows every run: compare "
          "runs made at similar load, and the CPU seconds)")
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        results = [bench_shape(shape, args.examples, args.repeat, args.single, directory) for shape in shapes]
    print("\nshape   cookbook (best)  ftkit (best)  ratio  paired ratios     ftkit CPU  cookbook CPU  ftkit RSS  load")
    for r in results:
        cook, fast = r["cook"], r["fast"]
        ratio = cook["wall"] / fast["wall"]
        print(f"{r['shape']:7s} {cook['wall']:13.2f} s {fast['wall']:10.2f} s  {ratio:4.2f}x  "
              f"{' '.join(f'{x:.2f}' for x in r['paired']):16s}  {fast['cpu']:7.2f} s  {cook['cpu']:9.2f} s  "
              f"{fast['rss_tree']:6.0f} MB  {min(r['loads']):.2f}-{max(r['loads']):.2f}")
    print("targets: ratio >= 2x for every shape (throughput on every core, against the cookbook in the same run); "
          "ftkit RSS (with helpers) < 400 MB")


if __name__ == "__main__":
    main()
