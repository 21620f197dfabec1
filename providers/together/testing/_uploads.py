"""The emulator's file routes: the three-step upload (POST ``/v1/files`` answered by a 302 to a signed URL, the
PUT of the bytes, POST ``/v1/files/{id}/preprocess``) with checksum dedup (409 naming the existing file), plus
list, retrieve, delete and content; a mixin of :class:`~ftkit.providers.together.testing.emulator.TogetherServer`.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from ftkit.providers.together.testing._files import EmulatedFile
from ftkit.providers.together.testing._wire import bad_request

from ftkit.testing._http import HTTPError, Request, Response

__all__ = ["FileRoutes"]


class FileRoutes:
    """Upload handlers (the emulator provides ``lock``, ``clock``, ``files``, ``api_key``, ``url``, ``record``)."""

    files: dict[str, EmulatedFile]
    api_key: str
    processing_seconds: float
    _rejections: list[str]

    def _live_files(self) -> list[EmulatedFile]:
        with self.lock:
            return [f for f in self.files.values() if not f.deleted and f.content is not None]

    def _file(self, file_id: str) -> EmulatedFile:
        with self.lock:
            file = self.files.get(file_id)
        if file is None or file.deleted:
            raise HTTPError(404, f"File {file_id} not found", code="file_not_found")
        return file

    def _start_upload(self, request: Request) -> Response:
        if request.content_type != "multipart/form-data":
            raise bad_request("POST /v1/files expects multipart/form-data")
        form = request.form
        unknown = sorted(set(form) - {"purpose", "file_name", "file_type", "checksum"})
        if unknown or request.files:
            raise bad_request(f"Unknown form field {(unknown or sorted(request.files))[0]!r}", "form")
        for key in ("purpose", "file_name", "file_type", "checksum"):
            if not form.get(key):
                raise bad_request(f"Missing form field {key!r}", key)
        if form["purpose"] not in ("fine-tune", "calibration", "eval", "batch-api"):
            raise bad_request(f"Invalid purpose {form['purpose']!r}", "purpose")
        if form["file_type"] not in ("jsonl", "parquet", "csv"):
            raise bad_request(f"Invalid file_type {form['file_type']!r}", "file_type")
        with self.lock:
            for existing in self._live_files():
                if existing.checksum == form["checksum"] and existing.purpose == form["purpose"]:
                    return Response(
                        {"error": {"message": f"File already exists: {existing.id}", "type": "invalid_request_error",
                                   "param": "checksum", "code": "file_already_exists"}, "file_id": existing.id},
                        409,
                    )  # fmt: skip
            file_id = f"file-{uuid.uuid4()}"
            self.files[file_id] = EmulatedFile(
                file_id, form["file_name"], form["purpose"], form["file_type"], form["checksum"], self.clock.now(),
                self.processing_seconds, rejection=self._rejections.pop(0) if self._rejections else None,
            )  # fmt: skip
        signature = hashlib.sha256(f"{file_id}{self.api_key}".encode()).hexdigest()[:32]
        location = f"{self.url}/_storage/{file_id}?X-Amz-Signature={signature}"
        return Response({}, 302, {"Location": location, "X-Together-File-Id": file_id})

    def _receive_bytes(self, request: Request) -> Response:
        file_id = request.params["file_id"]
        with self.lock:
            file = self.files.get(file_id)
        expected = hashlib.sha256(f"{file_id}{self.api_key}".encode()).hexdigest()[:32]
        if file is None or request.arg("X-Amz-Signature") != expected:
            return Response("<Error><Code>AccessDenied</Code></Error>", 403, content_type="application/xml")
        if int(request.headers.get("content-length") or -1) != len(request.body):
            return Response("<Error><Code>IncompleteBody</Code></Error>", 400, content_type="application/xml")
        if hashlib.sha256(request.body).hexdigest() != file.checksum:
            return Response("<Error><Code>BadDigest</Code></Error>", 400, content_type="application/xml")
        with self.lock:
            if file.content is None:
                file.receive(request.body)
                self.record("upload", file_id=file_id, sha256=file.checksum, bytes=len(request.body),
                            filename=file.filename)  # fmt: skip
        return Response(b"", 200)

    def _preprocess(self, request: Request) -> dict[str, Any]:
        file = self._file(request.params["file_id"])
        with self.lock:
            if file.content is None:
                raise bad_request(f"File {file.id} has no content yet; upload it to the signed URL first")
            if file.preprocessed_at is None:
                file.preprocessed_at = self.clock.now()
            return file.view(self.clock.now())

    def _delete_file(self, request: Request) -> dict[str, Any]:
        file = self._file(request.params["file_id"])
        with self.lock:
            file.deleted = True
        return {"id": file.id, "deleted": True}
