"""Start the detached training process (one, or N ranks through ``accelerate launch``) and check on it.

The worker runs in its own session with its output in ``worker.log``, so it outlives the caller; a
daemon thread reaps it when the caller is still around, so a finished worker never lingers as a
zombie that looks alive.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ftkit.errors import ConfigError

from ._rundir import RunDir

if TYPE_CHECKING:
    from ._options import LocalOptions
    from ._settings import ResolvedSettings

__all__ = ["hub_reachable", "is_alive", "launch", "launch_command", "resolve_model", "signal_group", "write_preset_config"]

_HUB_HOST = ("huggingface.co", 443)


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face Hub answers at all (False at once when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    result: list[bool] = []

    def probe() -> None:  # in a thread: name resolution ignores socket timeouts
        try:
            with socket.create_connection(_HUB_HOST, timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def resolve_model(model: str) -> tuple[str, bool]:
    """(what the worker should load, whether the hub is offline); fails fast on an unreachable hub id."""
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ConfigError(f"{path} is not a model directory (no config.json); pass a saved model's folder.")
        return str(path.resolve()), not hub_reachable(timeout=0.5)
    if hub_reachable():
        return model, False
    if _in_hub_cache(model):
        return model, True
    raise ConfigError(
        f"Model {model!r} is not a local directory, is not in the Hugging Face cache, and the Hub cannot be "
        "reached from here. Download it where there is network (`hf download "
        f"{model} --local-dir <dir>`) and pass model='<dir>'."
    )


def _in_hub_cache(model: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    found = try_to_load_from_cache(model, "config.json")
    return isinstance(found, str)


def launch(run: RunDir, *, settings: ResolvedSettings, options: LocalOptions, visible_gpus: int = 0) -> int:
    """Start the worker detached; returns the pid of the process at the top of its session."""
    command, env = launch_command(run, settings=settings, options=options, visible_gpus=visible_gpus)
    with run.log_file.open("ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env, cwd=run.path)
    threading.Thread(target=process.wait, daemon=True, name=f"ftkit-reaper-{process.pid}").start()
    return process.pid


def launch_command(run: RunDir, *, settings: ResolvedSettings, options: LocalOptions,
                   visible_gpus: int = 0) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start the worker (one process, or ranks via ``accelerate launch``).

    A user's accelerate config is passed untouched: only ``--config_file`` (plus ``--num_processes`` when the
    user set ``options.num_processes`` themselves), because command-line flags override the file, and a
    random port would stop the nodes of a multi-node config from meeting.
    """
    worker = ["-m", "ftkit.providers.local._worker", str(run.path)]
    accelerate = [sys.executable, "-m", "accelerate.commands.launch"]
    env = dict(os.environ)
    env.setdefault("TQDM_DISABLE", "1")
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    env.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
    n = settings.num_processes
    if options.accelerate_config:
        command = [*accelerate, "--config_file", str(Path(options.accelerate_config).resolve())]
        if options.num_processes is not None:
            command += ["--num_processes", str(options.num_processes)]
        return [*command, *worker], env
    if settings.distributed in ("fsdp", "zero3"):
        preset = write_preset_config(run, settings)
        return [*accelerate, "--config_file", str(preset), *worker], env
    if n > 1:
        command = [*accelerate, "--multi_gpu", "--num_processes", str(n), "--num_machines", "1",
                   "--main_process_port", str(_free_port()), "--dynamo_backend", "no"]
        if settings.device == "cpu":
            command += ["--mixed_precision", "no"]
            env["ACCELERATE_USE_CPU"] = "true"  # ranks on CPU talk over gloo
            env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n)))
        return [*command, *worker], env
    if settings.device == "cuda" and visible_gpus > 1:
        # one process seeing several GPUs makes Trainer wrap the model in nn.DataParallel, which TRL refuses
        visible = [d for d in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
        env["CUDA_VISIBLE_DEVICES"] = visible[0] if visible else "0"
    return [sys.executable, *worker], env


def write_preset_config(run: RunDir, settings: ResolvedSettings) -> Path:
    """An accelerate config for ``options.distributed="fsdp"|"zero3"`` on this machine, in the run directory."""
    import yaml

    precision = {"bfloat16": "bf16", "float16": "fp16"}.get(settings.dtype, "no")
    config: dict[str, object] = {
        "compute_environment": "LOCAL_MACHINE", "num_machines": 1, "machine_rank": 0,
        "num_processes": settings.num_processes, "main_process_port": _free_port(), "rdzv_backend": "static",
        "same_network": True, "mixed_precision": precision, "use_cpu": settings.device == "cpu",
        "dynamo_config": {"dynamo_backend": "NO"},
    }
    if settings.distributed == "fsdp":
        config["distributed_type"] = "FSDP"
        config["fsdp_config"] = {
            "fsdp_version": 2,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",  # one unit per decoder layer (_no_split_modules)
            "fsdp_reshard_after_forward": True,
            "fsdp_cpu_ram_efficient_loading": True,  # rank 0 reads the weights, the others receive shards
            "fsdp_offload_params": False,
            "fsdp_state_dict_type": "FULL_STATE_DICT",  # the final save is a plain model / adapter
            "fsdp_activation_checkpointing": settings.gradient_checkpointing,
        }
    else:
        config["distributed_type"] = "DEEPSPEED"
        config["deepspeed_config"] = {
            "zero_stage": 3, "zero3_init_flag": True, "zero3_save_16bit_model": True,
            "offload_optimizer_device": "none", "offload_param_device": "none",
            "gradient_accumulation_steps": settings.gradient_accumulation_steps, "gradient_clipping": 1.0,
        }
    path = run.path / f"accelerate-{settings.distributed}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_start_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def is_alive(pid: int | None, started: float | None) -> bool:
    """True while ``pid`` runs and is the process we started (not a zombie, not a reused pid)."""
    if not pid:
        return False
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 1.0
    except psutil.Error:
        return False


def signal_group(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal the worker's whole session (the accelerate launcher and every rank)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
