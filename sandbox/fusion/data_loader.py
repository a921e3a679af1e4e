"""HCM Data Loader REST (`dataLoadDataSets`): upload a zip, start a data set as an ESS job,
follow its status and read its per-line messages (docs/fusion_contract.md).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from dataclasses import dataclass
from typing import Any

from sandbox.fusion.hcm_store import HcmStore
from sandbox.fusion.hdl_import import IMPORT, LOAD, Judgement, judge
from sandbox.fusion.jobs import ERROR, RUNNING, SUCCEEDED, WAIT, WARNING, JobRunner, Result
from sandbox.fusion.rest import (
    Route,
    bad_request,
    filters,
    json_object,
    not_found,
    page,
    route,
    select,
)
from sandbox.server import Request, Response, json_response

HCM_API = "/hcmRestApi/resources/11.13.18.05"
DATA_SETS = f"{HCM_API}/dataLoadDataSets"
FILE_ACTIONS = ("IMPORT_AND_LOAD", "IMPORT_ONLY")
STATUS_CODES = {
    WAIT: "ORA_UNPROCESSED",
    RUNNING: "ORA_IN_PROGRESS",
    SUCCEEDED: "ORA_SUCCESS",
    WARNING: "ORA_IN_ERROR",
    ERROR: "ORA_IN_ERROR",
}
DATA_SET_ATTRIBUTES = (
    "RequestId",
    "DataSetName",
    "ContentId",
    "FileName",
    "FileAction",
    "DataSetStatusCode",
    "ImportErrorCount",
    "LoadErrorCount",
    "LoadSuccessCount",
)
MESSAGE_ATTRIBUTES = (
    "MessageLineId",
    "DatFileName",
    "BusinessObjectDiscriminator",
    "OriginatingProcessCode",
    "MessageTypeCode",
    "MessageText",
    "ReportedAgainstCode",
    "FileLine",
    "LineOperation",
    "SourceSystemOwner",
    "SourceSystemId",
)
_ZIP_NAME = re.compile(r"^[A-Za-z0-9]+\.zip$")


@dataclass
class Upload:
    """A zip uploaded and not yet used by a data set."""

    file_name: str
    content: bytes


@dataclass
class DataSet:
    """One data set; `judgement` is set when its job has run."""

    name: str
    content_id: str
    file_name: str
    file_action: str
    judgement: Judgement | None = None


class DataSetLoad:
    """The job work of one data set."""

    rejected_header = ("dat_file", "file_line", "stage", "message")

    def __init__(self, data_set: DataSet, store: HcmStore) -> None:
        self.data_set = data_set
        self.store = store

    def describe(self, request_id: str) -> list[str]:
        """The opening lines of the job's log."""
        data_set = self.data_set
        return [
            f"HCM Data Loader data set {data_set.name} request {request_id}",
            f"File: {data_set.file_name}; action: {data_set.file_action}",
        ]

    def run(self, request_id: str, document: bytes, lock: threading.RLock) -> Result:
        """Judge the zip and load what is clean (unless the action is IMPORT_ONLY)."""
        with lock:
            load = self.data_set.file_action == "IMPORT_AND_LOAD"
            judgement = judge(document, self.store, load)
            self.data_set.judgement = judgement
        rejected = [
            (m.dat_file, "" if m.line is None else str(m.line), m.stage, m.text)
            for m in judgement.messages
        ]
        log = [
            f"Lines: {judgement.loaded_lines} loaded, {judgement.error_lines(IMPORT)} failed "
            f"import, {judgement.error_lines(LOAD)} failed load."
        ]
        return Result(judgement.status, log, rejected)


class DataLoader:
    """The dataLoadDataSets resource."""

    def __init__(self, store: HcmStore, jobs: JobRunner, lock: threading.RLock) -> None:
        self.store = store
        self.jobs = jobs
        self.lock = lock
        self.uploads: dict[str, Upload] = {}
        self.data_sets: dict[str, DataSet] = {}
        self._next_content = 1

    def routes(self) -> list[Route]:
        """The resource's routes."""
        return [
            route(f"{DATA_SETS}/action/uploadFile", POST=self.upload_file),
            route(f"{DATA_SETS}/action/createFileDataSet", POST=self.create_file_data_set),
            route(DATA_SETS, GET=self.list_data_sets),
            route(f"{DATA_SETS}/{{request_id}}", GET=self.get_data_set),
            route(f"{DATA_SETS}/{{request_id}}/child/messages", GET=self.messages),
        ]

    def upload_file(self, request: Request) -> Response:
        """Keep an uploaded zip under a new content id."""
        body = json_object(request)
        file_name = str(body.get("fileName") or "")
        if not _ZIP_NAME.match(file_name):
            raise bad_request("fileName must be an alphanumeric name ending in .zip")
        if body.get("fileEncryption", "NONE") != "NONE":
            raise bad_request("fileEncryption must be NONE: the simulator does not decrypt")
        try:
            content = base64.b64decode(str(body.get("content") or ""), validate=True)
        except (ValueError, binascii.Error):
            raise bad_request("content is not base64") from None
        if not content:
            raise bad_request("content is required")
        with self.lock:
            content_id = str(body.get("contentId") or f"UCMFA{self._next_content:08d}")
            if content_id in self.uploads:
                raise bad_request(f"contentId {content_id} is already in use")
            self._next_content += 1
            self.uploads[content_id] = Upload(file_name, content)
        return json_response({"result": {"ContentId": content_id}})

    def create_file_data_set(self, request: Request) -> Response:
        """Start a data set on an uploaded zip; the content is used up."""
        body = json_object(request)
        action = str(body.get("fileAction") or FILE_ACTIONS[0])
        if action not in FILE_ACTIONS:
            raise bad_request(f"fileAction must be {' or '.join(FILE_ACTIONS)}")
        content_id = str(body.get("contentId") or "")
        with self.lock:
            upload = self.uploads.pop(content_id, None)
        if upload is None:
            raise bad_request(f"contentId {content_id!r} names no uploaded file")
        name = str(body.get("dataSetName") or upload.file_name.removesuffix(".zip"))
        data_set = DataSet(name, content_id, upload.file_name, action)
        request_id = self.jobs.submit(DataSetLoad(data_set, self.store), upload.content)
        with self.lock:
            self.data_sets[request_id] = data_set
        return json_response({"result": {"RequestId": int(request_id), "DataSetName": name}})

    def list_data_sets(self, request: Request) -> Response:
        """Data sets, filtered by `q=` and paged."""
        terms = filters(request, DATA_SET_ATTRIBUTES)
        with self.lock:
            items = [self._item(rid, ds) for rid, ds in self.data_sets.items()]
        return page(request, select(items, terms))

    def get_data_set(self, request: Request, request_id: str) -> Response:
        """One data set and its status."""
        with self.lock:
            return json_response(self._item(request_id, self._data_set(request_id)))

    def messages(self, request: Request, request_id: str) -> Response:
        """The data set's messages, filtered by `q=` and paged."""
        terms = filters(request, MESSAGE_ATTRIBUTES)
        with self.lock:
            judgement = self._data_set(request_id).judgement
            found = judgement.messages if judgement else []
        items = [
            {
                "MessageLineId": number,
                "DatFileName": m.dat_file,
                "BusinessObjectDiscriminator": m.discriminator,
                "OriginatingProcessCode": m.stage,
                "MessageTypeCode": "ERROR",
                "MessageText": m.text,
                "ReportedAgainstCode": "ORA_FILE" if m.line is None else "ORA_FILE_LINE",
                "FileLine": m.line,
                "LineOperation": m.operation,
                "SourceSystemOwner": m.owner,
                "SourceSystemId": m.source_id,
            }
            for number, m in enumerate(found, start=1)
        ]
        return page(request, select(items, terms))

    def _data_set(self, request_id: str) -> DataSet:
        data_set = self.data_sets.get(request_id)
        if data_set is None:
            raise not_found(f"no data set with request id {request_id}")
        return data_set

    def _item(self, request_id: str, data_set: DataSet) -> dict[str, Any]:
        judgement = data_set.judgement or Judgement()
        return {
            "RequestId": int(request_id),
            "DataSetName": data_set.name,
            "ContentId": data_set.content_id,
            "FileName": data_set.file_name,
            "FileAction": data_set.file_action,
            "DataSetStatusCode": STATUS_CODES[self.jobs.status(request_id) or WAIT],
            "ImportErrorCount": judgement.error_lines(IMPORT),
            "LoadErrorCount": judgement.error_lines(LOAD),
            "LoadSuccessCount": judgement.loaded_lines,
        }
