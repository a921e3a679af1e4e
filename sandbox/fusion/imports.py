"""importBulkData and submitESSJobRequest: which job a request starts, and the Journal Import
job work.

The import is the FBDI object of the simulator's catalogue (`sandbox.fusion.catalog`) whose
document account and ESS job are the request's DocumentAccount and JobName: Journal Import for
GlInterface, the layout-driven object import (`sandbox.fusion.objects`, with
`sandbox.fusion.object_rules` where Fusion judges more) for every other object. A
submitESSJobRequest names one of the objects' follow-up jobs (Post Mass Additions) by
JobPackageName and JobDefName.
"""

from __future__ import annotations

import base64
import binascii
import threading
from typing import Any

from sandbox.fusion import journal_import, object_rules
from sandbox.fusion.catalog import FbdiObject, fbdi_objects
from sandbox.fusion.fbdi_csv import LoadError
from sandbox.fusion.jobs import ERROR, Result, Work
from sandbox.fusion.journal_import import JobParameters
from sandbox.fusion.ledger import Books
from sandbox.fusion.objects import ObjectImport, ObjectStore, parse_parameters
from sandbox.fusion.rest import bad_request


def fbdi_specs() -> tuple[FbdiObject, ...]:
    """Every FBDI import the simulator runs (its own catalogue)."""
    return fbdi_objects()


class JournalImport:
    """The job work of a GL Journal Import request."""

    rejected_header = journal_import.REJECTED_HEADER

    def __init__(self, file_name: str, params: JobParameters, books: Books) -> None:
        self.file_name = file_name
        self.params = params
        self.books = books

    def describe(self, request_id: str) -> list[str]:
        """The opening lines of the job's log."""
        params = self.params
        return [
            f"Journal Import request {request_id}",
            f"File: {self.file_name}",
            f"Journal source: {params.source}; ledger: {params.ledger_id}; "
            f"group id: {params.group_id}",
        ]

    def run(self, request_id: str, document: bytes, lock: threading.RLock) -> Result:
        """Load and check the GlInterface rows, then validate them against the books and post
        them (under the lock)."""
        try:
            loaded = journal_import.load_lines(document, self.params)
        except LoadError as exc:
            return Result(ERROR, [f"Load failed: {exc}. Nothing was imported."])
        with lock:
            outcome = journal_import.import_journals(loaded, self.params, self.books, request_id)
        return Result(outcome.status, outcome.log, outcome.rejected)


def work_for(body: dict[str, Any], books: Books, objects: ObjectStore) -> Work:
    """The job work an importBulkData body asks for; a 400 when it names no known import."""
    account, job = body.get("DocumentAccount"), body.get("JobName")
    spec = next(
        (s for s in fbdi_specs() if (s.ucm_document_account, s.ess_job.name) == (account, job)),
        None,
    )
    if spec is None:
        known = "; ".join(f"{s.ucm_document_account} with {s.ess_job.name}" for s in fbdi_specs())
        raise bad_request(f"DocumentAccount and JobName must be one of: {known}")
    parameter_list = str(body.get("ParameterList", ""))
    file_name = str(body.get("FileName", ""))
    try:
        if spec.object_name == journal_import.spec().object_name:
            return JournalImport(file_name, JobParameters.parse(parameter_list), books)
        rules = object_rules.rules_for(spec, books)
        parameters = parse_parameters(spec, parameter_list)
        return ObjectImport(spec, file_name, parameters, objects, rules)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def follow_up_work_for(body: dict[str, Any], objects: ObjectStore) -> Work:
    """The job a submitESSJobRequest body asks for: `JobPackageName,JobDefName` must be a
    follow-up job of a spec and ESSParameters its comma-separated ParameterList; else a 400."""
    package, definition = str(body.get("JobPackageName", "")), str(body.get("JobDefName", ""))
    found = [
        (spec, job)
        for spec in fbdi_specs()
        for job in spec.follow_up_jobs
        if job.name == f"{package},{definition}"
    ]
    if not found:
        known = "; ".join(j.name for s in fbdi_specs() for j in s.follow_up_jobs)
        raise bad_request(f"JobPackageName,JobDefName must be one of: {known}")
    spec, job = found[0]
    parameter_list = str(body.get("ESSParameters", ""))
    values = tuple(parameter_list.split(",")) if parameter_list else ()
    if job.parameter_count is not None and len(values) != job.parameter_count:
        raise bad_request(f"ESSParameters needs {job.parameter_count} comma-separated values")
    try:
        return object_rules.follow_up_work(spec, job, values, objects)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def document(body: dict[str, Any]) -> bytes:
    """The decoded DocumentContent; a 400 when it is not base64."""
    try:
        return base64.b64decode(str(body.get("DocumentContent", "")), validate=True)
    except (ValueError, binascii.Error):
        raise bad_request("DocumentContent is not base64") from None
