"""Uploading a dataset to OpenAI exactly once.

A file is keyed by the SHA-256 of its converted bytes and the endpoint. Before uploading, ftkit
reuses a file id it remembers for that content (this job's, or any earlier job's through the store's
upload table) once ``files.retrieve`` shows OpenAI still has it. Otherwise the upload is named after
the content (``ftkit-train-<hash16>.jsonl``) and runs without SDK retries; before it, and after any
ambiguous failure (5xx, timeout, dropped connection), ftkit lists the account's fine-tune files and
adopts one with that name and size instead of uploading the same bytes twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftkit._hashing import sha256_file
from ftkit._managed import remembered_upload, upload_name
from ftkit.provider import JobContext

from ._client import OpenAIApi

__all__ = ["upload_dataset"]

PURPOSE = "fine-tune"


def upload_dataset(api: OpenAIApi, ctx: JobContext, path: Path, *, role: str) -> str:
    """The OpenAI file id holding exactly the bytes of ``path`` (``role``: "train" or "validation")."""
    content_hash = sha256_file(path)
    key = f"{role}_file"
    file_id = remembered_upload(ctx, endpoint=api.endpoint, key=key, content_hash=content_hash,
                                exists=lambda file_id: api.exists(lambda c: c.files.retrieve(file_id)))
    if file_id is None:
        content = path.read_bytes()
        name = upload_name(role, content_hash)
        uploaded = api.once(
            find=lambda client: _find_uploaded(client, name, len(content)),
            create=lambda client: client.files.create(file=(name, content), purpose=PURPOSE),
        )
        file_id = uploaded.id
        ctx.record_upload(api.endpoint, content_hash, file_id, name)
        ctx.log(f"uploaded {path.name} to OpenAI as {file_id} ({len(content)} bytes)")
    ctx.remember(**{key: file_id, f"{key}_sha256": content_hash})
    return file_id


def _find_uploaded(client: Any, name: str, size: int) -> Any | None:
    """A fine-tune file ftkit uploaded under ``name`` with ``size`` bytes, newest first."""
    for item in client.files.list(purpose=PURPOSE, order="desc"):
        if item.filename == name and item.bytes == size:
            return item
    return None
