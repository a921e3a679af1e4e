"""Asynchronous ESS jobs: a queue, one worker thread, statuses WAIT -> RUNNING -> terminal.

Every job is a piece of work: Journal Import, another FBDI object's import, or an HCM Data
Loader data set. A job stays RUNNING for the `job_seconds` knob, then runs its work and keeps
its log zip (`<id>.log` and `rejected_rows.csv`). Request ids are sequential across all kinds.
"""

from __future__ import annotations

import csv
import io
import queue
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from sandbox.fusion.knobs import Knobs

WAIT, RUNNING = "WAIT", "RUNNING"
SUCCEEDED, WARNING, ERROR = "SUCCEEDED", "WARNING", "ERROR"
INJECTED_FAILURE = "The job failed (injected by the sandbox). Nothing posted."
FAILED = "The job failed inside the simulator. Nothing posted."
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_POLL_SECONDS = 0.05
_CSV_ROWS = 65_536  # rejected rows written to the log per step


@dataclass
class Result:
    """What one job did: terminal status, the human log and its rejected rows (tuples, or a
    table whose columns are the work's rejected_header)."""

    status: str
    log: list[str] = field(default_factory=list)
    rejected: list[tuple[str, ...]] | pa.Table | None = None


class Work(Protocol):
    """What a job runs. `rejected_header` heads its `rejected_rows.csv`."""

    rejected_header: tuple[str, ...]

    def describe(self, request_id: str) -> list[str]:
        """The opening lines of the job's log."""
        ...

    def run(self, request_id: str, document: bytes, lock: threading.RLock) -> Result:
        """Do the work on the document; take the lock around any shared state."""
        ...


@dataclass
class Job:
    """One submitted request."""

    request_id: str
    work: Work
    document: bytes | None
    status: str = WAIT
    log_zip: bytes | None = None


class JobRunner:
    """Runs submitted jobs one at a time on a background thread."""

    def __init__(self, knobs: Knobs, lock: threading.RLock, first_id: int) -> None:
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

    def submit(self, work: Work, document: bytes) -> str:
        """Queue a job and return its request id."""
        with self.lock:
            request_id = str(self._next_id)
            self._next_id += 1
            job = Job(request_id, work, document)
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
            if fail:
                result = Result(ERROR, [INJECTED_FAILURE])
            else:
                try:
                    result = job.work.run(job.request_id, job.document or b"", self.lock)
                except Exception as exc:  # a simulator bug ends the job, not the worker
                    result = Result(ERROR, [f"{FAILED} ({type(exc).__name__})"])
            log_zip = _log_zip(job, result)
            with self.lock:
                job.status = result.status
                job.log_zip = log_zip
                job.document = None  # uploaded content is not kept beyond the job
            del result
            pa.default_memory_pool().release_unused()  # a big import's columns go back

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


def _log_zip(job: Job, result: Result) -> bytes:
    text = "\n".join(
        [*job.work.describe(job.request_id), *result.log, f"Status: {result.status}", ""]
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(f"{job.request_id}.log", _ZIP_TIME), text.encode("utf-8"))
        with archive.open(zipfile.ZipInfo("rejected_rows.csv", _ZIP_TIME), "w") as entry:
            for chunk in _rejected_csv(job.work.rejected_header, result.rejected):
                entry.write(chunk.encode("utf-8"))
    return buffer.getvalue()


def _rejected_csv(
    header: tuple[str, ...], rejected: list[tuple[str, ...]] | pa.Table | None
) -> Iterator[str]:
    """`rejected_rows.csv` in pieces: the header, then the rows a slice at a time."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    if isinstance(rejected, pa.Table):
        for batch in rejected.to_batches(max_chunksize=_CSV_ROWS):
            writer.writerows(zip(*(column.to_pylist() for column in batch.columns), strict=True))
            yield text.getvalue()
            text.seek(0)
            text.truncate()
    elif rejected:
        writer.writerows(rejected)
    yield text.getvalue()
