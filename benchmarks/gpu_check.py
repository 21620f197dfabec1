"""GPU check of the local provider: every CUDA path ftkit has, through ftkit's own code, in under 5 minutes.

Each check builds its trainer with ftkit's ``resolve()`` and ``build_trainer()`` (the code a job's worker
runs), trains a few steps, and prints one JSON line: peak GPU memory (allocated and reserved) next to ftkit's
estimate for exactly those settings, tokens per second, and what was verified (dtypes, kernels, merge NLLs).

    python benchmarks/gpu_check.py                 # on one CUDA GPU; SmolLM2-135M when installed, else tiny
    python benchmarks/gpu_check.py --model ./Qwen2.5-0.5B --steps 20 --seq 1024
    python benchmarks/gpu_check.py --smoke         # CPU, tiny model: the CUDA-only checks report "skipped"

Checks: environment; SFT LoRA / QLoRA / full in bf16 and fp16; LoRA with dropout 0.05 against ftkit's 0; DPO LoRA; packing with sdpa and flex
attention; padding-free; 8-bit AdamW; the LoRA and QLoRA merge paths (NLL as trained vs merged); one
end-to-end ``FineTuneJob`` in its detached worker; the cross-rank stop vote under NCCL (gloo in smoke mode).
A check that fails prints ``"ok": false`` with the error and the script goes on; the exit code is 1 if any
failed. Record a GPU run's output, with the date, in docs/gpu.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "engineers", "measure", "memory", "on", "one", "GPU", "and", "write", "down", "every", "number", "they", "see"]


def text_rows(n: int, max_words: int, seed: int = 0) -> list[dict[str, str]]:
    """Plain-text rows of varied length (so padding, packing and padding-free differ)."""
    rng = random.Random(seed)
    return [{"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(max_words // 4, max_words)))}
            for _ in range(n)]


class Checker:
    def __init__(self, args: argparse.Namespace):
        import torch

        self.args = args
        self.torch = torch
        self.cuda = torch.cuda.is_available() and not args.smoke
        self.device = "cuda" if self.cuda else "cpu"
        self.work = Path(tempfile.mkdtemp(prefix="ftkit-gpu-check-"))
        self.model = args.model or _default_model(self.work, smoke=args.smoke)
        self.rows = text_rows(args.examples, max_words=args.seq // 2)
        self.failed = 0
        self.trained: dict[str, Any] = {}  # the first plain SFT trainer per adapter, reused by the merge check

    # -- plumbing --------------------------------------------------------------------------------

    def emit(self, record: dict[str, Any]) -> None:
        print(json.dumps(record, default=str), flush=True)

    def run(self, name: str, check: Callable[[], dict[str, Any]], *, cuda_only: bool = False) -> None:
        if cuda_only and not self.cuda:
            self.emit({"check": name, "ok": None, "skipped": "needs a CUDA GPU"})
            return
        started = time.perf_counter()
        if self.cuda:
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats()
        try:
            record = {"check": name, "ok": True, **check()}
        except Exception as e:  # a failing check is a result, not the end of the run
            self.failed += 1
            record = {"check": name, "ok": False, "error": f"{type(e).__name__}: {e}"[:2000],
                      "traceback": traceback.format_exc(limit=4)[-1500:]}
        record["seconds"] = round(time.perf_counter() - started, 2)
        if self.cuda:
            record["peak_allocated_gb"] = round(self.torch.cuda.max_memory_allocated() / 1e9, 3)
            record["peak_reserved_gb"] = round(self.torch.cuda.max_memory_reserved() / 1e9, 3)
            if record.get("estimate_gb"):
                record["estimate_over_peak"] = round(record["estimate_gb"] / max(record["peak_reserved_gb"], 1e-9), 2)
        self.emit(record)

    def spec(self, **kw: Any) -> Any:
        from ftkit.spec import JobSpec

        options = {"max_steps": self.args.steps, "logging_steps": 1, "save_steps": 10_000, "memory_fit": "off",
                   **kw.pop("options", {})}
        return JobSpec(provider="local", model=self.model, train=kw.pop("train", self.rows), batch_size=self.args.batch,
                       max_seq_length=self.args.seq, learning_rate=kw.pop("learning_rate", 1e-4), options=options, **kw)

    def train(self, spec: Any, *, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Train ``spec`` for a few steps through ftkit's resolver and trainer builder; what was verified."""
        from ftkit.providers.local._hardware import detect_hardware
        from ftkit.providers.local._options import LocalOptions
        from ftkit.providers.local._settings import resolve
        from ftkit.providers.local._training import build_trainer

        from ftkit.estimation.modeldir import find_architecture

        options = LocalOptions.model_validate(spec.options)
        options = options.model_copy(update={"device": self.device})
        hardware = detect_hardware(self.device)
        arch, _ = find_architecture(spec.model)
        settings = resolve(spec, options, hardware, arch=arch, sequence_tokens=self.args.seq)
        out = self.work / f"run-{time.monotonic_ns()}"
        trainer = build_trainer(spec, options, settings, train_rows=rows or spec.train, eval_rows=None,
                                output_dir=out, callbacks=[])
        result = trainer.train()
        if not (settings.packing or settings.padding_free) and spec.method.value == "sft":
            self.trained.setdefault(spec.adapter.value, trainer)
        model = trainer.model
        trainable = [p for p in model.parameters() if p.requires_grad]
        state = next((s for s in trainer.optimizer.state.values() if s), {}) if trainer.optimizer else {}
        tokens = trainer.state.num_input_tokens_seen or 0
        runtime = result.metrics.get("train_runtime") or float("nan")
        return {
            "settings": {k: getattr(settings, k) for k in ("dtype", "weights_dtype", "batch_size",
                                                           "gradient_checkpointing", "attn_implementation", "optim",
                                                           "packing", "padding_free")},
            "estimate_gb": settings.estimated_peak_gb,
            "loss": round(float(result.training_loss), 4),
            "finite_loss": math.isfinite(result.training_loss),
            "tokens_per_s": round(tokens / runtime, 1) if runtime == runtime and runtime > 0 else None,
            "trainable_dtype": str(trainable[0].dtype) if trainable else None,
            "optimizer_state_dtypes": sorted({str(v.dtype) for v in state.values() if hasattr(v, "dtype")}),
            "attn": getattr(model.config, "_attn_implementation", None),
            "quant_storage": str(getattr(getattr(model.config, "quantization_config", None), "bnb_4bit_quant_storage",
                                         None)),
            "fused_lm_head_triton": _fused_head_uses_triton(),
        }

    # -- checks ----------------------------------------------------------------------------------

    def environment(self) -> dict[str, Any]:
        torch = self.torch
        info: dict[str, Any] = {"torch": torch.__version__, "device": self.device, "model": str(self.model)}
        for package in ("transformers", "trl", "peft", "accelerate", "bitsandbytes", "flash_attn", "liger_kernel"):
            try:
                from importlib.metadata import version

                info[package] = version(package.replace("_", "-"))
            except Exception:
                info[package] = None
        if self.cuda:
            props = torch.cuda.get_device_properties(0)
            info.update(gpu=props.name, memory_gb=round(props.total_memory / 1e9, 1),
                        capability=f"{props.major}.{props.minor}",
                        bf16_supported=torch.cuda.is_bf16_supported(),
                        bf16_supported_without_emulation=torch.cuda.is_bf16_supported(including_emulation=False))
        return info

    def sft(self, adapter: str, dtype: str, lora_dropout: float | None = None,
            **options: Any) -> Callable[[], dict[str, Any]]:
        def check() -> dict[str, Any]:
            spec = self.spec(adapter=adapter, lora_dropout=lora_dropout, options={"dtype": dtype, **options})
            record = self.train(spec)
            if adapter == "full":
                # fp32 master weights under autocast: the trainable weights and Adam moments are fp32
                assert record["trainable_dtype"] == "torch.float32", record["trainable_dtype"]
            assert record["finite_loss"], "the loss is not finite"
            return record

        return check

    def dpo_lora(self) -> dict[str, Any]:
        from ftkit.testing.samples import preference_examples

        rows = preference_examples(self.args.examples)
        record = self.train(self.spec(method="dpo", adapter="lora", train=rows, learning_rate=5e-6))
        assert record["finite_loss"]
        return record

    def merges(self) -> dict[str, Any]:
        """NLL of a few rows: the adapter as trained, merged (LoRA), and QLoRA merged into the dequantised
        weights vs into the original ones."""
        from ftkit.providers.local._export import merge

        from ftkit.model import TrainedModel

        out: dict[str, Any] = {}
        for adapter in ("lora", "qlora"):
            spec = self.spec(adapter=adapter)
            adapter_dir = self.work / f"adapter-{adapter}"
            record = self._train_and_save(spec, adapter_dir)
            trained = TrainedModel(provider="local", model_id=str(adapter_dir), base_model=str(self.model),
                                   adapter_path=str(adapter_dir), info={"adapter": adapter})
            merged = merge(trained, self.work / f"merged-{adapter}", dtype="bfloat16")
            out[f"{adapter}_nll_as_trained"] = record["nll"]
            out[f"{adapter}_nll_merged"] = self._nll(merged)
            if adapter == "qlora":
                original = merge(trained, self.work / "merged-qlora-original", dtype="bfloat16", from_quantized=False)
                out["qlora_nll_merged_into_original_weights"] = self._nll(original)
            out[f"{adapter}_merged_dtype"] = json.loads((merged / "config.json").read_text())["dtype"]
        return out

    def end_to_end(self) -> dict[str, Any]:
        from ftkit.job import FineTuneJob
        from ftkit.store import JobStore

        job = FineTuneJob(provider="local", model=str(self.model), train=self.rows, batch_size=self.args.batch,
                          max_seq_length=self.args.seq, store=JobStore(self.work / "jobs.db"),
                          options={"max_steps": self.args.steps, "logging_steps": 1, "device": self.device})
        job.start()
        model = job.wait(timeout=600)
        settings = next(e.message for e in job.events() if e.message.startswith("settings:"))
        reply = model.generate([[{"role": "user", "content": "Say hello"}]], max_new_tokens=8)
        merged = model.merge(self.work / "e2e-merged")
        return {"state": job.status().state.value, "trained_tokens": model.metrics.get("trained_tokens"),
                "settings_event": settings[:400], "generated": reply[0].text[:80], "merged": str(merged)}

    def reduce(self) -> dict[str, Any]:
        """The per-step stop vote in a one-rank process group: NCCL on CUDA (rejects CPU tensors), gloo here."""
        backend = "nccl" if self.cuda else "gloo"
        if not self.cuda:  # gloo in this process (no second torch import): the same _agree code path
            import torch.distributed as dist
            from ftkit.providers.local._callbacks import _agree

            dist.init_process_group("gloo", init_method=f"file://{self.work / 'pg-store'}", rank=0, world_size=1)
            try:
                cpu = self.torch.device("cpu")
                assert _agree(True, device=cpu) is True and _agree(False, device=cpu) is False
            finally:
                dist.destroy_process_group()
            return {"backend": backend, "device_tensor_agrees": True}
        code = f"""
import torch, torch.distributed as dist
from ftkit.providers.local._callbacks import _agree
dist.init_process_group({backend!r}, init_method="file://{self.work / 'pg-store'}", rank=0, world_size=1)
device = torch.device("cuda", 0) if {self.cuda!r} else torch.device("cpu")
ok = _agree(True, device=device) is True and _agree(False, device=device) is False
cpu_tensor = "accepted"
try:
    dist.all_reduce(torch.tensor([1]))
except Exception as e:
    cpu_tensor = "rejected: " + type(e).__name__
dist.destroy_process_group()
print("RESULT", ok, cpu_tensor)
"""
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RESULT")), None)
        assert line is not None, result.stderr[-800:]
        _, ok, cpu_tensor = line.split(" ", 2)
        assert ok == "True", line
        return {"backend": backend, "device_tensor_agrees": True, "cpu_tensor": cpu_tensor}

    # -- helpers -----------------------------------------------------------------------------------

    def _train_and_save(self, spec: Any, adapter_dir: Path) -> dict[str, Any]:
        from ftkit.providers.local._hardware import detect_hardware
        from ftkit.providers.local._options import LocalOptions
        from ftkit.providers.local._settings import resolve
        from ftkit.providers.local._training import build_trainer

        trainer = self.trained.get(spec.adapter.value)
        if trainer is None:  # its SFT check did not run (--only) or failed: train one here
            options = LocalOptions.model_validate(spec.options).model_copy(update={"device": self.device})
            settings = resolve(spec, options, detect_hardware(self.device))
            trainer = build_trainer(spec, options, settings, train_rows=spec.train, eval_rows=None,
                                    output_dir=self.work / f"run-{time.monotonic_ns()}", callbacks=[])
            trainer.train()
        trainer.save_model(str(adapter_dir))
        trainer.processing_class.save_pretrained(str(adapter_dir))
        return {"nll": self._nll_of(trainer.model, trainer.processing_class)}

    def _nll(self, model_dir: Path) -> float:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=self.torch.bfloat16).to(self.device)
        return self._nll_of(model, AutoTokenizer.from_pretrained(model_dir))

    def _nll_of(self, model: Any, tokenizer: Any) -> float:
        torch = self.torch
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for row in self.rows[:8]:
                ids = tokenizer(row["text"], return_tensors="pt").input_ids[:, : self.args.seq].to(model.device)
                loss = model(input_ids=ids, labels=ids).loss
                total += float(loss) * (ids.shape[1] - 1)
                count += ids.shape[1] - 1
        return round(total / max(count, 1), 5)


def _fused_head_uses_triton() -> bool | None:
    try:
        from trl.kernels import chunked_logprob

        return bool(chunked_logprob.is_triton_available()) and __import__("torch").cuda.is_available()
    except Exception:
        return None


def _default_model(work: Path, *, smoke: bool) -> str:
    if not smoke:
        try:
            from ftkit.testing import smollm2_missing_reason, smollm2_model

            if smollm2_missing_reason() is None:
                return str(smollm2_model())
        except Exception:
            pass
    from ftkit.testing.tiny import tiny_model

    return str(tiny_model(work / "tiny"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="CPU and the tiny model: checks the script itself")
    parser.add_argument("--model", help="a local model folder (default: SmolLM2-135M when installed, else tiny)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per check (default 8; smoke 1)")
    parser.add_argument("--batch", type=int, default=None, help="per-device batch (default 8; smoke 2)")
    parser.add_argument("--seq", type=int, default=None, help="max sequence length (default 512; smoke 32)")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--only", help="comma-separated check names to run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (models, adapters, merges)")
    args = parser.parse_args(argv)
    args.steps = args.steps or (1 if args.smoke else 8)
    args.batch = args.batch or (2 if args.smoke else 8)
    args.seq = args.seq or (32 if args.smoke else 512)
    if args.smoke:
        args.examples = min(args.examples, 8)
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    from ftkit.providers.local._quiet import quiet_libraries

    quiet_libraries(all_future_warnings=True)
    c = Checker(args)
    checks: list[tuple[str, Callable[[], dict[str, Any]], bool]] = [
        ("environment", c.environment, False),
        ("sft_lora_bf16", c.sft("lora", "bfloat16" if c.cuda else "float32"), False),
        ("sft_lora_fp16", c.sft("lora", "float16"), True),
        # ftkit's lora_dropout default is 0 (no dropped input copies): this line measures what 0.05 costs
        ("sft_lora_dropout_0.05", c.sft("lora", "bfloat16", lora_dropout=0.05), True),
        ("sft_qlora_bf16", c.sft("qlora", "bfloat16", gradient_checkpointing=True), False),
        ("sft_qlora_fp16", c.sft("qlora", "float16"), True),
        ("sft_full_bf16", c.sft("full", "bfloat16" if c.cuda else "float32"), False),
        ("sft_full_fp16", c.sft("full", "float16"), True),
        ("dpo_lora", c.dpo_lora, False),
        ("sft_lora_packing_sdpa", c.sft("lora", "bfloat16" if c.cuda else "float32", packing=True,
                                        attn_implementation="sdpa"), False),
        ("sft_lora_packing_flex", c.sft("lora", "bfloat16", packing=True, attn_implementation="flex_attention"),
         True),
        ("sft_lora_padding_free", c.sft("lora", "bfloat16" if c.cuda else "float32", padding_free=True), False),
        ("sft_full_adamw_8bit", c.sft("full", "bfloat16", optim="adamw_8bit"), True),
        ("merge_paths", c.merges, False),
        ("end_to_end_job", c.end_to_end, False),
        ("reduce_" + ("nccl" if c.cuda else "gloo"), c.reduce, False),
    ]
    only = set(args.only.split(",")) if args.only else None
    try:
        for name, check, cuda_only in checks:
            if only is None or name in only or name == "environment":
                c.run(name, check, cuda_only=cuda_only)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(c.work, ignore_errors=True)  # the script's own temporary folder
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
