"""Downloading a Together job's weights (a ``.tar.zst`` archive) and unpacking it safely.

``fine_tuning.content(ft_id=, checkpoint="adapter"|"merged"|"model_output_path")`` streams the
archive. Extraction refuses anything that could write outside the destination (absolute paths,
``..``, links, devices), because the archive comes over the network.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Literal

from ftkit.errors import ConfigError, ProviderError

__all__ = ["DownloadKind", "check_destination", "extract_tar_zst"]

DownloadKind = Literal["adapter", "merged", "model_output_path"]


def check_destination(dest: Path) -> None:
    """Weights go into a new or empty folder only: a folder the user already filled is never overwritten."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigError(f"{dest} already exists and is not an empty folder; download into a new folder "
                          "(ftkit never overwrites what is there).")


def extract_tar_zst(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` into ``dest`` (created); return ``dest``.

    A single top-level folder in the archive is flattened away, so ``dest`` holds the model files
    (``adapter_config.json``...) directly.
    """
    try:
        import zstandard
    except ImportError as e:  # pragma: no cover - part of ftkit[together]
        raise ConfigError("Unpacking Together weights needs zstandard: pip install 'ftkit[together]'") from e
    check_destination(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".ftkit-unpack-") as tmp:
        staging = Path(tmp)
        with (
            archive.open("rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as stream,
            tarfile.open(fileobj=stream, mode="r|") as tar,
        ):
            for member in tar:
                target = _safe_target(staging, member)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - regular files always have data
                    continue
                with target.open("wb") as out:
                    shutil.copyfileobj(source, out)
        root = _single_folder(staging)
        for item in root.iterdir():
            shutil.move(str(item), dest / item.name)  # dest was empty: nothing of the user's is replaced
    return dest


def _safe_target(root: Path, member: tarfile.TarInfo) -> Path:
    name = PurePosixPath(member.name)
    if not (member.isfile() or member.isdir()):
        raise ProviderError(
            f"the downloaded archive holds {member.name!r}, which is not a plain file or folder; refusing it",
            provider="together",
        )
    if name.is_absolute() or ".." in name.parts:
        raise ProviderError(
            f"the downloaded archive holds an unsafe path {member.name!r}; refusing to unpack it",
            provider="together",
        )
    target = (root / Path(*name.parts)).resolve() if name.parts else root.resolve()
    if target != root.resolve() and root.resolve() not in target.parents:
        raise ProviderError(f"unsafe path {member.name!r} in the downloaded archive", provider="together")
    return target


def _single_folder(root: Path) -> Path:
    entries = [p for p in root.iterdir() if p.name not in (".", "")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return root
