"""The HTTP messages of the emulator base: parsed requests, responses, errors and the request log entries."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HTTPError", "Record", "RecordedRequest", "Request", "Response", "UploadedFile", "parse_multipart"]


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart/form-data body."""

    field: str
    filename: str
    content_type: str
    content: bytes


@dataclass
class Request:
    """A parsed request as handlers see it. ``params`` holds the ``{placeholders}`` of the route."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The JSON body; a 400 with the emulator's error shape when it is not JSON."""
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise HTTPError(400, "We could not parse the JSON body of your request.") from None


@dataclass
class Response:
    """What a handler may return when a plain dict (JSON, status 200) is not enough."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


class HTTPError(Exception):
    """Raise from a handler to answer an error. ``body=None`` uses the server's :meth:`error_body`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        **details: Any,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body
        self.headers = headers or {}
        self.details = details


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (the Authorization header is never kept)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # parsed JSON, {"form": ..., "files": {field: (filename, size)}}, or raw bytes
    status: int | None  # None when the connection was dropped without an answer
    fault: str | None  # which injected fault applied, if any
    time: float


@dataclass(frozen=True)
class Record:
    """A domain fact an emulator logs, e.g. ``Record("upload", {"file_id": ..., "sha256": ...})``."""

    kind: str
    data: dict[str, Any]
    time: float


def encode(response: Response) -> tuple[bytes, str]:
    body = response.body
    if isinstance(body, bytes):
        return body, response.content_type or "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), response.content_type or "text/plain; charset=utf-8"
    return json.dumps(body).encode(), response.content_type or "application/json"


def summarise_body(request: Request) -> Any:
    if request.content_type == "multipart/form-data":
        files = {k: (f.filename, len(f.content)) for k, f in request.files.items()}
        return {"form": dict(request.form), "files": files}
    if request.content_type == "application/json" or request.body[:1] in (b"{", b"["):
        try:
            return json.loads(request.body)
        except ValueError:
            pass
    return request.body


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Split a multipart/form-data body into text fields and files (a 400 when it is malformed)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise HTTPError(400, "multipart body without a boundary")
    delimiter = b"--" + m.group(1).encode()
    form: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, sep, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise HTTPError(400, "malformed multipart part")
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if not name:
            raise HTTPError(400, "multipart part without a name")
        if filename:
            files[name.group(1)] = UploadedFile(
                name.group(1), filename.group(1), headers.get("content-type", "application/octet-stream"), content
            )
        else:
            form[name.group(1)] = content.decode("utf-8")
    return form, files
