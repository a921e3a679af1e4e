"""Submit batches of record objects (inventory transactions, mass additions, workers) and
record, record by record, what Fusion accepted.

FBDI batches go through importBulkData and the object's import job, then its follow-up jobs
(PostMassAdditions); HCM Data Loader batches through a data set named after the batch (so an
upload whose answer was lost is found again, not repeated). Rejected file lines come back with
their line numbers; the batch's records file says which record each line carries, so a record
with any rejected line is queued with the reason and the others are recorded as accepted, with
the hash and quantity they were sent with (`<tenant>_ops.fusion_records`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from load.formats import AnySpec, HdlSpec
from load.fusion_client import FusionClient, FusionError, JobTimeout
from load.outbox import OutboxBatch
from runtime.core.config import Domain
from runtime.pipeline.delivery.batches import JOB_STATUSES, BatchOutcome
from runtime.pipeline.posting import ACCEPTED_RECORDS, Posting, QueuedLine

DATA_SET_DONE = {"ORA_SUCCESS": "succeeded", "ORA_COMPLETED": "succeeded"}
# A row Fusion refuses because it holds it already (same source keys or MASS_ADDITION_ID): an
# upload whose answer was lost, sent again. Fusion holds the record, so it counts as accepted.
DUPLICATE_RECORD = "EK02"


@dataclass(frozen=True)
class RecordBatch:
    """One exported batch of records: its zip, landing day and records file rows."""

    batch_id: str
    batch_date: date
    zip_path: Path
    lines: list[dict]  # file, line, record_key, record_hash, measure

    @property
    def record_keys(self) -> list[str]:
        return list(dict.fromkeys(line["record_key"] for line in self.lines))


def read_record_batch(batch: OutboxBatch) -> RecordBatch:
    """The batch's records file: which file line carries which record."""
    text = batch.records_path.read_text(encoding="utf-8")
    return RecordBatch(
        batch_id=batch.batch_id,
        batch_date=batch.feed_date,
        zip_path=batch.zip_path,
        lines=list(csv.DictReader(io.StringIO(text))),
    )


def accepted_records(batch: RecordBatch, rejected: set[str]) -> pa.Table:
    """The batch's records outside `rejected`, as an ACCEPTED_RECORDS table."""
    seen: dict[str, dict] = {}
    for line in batch.lines:
        if line["record_key"] not in rejected:
            seen.setdefault(line["record_key"], line)
    return pa.table(
        {
            "record_key": [r["record_key"] for r in seen.values()],
            "record_hash": [r["record_hash"] for r in seen.values()],
            "measure": [Decimal(r["measure"]) if r["measure"] else None for r in seen.values()],
        },
        schema=ACCEPTED_RECORDS,
    )


@dataclass
class RecordSubmitter:
    posting: Posting
    client: FusionClient
    spec: AnySpec
    domain: Domain
    stream: str
    job_timeout: float

    @property
    def hdl(self) -> bool:
        return isinstance(self.spec, HdlSpec)

    def submit(self, batch: RecordBatch, existing: dict | None) -> BatchOutcome:
        request_id = existing["request_id"] if existing else None
        try:
            if request_id is None and existing is not None and self.hdl:
                request_id = self._data_set_started(batch)  # the answer to its start was lost
            if request_id:
                return self._follow(batch, request_id)
            if existing is None:
                self.posting.start(
                    batch.batch_id, self.stream, self.domain.name, "", len(batch.record_keys)
                )
            request_id = self._upload(batch)
        except FusionError as exc:
            return self._left_open(batch, request_id, str(exc))
        self.posting.submitted(batch.batch_id, request_id)
        try:
            return self._follow(batch, request_id)
        except FusionError as exc:
            return self._left_open(batch, request_id, str(exc))

    def _upload(self, batch: RecordBatch) -> str:
        data, name = batch.zip_path.read_bytes(), batch.zip_path.name
        if self.hdl:
            return self.client.submit_hdl(data, name, batch.batch_id)
        job = self.spec.ess_job
        # the reference documents no ParameterList for these import jobs: none is sent
        parameters = job.parameter_list({}) if job.complete else ""
        return self.client.import_bulk_data(
            data, name, self.spec.ucm_document_account, job.name, parameters
        )

    def _data_set_started(self, batch: RecordBatch) -> str | None:
        found = self.client.data_sets_named(batch.batch_id)
        return str(found[-1]["RequestId"]) if found else None

    def _follow(self, batch: RecordBatch, request_id: str) -> BatchOutcome:
        try:
            status, rejected = (self._follow_hdl if self.hdl else self._follow_fbdi)(
                batch, request_id
            )
        except JobTimeout as exc:
            return self._left_open(batch, request_id, str(exc))
        accepted = accepted_records(batch, set(rejected))
        message = f"Fusion accepted {accepted.num_rows} of {len(batch.record_keys)} records"
        if accepted.num_rows and not self.hdl:
            message += self._follow_up_jobs()
        if status == "succeeded" and rejected:
            status = "warning"
        queued = [
            QueuedLine(None, "", line, code, text, record_key=key)
            for key, (line, code, text) in sorted(rejected.items())
        ]
        self.posting.finish_records(
            batch.batch_id, status, request_id, accepted, queued, message, batch.batch_date
        )
        return BatchOutcome(
            batch.batch_id,
            request_id,
            status,
            len(batch.record_keys),
            accepted.num_rows,
            len(queued),
            message,
        )

    def _follow_fbdi(self, batch: RecordBatch, request_id: str) -> tuple[str, dict]:
        job_status = self.client.wait_for_job(request_id, self.job_timeout)
        status = JOB_STATUSES.get(job_status, "error")
        by_line = {(line["file"], int(line["line"])): line["record_key"] for line in batch.lines}
        primary = batch.lines[0]["file"] if batch.lines else ""
        rejected, held = {}, set()
        for row in self.client.job_log(request_id).rejected:
            key = by_line.get((row.csv_file or primary, row.line_number))
            if key is None:
                continue
            if row.error_code == DUPLICATE_RECORD:
                held.add(key)
            else:
                rejected.setdefault(key, (row.line_number, row.error_code, row.message))
        if status == "error":  # what the log does not name as held or rejected did not load
            failed = (None, f"JOB_{job_status}", f"import job {request_id} ended {job_status}")
            for key in batch.record_keys:
                if key not in held:
                    rejected.setdefault(key, failed)
            if held:
                status = "warning" if rejected else "succeeded"
        return status, rejected

    def _follow_hdl(self, batch: RecordBatch, request_id: str) -> tuple[str, dict]:
        data_set = self.client.wait_for_data_set(request_id, self.job_timeout)
        code = str(data_set["DataSetStatusCode"])
        by_line = {int(line["line"]): line["record_key"] for line in batch.lines}
        rejected = {}
        for message in self.client.data_set_messages(request_id):
            if message.get("MessageTypeCode") != "ERROR":
                continue
            text = str(message.get("MessageText") or "")
            if message.get("FileLine") is None:  # the file as a whole failed
                return "error", self._all_rejected(batch, "HDL_FILE", text)
            key = by_line.get(int(message["FileLine"]))
            if key is not None:
                rejected.setdefault(key, (int(message["FileLine"]), "HDL_LINE", text))
        status = DATA_SET_DONE.get(code, "warning" if code == "ORA_IN_ERROR" else "error")
        if status == "error":
            return status, self._all_rejected(batch, f"HDL_{code}", "data set did not load")
        return status, rejected

    def _follow_up_jobs(self) -> str:
        """Submit the object's follow-up jobs (PostMassAdditions) with the domain's settings."""
        notes = ""
        settings = {"BookTypeCode": self.domain.fusion.book_type_code or ""}
        for job in self.spec.follow_up_jobs:
            request_id = self.client.submit_ess_job(job.name, job.parameter_list(settings))
            ended = self.client.wait_for_job(request_id, self.job_timeout)
            notes += f"; {job.name.rsplit(',', 1)[-1]} {request_id} ended {ended}"
        return notes

    @staticmethod
    def _all_rejected(batch: RecordBatch, code: str, text: str) -> dict:
        return {key: (None, code, text) for key in batch.record_keys}

    def _left_open(self, batch: RecordBatch, request_id: str | None, message: str) -> BatchOutcome:
        text = f"{message}; resolved by the next submission"
        if self.posting.submission(batch.batch_id) is not None:
            self.posting.note(batch.batch_id, text)
        status = "submitted" if request_id else "submitting"
        return BatchOutcome(batch.batch_id, request_id, status, len(batch.record_keys), 0, 0, text)
