"""GGUF models as ``model=``: a ``.gguf`` file, a folder holding exactly one, or an Ollama model name.

Training needs float weights in a Hugging Face folder, so a GGUF is dequantised once into a cached
safetensors folder under ``$FTKIT_HOME/gguf/<sha256 prefix>/`` (``$FTKIT_GGUF_CACHE`` overrides the
root), keyed by the file's content hash. The conversion runs in a child process (the caller never
imports torch, so ``ftkit validate`` stays light) and writes to a temporary folder renamed into place
only once complete: a crash mid-conversion never leaves a folder that counts as done.

>>> folder = converted_model("~/models/SmolLM2-135M-Instruct.Q4_1.gguf")   # doctest: +SKIP
>>> FineTuneJob(provider="local", model="smollm2:135m", train="train.jsonl")  # an Ollama name # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ftkit._hashing import sha256_file
from ftkit.errors import ConfigError

__all__ = ["MARKER", "cache_root", "converted_model", "find_gguf", "is_gguf_reference", "ollama_blob",
           "resolve_gguf_model"]

#: written last into a converted folder; its presence is what makes the folder count as done
MARKER = "ftkit-gguf.json"
_CONVERSION_VERSION = 1
#: tensor types the ``gguf`` package reads as floats itself (quantised ones come from its dequantisers)
_FLOAT_TYPES = {"F32", "F16", "BF16", "F64"}
_OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"


def cache_root() -> Path:
    """Where converted GGUF folders live: ``$FTKIT_GGUF_CACHE``, else ``$FTKIT_HOME/gguf``."""
    if os.environ.get("FTKIT_GGUF_CACHE"):
        return Path(os.environ["FTKIT_GGUF_CACHE"]).expanduser()
    from ftkit.store import default_home

    return default_home() / "gguf"


def ollama_models_dir() -> Path:
    """Ollama's model store: ``$OLLAMA_MODELS``, else ``~/.ollama/models``."""
    return Path(os.environ.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models").expanduser()


def ollama_blob(name: str) -> Path | None:
    """The GGUF blob of an Ollama model name (``smollm2``, ``smollm2:135m``, ``user/model:tag``,
    ``hf.co/org/repo:Q4_K_M``) when Ollama has pulled it here; None when there is no such manifest."""
    if not name or name.startswith((".", "/", "~")) or name.endswith(".gguf"):
        return None
    base, _, tag = name.partition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    parts = base.split("/")
    if len(parts) == 1:
        parts = ["registry.ollama.ai", "library", *parts]
    elif len(parts) == 2:
        parts = ["registry.ollama.ai", *parts]
    if len(parts) != 3 or not all(parts):
        return None
    root = ollama_models_dir()
    manifest = root.joinpath("manifests", *parts, tag or "latest")
    if not manifest.is_file():
        return None
    try:
        layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers", [])
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"Ollama's manifest for {name!r} ({manifest}) is unreadable: {e}. "
                          f"Run `ollama pull {name}` again.") from None
    digests = [layer.get("digest", "") for layer in layers if layer.get("mediaType") == _OLLAMA_MODEL_LAYER]
    if not digests:
        raise ConfigError(f"Ollama's manifest for {name!r} lists no model weights; run `ollama pull {name}` again.")
    blob = root / "blobs" / digests[0].replace(":", "-")
    if not blob.is_file():
        raise ConfigError(f"Ollama lists {name!r} but its weights file {blob} is missing; run `ollama pull {name}`.")
    return blob


def find_gguf(model: str) -> Path | None:
    """The GGUF file ``model`` names (file, folder with exactly one, Ollama name), or None for anything else."""
    path = Path(model).expanduser()
    if path.is_file():
        return path.resolve() if path.suffix.lower() == ".gguf" else None
    if path.is_dir():
        if (path / "config.json").exists():
            return None  # a Hugging Face folder (which may also carry a GGUF export): train the folder
        found = sorted(path.glob("*.gguf"))
        if len(found) > 1:
            names = ", ".join(p.name for p in found[:5])
            raise ConfigError(f"{path} holds {len(found)} .gguf files ({names}); pass the one to train as model=.")
        return found[0].resolve() if found else None
    if path.suffix.lower() == ".gguf":
        raise ConfigError(f"model={model!r}: no such file. Pass the path of an existing .gguf file.")
    return ollama_blob(model)


def is_gguf_reference(model: str) -> bool:
    """Whether ``model`` names a GGUF (never raises: for quick routing decisions)."""
    try:
        return find_gguf(model) is not None
    except ConfigError:
        return True  # a GGUF reference with a problem; resolve_gguf_model reports it


def content_hash(gguf: Path) -> str:
    """sha256 of the file; Ollama blobs are already named by theirs, other files' are memoised by stat."""
    if gguf.name.startswith("sha256-") and len(gguf.name) == 71:
        return gguf.name.removeprefix("sha256-")
    stat = gguf.stat()
    key = {"path": str(gguf), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    memo = cache_root() / "hashes" / f"{hashlib.sha256(json.dumps(key).encode()).hexdigest()[:24]}.json"
    if memo.is_file():
        try:
            saved = json.loads(memo.read_text(encoding="utf-8"))
            if saved.get("key") == key:
                return saved["sha256"]
        except (OSError, json.JSONDecodeError, KeyError):
            pass
    digest = sha256_file(gguf)
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"key": key, "sha256": digest}), encoding="utf-8")
    os.replace(tmp, memo)
    return digest


_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def read_header(gguf: Path) -> tuple[str, list[int]]:
    """(``general.architecture``, the type id of every tensor) from a GGUF header.

    A small reader of the GGUF v2/v3 layout: ``gguf.GGUFReader`` builds Python objects for every
    vocabulary entry (seconds for a 49k-token vocabulary); this skips them.
    """
    import mmap
    import struct

    with gguf.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[:4] != b"GGUF":
            raise ValueError("no GGUF magic number at the start")
        version, tensors, kvs = struct.unpack_from("<IQQ", data, 4)
        if version < 2:
            raise ValueError(f"GGUF version {version} (ftkit reads 2 and 3)")
        pos = 24

        def string() -> str:
            nonlocal pos
            (length,) = struct.unpack_from("<Q", data, pos)
            pos += 8 + length
            return data[pos - length:pos].decode("utf-8", "replace")

        def skip(kind: int) -> None:
            nonlocal pos
            if kind == _STRING:
                string()
            elif kind == _ARRAY:
                item, count = struct.unpack_from("<IQ", data, pos)
                pos += 12
                if item in _SCALAR_SIZES:
                    pos += _SCALAR_SIZES[item] * count
                else:
                    for _ in range(count):
                        skip(item)
            else:
                pos += _SCALAR_SIZES[kind]

        architecture = "unknown"
        for _ in range(kvs):
            key = string()
            (kind,) = struct.unpack_from("<I", data, pos)
            pos += 4
            if key == "general.architecture" and kind == _STRING:
                architecture = string()
            else:
                skip(kind)
        types = []
        for _ in range(tensors):
            string()
            (dims,) = struct.unpack_from("<I", data, pos)
            pos += 4 + 8 * dims
            (kind,) = struct.unpack_from("<I", data, pos)
            pos += 4 + 8  # type, then the data offset
            types.append(kind)
    return architecture, types


def check_readable(gguf: Path) -> dict[str, Any]:
    """Architecture and tensor types of a GGUF, refusing types the ``gguf`` package cannot dequantise.

    Reads only the header (numpy-free, no torch): fails before any conversion or launch.
    """
    try:
        from gguf import GGMLQuantizationType, quants
    except ImportError:
        raise ConfigError("Reading a .gguf model needs the `gguf` package: pip install 'ftkit[local]'.") from None
    try:
        architecture, type_ids = read_header(gguf)
    except Exception as e:  # a truncated or foreign file
        raise ConfigError(f"{gguf} is not a readable GGUF file ({type(e).__name__}: {e}).") from None

    def name(type_id: int) -> str:
        try:
            return GGMLQuantizationType(type_id).name
        except ValueError:
            return f"type {type_id}"

    dequantisable = {t.name for t in getattr(quants, "_type_traits", {})} | _FLOAT_TYPES
    types = sorted({name(t) for t in type_ids})
    unreadable = [t for t in types if t not in dequantisable]
    if unreadable:
        raise ConfigError(
            f"{gguf} stores tensors as {', '.join(unreadable)}, which the installed `gguf` package cannot "
            f"dequantise (it reads {', '.join(sorted(dequantisable))}). Export the model again with one of "
            "those types (e.g. Q8_0 or F16 with llama.cpp's convert script), or pass the Hugging Face folder."
        )
    return {"architecture": architecture, "tensor_types": types}


def converted_model(model: str | Path) -> Path:
    """The cached Hugging Face folder of the GGUF ``model`` names, converting it first when needed."""
    gguf = find_gguf(str(model))
    if gguf is None:
        raise ConfigError(f"model={str(model)!r} is not a .gguf file, a folder with one, or an Ollama model here.")
    digest = content_hash(gguf)
    target = cache_root() / digest[:24]
    if (target / MARKER).is_file():
        return target
    info = check_readable(gguf)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    from ftkit._progress import report

    task = f"converting {gguf.name} (once, then cached)"
    report(task, 0)  # one subprocess: the bar shows it running, then done
    try:
        done = subprocess.run([sys.executable, "-m", __name__, str(gguf), str(staging)], capture_output=True,
                              text=True, env={**os.environ, "TQDM_DISABLE": "1"})
        if done.returncode != 0:
            raise ConfigError(_conversion_error(gguf, info, done.stderr))
        marker = {"version": _CONVERSION_VERSION, "source": str(gguf), "sha256": digest, **info}
        (staging / MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / MARKER).is_file():  # not a concurrent caller that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        report(task, 1, 1, finished=True)
    return target


def resolve_gguf_model(model: str) -> str:
    """``model`` itself, or the converted folder when it names a GGUF (what every local step loads)."""
    return str(converted_model(model)) if find_gguf(model) is not None else model


def _conversion_error(gguf: Path, info: dict[str, Any], stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    if "GGUF model with architecture" in stderr or "not supported" in last:
        return (f"transformers cannot load {gguf}: its architecture {info['architecture']!r} has no GGUF "
                f"loader in the installed transformers ({last}). Pass the model's Hugging Face folder instead.")
    return f"Converting {gguf} to a Hugging Face folder failed: {last}"


def _convert(gguf: Path, out: Path) -> None:
    """Dequantise with transformers, then save a plain float32 model (GGUF-loaded models refuse to save)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    settings = {k: v for k, v in loaded.config.to_dict().items() if k != "quantization_config"}
    config = AutoConfig.for_model(**settings)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), assign=True)
    model.tie_weights()
    model.generation_config = loaded.generation_config
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    _convert(Path(sys.argv[1]), Path(sys.argv[2]))
