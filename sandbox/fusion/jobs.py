"""Asynchronous ESS jobs: a queue, one worker thread, statuses WAIT -> RUNNING -> terminal.

A job stays RUNNING for the `job_seconds` knob, then runs Journal Import against the books and
keeps its log zip (`<id>.log` and `rejected_rows.csv`). Request ids are sequential.
"""

from __future__ import annotations

import csv
import io
import queue
import threading
import time
import zipfile
from dataclasses import dataclass

from sandbox.fusion import journal_import
from sandbox.fusion.journal_import import ERROR, JobParameters, LoadError, Outcome
from sandbox.fusion.knobs import Knobs
from sandbox.fusion.ledger import Books

WAIT, RUNNING = "WAIT", "RUNNING"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_POLL_SECONDS = 0.05


@dataclass
class Job:
    """One submitted Journal Import request."""

    request_id: str
    file_name: str
    params: JobParameters
    document: bytes | None
    status: str = WAIT
    log_zip: bytes | None = None


class JobRunner:
    """Runs submitted jobs one at a time on a background thread."""

    def __init__(self, books: Books, knobs: Knobs, lock: threading.RLock, first_id: int) -> None:
        self.books = books
        self.knobs = knobs
        self.lock = lock
        self.jobs: dict[str, Job] = {}
        self._next_id = first_id
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._work, name="fusion-ess", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker after the job in hand (queued jobs stay WAIT)."""
        if self._thread is None:
            return
        self._stopping.set()
        self._queue.put(None)
        self._thread.join()
        self._thread = None

    def submit(self, file_name: str, document: bytes, params: JobParameters) -> str:
        """Queue a job and return its request id."""
        with self.lock:
            request_id = str(self._next_id)
            self._next_id += 1
            job = Job(request_id, file_name, params, document)
            self.jobs[request_id] = job
        self._queue.put(job)
        return request_id

    def status(self, request_id: str) -> str | None:
        """The job's status, or None for an unknown id."""
        with self.lock:
            job = self.jobs.get(request_id)
            return job.status if job else None

    def log(self, request_id: str) -> bytes | None:
        """The finished job's log zip, or None while unknown or unfinished."""
        with self.lock:
            job = self.jobs.get(request_id)
            return job.log_zip if job else None

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            with self.lock:
                job.status = RUNNING
                fail = self.knobs.fail_next_jobs > 0
                if fail:
                    self.knobs.fail_next_jobs -= 1
            if not self._hold_running():
                return
            outcome = self._run(job, fail)
            log_zip = _log_zip(job, outcome)
            with self.lock:
                job.status = outcome.status
                job.log_zip = log_zip
                job.document = None  # journal lines are not kept beyond the job

    def _hold_running(self) -> bool:
        """Stay RUNNING for `job_seconds`, re-read as it passes so tests can end a slow job.

        False when the runner is stopping.
        """
        started = time.monotonic()
        while True:
            with self.lock:
                remaining = self.knobs.job_seconds - (time.monotonic() - started)
            if remaining <= 0:
                return True
            if self._stopping.wait(min(remaining, _POLL_SECONDS)):
                return False

    def _run(self, job: Job, fail: bool) -> Outcome:
        if fail:
            return Outcome(ERROR, ["The job failed (injected by the sandbox). Nothing posted."])
        try:
            rows = journal_import.load_rows(job.document or b"")
        except LoadError as exc:
            return Outcome(ERROR, [f"Load failed: {exc}. Nothing was imported."])
        with self.lock:
            return journal_import.import_journals(rows, job.params, self.books, job.request_id)


def _log_zip(job: Job, outcome: Outcome) -> bytes:
    params = job.params
    text = "\n".join(
        [
            f"Journal Import request {job.request_id}",
            f"File: {job.file_name}",
            f"Journal source: {params.source}; ledger: {params.ledger_id}; "
            f"group id: {params.group_id}",
            *outcome.log,
            f"Status: {outcome.status}",
            "",
        ]
    )
    rejected = io.StringIO()
    writer = csv.writer(rejected, lineterminator="\n")
    writer.writerow(journal_import.REJECTED_HEADER)
    writer.writerows(r.as_row() for r in outcome.rejected)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in ((f"{job.request_id}.log", text), ("rejected_rows.csv", rejected)):
            data = content if isinstance(content, str) else content.getvalue()
            archive.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data.encode("utf-8"))
    return buffer.getvalue()
