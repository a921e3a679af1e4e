"""dlt source for the Veradigm Unity API: changed-since polling of patients and charges
through the JSON Magic endpoint (docs/veradigm_contract.md).

Unity has no cursor: each action returns the current state of every row changed at or after
a time. The watermark per table is the newest `ChangedAt` landed, kept in dlt resource state
and moved only with the rows; each poll asks from `OVERLAP` before it, because a row can
become visible after rows stamped later (a transaction committing late), and the merge on the
key makes the re-read rows harmless. One security token serves the whole extract (fetched
again once if Unity logs it out) and is retired at the end. Every request passes through the
organisation's token bucket and runtime.http's retry policy; Magic reads are idempotent, so
their POSTs are retried like GETs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import requests

from extract.dead_letter import DeadLetterStore
from extract.shared.rate_limit import Budget, LimiterRegistry, TokenBucket
from extract.veradigm import (
    STAMP,
    ContractError,
    Field,
    StreamReport,
    Table,
    VeradigmReport,
    integer_text,
    iso_date,
    land,
    money,
    quarantine,
    rejected_records,
    text,
    utc_stamp,
    yes_no,
)
from runtime.http import Observer, RetryPolicy, retrying_session
from runtime.warehouse import Warehouse

SOURCE = "veradigm_unity"
JSON_API = "/Unity/UnityService.svc/json"
# Unity publishes no numeric limit; stay well inside what a shared Unity server tolerates.
BUDGET = Budget(requests=10, per_seconds=1.0, burst=1)
OVERLAP = timedelta(minutes=10)
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
LOGGED_OUT = "logged out"
_CHANGE = (
    Field("changed_at", "ChangedAt", utc_stamp, pa.timestamp("us", tz="UTC")),
    Field("deleted", "Deleted", yes_no, pa.bool_()),
)
ACTIONS = {
    "GetChangedPatients": Table(
        "unity_patients",
        (
            Field("patient_id", "PatientID", text, pa.string()),
            Field("mrn", "MRN", text, pa.string()),
            Field("last_name", "LastName", text, pa.string()),
            Field("first_name", "FirstName", text, pa.string()),
            Field("birth_date", "DOB", iso_date, pa.date32()),
            Field("sex", "Gender", text, pa.string(), optional=True),
            Field("postal_code", "ZipCode", text, pa.string(), optional=True),
            *_CHANGE,
        ),
        key=("patient_id",),
        order="changed_at",
    ),
    "GetChangedCharges": Table(
        "unity_charges",
        (
            Field("charge_id", "ChargeID", text, pa.string()),
            Field("patient_id", "PatientID", text, pa.string()),
            Field("provider_id", "ProviderID", text, pa.string()),
            Field("service_date", "ServiceDate", iso_date, pa.date32()),
            Field("cpt_code", "CPTCode", text, pa.string()),
            Field("icd10_code", "ICD10Code", text, pa.string(), optional=True),
            Field("units", "Units", integer_text, pa.int64()),
            Field("amount", "Amount", money, pa.decimal128(12, 2)),
            Field("status", "Status", text, pa.string()),
            *_CHANGE,
        ),
        key=("charge_id",),
        order="changed_at",
    ),
}
AMOUNTS = {"GetChangedCharges": "amount"}


@dataclass(frozen=True)
class UnityCredentials:
    """A Unity application login and the EHR user it acts as (`AppUserID`)."""

    appname: str
    username: str
    app_user: str
    password: str = field(repr=False)


class UnityError(RuntimeError):
    """A Unity call failed; the message names the call and the HTTP status or Magic error
    kind, never Unity's error text (it can quote a record)."""

    def __init__(self, operation: str, detail: str) -> None:
        super().__init__(f"Unity {operation} failed: {detail}")


class UnityClient:
    """One Unity login, paced by `limiter`; the security token is fetched on first use."""

    def __init__(
        self,
        base_url: str,
        credentials: UnityCredentials,
        limiter: TokenBucket | None = None,
        policy: RetryPolicy | None = None,
        observer: Observer | None = None,
        timeout: float = 60.0,
        **adapter_options,
    ) -> None:
        self.base_url = base_url.rstrip("/") + JSON_API
        self.credentials = credentials
        self.timeout = timeout
        self.requests = 0
        self.waited = 0.0
        self.tokens_fetched = 0
        self._bucket = limiter
        self._token: str | None = None
        # Only GetToken, Magic reads and RetireSecurityToken are sent: all safe to repeat.
        self.session = retrying_session(
            policy=policy,
            observer=observer,
            safe_post=lambda _: True,
            limiter=self._before_attempt,
            **adapter_options,
        )

    def _before_attempt(self) -> None:
        self.requests += 1
        if self._bucket is not None:
            self.waited += self._bucket.acquire()

    def _post(self, operation: str, body: dict[str, Any]) -> requests.Response:
        try:
            response = self.session.post(
                f"{self.base_url}/{operation}", json=body, timeout=self.timeout
            )
        except requests.RequestException:
            raise UnityError(operation, "no answer") from None
        if response.status_code != 200:
            raise UnityError(operation, f"HTTP {response.status_code}")
        return response

    def fetch_token(self) -> None:
        """GetToken: a new security token for the login."""
        c = self.credentials
        body = {"Username": c.username, "Password": c.password, "Appname": c.appname}
        token = self._post("GetToken", body).text.strip()
        if not token or token.lower().startswith("error:"):
            raise UnityError("GetToken", "credentials refused")
        self._token = token
        self.tokens_fetched += 1

    def retire_token(self) -> None:
        """RetireSecurityToken, when a token is held."""
        if self._token is not None:
            body = {"Token": self._token, "Appname": self.credentials.appname}
            self._post("RetireSecurityToken", body)
            self._token = None

    def changed_since(self, action: str, since: datetime) -> Any:
        """The rows `action` reports changed at or after `since`."""
        if self._token is None:
            self.fetch_token()
        body = self._magic(action, since)
        document = _document(body)
        if _logged_out(document):
            self.fetch_token()
            body = self._magic(action, since)
            document = _document(body)
        return _rows(action, document, body)

    def _magic(self, action: str, since: datetime) -> bytes:
        c = self.credentials
        parameters = {f"Parameter{n}": "" for n in range(2, 7)}
        body = {"Action": action, "AppUserID": c.app_user, "Appname": c.appname,
                "PatientID": "", "Token": self._token, "Parameter1": since.strftime(STAMP),
                **parameters, "Data": ""}  # fmt: skip
        return self._post("MagicJson", body).content


def _document(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ContractError("malformed_response", "the answer is not JSON", body) from None


def _logged_out(document: Any) -> bool:
    error = _error(document)
    return error is not None and LOGGED_OUT in error


def _error(document: Any) -> str | None:
    if isinstance(document, list) and document and isinstance(document[0], dict):
        error = document[0].get("Error")
        return error if isinstance(error, str) else None
    return None


def _rows(action: str, document: Any, body: bytes) -> Any:
    if _error(document) is not None:
        raise UnityError(action, "Magic error")
    info = f"{action.lower()}info"
    if not (isinstance(document, list) and len(document) == 1 and isinstance(document[0], dict)):
        raise ContractError("malformed_response", "the answer is not a one-element array", body)
    if info not in document[0]:
        raise ContractError("malformed_response", f"the answer has no {info}", body)
    return document[0][info]


def unity_items(client: UnityClient, store: DeadLetterStore, report: VeradigmReport) -> Iterator:
    """Each action's changed rows since its watermark less the overlap; the watermark moves
    to the newest stamp landed."""
    state: dict = dlt.current.resource_state().setdefault("watermarks", {})
    try:
        for action, spec in ACTIONS.items():
            stream = StreamReport("unity", spec.name, state.get(action), state.get(action))
            report.streams.append(stream)
            since = utc_stamp(state[action]) - OVERLAP if action in state else BEGINNING
            try:
                records = client.changed_since(action, since)
                table, rejects = spec.conform(records, {})
            except UnityError as exc:
                stream.error = str(exc)
                continue
            except ContractError as exc:
                stream.error = f"{type(exc).__name__}: {exc}"
                name = f"{SOURCE}__{spec.name}__since_{since.strftime('%Y%m%dT%H%M%SZ')}.json"
                report.dead_letters.append({"object": name, "reason_code": exc.reason_code})
                yield quarantine(store, SOURCE, name, exc.body, exc.reason_code, str(exc))
                continue
            stream.pages, stream.rejected, stream.complete = 1, len(rejects), True
            if table.num_rows:
                stream.add(table, spec, AMOUNTS.get(action))
                newest = max(table.column("changed_at").to_pylist()).strftime(STAMP)
                stream.cursor_to = max(newest, stream.cursor_from or newest)
                yield spec.mark(table)
            name = f"{SOURCE}__{spec.name}__{(stream.cursor_to or 'none').replace(':', '')}.json"
            yield from rejected_records(store, SOURCE, name, rejects, report)
            if stream.cursor_to is not None:
                state[action] = stream.cursor_to
        with contextlib.suppress(UnityError):  # else it ends at Unity's inactivity timeout
            client.retire_token()
    finally:
        report.requests += client.requests
        report.rate_limit_wait_seconds += client.waited


def extract_unity(
    warehouse: Warehouse,
    pipeline_name: str,
    endpoint_url: str,
    credentials: UnityCredentials,
    dead_letter_dir: Path,
    pipelines_dir: Path,
    limiter_registry: LimiterRegistry,
    budget: Budget = BUDGET,
    policy: RetryPolicy | None = None,
    observer: Observer | None = None,
) -> VeradigmReport:
    """Land the patients and charges Unity reports changed since the watermarks into
    `<tenant>_raw_veradigm` (`unity_patients`, `unity_charges`, merged on the id, deletes
    applied), with the dead letters and moved watermarks, in one dlt load. Requests are paced
    by the bucket `veradigm_unity:<username>` in `limiter_registry` under `budget`. A Unity
    error (no answer after retries, refused login, Magic error) is the table's `error` in the
    report; its watermark stays."""
    report = VeradigmReport(SOURCE)
    bucket = limiter_registry.bucket(f"{SOURCE}:{credentials.username}", budget)
    client = UnityClient(endpoint_url, credentials, bucket, policy, observer)
    store = DeadLetterStore(dead_letter_dir)

    @dlt.source(name=SOURCE, max_table_nesting=0)
    def source():
        return dlt.resource(unity_items(client, store, report), name="unity")

    land(warehouse, pipeline_name, pipelines_dir, source())
    return report
