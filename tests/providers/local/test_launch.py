"""How the worker is launched, read back through accelerate's own command-line parser: a user's config file
wins untouched, every visible GPU gets a DDP rank by default, and the fsdp / zero3 presets are configs
accelerate loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from ftkit.providers.local._hardware import GpuInfo, Hardware
from ftkit.providers.local._launch import launch_command
from ftkit.providers.local._options import LocalOptions
from ftkit.providers.local._rundir import RunDir
from ftkit.providers.local._settings import resolve

from ftkit.spec import JobSpec

H100 = GpuInfo("NVIDIA H100 80GB HBM3", 80 * 2**30, (9, 0))

MULTI_NODE_FSDP = """\
compute_environment: LOCAL_MACHINE
distributed_type: FSDP
num_machines: 2
machine_rank: 1
main_process_ip: 10.0.0.1
main_process_port: 29555
num_processes: 16
mixed_precision: bf16
fsdp_config:
  fsdp_version: 2
"""


def _spec(**options) -> JobSpec:
    return JobSpec(provider="local", model="./m", train=[{"text": "x"}], options=options)


def _command(tmp_path: Path, hardware: Hardware, **options):
    spec = _spec(**options)
    opts = LocalOptions.model_validate(spec.options)
    settings = resolve(spec, opts, hardware)
    command, env = launch_command(RunDir(tmp_path / "run"), settings=settings, options=opts,
                                  visible_gpus=hardware.gpu_count)
    return settings, command, env


def _as_accelerate_reads_it(command: list[str]):
    """The arguments accelerate will actually use, config file applied (what `accelerate launch` does)."""
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    args = launch_command_parser().parse_args(command[3:])
    args, _, _ = _validate_launch_command(args)
    return args


def test_a_users_multi_node_config_is_passed_untouched(tmp_path):
    config = tmp_path / "fsdp-2-nodes.yaml"
    config.write_text(MULTI_NODE_FSDP)
    settings, command, _ = _command(tmp_path, Hardware("cuda", (H100,) * 8), accelerate_config=str(config))
    assert "--num_processes" not in command and "--main_process_port" not in command
    args = _as_accelerate_reads_it(command)
    assert (args.num_processes, args.num_machines, args.machine_rank) == (16, 2, 1)
    assert (args.main_process_ip, args.main_process_port) == ("10.0.0.1", 29555)
    assert args.use_fsdp and args.module and args.training_script == "ftkit.providers.local._worker"
    # the resolver records what the config says (16 ranks, sharded) for the estimate
    assert (settings.num_processes, settings.distributed) == (16, "fsdp")


def test_an_explicit_num_processes_is_the_only_flag_added_to_a_config(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(MULTI_NODE_FSDP)
    _, command, _ = _command(tmp_path, Hardware("cuda", (H100,) * 8), accelerate_config=str(config), num_processes=4)
    args = _as_accelerate_reads_it(command)
    assert args.num_processes == 4 and args.main_process_port == 29555


def test_every_visible_gpu_gets_a_ddp_rank_by_default(tmp_path):
    settings, command, _ = _command(tmp_path, Hardware("cuda", (H100,) * 4))
    assert (settings.num_processes, settings.distributed) == (4, "ddp")
    args = _as_accelerate_reads_it(command)
    assert args.multi_gpu and args.num_processes == 4 and args.num_machines == 1


def test_one_process_on_a_multi_gpu_machine_is_pinned_to_one_gpu(tmp_path, monkeypatch):
    # one process seeing 2 GPUs would make Trainer use nn.DataParallel, which TRL refuses
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    settings, command, env = _command(tmp_path, Hardware("cuda", (H100,) * 2), num_processes=1)
    assert settings.num_processes == 1 and "accelerate.commands.launch" not in command
    assert env["CUDA_VISIBLE_DEVICES"] == "3"


def test_cpu_ranks_talk_over_gloo(tmp_path):
    settings, command, env = _command(tmp_path, Hardware("cpu"), num_processes=2)
    assert env["ACCELERATE_USE_CPU"] == "true"
    assert _as_accelerate_reads_it(command).num_processes == 2
    assert settings.distributed == "ddp"


def test_cpu_defaults_to_one_plain_process(tmp_path):
    settings, command, _ = _command(tmp_path, Hardware("cpu"))
    assert settings.num_processes == 1 and settings.distributed == "none"
    assert command[1:] == ["-m", "ftkit.providers.local._worker", str(tmp_path / "run")]


@pytest.mark.parametrize(("preset", "kind"), [("fsdp", "FSDP"), ("zero3", "DEEPSPEED")])
def test_presets_write_a_config_accelerate_loads(tmp_path, preset, kind):
    (tmp_path / "run").mkdir()
    settings, command, _ = _command(tmp_path, Hardware("cuda", (H100,) * 8), distributed=preset,
                                    gradient_checkpointing=True)
    path = Path(command[command.index("--config_file") + 1])
    assert path.parent == tmp_path / "run"
    config = load_config_from_file(str(path))
    assert str(config.distributed_type).endswith(kind) and config.num_processes == 8
    assert config.mixed_precision == "bf16"
    if preset == "fsdp":
        assert config.fsdp_config["fsdp_version"] == 2
        assert config.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
        assert config.fsdp_config["fsdp_activation_checkpointing"] is True
    else:
        assert config.deepspeed_config["zero_stage"] == 3
        assert config.deepspeed_config["gradient_accumulation_steps"] == settings.gradient_accumulation_steps


@pytest.mark.slow
def test_an_external_launch_prepares_the_run_and_the_worker_resolves_on_its_node(tiny, tmp_path, monkeypatch):
    from ftkit.providers.local import _worker

    from ftkit.job import FineTuneJob
    from ftkit.store import JobStore

    job = FineTuneJob(provider="local", model=tiny, train=[{"text": f"row {i} says hello"} for i in range(8)],
                      batch_size=4, store=JobStore(tmp_path / "jobs.db"),
                      options={"launcher": "external", "max_steps": 1, "save_steps": 1})
    job.start()
    status = job.status()
    assert status.state.value == "queued" and status.raw_status == "waiting_for_launch"
    run = RunDir(status.remote_id)
    assert "settings" not in run.read_config() and run.read_status().get("pid") is None
    assert any("-m ftkit.providers.local._worker" in e.message for e in job.events())
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert _worker.main(str(run.path)) == 0  # what `accelerate launch ... -m ...` runs on each node
    assert job.status().state.value == "succeeded"
    settings_event = next(e.message for e in job.events() if e.message.startswith("settings:"))
    assert "device=cpu" in settings_event and "num_processes=1" in settings_event
