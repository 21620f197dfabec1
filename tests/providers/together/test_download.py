"""Unpacking Together's ``.tar.zst`` weights: flattened, and nothing may land outside the destination."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from ftkit.providers.together._download import check_destination, extract_tar_zst

from ftkit.errors import ConfigError, ProviderError

zstandard = pytest.importorskip("zstandard")


def archive(tmp_path: Path, members: list[tuple[str, bytes | None, bytes]]) -> Path:
    """``members``: (name, content or None for a folder, tar type)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            info.size = len(content or b"")
            tar.addfile(info, io.BytesIO(content) if content else None)
    path = tmp_path / "weights.tar.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(raw.getvalue()))
    return path


def test_single_top_folder_is_flattened(tmp_path: Path) -> None:
    path = archive(tmp_path, [("out", None, tarfile.DIRTYPE), ("out/adapter_config.json", b"{}", tarfile.REGTYPE),
                              ("out/sub/w.bin", b"123", tarfile.REGTYPE)])  # fmt: skip
    dest = extract_tar_zst(path, tmp_path / "adapter")
    assert (dest / "adapter_config.json").read_bytes() == b"{}"
    assert (dest / "sub" / "w.bin").read_bytes() == b"123"


@pytest.mark.parametrize(
    "member",
    [("../escape.txt", b"x", tarfile.REGTYPE), ("/abs.txt", b"x", tarfile.REGTYPE),
     ("out/link", None, tarfile.SYMTYPE)],
)
def test_unsafe_members_are_refused(tmp_path: Path, member: tuple) -> None:
    path = archive(tmp_path, [("out/ok.txt", b"ok", tarfile.REGTYPE), member])
    with pytest.raises(ProviderError, match="refus"):
        extract_tar_zst(path, tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "dest" / "ok.txt").exists(), "nothing is half-unpacked into the destination"


def test_a_folder_the_user_filled_is_refused_and_left_as_it_was(tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "adapter_config.json").write_text("the user's own file")
    with pytest.raises(ConfigError, match="not an empty folder"):
        check_destination(dest)
    assert (dest / "adapter_config.json").read_text() == "the user's own file"
