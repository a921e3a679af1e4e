"""Fusion REST client, per docs/fusion_contract.md: ERP Integration (importBulkData, ESS job
status and log, Fixed Assets processTransaction), journal batches and ledger balances, HCM Data
Loader data sets, reference reads (workers, value sets, suppliers, customer accounts) and the
real-time creates and worker changes.

Errors name the operation and the HTTP status, never a request body, journal or worker content.
Every call goes through the product's retry policy (runtime.core.http), which retries reads but no
POST or PATCH: a lost answer may hide a job that runs or a record that was created, so callers
ask Fusion (journalBatches, data sets by name, accounts by source reference). The one POST
retried is the HDL file upload, which only stores content under a new id.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import os
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error, TokenExpiredError
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from runtime.core.config import ConfigError, Tenant
from runtime.core.endpoints import resolve_endpoint
from runtime.core.http import Observer, RetryPolicy, plain_http_on_loopback, retrying_session
from runtime.core.secrets import env_name, optional_secret

FSCM = "/fscmRestApi/resources/11.13.18.05"
HCM = "/hcmRestApi/resources/11.13.18.05"
ERP = f"{FSCM}/erpintegrations"
JOURNAL_BATCHES = f"{FSCM}/journalBatches"
LEDGER_BALANCES = f"{FSCM}/ledgerBalances"
VALUE_SETS = f"{FSCM}/valueSets"
SUPPLIERS = f"{FSCM}/suppliers"
DATA_SETS = f"{HCM}/dataLoadDataSets"
UPLOAD_FILE = f"{DATA_SETS}/action/uploadFile"
WORKERS = f"{HCM}/workers"
ACCOUNTS = "/crmRestApi/resources/11.13.18.05/accounts"
TOKEN = "/oauth2/v1/token"
RUNNING = frozenset({"WAIT", "READY", "RUNNING", "BLOCKED", "PAUSED"})
DATA_SET_RUNNING = frozenset({"ORA_UNPROCESSED", "ORA_IN_PROGRESS"})
ACTION_JSON = {"Content-Type": "application/vnd.oracle.adf.action+json"}
PAGE = 500
_SAFE_POSTS = frozenset({TOKEN, UPLOAD_FILE})
Answer = TypeVar("Answer")


class FusionError(RuntimeError):
    """A Fusion call failed; `status` is the HTTP status (None when no answer came)."""

    def __init__(self, operation: str, status: int | None, detail: str = "") -> None:
        self.operation = operation
        self.status = status
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"Fusion {operation} failed: {where}" + (f" ({detail})" if detail else ""))


class JobTimeout(FusionError):
    """An ESS job did not reach a terminal status in time; it may still finish."""


@dataclass(frozen=True)
class BasicCredentials:
    """An integration user for HTTP Basic."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class ClientCredentials:
    """An OAuth2 confidential client (client credentials grant)."""

    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class RejectedRow:
    """One row of the job log's `rejected_rows.csv`; `csv_file` is set for FBDI objects other
    than Journal Import, the journal columns for Journal Import."""

    line_number: int
    group_id: str
    journal_name: str
    line_reference: int | None
    error_code: str
    message: str
    csv_file: str = ""


@dataclass(frozen=True)
class JobLog:
    """An ESS job's log text and the rows it rejected."""

    request_id: str
    text: str
    rejected: tuple[RejectedRow, ...]


class FusionClient:
    """One Fusion pod's REST API for one integration identity."""

    def __init__(
        self,
        base_url: str,
        auth: BasicCredentials | ClientCredentials,
        policy: RetryPolicy | None = None,
        observer: Observer | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self._auth = auth
        if isinstance(auth, ClientCredentials):
            _allow_plain_http_on_loopback(self.base_url)
            session: requests.Session = OAuth2Session(
                client=BackendApplicationClient(client_id=auth.client_id)
            )
        else:
            session = requests.Session()
            session.auth = HTTPBasicAuth(auth.username, auth.password)
        self._session = retrying_session(
            session,
            policy,
            observer,
            safe_post=lambda request: urlsplit(request.url).path in _SAFE_POSTS,
            sleep=sleep,
            clock=clock,
        )

    # ERP integration -------------------------------------------------------------------------
    def import_bulk_data(
        self,
        zip_bytes: bytes,
        file_name: str,
        document_account: str,
        job_name: str,
        parameter_list: str,
    ) -> str:
        """Upload an FBDI zip and start its import job; returns the request id (ReqstId)."""
        body = {
            "OperationName": "importBulkData",
            "DocumentContent": base64.b64encode(zip_bytes).decode("ascii"),
            "ContentType": "zip",
            "FileName": file_name,
            "DocumentAccount": document_account,
            "JobName": job_name,
            "ParameterList": parameter_list,
            "CallbackURL": "#NULL",
            "NotificationCode": "10",
        }
        answer = self._call("importBulkData", "POST", ERP, json=body, expect=(200, 201))
        request_id = str(answer.get("ReqstId") or "")
        if not request_id.isdigit():
            raise FusionError("importBulkData", 201, "the answer carries no request id")
        return request_id

    def submit_ess_job(self, job_name: str, parameter_list: str) -> str:
        """Submit an ESS job on its own (a spec's follow-up job, such as Post Mass Additions
        after a mass-additions import); `job_name` is `<package>,<definition>` as the specs
        write it. Returns the request id. Not retried: a lost answer may hide a started job."""
        package, _, definition = job_name.rpartition(",")
        if not package or not definition:
            raise ValueError(f"{job_name}: an ESS job name is <package>,<definition>")
        body = {
            "OperationName": "submitESSJobRequest",
            "JobPackageName": package,
            "JobDefName": definition,
            "ESSParameters": parameter_list,
        }
        answer = self._call("submitESSJobRequest", "POST", ERP, json=body, expect=(200, 201))
        request_id = str(answer.get("ReqstId") or "")
        if not request_id.isdigit():
            raise FusionError("submitESSJobRequest", 201, "the answer carries no request id")
        return request_id

    def job_status(self, request_id: str) -> str:
        """The ESS job's RequestStatus (WAIT, RUNNING, SUCCEEDED, WARNING, ERROR, ...)."""
        finder = f"ESSJobStatusRF;requestId={request_id}"
        items = self._call("getESSJobStatus", "GET", ERP, params={"finder": finder})["items"]
        if not items:
            raise FusionError("getESSJobStatus", 200, f"unknown request id {request_id}")
        return str(items[0]["RequestStatus"]).upper()

    def wait_for_job(self, request_id: str, timeout: float = 3600.0) -> str:
        """Poll the job, backing off from 0.5 s to 15 s, until it leaves the running states."""
        return self._wait(
            "getESSJobStatus",
            f"job {request_id}",
            lambda: self.job_status(request_id),
            str,
            RUNNING,
            timeout,
        )

    def job_log(self, request_id: str) -> JobLog:
        """Download the job's log zip and parse `rejected_rows.csv` from it."""
        finder = f"ESSJobExecutionDetailsRF;requestId={request_id},fileType=LOG"
        operation = "downloadESSJobExecutionDetails"
        items = self._call(operation, "GET", ERP, params={"finder": finder})["items"]
        if not items:
            raise FusionError(operation, 200, f"no log for request id {request_id}")
        try:
            archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(items[0]["DocumentContent"])))
        except (ValueError, zipfile.BadZipFile):
            raise FusionError(operation, 200, "the log is not a zip") from None
        names = archive.namelist()
        text = "".join(
            archive.read(n).decode("utf-8", "replace") for n in names if n.endswith(".log")
        )
        rejected = ()
        if "rejected_rows.csv" in names:
            rows = csv.DictReader(io.StringIO(archive.read("rejected_rows.csv").decode("utf-8")))
            rejected = tuple(_rejected_row(row) for row in rows)
        return JobLog(request_id, text, rejected)

    def create_mass_addition(self, columns: Mapping[str, Any]) -> str:
        """Create a Fixed Assets mass addition from FaMassAdditions column values (dates as
        `datetime.date`); returns its MASS_ADDITION_ID. Not retried: on a lost answer, read it
        back by an id you chose (`MASS_ADDITION_ID`)."""
        parameters = {f"P_{name}": _parameter(value) for name, value in columns.items()}
        result = self._transaction("processTransaction-createMassAddition", parameters)
        return result["X_MASS_ADDITION_ID"]

    def mass_addition(self, mass_addition_id: str) -> dict[str, str]:
        """A mass addition's FaMassAdditions column values (dates YYYY-MM-DD)."""
        parameters = {"P_MASS_ADDITION_ID": str(mass_addition_id)}
        result = self._transaction("processTransaction-getMassAddition", parameters)
        return {k.removeprefix("X_"): v for k, v in result.items() if k != "X_RETURN_STATUS"}

    # HCM Data Loader -------------------------------------------------------------------------
    def upload_hdl(self, zip_bytes: bytes, file_name: str) -> str:
        """Upload an HDL zip (alphanumeric name); returns its ContentId."""
        body = {
            "content": base64.b64encode(zip_bytes).decode("ascii"),
            "fileName": file_name,
            "fileEncryption": "NONE",
        }
        answer = self._call("uploadFile", "POST", UPLOAD_FILE, json=body, headers=ACTION_JSON)
        return str(answer["result"]["ContentId"])

    def create_data_set(
        self, content_id: str, data_set_name: str, file_action: str = "IMPORT_AND_LOAD"
    ) -> str:
        """Start importing and loading uploaded content; returns the data set's RequestId."""
        body = {"contentId": content_id, "fileAction": file_action, "dataSetName": data_set_name}
        path = f"{DATA_SETS}/action/createFileDataSet"
        answer = self._call("createFileDataSet", "POST", path, json=body, headers=ACTION_JSON)
        return str(answer["result"]["RequestId"])

    def submit_hdl(self, zip_bytes: bytes, file_name: str, data_set_name: str) -> str:
        """Upload an HDL zip and start its data set; returns the RequestId."""
        return self.create_data_set(self.upload_hdl(zip_bytes, file_name), data_set_name)

    def data_set(self, request_id: str) -> dict[str, Any]:
        """The data set: DataSetStatusCode and its error and success counts."""
        return self._call("dataLoadDataSets", "GET", f"{DATA_SETS}/{request_id}")

    def wait_for_data_set(self, request_id: str, timeout: float = 3600.0) -> dict[str, Any]:
        """Poll the data set like `wait_for_job` until its status is no longer in flight."""
        return self._wait(
            "dataLoadDataSets",
            f"data set {request_id}",
            lambda: self.data_set(request_id),
            lambda item: str(item["DataSetStatusCode"]),
            DATA_SET_RUNNING,
            timeout,
        )

    def data_set_messages(self, request_id: str) -> list[dict]:
        """The data set's per-line messages (all pages)."""
        path = f"{DATA_SETS}/{request_id}/child/messages"
        return list(self._pages("dataLoadDataSets messages", path, {}))

    def data_sets_named(self, data_set_name: str) -> list[dict]:
        """Data sets with this name: how to find one whose start answer was lost."""
        return self._query("dataLoadDataSets", DATA_SETS, DataSetName=data_set_name)

    # reference reads -------------------------------------------------------------------------
    def workers(self, **equal: str) -> list[dict]:
        """Workers whose attributes equal the given values (all workers without any)."""
        return self._query("workers", WORKERS, **equal)

    def worker_names(self, person_id: int | str) -> list[dict]:
        """A worker's names (PersonNameId, FirstName, LastName, ...)."""
        return list(self._pages("workers names", f"{WORKERS}/{person_id}/child/names", {}))

    def worker_emails(self, person_id: int | str) -> list[dict]:
        """A worker's email addresses."""
        return list(self._pages("workers emails", f"{WORKERS}/{person_id}/child/emails", {}))

    def value_set_values(self, value_set: str, **equal: str) -> list[dict]:
        """A value set's values (the cost centres, say) whose attributes equal the given values."""
        return self._query("valueSets", f"{VALUE_SETS}/{value_set}/child/values", **equal)

    def suppliers(self, **equal: str) -> list[dict]:
        """Suppliers whose attributes equal the given values."""
        return self._query("suppliers", SUPPLIERS, **equal)

    def customer_accounts(self, **equal: str) -> list[dict]:
        """Customer accounts whose attributes equal the given values."""
        return self._query("accounts", ACCOUNTS, **equal)

    # real-time creates and changes -----------------------------------------------------------
    def create_customer_account(self, fields: Mapping[str, str]) -> dict[str, Any]:
        """Create an AR customer account (OrganizationName, SourceSystem,
        SourceSystemReferenceValue required). Not retried: after a lost answer look it up with
        `customer_accounts(SourceSystemReferenceValue=...)`; a second create is a 409."""
        return self._call("accounts", "POST", ACCOUNTS, json=dict(fields), expect=(201,))

    def change_worker_name(
        self, person_id: int | str, name_id: int | str, changes: Mapping[str, str | None]
    ) -> dict[str, Any]:
        """Change FirstName, LastName, MiddleNames or Title of one of a worker's names."""
        path = f"{WORKERS}/{person_id}/child/names/{name_id}"
        return self._call("workers names", "PATCH", path, json=dict(changes))

    def add_worker_email(self, person_id: int | str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Add an email address (EmailType, EmailAddress, DateFrom; PrimaryFlag Y or N)."""
        path = f"{WORKERS}/{person_id}/child/emails"
        body = {k: _parameter(v) for k, v in fields.items()}
        return self._call("workers emails", "POST", path, json=body, expect=(201,))

    # reads -----------------------------------------------------------------------------------
    def journal_batches(self, batch_name: str, ledger_id: int | str) -> list[dict]:
        """Posted journal batches named `batch_name` in the ledger (all pages)."""
        query = f"JournalBatchName='{batch_name}';LedgerId={ledger_id}"
        return list(self._pages("journalBatches", JOURNAL_BATCHES, {"q": query}))

    def ledger_balances(
        self, ledger_name: str, period: str, currency: str, combination: str = "%-%-%-%-%-%"
    ) -> list[dict]:
        """Balances per account combination for one period (all pages)."""
        finder = (
            f"AccountBalanceFinder;ledgerSetOrLedger={ledger_name},accountingPeriod={period},"
            f"currency={currency},accountCombination={combination}"
        )
        return list(self._pages("ledgerBalances", LEDGER_BALANCES, {"finder": finder}))

    # transport -------------------------------------------------------------------------------
    def _query(self, operation: str, path: str, **equal: str) -> list[dict]:
        query = ";".join(f"{name}={_quoted(value)}" for name, value in equal.items())
        return list(self._pages(operation, path, {"q": query} if query else {}))

    def _transaction(self, operation: str, parameters: dict[str, str]) -> dict[str, str]:
        body = {"OperationName": operation, "ParameterList": json.dumps(parameters)}
        answer = self._call(operation, "POST", ERP, json=body, expect=(200, 201))
        try:
            result = json.loads(answer["ParameterList"])
        except (KeyError, TypeError, ValueError):
            raise FusionError(operation, 201, "the answer carries no ParameterList") from None
        if result.get("X_RETURN_STATUS") != "S":
            raise FusionError(operation, 201, f"X_RETURN_STATUS {result.get('X_RETURN_STATUS')}")
        return result

    def _wait(
        self,
        operation: str,
        what: str,
        read: Callable[[], Answer],
        status_of: Callable[[Answer], str],
        running: frozenset[str],
        timeout: float,
    ) -> Answer:
        deadline = self.clock() + timeout
        interval = 0.5
        while True:
            answer = read()
            status = status_of(answer)
            if status not in running:
                return answer
            if self.clock() + interval > deadline:
                raise JobTimeout(operation, 200, f"{what} still {status}")
            self.sleep(interval)
            interval = min(15.0, interval * 2)

    def _pages(self, operation: str, path: str, params: dict[str, str]) -> Iterator[dict]:
        offset = 0
        while True:
            page = self._call(
                operation, "GET", path, params=params | {"limit": PAGE, "offset": offset}
            )
            items = page.get("items", [])
            yield from items
            if not page.get("hasMore") or not items:
                return
            offset += len(items)

    def _call(
        self, operation: str, method: str, path: str, expect: tuple[int, ...] = (200,), **kwargs
    ) -> dict[str, Any]:
        response = self._send(operation, method, path, **kwargs)
        if response.status_code == 401 and isinstance(self._auth, ClientCredentials):
            self._fetch_token(operation)  # the token expired or was revoked early
            response = self._send(operation, method, path, **kwargs)
        if response.status_code not in expect:
            raise FusionError(operation, response.status_code, _title(response))
        try:
            return response.json()
        except ValueError:
            raise FusionError(operation, response.status_code, "answer is not JSON") from None

    def _send(self, operation: str, method: str, path: str, **kwargs) -> requests.Response:
        if isinstance(self._auth, ClientCredentials) and not self._session.token:
            self._fetch_token(operation)
        try:
            try:
                return self._session.request(
                    method, self.base_url + path, timeout=self.timeout, **kwargs
                )
            except TokenExpiredError:
                self._fetch_token(operation)
                return self._session.request(
                    method, self.base_url + path, timeout=self.timeout, **kwargs
                )
        except requests.RequestException as exc:
            raise FusionError(operation, None, type(exc).__name__) from None

    def _fetch_token(self, operation: str) -> None:
        auth = HTTPBasicAuth(self._auth.client_id, self._auth.client_secret)
        try:
            self._session.fetch_token(self.base_url + TOKEN, auth=auth, timeout=self.timeout)
        except OAuth2Error as exc:
            raise FusionError(f"{operation} (token)", exc.status_code, exc.error) from None
        except requests.RequestException as exc:
            raise FusionError(f"{operation} (token)", None, type(exc).__name__) from None


def client_for_tenant(tenant: str, endpoint_url: str, **options) -> FusionClient:
    """A client for the tenant's Fusion from its secrets: OAuth2 client credentials
    (`fusion_client_id`/`fusion_client_secret`) or else Basic (`fusion_username`/
    `fusion_password`). `options` go to FusionClient (retry policy, observer, timeout)."""
    client_id = optional_secret(tenant, "fusion_client_id")
    client_secret = optional_secret(tenant, "fusion_client_secret")
    if client_id and client_secret:
        return FusionClient(endpoint_url, ClientCredentials(client_id, client_secret), **options)
    username = optional_secret(tenant, "fusion_username")
    password = optional_secret(tenant, "fusion_password")
    if username and password:
        return FusionClient(endpoint_url, BasicCredentials(username, password), **options)
    names = ("fusion_client_id", "fusion_client_secret", "fusion_username", "fusion_password")
    raise ConfigError(
        f"ehrfusion.{tenant}.fusion_*",
        "no Fusion credentials; set both of "
        + " and ".join(env_name(tenant, n) for n in names[:2])
        + " (OAuth2 client credentials) or both of "
        + " and ".join(env_name(tenant, n) for n in names[2:])
        + f" (Basic), or the same names under [ehrfusion.{tenant}] in .dlt/secrets.toml",
    )


def fusion_url(tenant: Tenant, name: str = "fusion") -> str:
    """The base URL of the tenant's Fusion from its endpoints file (`kind: http`)."""
    entry = resolve_endpoint(tenant, name)
    if entry.get("kind") != "http" or not entry.get("url"):
        raise ConfigError(f"endpoint {name}", f"expected kind: http with a url, found {entry}")
    return str(entry["url"])


def _allow_plain_http_on_loopback(base_url: str) -> None:
    """oauthlib refuses plain http; the sandbox serves it on loopback only, so allow exactly
    that. Anything else must use https."""
    try:
        loopback = plain_http_on_loopback(base_url, "OAuth2")
    except ValueError as exc:
        raise ConfigError("fusion endpoint", str(exc)) from None
    if loopback:
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def _rejected_row(row: dict[str, str]) -> RejectedRow:
    reference = (row.get("line_reference") or "").strip()
    return RejectedRow(
        line_number=int(row["line_number"]),
        group_id=row.get("group_id") or "",
        journal_name=row.get("journal_name") or "",
        line_reference=int(reference) if reference.isdigit() else None,
        error_code=row.get("error_code") or "",
        message=row.get("message") or "",
        csv_file=row.get("csv_file") or "",
    )


def _quoted(value: str) -> str:
    """A `q=` value in single quotes, quotes inside doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def _parameter(value: Any) -> str:
    """A value as Fusion REST payloads write it: dates YYYY-MM-DD, numbers as plain text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _title(response: requests.Response) -> str:
    """The error title Fusion sent (never the request), if any."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("title") or body.get("error") or "")[:200]
    return ""
