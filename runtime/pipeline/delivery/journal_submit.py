"""Submit journal batches to Fusion, follow each import job, record what posted and queue
the rest.

A batch is recorded `submitting` before its upload and `submitted` with the request id after
it; its outcome (posted lines, queue rows, terminal status) is recorded in one transaction. A
batch left non-terminal by a process that died is resolved by asking Fusion first: posted lines
found under its batch name mean `already_posted` (no second upload); a known request id is
followed; only when Fusion has nothing is it uploaded again. A batch with a terminal status is
never submitted again.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from load.formats import FormatSpec
from load.fusion_client import FusionClient, FusionError, JobLog, JobTimeout, RejectedRow
from load.outbox import OutboxBatch
from runtime.core.config import Domain
from runtime.pipeline.delivery.batches import JOB_STATUSES, BatchOutcome
from runtime.pipeline.posting import POSTED_LINES, Posting, QueuedLine

DUPLICATE_BATCH = "EB01"

# (batch id, request id) right after Fusion accepted an upload, before it is recorded: a seam
# where a test stands for the process dying
AfterUpload = Callable[[str, str], None]


@dataclass(frozen=True)
class BatchLines:
    """One exported batch as read from its zip; `lines` holds each file line as it is
    recorded once Fusion accepts it (a POSTED_LINES table)."""

    batch_id: str
    batch_date: date
    group_id: str
    batch_name: str
    zip_path: Path
    lines: pa.Table

    @property
    def source_line_ids(self) -> list[int]:
        return self.lines.column("source_line_id").to_pylist()


def read_batch(batch: OutboxBatch, spec: FormatSpec) -> BatchLines:
    """The batch's lines (file row number, REFERENCE23, REFERENCE4, and what each line posts)
    and its GROUP_ID and batch name, read from its zip as Arrow columns."""
    zip_path = batch.zip_path
    wanted = {c.name: f"f{c.position - 1}" for c in spec.columns if c.name in _READ_COLUMNS}
    with zipfile.ZipFile(zip_path) as archive, archive.open(spec.csv_file) as raw:
        table = pacsv.read_csv(
            raw,
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(wanted.values()),
                column_types=dict.fromkeys(wanted.values(), pa.string()),
                strings_can_be_null=True,
            ),
        )
    column = {name: table.column(field) for name, field in wanted.items()}
    n = table.num_rows
    lines = pa.table(
        {
            "line_number": pa.array(range(1, n + 1), pa.int64()),
            "source_line_id": pc.cast(column["REFERENCE23"], pa.int64()),
            "journal_name": column["REFERENCE4"],
            "line_kind": column["REFERENCE25"],
            "accounting_date": pc.cast(
                pc.strptime(column["ACCOUNTING_DATE"], format="%Y/%m/%d", unit="s"), pa.date32()
            ),
            "currency_code": column["CURRENCY_CODE"],
            **{f"segment{i}": column[f"SEGMENT{i}"] for i in range(1, 7)},
            "entered_dr": pc.cast(column["ENTERED_DR"], pa.decimal128(18, 2)),
            "entered_cr": pc.cast(column["ENTERED_CR"], pa.decimal128(18, 2)),
        },
        schema=POSTED_LINES,
    )
    return BatchLines(
        batch_id=batch.batch_id,
        batch_date=batch.feed_date,
        group_id=column["GROUP_ID"][0].as_py() if n else "",
        batch_name=column["REFERENCE1"][0].as_py() if n else "",
        zip_path=zip_path,
        lines=lines,
    )


_READ_COLUMNS = frozenset(
    {"REFERENCE1", "REFERENCE4", "REFERENCE23", "REFERENCE25", "GROUP_ID", "ACCOUNTING_DATE"}
    | {"CURRENCY_CODE", "ENTERED_DR", "ENTERED_CR"}
    | {f"SEGMENT{i}" for i in range(1, 7)}
)


@dataclass
class JournalSubmitter:
    posting: Posting
    client: FusionClient
    spec: FormatSpec
    domain: Domain
    stream: str
    job_timeout: float
    after_upload: AfterUpload | None

    def submit(self, batch: BatchLines, existing: dict | None) -> BatchOutcome:
        """Resolve a non-terminal batch through Fusion, or upload it and follow its job."""
        request_id = existing["request_id"] if existing else None
        try:
            posted_refs = self._posted_references(batch)
            if posted_refs:
                if existing is None:
                    self._start(batch)
                return self._already_posted(batch, posted_refs, request_id)
            if request_id:
                return self._follow(batch, request_id)
            self._start(batch)
            request_id = self.client.import_bulk_data(
                batch.zip_path.read_bytes(),
                batch.zip_path.name,
                self.spec.ucm_document_account,
                self.spec.ess_job.name,
                self._parameter_list(batch),
            )
        except FusionError as exc:
            open_status = existing["status"] if existing else "submitting"
            return self._left_open(batch, request_id, open_status, str(exc))
        if self.after_upload is not None:
            self.after_upload(batch.batch_id, request_id)
        self.posting.submitted(batch.batch_id, request_id)
        try:
            return self._follow(batch, request_id)
        except FusionError as exc:
            return self._left_open(batch, request_id, "submitted", str(exc))

    def _start(self, batch: BatchLines) -> None:
        self.posting.start(
            batch.batch_id, self.stream, self.domain.name, batch.group_id, batch.lines.num_rows
        )

    def _parameter_list(self, batch: BatchLines) -> str:
        target = self.domain.fusion
        return self.spec.ess_job.parameter_list(
            {
                "JournalSourceName": target.journal_source,
                "LedgerId": str(target.ledger_id),
                "GroupId": batch.group_id,
            }
        )

    def _posted_references(self, batch: BatchLines) -> set[int]:
        """REFERENCE23 of the lines Fusion posted under this batch's name and group id."""
        found = self.client.journal_batches(batch.batch_name, self.domain.fusion.ledger_id)
        refs: set[int] = set()
        for item in found:
            if str(item.get("GroupId")) == batch.group_id:
                refs.update(int(r) for r in item.get("PostedLineReferences", []) if r)
        return refs

    def _follow(self, batch: BatchLines, request_id: str) -> BatchOutcome:
        try:
            job_status = self.client.wait_for_job(request_id, self.job_timeout)
        except JobTimeout as exc:
            return self._left_open(batch, request_id, "submitted", str(exc))
        log = self.client.job_log(request_id)
        if log.rejected and all(r.error_code == DUPLICATE_BATCH for r in log.rejected):
            # Fusion refused a second upload of a batch an earlier job posted.
            posted_refs = self._posted_references(batch)
            if posted_refs:
                return self._already_posted(batch, posted_refs, request_id)
        status = JOB_STATUSES.get(job_status, "error")
        reasons = {r.line_number: r for r in log.rejected}
        rejected = pc.is_in(batch.lines.column("line_number"), pa.array(list(reasons), pa.int64()))
        if status == "error":
            rejected = pa.repeat(pa.scalar(True), batch.lines.num_rows)
        posted = batch.lines.filter(pc.invert(rejected))
        queued = [
            _queued(line, reasons.get(line["line_number"]), job_status, request_id)
            for line in batch.lines.filter(rejected).to_pylist()
        ]
        message = f"import job {request_id} ended {job_status}"
        return self._finish(batch, status, request_id, posted, queued, message)

    def _already_posted(
        self, batch: BatchLines, posted_refs: set[int], request_id: str | None
    ) -> BatchOutcome:
        reasons = {r.line_number: r for r in self._log(request_id).rejected}
        found = pc.is_in(
            batch.lines.column("source_line_id"), pa.array(list(posted_refs), pa.int64())
        )
        found = pc.fill_null(found, False)
        posted = batch.lines.filter(found)
        queued = [
            _queued(line, reasons.get(line["line_number"]), "NOT_POSTED", request_id)
            for line in batch.lines.filter(pc.invert(found)).to_pylist()
        ]
        message = "Fusion already holds this batch; not uploaded again"
        return self._finish(batch, "already_posted", request_id, posted, queued, message)

    def _log(self, request_id: str | None) -> JobLog:
        """The job's log when it can be read; an empty one otherwise."""
        if request_id:
            try:
                return self.client.job_log(request_id)
            except FusionError:
                pass
        return JobLog(request_id or "", "", ())

    def _finish(
        self,
        batch: BatchLines,
        status: str,
        request_id: str | None,
        posted: pa.Table,
        queued: list[QueuedLine],
        message: str,
    ) -> BatchOutcome:
        self.posting.finish(
            batch.batch_id, status, request_id, posted, queued, message, batch.batch_date
        )
        return BatchOutcome(
            batch.batch_id,
            request_id,
            status,
            batch.lines.num_rows,
            posted.num_rows,
            len(queued),
            message,
        )

    def _left_open(
        self, batch: BatchLines, request_id: str | None, status: str, message: str
    ) -> BatchOutcome:
        text = f"{message}; resolved by the next submission"
        if self.posting.submission(batch.batch_id) is not None:
            self.posting.note(batch.batch_id, text)
        return BatchOutcome(batch.batch_id, request_id, status, batch.lines.num_rows, 0, 0, text)


def _queued(
    line: dict, reason: RejectedRow | None, job_status: str, request_id: str | None
) -> QueuedLine:
    """The queue row of a file line (a POSTED_LINES row as a dict) Fusion did not post."""
    number, line_id, journal = line["line_number"], line["source_line_id"], line["journal_name"]
    if reason is not None:
        return QueuedLine(line_id, journal, number, reason.error_code, reason.message)
    if job_status == "NOT_POSTED":
        text = "Fusion did not post this line; no row-level reason is available"
        return QueuedLine(line_id, journal, number, "NOT_POSTED", text)
    text = f"import job {request_id} ended {job_status}; nothing in the batch posted"
    return QueuedLine(line_id, journal, number, f"JOB_{job_status.replace(' ', '_')}", text)
