"""benchmarks/gpu_check.py --smoke: the GPU check runs end to end on CPU with the tiny model, so it never rots.
The CUDA-only checks (fp16, flex attention, 8-bit AdamW, NCCL) report "skipped" here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "gpu_check.py"
EXPECTED = {"environment", "sft_lora_bf16", "sft_lora_fp16", "sft_lora_dropout_0.05", "sft_qlora_bf16", "sft_qlora_fp16", "sft_full_bf16",
            "sft_full_fp16", "dpo_lora", "sft_lora_packing_sdpa", "sft_lora_packing_flex", "sft_lora_padding_free",
            "sft_full_adamw_8bit", "merge_paths", "end_to_end_job", "reduce_gloo"}
CUDA_ONLY = {"sft_lora_fp16", "sft_lora_dropout_0.05", "sft_qlora_fp16", "sft_full_fp16", "sft_lora_packing_flex", "sft_full_adamw_8bit"}


def test_gpu_check_smoke_mode_passes_on_cpu(tmp_path):
    env = {"FTKIT_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, str(SCRIPT), "--smoke"], capture_output=True, text=True, timeout=600,
                            env=env, cwd=tmp_path)
    records = {r["check"]: r for r in (json.loads(line) for line in result.stdout.splitlines()
                                       if line.startswith('{"check"'))}
    assert result.returncode == 0, [r for r in records.values() if r.get("ok") is False] or result.stderr[-2000:]
    assert set(records) == EXPECTED
    for name, record in records.items():
        if name in CUDA_ONLY:
            assert record["ok"] is None and record["skipped"] == "needs a CUDA GPU"
        else:
            assert record["ok"] is True, record
    for name in ("sft_lora_bf16", "sft_qlora_bf16", "sft_full_bf16", "dpo_lora", "sft_lora_padding_free"):
        assert records[name]["estimate_gb"] > 0 and records[name]["tokens_per_s"] > 0, name
    assert records["sft_full_bf16"]["trainable_dtype"] == "torch.float32"  # fp32 master weights
    assert records["sft_qlora_bf16"]["quant_storage"] == "torch.bfloat16"
    assert records["sft_lora_packing_sdpa"]["settings"]["packing"] is True
    merges = records["merge_paths"]
    assert merges["lora_merged_dtype"] == merges["qlora_merged_dtype"] == "bfloat16"
    assert merges["lora_nll_merged"] == pytest.approx(merges["lora_nll_as_trained"], abs=0.05)
    assert records["end_to_end_job"]["state"] == "succeeded"
