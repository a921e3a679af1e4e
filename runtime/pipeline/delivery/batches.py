"""What a delivery reports: the batches a run exported and what became of each in Fusion.

Counts, statuses, ids and paths only; never row values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from load.manifest import ExportResult
from runtime.pipeline.posting import TERMINAL

# ESS job statuses Fusion ends an import with that leave its lines posted
JOB_STATUSES = {"SUCCEEDED": "succeeded", "WARNING": "warning"}  # anything else: error


@dataclass(frozen=True)
class ExportedBatch:
    batch_id: str
    feed_date: date
    lines: int
    zip_path: Path
    manifest_path: Path
    reexport: bool
    control_totals: list[dict]

    @classmethod
    def of(cls, feed_date: date, result: ExportResult) -> ExportedBatch:
        return cls(
            batch_id=result.batch_id,
            feed_date=feed_date,
            lines=result.written.rows,
            zip_path=result.zip_path,
            manifest_path=result.manifest_path,
            reexport=result.reexport,
            control_totals=result.manifest["control_totals"]["groups"],
        )

    def to_json(self) -> dict:
        return {
            "batch_id": self.batch_id,
            "feed_date": self.feed_date.isoformat(),
            "lines": self.lines,
            "zip": str(self.zip_path),
            "manifest": str(self.manifest_path),
            "reexport": self.reexport,
            "control_totals": self.control_totals,
        }


@dataclass
class BatchOutcome:
    """What happened to one batch in this submission pass (`lines`: journal lines, or
    records for record objects)."""

    batch_id: str
    request_id: str | None
    status: str
    lines: int
    lines_posted: int = 0
    lines_rejected: int = 0
    message: str | None = None

    @property
    def uploaded(self) -> bool:
        """Whether Fusion has the batch's content (a disclosure to it happened)."""
        return bool(self.request_id) or self.status == "already_posted"


@dataclass
class SubmitResult:
    """Per batch outcomes and totals; `to_json()` is JSON-serialisable."""

    tenant: str
    stream: str
    domain: str
    batches: list[BatchOutcome] = field(default_factory=list)

    @property
    def lines_posted(self) -> int:
        return sum(b.lines_posted for b in self.batches)

    @property
    def lines_rejected(self) -> int:
        return sum(b.lines_rejected for b in self.batches)

    @property
    def open_batches(self) -> list[str]:
        """Batches still without a terminal status (resolved by the next submission)."""
        return [b.batch_id for b in self.batches if b.status not in TERMINAL]

    def to_json(self) -> dict:
        return {
            "tenant": self.tenant,
            "stream": self.stream,
            "domain": self.domain,
            "batches": [asdict(b) for b in self.batches],
            "totals": {
                "batches": len(self.batches),
                "lines_posted": self.lines_posted,
                "lines_rejected": self.lines_rejected,
                "open_batches": len(self.open_batches),
            },
        }


class ReloadRefused(Exception):
    """The batch cannot be reloaded now (nothing open, not finished, unknown); nothing ran."""


@dataclass(frozen=True)
class HeldLine:
    """An open queue line the current mart still holds back, with the exception reason."""

    source_line_id: int
    journal_name: str
    reason: str


@dataclass
class ReloadResult:
    """What one reload did. `status`: `reloaded` (nothing of the batch is open any more),
    `lines_still_open` (lines still held or rejected again wait in the queue) or
    `submit_incomplete` (a reload batch is not finished in Fusion yet; reload again later)."""

    tenant: str
    stream: str
    domain: str
    batch_id: str
    status: str = "reloaded"
    reload_batch_id: str | None = None
    reload_number: int | None = None
    group_id: int | None = None
    lines_exported: int = 0
    lines_posted: int = 0
    lines_rejected_again: int = 0
    lines_already_posted: int = 0
    lines_still_open: int = 0
    still_held: list[HeldLine] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    zip_path: str | None = None
    manifest_path: str | None = None
    submission: SubmitResult | None = None
    message: str = ""

    def to_json(self) -> dict:
        """A JSON-serialisable summary (counts, ids, paths, reasons; no row values)."""
        document = asdict(self)
        document["submission"] = self.submission.to_json() if self.submission else None
        return document
