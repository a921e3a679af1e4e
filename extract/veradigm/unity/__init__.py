"""dlt source for the Veradigm Unity API: changed-since polling of patients and charges
through the JSON Magic endpoint (docs/veradigm_contract.md).

Unity has no cursor: each action returns the current state of every row changed at or after
a time. The watermark per table is the newest `ChangedAt` landed, kept in dlt resource state
and moved only with the rows; each poll asks from `OVERLAP` before it, because a row can
become visible after rows stamped later (a transaction committing late), and the merge on the
key makes the re-read rows harmless. One security token serves the whole extract (fetched
again once if Unity logs it out) and is retired at the end. Every request passes through the
organisation's token bucket and runtime.core.http's retry policy; Magic reads are idempotent, so
their POSTs are retried like GETs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import dlt
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from extract.dead_letter import DeadLetterStore
from extract.shared.landing import load_into
from extract.shared.rate_limit import Budget, LimiterRegistry, TokenBucket
from extract.veradigm.helpers import (
    DATASET_LAYER,
    STAMP,
    ContractError,
    StreamReport,
    VeradigmReport,
    quarantine,
    rejected_records,
    utc_stamp,
)
from extract.veradigm.unity.helpers import UnityClient, UnityCredentials, UnityError
from extract.veradigm.unity.settings import ACTIONS, AMOUNTS, BEGINNING, BUDGET, OVERLAP, SOURCE
from runtime.core.http import Observer, RetryPolicy
from runtime.core.warehouse import Warehouse

__all__ = [
    "ACTIONS",
    "BEGINNING",
    "BUDGET",
    "OVERLAP",
    "SOURCE",
    "UnityClient",
    "UnityCredentials",
    "UnityError",
    "UnitySourceConfiguration",
    "VeradigmReport",
    "extract_unity",
    "unity_items",
    "unity_source",
]


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


@configspec
class UnitySourceConfiguration(BaseConfiguration):
    """What dlt resolves for `unity_source` when the caller does not pass it: the endpoint from
    config, the login from secrets (`[sources.veradigm_unity]` or `SOURCES__VERADIGM_UNITY__*`).
    The product's runs always pass the tenant's values explicitly."""

    endpoint_url: str = None
    appname: TSecretStrValue = None
    username: TSecretStrValue = None
    app_user: TSecretStrValue = None
    password: TSecretStrValue = None


@dlt.source(name=SOURCE, max_table_nesting=0, spec=UnitySourceConfiguration)
def unity_source(
    store: DeadLetterStore,
    report: VeradigmReport,
    endpoint_url: str = dlt.config.value,
    appname: str = dlt.secrets.value,
    username: str = dlt.secrets.value,
    app_user: str = dlt.secrets.value,
    password: str = dlt.secrets.value,
    limiter: TokenBucket | None = None,
    policy: RetryPolicy | None = None,
    observer: Observer | None = None,
):
    """Unity as a dlt source: one resource whose rows land in `unity_patients` and
    `unity_charges` (merged on the id), with the watermarks in its state. The login is
    injected by dlt unless passed; `limiter` paces every request (None: unpaced)."""
    credentials = UnityCredentials(appname, username, app_user, password)
    client = UnityClient(endpoint_url, credentials, limiter, policy, observer)
    return dlt.resource(unity_items(client, store, report), name="unity")


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
    source = unity_source(
        DeadLetterStore(dead_letter_dir),
        report,
        endpoint_url=endpoint_url,
        appname=credentials.appname,
        username=credentials.username,
        app_user=credentials.app_user,
        password=credentials.password,
        limiter=bucket,
        policy=policy,
        observer=observer,
    )
    load_into(warehouse, pipeline_name, DATASET_LAYER, pipelines_dir, source)
    return report
