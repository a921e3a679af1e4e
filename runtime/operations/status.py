"""Where every domain stands: last run, last success, lag, next due, open work.

Read-only apart from creating the empty run ledger on first use. On DuckDB it reads inside the
file's writer slot, so it never makes a running domain's connection fail; while a run writes
the file, that tenant's rows say so instead. A tenant is read over one connection (opening a
DuckDB file costs a tenth of a second or more, and a tenant takes a few reads per domain).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runtime.core.config import Config, Tenant
from runtime.core.targets import domain_condition, exceptions_mart
from runtime.core.warehouse import Warehouse
from runtime.operations.cadence import next_due
from runtime.pipeline.locks import Locked, writer_slot
from runtime.pipeline.run_ledger import RunLedger


def status(config: Config, now: datetime, warehouse_override: str | None = None) -> list[dict]:
    """One JSON-serialisable row per tenant/stream/domain, in configuration order."""
    rows = []
    for tenant in config.tenants.values():
        try:
            warehouse = Warehouse.for_tenant(tenant, warehouse_override)
            with writer_slot(warehouse), warehouse.connect() as con:
                rows += _tenant_rows(tenant, _OneConnection.over(warehouse, con), now)
        except Locked:
            rows += _unread_rows(tenant, "busy: a run is writing the DuckDB warehouse")
        except Exception as exc:
            rows += _unread_rows(tenant, f"warehouse unreadable: {type(exc).__name__}")
    return rows


@dataclass(frozen=True)
class _OneConnection(Warehouse):
    """The tenant's warehouse whose every read goes over one open connection."""

    con: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def over(cls, warehouse: Warehouse, con: Any) -> _OneConnection:
        return cls(warehouse.kind, warehouse.tenant, warehouse.duckdb_path, warehouse.dsn, con)

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        yield self.con


def _tenant_rows(tenant: Tenant, warehouse: Warehouse, now: datetime) -> list[dict]:
    ledger = RunLedger(warehouse)
    queue_depth = _count(warehouse, "ops", "operator_queue", "where status = 'open'")
    rows = []
    for stream in tenant.streams.values():
        for domain in stream.domains.values():
            last_run = ledger.last_run(stream.name, domain.name)
            last_success = ledger.last_success(stream.name, domain.name)
            due = next_due(domain, tenant.timezone, last_success, now) if domain.enabled else None
            mart = exceptions_mart(domain)
            # every exceptions mart (the journal chain's, each record object's) is shared by
            # the domains of its object: count this domain's rows
            held = f"where {domain_condition(stream.name, domain.name)}"
            rows.append(
                _row(tenant.name, stream.name, domain.name, domain.enabled, domain.cadence)
                | {
                    "last_run_status": last_run["status"] if last_run else None,
                    "last_run_finished_at": _iso(last_run["finished_at"] if last_run else None),
                    "last_success": _iso(last_success),
                    "lag_seconds": round((now - last_success).total_seconds())
                    if last_success
                    else None,
                    "next_due": _iso(due),
                    "open_exceptions": _count(warehouse, "marts", mart, held) if mart else 0,
                    "queue_depth": queue_depth,
                }
            )
    return rows


def _unread_rows(tenant: Tenant, error: str) -> list[dict]:
    return [
        _row(tenant.name, s.name, d.name, d.enabled, d.cadence) | {"error": error}
        for s in tenant.streams.values()
        for d in s.domains.values()
    ]


def _row(tenant: str, stream: str, domain: str, enabled: bool, cadence: str) -> dict:
    return {
        "tenant": tenant,
        "stream": stream,
        "domain": domain,
        "enabled": enabled,
        "cadence": cadence,
        "last_run_status": None,
        "last_run_finished_at": None,
        "last_success": None,
        "lag_seconds": None,
        "next_due": None,
        "open_exceptions": None,
        "queue_depth": None,
        "error": None,
    }


def _count(warehouse: Warehouse, layer: str, table: str, where: str = "") -> int:
    """Rows in `<tenant>_<layer>.<table>`, or 0 when the table does not exist (yet)."""
    schema = warehouse.schema(layer)
    exists = warehouse.query(
        "select count(*) from information_schema.tables where table_schema = %s "
        "and table_name = %s",
        (schema, table),
    )[0][0]
    if not exists:
        return 0
    return int(warehouse.query(f"select count(*) from {schema}.{table} {where}")[0][0])


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
