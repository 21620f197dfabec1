"""Files in the Together emulator: the three-step upload, checksum dedup, and server-side validation
that completes on the emulator's clock (``processing_status`` PENDING -> QUEUED -> RUNNING ->
COMPLETED or INVALID_FORMAT, with a ``validation_report``).

``PENDING`` means the bytes arrived but ``/preprocess`` was not called yet; a second ``/preprocess``
is harmless (it answers the file as it is), which is what lets a client recover from a lost answer.

ASSUMPTIONS (not documented by Together): the emulated validation time (``processing_seconds``) and the
idempotent second ``/preprocess``; ``validation_report.dataset_has_tools`` / ``dataset_is_multimodal`` are
always false (the emulator does not inspect tools or images; shared/reference/review-managed.md section 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftkit.providers.together.testing._data import DatasetSummary, InvalidFormat, check_dataset

__all__ = ["EmulatedFile"]


@dataclass
class EmulatedFile:
    id: str
    filename: str
    purpose: str
    file_type: str
    checksum: str
    created: float
    processing_seconds: float
    content: bytes | None = None
    preprocessed_at: float | None = None
    #: a scripted rejection (``server.reject_next_file``) overriding the real check
    rejection: str | None = None
    summary: DatasetSummary | None = None
    error: str | None = None
    deleted: bool = False

    def receive(self, content: bytes) -> None:
        """The PUT arrived: keep the bytes and run Together's format check on them (revealed later)."""
        self.content = content
        if self.rejection is not None:
            self.error = self.rejection
            return
        try:
            self.summary = check_dataset(content)
        except InvalidFormat as e:
            self.error = str(e)

    def processing(self, now: float) -> tuple[str, dict[str, Any] | None]:
        if self.content is None or self.preprocessed_at is None:
            return "PENDING", None
        elapsed = now - self.preprocessed_at
        if elapsed < self.processing_seconds / 2:
            return "QUEUED", None
        if elapsed < self.processing_seconds:
            return "RUNNING", None
        report: dict[str, Any] = {"valid": self.error is None, "file_id": self.id}
        if self.error is not None:
            report.update({"error": self.error, "error_type": "INVALID_FORMAT"})
            return "INVALID_FORMAT", report
        assert self.summary is not None
        report.update({
            "dataset_format": self.summary.dataset_format,
            "nlines": self.summary.lines,
            "dataset_has_message_weights": False,
            "dataset_has_sample_weights": False,
            "dataset_has_tools": False,
            "dataset_has_parallel_tool_calls": False,
            "dataset_has_reasoning": False,
            "dataset_is_multimodal": False,
        })  # fmt: skip
        return "COMPLETED", report

    def ready(self, now: float) -> bool:
        return self.processing(now)[0] == "COMPLETED"

    def view(self, now: float) -> dict[str, Any]:
        """The wire ``FileResponse`` (note the capitalised ``FileType`` key)."""
        status, report = self.processing(now)
        body: dict[str, Any] = {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content or b""),
            "created_at": int(self.created),
            "filename": self.filename,
            "FileType": self.file_type,
            "purpose": self.purpose,
            "processing_status": status,
        }
        if report is not None:
            body["validation_report"] = report
        return body
