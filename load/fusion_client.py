"""Fusion REST client: ERP Integration (importBulkData, ESS job status and log), journal
batches and ledger balances, per docs/fusion_contract.md.

Errors name the operation and the HTTP status, never a request body or journal content.
Every call goes through the product's retry policy (runtime.http); importBulkData is not
retried there, because a lost answer may hide a job that runs: the submitter asks Fusion.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error, TokenExpiredError
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from runtime.config import ConfigError, Tenant
from runtime.endpoints import resolve_endpoint
from runtime.http import Observer, RetryPolicy, retrying_session
from runtime.secrets import env_name, optional_secret

ERP = "/fscmRestApi/resources/11.13.18.05/erpintegrations"
JOURNAL_BATCHES = "/fscmRestApi/resources/11.13.18.05/journalBatches"
LEDGER_BALANCES = "/fscmRestApi/resources/11.13.18.05/ledgerBalances"
TOKEN = "/oauth2/v1/token"
RUNNING = frozenset({"WAIT", "READY", "RUNNING", "BLOCKED", "PAUSED"})
PAGE = 500
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


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
    """One row of the job log's `rejected_rows.csv`."""

    line_number: int
    group_id: str
    journal_name: str
    line_reference: int | None
    error_code: str
    message: str


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
            safe_post=lambda request: urlsplit(request.url).path == TOKEN,
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

    def job_status(self, request_id: str) -> str:
        """The ESS job's RequestStatus (WAIT, RUNNING, SUCCEEDED, WARNING, ERROR, ...)."""
        finder = f"ESSJobStatusRF;requestId={request_id}"
        items = self._call("getESSJobStatus", "GET", ERP, params={"finder": finder})["items"]
        if not items:
            raise FusionError("getESSJobStatus", 200, f"unknown request id {request_id}")
        return str(items[0]["RequestStatus"]).upper()

    def wait_for_job(self, request_id: str, timeout: float = 3600.0) -> str:
        """Poll the job, backing off from 0.5 s to 15 s, until it leaves the running states."""
        deadline = self.clock() + timeout
        interval = 0.5
        while True:
            status = self.job_status(request_id)
            if status not in RUNNING:
                return status
            if self.clock() + interval > deadline:
                raise JobTimeout("getESSJobStatus", 200, f"job {request_id} still {status}")
            self.sleep(interval)
            interval = min(15.0, interval * 2)

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
    parts = urlsplit(base_url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        return
    raise ConfigError("fusion endpoint", "OAuth2 needs an https URL (plain http on loopback only)")


def _rejected_row(row: dict[str, str]) -> RejectedRow:
    reference = (row.get("line_reference") or "").strip()
    return RejectedRow(
        line_number=int(row["line_number"]),
        group_id=row.get("group_id") or "",
        journal_name=row.get("journal_name") or "",
        line_reference=int(reference) if reference.isdigit() else None,
        error_code=row.get("error_code") or "",
        message=row.get("message") or "",
    )


def _title(response: requests.Response) -> str:
    """The error title Fusion sent (never the request), if any."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("title") or body.get("error") or "")[:200]
    return ""
