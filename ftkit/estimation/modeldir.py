"""Find a model's files on this machine, never on the network: a local directory or the Hugging Face cache.

>>> find_model_dir("/nonexistent/dir") is None
True
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ftkit.errors import FtkitError
from ftkit.estimation.catalog import Architecture

__all__ = ["architecture_from_config", "find_architecture", "find_model_dir", "hf_cache_dir", "read_config"]


def hf_cache_dir() -> Path:
    """The hub cache ``huggingface_hub`` uses: ``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(os.environ["HUGGINGFACE_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "huggingface"
    )
    return Path(home) / "hub"


def _snapshots(repo_id: str) -> list[Path]:
    repo = hf_cache_dir() / f"models--{repo_id.replace('/', '--')}"
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return []
    found = [p for p in snapshots.iterdir() if p.is_dir()]
    ref = repo / "refs" / "main"
    main = ref.read_text().strip() if ref.is_file() else None
    # The snapshot `main` points at first, then the newest.
    return sorted(found, key=lambda p: (p.name != main, -p.stat().st_mtime))


def find_model_dir(model: str, needs: str = "config.json") -> Path | None:
    """A directory holding ``needs`` for ``model``: the path itself, or a cached snapshot of the hub id."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path if (path / needs).is_file() else None
    if model.count("/") != 1 or model.startswith((".", "/", "~")):
        return None
    for snapshot in _snapshots(model):
        if (snapshot / needs).is_file():
            return snapshot
    return None


def read_config(model_dir: Path) -> dict[str, Any]:
    """``config.json`` of a model directory, without loading any weights.

    Multimodal configs keep the language model's settings under ``text_config``; those are merged up.
    """
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    text = config.get("text_config")
    if isinstance(text, dict):
        config = {**config, **text}
    return config


#: model_type values whose MLP is two matrices (up, down) rather than gated SwiGLU's three.
_TWO_MATRIX_MLPS = frozenset({"gpt2", "gpt_neox", "opt", "phi", "falcon", "bloom", "gptj", "starcoder2", "gpt_bigcode"})


def architecture_from_config(config: dict[str, Any], source: str) -> Architecture:
    """The shape of a decoder from its ``config.json`` (Llama/Qwen/Mistral names, GPT-2 names as fallback).

    Two-matrix MLPs (GPT-2 style) are expressed as a gated MLP with 2/3 of the width, which has the same
    parameter count; their activations are then estimated slightly high.
    """
    from ftkit.errors import ConfigError

    def pick(*names: str, default: Any = None) -> Any:
        for name in names:
            if config.get(name) is not None:
                return config[name]
        if default is None:
            raise ConfigError(f"{source} has none of {', '.join(names)}; cannot size this model.")
        return default

    hidden = int(pick("hidden_size", "n_embd", "d_model"))
    heads = int(pick("num_attention_heads", "n_head"))
    intermediate = int(pick("intermediate_size", "n_inner", "ffn_dim", default=4 * hidden))
    model_type = str(config.get("model_type", ""))
    if model_type in _TWO_MATRIX_MLPS:
        intermediate = round(intermediate * 2 / 3)
    # mixture of experts: Mixtral (num_local_experts), Qwen2/3-MoE (num_experts), DeepSeek (n_routed_experts)
    experts = int(config.get("num_local_experts") or config.get("num_experts") or config.get("n_routed_experts") or 0)
    shared = int(config.get("shared_expert_intermediate_size") or 0)
    expert_width = config.get("moe_intermediate_size")
    if experts and not shared and config.get("n_shared_experts"):
        shared = int(config["n_shared_experts"]) * int(expert_width or intermediate)
    return Architecture(
        hidden_size=hidden,
        num_layers=int(pick("num_hidden_layers", "n_layer", "num_layers")),
        num_attention_heads=heads,
        num_key_value_heads=int(pick("num_key_value_heads", "n_head_kv", default=heads)),
        intermediate_size=intermediate,
        vocab_size=int(pick("vocab_size")),
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        attention_bias=bool(config.get("attention_bias", model_type == "qwen2")),
        dtype=str(config.get("dtype") or config.get("torch_dtype") or "bfloat16"),
        max_position_embeddings=config.get("max_position_embeddings"),
        attention_head_dim=int(config["head_dim"]) if config.get("head_dim") else None,
        num_experts=experts,
        experts_per_token=int(config.get("num_experts_per_tok") or 0) if experts else 0,
        expert_intermediate_size=int(expert_width) if experts and expert_width else None,
        shared_expert_intermediate_size=shared,
        source=source,
    )


def find_architecture(model: str) -> tuple[Architecture | None, str]:
    """The model's shape and where it came from: its config.json (a local dir or the HF cache), else the
    local catalog's table of well-known models. ``(None, reason)`` when neither knows it."""
    model_dir = find_model_dir(model, needs="config.json")
    if model_dir is not None:
        config_path = model_dir / "config.json"
        return architecture_from_config(read_config(model_dir), str(config_path)), f"read from {config_path}"
    # The table of well-known shapes is the self-hosted provider's (it is what sizes GPU memory)
    from ftkit.registry import get_provider, self_hosted_provider

    try:
        entry = get_provider(self_hosted_provider()).catalog().find(model)
    except FtkitError:
        entry = None
    if entry is not None and entry.architecture is not None:
        return entry.architecture, (
            f"{model}'s config.json is not on this machine; using ftkit's table entry "
            f"({entry.architecture.source}, read {entry.read_on.isoformat()})"
        )
    return None, f"{model} has no config.json in a local directory or the Hugging Face cache, nor a catalog entry"
