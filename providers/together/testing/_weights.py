"""The weights a finished emulated Together job serves: a real ``.tar.zst`` holding a PEFT adapter
(``adapter_config.json`` + ``adapter_model.safetensors``) or a small merged model, as Together packs them.

ASSUMPTION (Together documents only the ``.tar.zst`` format and the ``checkpoint`` kinds): the archive holds
one top-level folder named after the output model, and the tensors are small deterministic F32 stand-ins.
"""

from __future__ import annotations

import io
import json
import math
import struct
import tarfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftkit.providers.together.testing._jobs import EmulatedJob

__all__ = ["tar_zst", "weights_files"]


def _safetensors(tensors: dict[str, tuple[list[int], int]]) -> bytes:
    """A valid safetensors file of small deterministic F32 tensors: ``{name: (shape, seed)}``."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    data = bytearray()
    for name, (shape, seed) in sorted(tensors.items()):
        count = math.prod(shape)
        start = len(data)
        data += b"".join(struct.pack("<f", ((seed * 31 + i) % 17 - 8) / 1000.0) for i in range(count))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [start, len(data)]}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    return struct.pack("<Q", len(blob)) + blob + bytes(data)


def weights_files(job: EmulatedJob, kind: str) -> dict[str, bytes]:
    """The files inside the archive for ``kind`` = adapter | merged | model_output_path."""
    model = job.request.get("model") or "unknown"
    lora = job.request.get("training_type") or {}
    if kind == "adapter" or (kind == "model_output_path" and job.lora):
        r = int(lora.get("lora_r") or job.limits["lora_training"]["default_rank"])
        modules = [m for m in str(lora.get("lora_trainable_modules") or "q_proj,v_proj").split(",") if m]
        if modules == ["all-linear"]:
            modules = ["q_proj", "k_proj", "v_proj", "o_proj"]
        config = {
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": model,
            "r": r,
            "lora_alpha": int(lora.get("lora_alpha") or 2 * r),
            "lora_dropout": float(lora.get("lora_dropout") or 0.0),
            "target_modules": modules,
            "bias": "none",
        }
        tensors = {}
        for i, module in enumerate(modules):
            prefix = f"base_model.model.model.layers.0.self_attn.{module}"
            tensors[f"{prefix}.lora_A.weight"] = ([r, 8], i)
            tensors[f"{prefix}.lora_B.weight"] = ([8, r], i + 100)
        return {
            "adapter_config.json": json.dumps(config, indent=2).encode(),
            "adapter_model.safetensors": _safetensors(tensors),
            "README.md": f"LoRA adapter for {model}, trained by the ftkit Together emulator ({job.id}).\n".encode(),
        }
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "_name_or_path": model,
              "hidden_size": 8, "num_hidden_layers": 1}  # fmt: skip
    return {
        "config.json": json.dumps(config, indent=2).encode(),
        "model.safetensors": _safetensors({"model.embed_tokens.weight": ([4, 8], 7)}),
        "README.md": f"{kind} weights of {model} from the ftkit Together emulator ({job.id}).\n".encode(),
    }


def tar_zst(files: dict[str, bytes], root: str) -> bytes:
    """A ``.tar.zst`` archive of ``files`` under the folder ``root``, as Together serves weights."""
    import zstandard

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        folder = tarfile.TarInfo(root)
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o755
        tar.addfile(folder)
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return zstandard.ZstdCompressor(level=3).compress(raw.getvalue())
