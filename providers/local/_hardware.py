"""What this machine trains on: device kind, visible GPUs, their memory and whether bf16 is native.

The caller of ``start()`` must not create a CUDA context (it would hold ~0.5 GB of GPU 0 for as long as
the user's notebook runs), so GPU properties are read in a short child process; only the context-free
``torch.cuda.is_available()`` runs here. Tests pass a :class:`Hardware` instead of probing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

__all__ = ["BF16_NATIVE_CAPABILITY", "GpuInfo", "Hardware", "detect_hardware"]

#: Ampere (sm_80) and newer run bf16 on tensor cores; T4 (7.5) and V100 (7.0) only emulate it
BF16_NATIVE_CAPABILITY = (8, 0)

_PROBE = """
import json, torch
gpus = []
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    gpus.append({"name": p.name, "memory_bytes": p.total_memory, "capability": [p.major, p.minor]})
print(json.dumps(gpus))
"""


@dataclass(frozen=True)
class GpuInfo:
    name: str
    memory_bytes: int
    capability: tuple[int, int]

    @property
    def bf16_native(self) -> bool:
        return tuple(self.capability) >= BF16_NATIVE_CAPABILITY

    @property
    def memory_gb(self) -> float:
        return self.memory_bytes / 1e9


@dataclass(frozen=True)
class Hardware:
    """The device kind training will use and, for CUDA, every GPU visible to this process."""

    device: str  # "cuda" | "mps" | "cpu"
    gpus: tuple[GpuInfo, ...] = field(default_factory=tuple)

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)

    @property
    def smallest_gpu(self) -> GpuInfo | None:
        return min(self.gpus, key=lambda g: g.memory_bytes) if self.gpus else None

    @property
    def bf16_native(self) -> bool:
        return bool(self.gpus) and all(g.bf16_native for g in self.gpus)

    def describe(self) -> str:
        if not self.gpus:
            return self.device.upper()
        gpu = self.smallest_gpu
        assert gpu is not None
        return f"{self.gpu_count} x {gpu.name} ({gpu.memory_gb:.1f} GB, sm_{gpu.capability[0]}{gpu.capability[1]})"

    def to_dict(self) -> dict:
        return {"device": self.device, "gpus": [{"name": g.name, "memory_bytes": g.memory_bytes,
                                                  "capability": list(g.capability)} for g in self.gpus]}

    @classmethod
    def from_dict(cls, data: dict) -> Hardware:
        return cls(device=data["device"], gpus=tuple(
            GpuInfo(g["name"], int(g["memory_bytes"]), tuple(g["capability"])) for g in data.get("gpus", [])))


def detect_hardware(requested: str = "auto") -> Hardware:
    """The device ``options.device`` asks for (checked), with the visible GPUs' properties for CUDA."""
    import torch

    from ftkit.errors import ConfigError

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        device = "cuda" if cuda else "mps" if mps else "cpu"
    elif (requested == "cuda" and not cuda) or (requested == "mps" and not mps):
        raise ConfigError(f"options.device={requested!r}, but no {requested.upper()} device is available here; "
                          "use device='auto' or 'cpu'.")
    else:
        device = requested
    if device != "cuda":
        return Hardware(device=device)
    return Hardware(device="cuda", gpus=_probe_gpus())


def _probe_gpus() -> tuple[GpuInfo, ...]:
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ), check=False)
    if result.returncode != 0:
        from ftkit.errors import ConfigError

        raise ConfigError(f"CUDA is available but its GPUs could not be queried: {result.stderr.strip()[-400:]}")
    return tuple(GpuInfo(g["name"], int(g["memory_bytes"]), tuple(g["capability"]))
                 for g in json.loads(result.stdout.strip().splitlines()[-1]))
