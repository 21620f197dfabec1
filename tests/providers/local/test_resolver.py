"""One resolver, one truth: the settings start() records are the ones the estimate sizes and the trainer is
built with; runs that do not fit the GPU are adjusted (same effective batch) or refused; precision rules."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from ftkit.providers.local import _plan
from ftkit.providers.local._estimate import estimate
from ftkit.providers.local._hardware import GpuInfo, Hardware
from ftkit.providers.local._options import LocalOptions
from ftkit.providers.local._settings import memory_of, resolve
from ftkit.providers.local._training import _common_args, device_map_for, quantization_config

from ftkit.errors import ConfigError
from ftkit.estimation.catalog import load_catalog
from ftkit.estimation.gpus import load_gpus
from ftkit.estimation.types import TokenCount
from ftkit.spec import JobSpec

LLAMA_7B = "meta-llama/Llama-2-7b-hf"
RTX_4090 = GpuInfo("RTX 4090", 24 * 2**30, (8, 9))
H100 = GpuInfo("H100", 80 * 2**30, (9, 0))
T4 = GpuInfo("Tesla T4", 15 * 2**30, (7, 5))


def arch(model: str = LLAMA_7B):
    return load_catalog("local").model(model).architecture


def spec(adapter="lora", **kw) -> JobSpec:
    options = kw.pop("options", {})
    return JobSpec(provider="local", model=LLAMA_7B, train=[{"text": "x"}], adapter=adapter, options=options, **kw)


def resolved(s: JobSpec, gpu: GpuInfo = H100, **kw):
    return resolve(s, LocalOptions.model_validate(s.options), Hardware("cuda", (gpu,)), arch=arch(), **kw)


def test_bf16_only_where_it_is_native_else_fp16():
    assert resolved(spec(), H100).dtype == "bfloat16"
    assert resolved(spec(), T4).dtype == "float16"  # torch's is_bf16_supported() says True here (emulation)
    assert resolve(spec(), LocalOptions(), Hardware("cpu")).dtype == "float32"


@pytest.mark.parametrize("gpu", [H100, T4])
def test_full_fine_tuning_keeps_fp32_master_weights_under_autocast(gpu):
    s = resolved(spec("full"), gpu)
    assert s.weights_dtype == "float32" and s.dtype in ("bfloat16", "float16")
    args = _common_args(LocalOptions(), s, Path("/tmp/x"), has_eval=False)
    assert args["bf16"] == (s.dtype == "bfloat16") and args["fp16"] == (s.dtype == "float16")
    # LoRA keeps the frozen base in the 16-bit compute dtype (peft keeps the adapters in fp32)
    assert resolved(spec("lora"), gpu).weights_dtype == s.dtype


def test_qlora_stores_4bit_weights_in_the_compute_dtype_and_each_ddp_rank_on_its_gpu(monkeypatch):
    import torch

    s = resolve(spec("qlora"), LocalOptions(), Hardware("cuda", (H100,) * 4))
    config = quantization_config(s)
    assert config.bnb_4bit_quant_storage == config.bnb_4bit_compute_dtype == torch.bfloat16
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert s.distributed == "ddp" and device_map_for(s) == {"": 3}
    fsdp = resolve(spec("qlora", options={"distributed": "fsdp"}), LocalOptions(distributed="fsdp"),
                   Hardware("cuda", (H100,) * 4))
    assert device_map_for(fsdp) is None  # FSDP places the shards itself


def test_the_estimate_is_computed_from_the_settings_start_records():
    s = spec("lora", batch_size=8)
    counts = TokenCount(examples=100, total_tokens=100_000, trained_tokens=50_000, tokenizer="t",
                        max_example_tokens=1024, mean_example_tokens=1000)
    h100 = next(g for g in load_gpus() if g.name == "H100 SXM")
    est = estimate(s, counts=counts, gpus=[h100])
    run = resolve(s, LocalOptions(), Hardware("cuda", (GpuInfo(h100.name, int(h100.memory_gib * 2**30), (9, 0)),)),
                  arch=arch(), sequence_tokens=1024)
    assert est.memory_gb == pytest.approx(memory_of(s, run, arch()).peak_gb(run.batch_size), abs=0.01)
    assert est.memory_gb == pytest.approx(run.estimated_peak_gb, abs=0.01)
    assert est.gpus[0].batch_size == run.batch_size and est.gpus[0].fits == run.fits
    assert any(f"micro-batch {run.batch_size}" in a for a in est.assumptions)


def test_a_run_too_big_for_the_gpu_is_adjusted_with_the_same_effective_batch():
    s = spec("lora", batch_size=8, max_seq_length=2048)
    loose = resolved(s, H100, sequence_tokens=2048)
    tight = resolved(s, RTX_4090, sequence_tokens=2048)
    assert tight.gradient_checkpointing and tight.fits
    assert tight.batch_size < 8 and tight.effective_batch_size == 8 == loose.effective_batch_size
    assert any("checkpointing on" in n for n in tight.adjustments)
    assert any("micro-batch 8 ->" in n for n in tight.adjustments)
    assert tight.estimated_peak_gb <= RTX_4090.memory_gb


def test_checkpointing_stays_off_when_the_run_fits_without_it():
    s = resolved(spec("lora", batch_size=1), H100, sequence_tokens=256)
    assert s.fits and not s.gradient_checkpointing and s.adjustments == ()


def test_memory_fit_refuse_changes_nothing_but_checkpointing_and_a_user_choice_is_kept():
    s = spec("lora", batch_size=8, max_seq_length=2048, options={"memory_fit": "refuse"})
    r = resolved(s, RTX_4090, sequence_tokens=2048)
    assert r.batch_size == 8 and r.fits is False
    kept = resolved(spec("lora", batch_size=8, options={"gradient_checkpointing": False}), RTX_4090,
                    sequence_tokens=2048)
    assert kept.gradient_checkpointing is False


def test_start_refuses_a_run_that_cannot_fit_with_the_estimate(tmp_path, monkeypatch):
    monkeypatch.setattr(_plan, "detect_hardware", lambda device="auto": Hardware("cuda", (RTX_4090,)))
    monkeypatch.setattr(_plan, "longest_row_tokens", lambda spec: 1024)
    with pytest.raises(ConfigError, match=r"needs about \d+\.\d GB per GPU.*adapter='qlora'"):
        _plan.plan_run(spec("full"), LocalOptions(), tmp_path)


def test_the_trainer_is_built_with_exactly_the_recorded_settings():
    s = resolved(spec("lora", batch_size=8, max_seq_length=2048), RTX_4090, sequence_tokens=2048)
    args = _common_args(LocalOptions(save_total_limit=3), s, Path("/tmp/x"), has_eval=False)
    assert args["per_device_train_batch_size"] == s.batch_size
    assert args["gradient_accumulation_steps"] == s.gradient_accumulation_steps
    assert args["activation_checkpointing"] == s.gradient_checkpointing
    assert args["activation_checkpointing_kwargs"] == {"use_reentrant": False}
    assert args["max_length"] == s.max_seq_length and args["optim"] == s.optim
    assert args["save_total_limit"] is None  # ftkit rotates only after the new checkpoint is marked complete


def test_speed_options_reach_the_settings():
    s = resolved(spec(options={"attn_implementation": "flex_attention", "optim": "adamw_8bit",
                               "packing": True}), H100)
    assert (s.attn_implementation, s.optim, s.packing) == ("flex_attention", "adamw_8bit", True)
    assert s.sequence_tokens == s.max_seq_length  # packed rows are full rows
    assert resolved(spec(), H100).lora_dropout == 0.0


def test_start_records_the_resolved_settings_and_the_adjustments(tiny, tmp_path, monkeypatch):
    from ftkit.providers.local import _launch

    from ftkit.job import FineTuneJob
    from ftkit.store import JobStore

    small = GpuInfo("small", int(1.13e9), (8, 0))  # the tiny model at 8 x 512 tokens fits only after adjusting
    monkeypatch.setattr(_plan, "detect_hardware", lambda device="auto": Hardware("cuda", (small,)))
    monkeypatch.setattr(_plan, "longest_row_tokens", lambda spec: 512)
    launched = {}

    def fake_launch(run, *, settings, options, visible_gpus=0):
        launched["settings"] = settings
        return 999_999_999  # no such process: the job then reads as a dead worker, which is fine here

    monkeypatch.setattr(_launch, "launch", fake_launch)
    job = FineTuneJob(provider="local", model=tiny, train=[{"text": "hello world " * 40}] * 8, batch_size=8,
                      max_seq_length=512, store=JobStore(tmp_path / "jobs.db"), options={"max_steps": 1})
    job.start()
    run_dir = Path(job.status().remote_id)
    recorded = json.loads((run_dir / "config.json").read_text())["settings"]
    assert recorded == json.loads(json.dumps(launched["settings"].to_dict()))
    messages = [e.message for e in job.events()]
    assert any(m.startswith("estimated peak") for m in messages)
    assert recorded["adjustments"] and recorded["fits"] and recorded["gradient_checkpointing"]
    assert any(m.startswith("adjusted to fit the GPU") for m in messages)
    assert recorded["batch_size"] * recorded["gradient_accumulation_steps"] == 8


def test_the_reduce_runs_on_the_training_device():
    import torch
    from ftkit.providers.local import _callbacks

    assert _callbacks.flag_tensor(True, torch.device("meta")).device.type == "meta"
    seen = {}
    monkey = SimpleNamespace(device=torch.device("meta"))
    original = _callbacks._agree
    try:
        _callbacks._agree = lambda flag, *, device=None: seen.setdefault("device", device) and False
        cb = _callbacks.RunDirCallback(SimpleNamespace(update_status=lambda **k: None), is_main=False,
                                       stop_signal=lambda: False)
        cb.on_step_end(monkey, SimpleNamespace(global_step=1, max_steps=2), SimpleNamespace())
    finally:
        _callbacks._agree = original
    assert seen["device"] == torch.device("meta")


def test_the_reduce_agrees_across_a_real_process_group(tmp_path):
    import torch
    import torch.distributed as dist
    from ftkit.providers.local._callbacks import _agree

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        assert _agree(True, device=torch.device("cpu")) is True
        assert _agree(False, device=torch.device("cpu")) is False
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif("not __import__('torch').cuda.is_available()", reason="needs a CUDA GPU (NCCL)")
def test_the_reduce_works_under_nccl(tmp_path):
    import torch
    import torch.distributed as dist
    from ftkit.providers.local._callbacks import _agree

    dist.init_process_group("nccl", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        assert _agree(True, device=torch.device("cuda", 0)) is True
    finally:
        dist.destroy_process_group()


def test_qlora_adapters_train_in_fp32_under_fp16_autocast():
    import torch
    from ftkit.providers.local._training import _fp32_adapters_under_fp16

    layer = torch.nn.Linear(4, 4).to(torch.bfloat16)  # as TRL leaves QLoRA adapters
    frozen = torch.nn.Linear(4, 4).to(torch.float16).requires_grad_(False)
    trainer = SimpleNamespace(model=torch.nn.Sequential(layer, frozen))
    t4 = resolved(spec("qlora"), T4)
    assert t4.dtype == "float16"
    _fp32_adapters_under_fp16(trainer, spec("qlora"), t4)
    assert layer.weight.dtype == torch.float32 and frozen.weight.dtype == torch.float16
    h100 = resolved(spec("qlora"), H100)
    layer.to(torch.bfloat16)
    _fp32_adapters_under_fp16(trainer, spec("qlora"), h100)
    assert layer.weight.dtype == torch.bfloat16  # bf16 GPUs keep TRL's (QLoRA paper's) bf16 adapters


def test_gpus_are_probed_in_a_child_process_and_read_by_capability(monkeypatch):
    import subprocess

    import torch
    from ftkit.providers.local import _hardware

    seen = {}

    def fake_run(command, **kwargs):
        seen["command"] = command
        gpus = [{"name": "Tesla T4", "memory_bytes": 15 * 2**30, "capability": [7, 5]},
                {"name": "NVIDIA A100-SXM4-80GB", "memory_bytes": 80 * 2**30, "capability": [8, 0]}]
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps(gpus) + "\n", stderr="")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(_hardware.subprocess, "run", fake_run)
    found = _hardware.detect_hardware("auto")
    assert seen["command"][1] == "-c"  # never a CUDA context in the caller's process
    assert found.device == "cuda" and found.gpu_count == 2
    assert found.smallest_gpu.name == "Tesla T4" and not found.bf16_native  # one pre-Ampere GPU: fp16 for all
    assert resolve(spec(), LocalOptions(), found).dtype == "float16"
    assert _hardware.Hardware.from_dict(found.to_dict()) == found
    with pytest.raises(ConfigError, match="no MPS device"):
        _hardware.detect_hardware("mps")
