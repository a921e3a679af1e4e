"""dlt source for Practice Fusion's REST API: providers, patients and charges of several
practices (tenants) through their delta endpoints (docs/veradigm_contract.md).

Each practice has its own OAuth2 client and its own request budget; its requests (token
requests included) all pass through ONE token bucket for that practice from the process's
`LimiterRegistry`, before every attempt and retry of runtime.http's retry policy. Practices
are paged in parallel, one thread each; the delta cursor of every practice and table sits in
dlt resource state and moves only with the page it follows, in the same load. A response that
breaks the contract is quarantined and stops that table of that practice where it was; records
that break it are quarantined and the rest of the page lands.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import dlt
import pyarrow as pa
import requests

from extract.dead_letter import DeadLetterStore
from extract.shared.oauth import TokenError, client_credentials_session
from extract.shared.rate_limit import Budget, LimiterRegistry, TokenBucket
from extract.veradigm import (
    ContractError,
    Field,
    StreamReport,
    Table,
    VeradigmReport,
    flag,
    integer,
    iso_date,
    land,
    money,
    quarantine,
    rejected_records,
    text,
    utc_stamp,
)
from runtime.http import Observer, RetryPolicy
from runtime.warehouse import Warehouse

SOURCE = "practice_fusion"
TOKEN_PATH = "/oauth2/token"
BUDGET = Budget(requests=30, per_seconds=1.0, burst=1)
PAGE_SIZE = 100
_CHANGE = (
    Field("updated_at", "updated_at", utc_stamp, pa.timestamp("us", tz="UTC")),
    Field("change_seq", "change_seq", integer, pa.int64()),
    Field("deleted", "deleted", flag, pa.bool_()),
)
TABLES = {
    "providers": Table(
        "pf_providers",
        (
            Field("provider_id", "provider_id", text, pa.string()),
            Field("npi", "npi", text, pa.string()),
            Field("last_name", "last_name", text, pa.string()),
            Field("first_name", "first_name", text, pa.string()),
            Field("specialty", "specialty", text, pa.string(), optional=True),
            *_CHANGE,
        ),
        key=("provider_id",),
        order="change_seq",
        constants=("practice_id",),
    ),
    "patients": Table(
        "pf_patients",
        (
            Field("patient_id", "patient_id", text, pa.string()),
            Field("mrn", "mrn", text, pa.string()),
            Field("last_name", "last_name", text, pa.string()),
            Field("first_name", "first_name", text, pa.string()),
            Field("birth_date", "birth_date", iso_date, pa.date32()),
            Field("sex", "sex", text, pa.string(), optional=True),
            Field("postal_code", "postal_code", text, pa.string(), optional=True),
            *_CHANGE,
        ),
        key=("patient_id",),
        order="change_seq",
        constants=("practice_id",),
    ),
    "charges": Table(
        "pf_charges",
        (
            Field("charge_id", "charge_id", text, pa.string()),
            Field("patient_id", "patient_id", text, pa.string()),
            Field("provider_id", "provider_id", text, pa.string()),
            Field("service_date", "service_date", iso_date, pa.date32()),
            Field("cpt_code", "cpt_code", text, pa.string()),
            Field("icd10_code", "icd10_code", text, pa.string(), optional=True),
            Field("units", "units", integer, pa.int64()),
            Field("amount", "amount", money, pa.decimal128(12, 2)),
            Field("status", "status", text, pa.string()),
            *_CHANGE,
        ),
        key=("charge_id",),
        order="change_seq",
        constants=("practice_id",),
    ),
}
AMOUNTS = {"charges": "amount"}


@dataclass(frozen=True)
class PracticeCredentials:
    """One practice's OAuth2 client."""

    practice_id: str
    client_id: str
    client_secret: str = field(repr=False)


class PracticeFusionError(RuntimeError):
    """A call failed after the retry policy gave up; `status` is None without an answer."""

    def __init__(self, operation: str, status: int | None) -> None:
        self.status = status
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"Practice Fusion {operation} failed: {where}")


@dataclass(frozen=True)
class Page:
    """One delta page: its records, the cursor after it, and whether more follow."""

    items: list
    next_cursor: str
    has_more: bool


class PracticeFusionClient:
    """One practice's API, paced by `limiter` (a token bucket's acquire; None: unpaced)."""

    def __init__(
        self,
        base_url: str,
        credentials: PracticeCredentials,
        limiter: TokenBucket | None = None,
        policy: RetryPolicy | None = None,
        observer: Observer | None = None,
        timeout: float = 30.0,
        **adapter_options,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.practice_id = credentials.practice_id
        self.timeout = timeout
        self.requests = 0
        self.waited = 0.0
        self._bucket = limiter
        self.session = client_credentials_session(
            self.base_url,
            TOKEN_PATH,
            credentials.client_id,
            credentials.client_secret,
            policy,
            observer,
            limiter=self._before_attempt,
            timeout=timeout,
            **adapter_options,
        )

    def _before_attempt(self) -> None:
        self.requests += 1
        if self._bucket is not None:
            self.waited += self._bucket.acquire()

    def delta(self, entity: str, cursor: str | None, limit: int = PAGE_SIZE) -> Page:
        """One page of `entity` changes after `cursor` (None: from the beginning)."""
        operation = f"{entity} delta"
        url = f"{self.base_url}/api/v1/practices/{self.practice_id}/{entity}/delta"
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException:
            raise PracticeFusionError(operation, None) from None
        if response.status_code != 200:
            raise PracticeFusionError(operation, response.status_code)
        return _page(response.content)

    def pages(self, entity: str, cursor: str | None, limit: int = PAGE_SIZE) -> Iterator[Page]:
        """Every page from `cursor` to the end of the changes."""
        while True:
            page = self.delta(entity, cursor, limit)
            yield page
            if not page.has_more:
                return
            cursor = page.next_cursor


def _page(body: bytes) -> Page:
    try:
        document = json.loads(body)
    except ValueError:
        raise ContractError("malformed_response", "the answer is not JSON", body) from None
    if not isinstance(document, dict):
        raise ContractError("malformed_response", "the answer is not a JSON object", body)
    items, cursor, more = (document.get(k) for k in ("items", "next_cursor", "has_more"))
    if not isinstance(items, list) or not isinstance(more, bool):
        raise ContractError("malformed_response", "items or has_more missing or mistyped", body)
    if not isinstance(cursor, str) or not cursor:
        raise ContractError("malformed_response", "next_cursor is missing or empty", body)
    return Page(items, cursor, more)


@dataclass(frozen=True)
class _Fetched:
    client: PracticeFusionClient
    entity: str
    page: Page | None = None
    failure: Exception | None = None


_DONE = object()


def _fetch_practice(
    client: PracticeFusionClient,
    cursors: dict[str, str | None],
    page_size: int,
    put: Callable[[_Fetched], bool],
) -> None:
    """Page through every table of one practice until `put` refuses. A contract breach ends
    that table; any other failure ends the practice (the loader re-raises what is not an API
    failure)."""
    for entity in TABLES:
        try:
            for page in client.pages(entity, cursors[entity], page_size):
                if not put(_Fetched(client, entity, page)):
                    return
        except ContractError as exc:
            if not put(_Fetched(client, entity, failure=exc)):
                return
        except Exception as exc:
            put(_Fetched(client, entity, failure=exc))
            return


def practice_fusion_items(
    clients: Sequence[PracticeFusionClient],
    page_size: int,
    store: DeadLetterStore,
    report: VeradigmReport,
) -> Iterator:
    """Pages of every practice as they arrive (practices in parallel), each followed by its
    cursor in resource state; dead-letter records for what breaks the contract."""
    state: dict = dlt.current.resource_state().setdefault("cursors", {})
    streams: dict[tuple[str, str], StreamReport] = {}
    for client in clients:
        cursors = state.setdefault(client.practice_id, {})
        for entity in TABLES:
            stream = StreamReport(client.practice_id, entity, cursors.get(entity))
            stream.cursor_to = stream.cursor_from
            streams[client.practice_id, entity] = stream
            report.streams.append(stream)
    fetched: queue.Queue = queue.Queue(maxsize=4 * len(clients))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                fetched.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fetch(client: PracticeFusionClient, cursors: dict[str, str | None]) -> None:
        try:
            _fetch_practice(client, cursors, page_size, put)
        finally:
            put(_DONE)

    with ThreadPoolExecutor(max(1, len(clients)), thread_name_prefix="pf") as pool:
        for client in clients:
            pool.submit(fetch, client, {e: state[client.practice_id].get(e) for e in TABLES})
        try:
            running = len(clients)
            while running:
                item = fetched.get()
                if item is _DONE:
                    running -= 1
                    continue
                stream = streams[item.client.practice_id, item.entity]
                if item.page is None:
                    yield from _failed(item, stream, store, report)
                    continue
                yield from _landed(item, stream, store, report)
                state[item.client.practice_id][item.entity] = item.page.next_cursor
        finally:
            stop.set()
    for client in clients:
        report.requests += client.requests
        report.rate_limit_wait_seconds += client.waited


def _landed(item: _Fetched, stream: StreamReport, store, report) -> Iterator:
    spec = TABLES[item.entity]
    table, rejects = spec.conform(item.page.items, {"practice_id": item.client.practice_id})
    stream.pages += 1
    stream.rejected += len(rejects)
    stream.cursor_to = item.page.next_cursor
    stream.complete = not item.page.has_more
    if table.num_rows:
        stream.add(table, spec, AMOUNTS.get(item.entity))
        yield spec.mark(table)
    name = f"{SOURCE}__{item.client.practice_id}__{item.entity}__{stream.cursor_to}.json"
    yield from rejected_records(store, SOURCE, name, rejects, report)


def _failed(item: _Fetched, stream: StreamReport, store, report) -> Iterator:
    exc = item.failure
    if not isinstance(exc, ContractError | PracticeFusionError | TokenError):
        raise exc
    stream.error = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ContractError):
        after = stream.cursor_to or "start"
        name = f"{SOURCE}__{item.client.practice_id}__{item.entity}__after_{after}.json"
        report.dead_letters.append({"object": name, "reason_code": exc.reason_code})
        yield quarantine(store, SOURCE, name, exc.body, exc.reason_code, str(exc))


def extract_practice_fusion(
    warehouse: Warehouse,
    pipeline_name: str,
    endpoint_url: str,
    practices: Sequence[PracticeCredentials],
    dead_letter_dir: Path,
    pipelines_dir: Path,
    limiter_registry: LimiterRegistry,
    budget: Budget = BUDGET,
    page_size: int = PAGE_SIZE,
    policy: RetryPolicy | None = None,
    observer: Observer | None = None,
) -> VeradigmReport:
    """Land every practice's changes since its cursors into `<tenant>_raw_veradigm`
    (`pf_providers`, `pf_patients`, `pf_charges`, merged on practice and id, deletes applied),
    with the dead letters and the moved cursors, in one dlt load. Each practice is paced by
    its bucket `practice_fusion:<client id>` in `limiter_registry` under `budget`."""
    report = VeradigmReport(SOURCE)
    clients = [
        PracticeFusionClient(
            endpoint_url,
            credentials,
            limiter_registry.bucket(f"{SOURCE}:{credentials.client_id}", budget),
            policy,
            observer,
        )
        for credentials in practices
    ]
    store = DeadLetterStore(dead_letter_dir)

    @dlt.source(name=SOURCE, max_table_nesting=0)
    def source():
        return dlt.resource(
            practice_fusion_items(clients, page_size, store, report), name="practice_fusion"
        )

    land(warehouse, pipeline_name, pipelines_dir, source())
    return report
