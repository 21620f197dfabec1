"""The Files endpoints of the OpenAI emulator (upload, list, retrieve, delete, content), as a mixin."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from ftkit.providers.openai.testing._schema import invalid
from ftkit.providers.openai.testing._wire import page

from ftkit.testing._http import HTTPError, Request, Response

__all__ = ["DOWNLOADABLE", "FILE_PURPOSES", "FilesEndpoints", "StoredFile"]

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
#: purposes whose content ``GET /files/{id}/content`` serves; others answer 400 "Not allowed to download files of
#: purpose: <purpose>" (the wording users report for user_data, community.openai.com thread 1357013, 2025; the
#: same thread's table lists fine-tune, assistants, user_data and evals as upload-only). **Assumption**: the
#: table is a user's summary, not OpenAI documentation; OpenAI has long refused downloads of training files.
DOWNLOADABLE = ("fine-tune-results", "batch", "batch_output", "assistants_output", "vision")


@dataclass
class StoredFile:
    obj: dict[str, Any]
    content: bytes


class FilesEndpoints:
    """``/v1/files`` for :class:`ftkit.providers.openai.testing.emulator.OpenAIEmulator` (which provides the state)."""

    files: dict[str, StoredFile]
    clock: Any
    record: Any

    def _create_file(self, request: Request) -> Any:
        if request.content_type != "multipart/form-data":
            raise invalid("Expected a multipart/form-data body with 'file' and 'purpose'.")
        allowed = {"purpose", "expires_after[anchor]", "expires_after[seconds]"}
        for name in [*request.form, *(f for f in request.files if f != "file")]:
            if name not in allowed:
                raise invalid(f"Unrecognized request argument supplied: {name}")
        upload = request.files.get("file")
        purpose = request.form.get("purpose")
        if upload is None:
            raise invalid("Missing required parameter: 'file'.", "file")
        if purpose is None:
            raise invalid("Missing required parameter: 'purpose'.", "purpose")
        if purpose not in FILE_PURPOSES:
            raise invalid(f"'{purpose}' is not one of {list(FILE_PURPOSES)} - 'purpose'", "purpose")
        if purpose == "fine-tune" and not upload.filename.endswith(".jsonl"):
            raise invalid(f"Invalid file format for Fine-Tuning API. Must be .jsonl (got {upload.filename!r}).",
                          "file")
        obj = self._add_file(upload.filename, purpose, upload.content)
        self.record("upload", file_id=obj["id"], filename=upload.filename, purpose=purpose,
                    bytes=len(upload.content), sha256=hashlib.sha256(upload.content).hexdigest())
        return obj

    def _add_file(self, filename: str, purpose: str, content: bytes, created: float | None = None) -> dict[str, Any]:
        file_id = f"file-{secrets.token_hex(12)}"
        obj = {"id": file_id, "object": "file", "bytes": len(content),
               "created_at": int(created if created is not None else self.clock.now()),
               "filename": filename, "purpose": purpose, "status": "processed", "expires_at": None,
               "status_details": None}
        self.files[file_id] = StoredFile(obj, content)
        return obj

    def _get_file(self, file_id: str) -> StoredFile:
        found = self.files.get(file_id)
        if found is None:
            raise HTTPError(404, f"No such File object: {file_id}", param="id")
        return found

    def _list_files(self, request: Request) -> Any:
        order = request.arg("order", "desc")
        items = sorted(self.files.values(), key=lambda f: (f.obj["created_at"], f.obj["id"]),
                       reverse=order == "desc")
        purpose = request.arg("purpose")
        objs = [f.obj for f in items if purpose is None or f.obj["purpose"] == purpose]
        return page(objs, request, default_limit=10000)

    def _retrieve_file(self, request: Request) -> Any:
        return self._get_file(request.params["file_id"]).obj

    def _delete_file(self, request: Request) -> Any:
        file_id = request.params["file_id"]
        self._get_file(file_id)
        del self.files[file_id]
        return {"id": file_id, "object": "file", "deleted": True}

    def _file_content(self, request: Request) -> Any:
        stored = self._get_file(request.params["file_id"])
        purpose = stored.obj["purpose"]
        if purpose not in DOWNLOADABLE:
            raise invalid(f"Not allowed to download files of purpose: {purpose}")
        return Response(stored.content, content_type="application/octet-stream")
