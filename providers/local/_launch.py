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

from ftkit.errors import ConfigError

from ._rundir import RunDir

__all__ = ["hub_reachable", "is_alive", "launch", "resolve_model", "signal_group"]

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


def launch(run: RunDir, *, num_processes: int, device: str, accelerate_config: str | None) -> int:
    """Start the worker detached; returns the pid of the process at the top of its session."""
    worker = ["-m", "ftkit.providers.local._worker", str(run.path)]
    if num_processes > 1 or accelerate_config:
        command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes),
                   "--main_process_port", str(_free_port())]
        if accelerate_config:
            command += ["--config_file", accelerate_config]
        elif device == "cpu":
            command += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        else:
            command += ["--multi_gpu", "--num_machines", "1", "--dynamo_backend", "no"]
        command += worker
    else:
        command = [sys.executable, *worker]
    env = dict(os.environ)
    env.setdefault("TQDM_DISABLE", "1")
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    env.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
    if device == "cpu" and num_processes > 1:
        env["ACCELERATE_USE_CPU"] = "true"  # ranks on CPU talk over gloo
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // num_processes)))
    with run.log_file.open("ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env, cwd=run.path)
    threading.Thread(target=process.wait, daemon=True, name=f"ftkit-reaper-{process.pid}").start()
    return process.pid


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
