"""Find a model's files on this machine, never on the network: a local directory or the Hugging Face cache.

>>> find_model_dir("/nonexistent/dir") is None
True
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["find_model_dir", "hf_cache_dir", "read_config"]


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
