"""The validation report: every issue with a stable code, severity, line and hint, plus statistics."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Cluster", "DatasetStats", "Issue", "Severity", "ValidationReport"]

Severity = Literal["error", "warning"]


class Cluster(BaseModel):
    """Lines reported together: exact copies of one example, or near-copies linked by similarity.

    ``representative`` is the first line, the one ``ftkit dedup`` keeps; ``members`` lists every line of
    the cluster in file order (the representative first), so ``size == len(members)``.
    """

    model_config = ConfigDict(extra="forbid")

    size: int
    representative: int
    members: list[int]


class Issue(BaseModel):
    """One problem found in a dataset (or in a job's settings).

    ``line`` is 1-based; ``related_lines`` names the other lines involved (for duplicates, the earlier
    occurrences). ``path`` is the field path inside the example, e.g. ``messages[2].content``.
    """

    model_config = ConfigDict(extra="forbid")

    code: str
    severity: Severity
    message: str
    hint: str | None = None
    line: int | None = None
    related_lines: list[int] = Field(default_factory=list)
    path: str | None = None
    file: str | None = None
    count: int | None = Field(default=None, description="for aggregated warnings: how many examples")
    cluster: Cluster | None = Field(default=None, description="for duplicate and near_duplicate: the lines")

    def json_entry(self) -> dict[str, Any]:
        """This issue as ``--json`` lists it (no ``file`` or ``count``; ``cluster`` only for clusters)."""
        entry: dict[str, Any] = {"code": self.code, "severity": self.severity, "message": self.message,
                                 "hint": self.hint, "line": self.line, "related_lines": list(self.related_lines),
                                 "path": self.path}
        if self.cluster is not None:
            entry["cluster"] = self.cluster.model_dump()
        return entry

    def format(self) -> str:
        where = ""
        if self.file:
            where += f"{self.file}:"
        if self.line is not None:
            where += f"{self.line}: "
        elif where:
            where += " "
        field = f"{self.path}: " if self.path else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}{self.severity} [{self.code}] {field}{self.message}{hint}"


class DatasetStats(BaseModel):
    """Token and shape statistics of one dataset file."""

    model_config = ConfigDict(extra="allow")

    examples: int = 0
    format: str | None = None
    messages_per_example: dict[str, float] = Field(default_factory=dict)
    tokens_per_example: dict[str, float] = Field(default_factory=dict, description="min, mean, p50, p95, max")
    total_tokens: int = 0
    trained_tokens: int = 0
    tokens_exact: bool = False
    tokenizer: str | None = None
    labels: dict[str, int] = Field(default_factory=dict)


class ValidationReport(BaseModel):
    """The result of validating a dataset. ``validate()`` never raises on bad data; it returns this."""

    model_config = ConfigDict(extra="allow")

    ok: bool = True
    stats: DatasetStats = Field(default_factory=DatasetStats)
    issues: list[Issue] = Field(default_factory=list)
    issue_counts: dict[str, int] = Field(
        default_factory=dict, description="issues per code, including any left out by max_issues"
    )
    omitted_issues: int = Field(default=0, description="issues found but not listed (max_issues)")
    clustered_lines: dict[str, int] = Field(
        default_factory=dict, description="lines in duplicate / near_duplicate clusters per code (all clusters)"
    )
    files: dict[str, DatasetStats] = Field(
        default_factory=dict, description="statistics of the validation and test files, keyed by role"
    )

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def to_json_dict(self) -> dict[str, Any]:
        """The ``--json`` shape: ``{"ok", "stats", "issues": [...]}``; a cluster's issue also has ``cluster``."""
        return {
            "ok": self.ok,
            "stats": self.stats.model_dump(mode="json"),
            "issues": [i.json_entry() for i in self.issues],
        }
