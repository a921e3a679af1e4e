"""dlt source for Practice Fusion's REST API: providers, patients and charges of several
practices (tenants) through their delta endpoints (docs/veradigm_contract.md).

Each practice has its own OAuth2 client and its own request budget; its requests (token
requests included) all pass through ONE token bucket for that practice from the process's
`LimiterRegistry`, before every attempt and retry of runtime.core.http's retry policy. Practices
are paged in parallel, one thread each; the delta cursor of every practice and table sits in
dlt resource state and moves only with the page it follows, in the same load. A response that
breaks the contract is quarantined and stops that table of that practice where it was; records
that break it are quarantined and the rest of the page lands.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dlt

from extract.dead_letter import DeadLetterStore
from extract.shared.landing import load_into
from extract.shared.oauth import TokenError
from extract.shared.rate_limit import Budget, LimiterRegistry
from extract.veradigm.helpers import (
    DATASET_LAYER,
    ContractError,
    StreamReport,
    VeradigmReport,
    quarantine,
    rejected_records,
)
from extract.veradigm.practice_fusion.helpers import (
    DONE,
    Fetched,
    Page,
    PracticeCredentials,
    PracticeFusionClient,
    PracticeFusionError,
    fetch_practice,
)
from extract.veradigm.practice_fusion.settings import (
    AMOUNTS,
    BUDGET,
    PAGE_SIZE,
    SOURCE,
    TABLES,
    TOKEN_PATH,
)
from runtime.core.http import Observer, RetryPolicy
from runtime.core.warehouse import Warehouse

__all__ = [
    "BUDGET",
    "PAGE_SIZE",
    "SOURCE",
    "TABLES",
    "TOKEN_PATH",
    "Page",
    "PracticeCredentials",
    "PracticeFusionClient",
    "PracticeFusionError",
    "VeradigmReport",
    "extract_practice_fusion",
    "practice_fusion_items",
    "practice_fusion_source",
]


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
            fetch_practice(client, cursors, page_size, put)
        finally:
            put(DONE)

    with ThreadPoolExecutor(max(1, len(clients)), thread_name_prefix="pf") as pool:
        for client in clients:
            pool.submit(fetch, client, {e: state[client.practice_id].get(e) for e in TABLES})
        try:
            running = len(clients)
            while running:
                item = fetched.get()
                if item is DONE:
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


def _landed(item: Fetched, stream: StreamReport, store, report) -> Iterator:
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


def _failed(item: Fetched, stream: StreamReport, store, report) -> Iterator:
    exc = item.failure
    if not isinstance(exc, ContractError | PracticeFusionError | TokenError):
        raise exc
    stream.error = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ContractError):
        after = stream.cursor_to or "start"
        name = f"{SOURCE}__{item.client.practice_id}__{item.entity}__after_{after}.json"
        report.dead_letters.append({"object": name, "reason_code": exc.reason_code})
        yield quarantine(store, SOURCE, name, exc.body, exc.reason_code, str(exc))


@dlt.source(name=SOURCE, max_table_nesting=0)
def practice_fusion_source(
    clients: Sequence[PracticeFusionClient],
    store: DeadLetterStore,
    report: VeradigmReport,
    page_size: int,
):
    """Practice Fusion as a dlt source: one resource whose pages land in `pf_providers`,
    `pf_patients` and `pf_charges` (merged on practice and id), with the practices' cursors in
    its state. The clients carry each practice's credentials and token bucket."""
    return dlt.resource(practice_fusion_items(clients, page_size, store, report), name=SOURCE)


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
    source = practice_fusion_source(clients, DeadLetterStore(dead_letter_dir), report, page_size)
    load_into(warehouse, pipeline_name, DATASET_LAYER, pipelines_dir, source)
    return report
