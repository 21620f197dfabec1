"""Evaluation speed: batched local generation and concurrent managed calls, against their baselines.

1. Local: ftkit's batched, left-padded greedy generation (the path `ftkit eval` takes) against the
   one-prompt-at-a-time loop fine-tuning guides show (tokenize, generate, decode per example).
   Same model, same prompts; the outputs must be identical. Target: at least 5x.
2. Managed: `ftkit.evaluate` against the OpenAI emulator with a fixed 100 ms latency per call, against
   the ideal throughput of the configured concurrency (calls x 0.1 s / concurrency). Target: >= 80%.

Run: .venv/bin/python benchmarks/eval.py [--examples 120] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


def local_benchmark(n: int, max_new_tokens: int) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftkit.demo import data_path
    from ftkit.evaluation import load_test
    from ftkit.model import TrainedModel
    from ftkit.testing.tiny import default_corpus, tiny_model
    from ftkit.types import GenerationSettings

    base = tiny_model(os.path.join(os.environ["FTKIT_HOME"], "tiny"), corpus=default_corpus())
    prompts = load_test(data_path("test"), limit=n).prompts
    model = TrainedModel(provider="local", model_id=str(base))
    settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=32)
    model.generate(prompts[:2], settings)  # load the model once, outside the timing

    started = time.perf_counter()
    batched = [g.text for g in model.generate(prompts, settings)]
    batched_s = time.perf_counter() - started

    # the guides' loop: one prompt per generate() call
    tok = AutoTokenizer.from_pretrained(base)
    hf_model = AutoModelForCausalLM.from_pretrained(base).eval()
    started = time.perf_counter()
    looped = []
    for prompt in prompts:
        inputs = tok.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.no_grad():
            out = hf_model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        looped.append(tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))
    looped_s = time.perf_counter() - started

    same = sum(a == b for a, b in zip(batched, looped, strict=True))
    print(f"local: {n} prompts, {max_new_tokens} new tokens, greedy")
    print(f"  one at a time : {looped_s:7.2f} s  ({n / looped_s:6.1f} prompts/s)")
    print(f"  ftkit batched : {batched_s:7.2f} s  ({n / batched_s:6.1f} prompts/s)")
    print(f"  speed-up      : {looped_s / batched_s:7.1f}x (target >= 5x); identical outputs {same}/{n}")


def serve(latency: float) -> None:
    """Run the emulator with a fixed latency until stdin closes (the parent's process ends)."""
    from ftkit.providers.openai.testing import openai_server

    with openai_server() as server:
        server.faults.add("POST", "/v1/chat/completions", delay=latency, times=None)
        print(json.dumps({"base_url": server.base_url, "api_key": server.api_key}), flush=True)
        sys.stdin.read()


def managed_benchmark(n: int, concurrency: int, latency: float) -> None:
    from ftkit.demo import data_path
    from ftkit.evaluation import evaluate
    from ftkit.model import TrainedModel

    # The service runs in its own process, as a real one would: in this process its handler threads
    # would compete with the client for the GIL and be measured as client overhead.
    service = subprocess.Popen([sys.executable, __file__, "--serve", str(latency)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        endpoint = json.loads(service.stdout.readline())
        model = TrainedModel.from_ref("openai:gpt-4o-mini-2024-07-18", **endpoint)
        # Steady state: importing the SDK and building its client is a one-time ~0.4 s per process, paid
        # by this warm-up call (one example) rather than counted against the concurrency.
        warm_started = time.perf_counter()
        evaluate(model, data_path("test"), limit=1, cache=False)
        warm_up = time.perf_counter() - warm_started
        started = time.perf_counter()
        result = evaluate(model, data_path("test"), limit=n, concurrency=concurrency, cache=False)
        elapsed = time.perf_counter() - started
    finally:
        service.stdin.close()
        service.wait(timeout=30)
    ideal = n * latency / concurrency
    print(f"managed: {result.generated} calls, {latency * 1000:.0f} ms each, concurrency {concurrency}")
    print(f"  ideal         : {ideal:7.2f} s  ({n / ideal:6.1f} calls/s)")
    print(f"  ftkit.evaluate: {elapsed:7.2f} s  ({n / elapsed:6.1f} calls/s; SDK warm-up before it {warm_up:.2f} s)")
    print(f"  efficiency    : {ideal / elapsed:7.0%} of ideal (target >= 80%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=120)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        return serve(args.serve)
    with tempfile.TemporaryDirectory() as home:
        os.environ["FTKIT_HOME"] = home
        local_benchmark(args.examples, args.max_new_tokens)
        managed_benchmark(args.examples, args.concurrency, args.latency)


if __name__ == "__main__":
    main()
