"""The run ledger: one row per domain run in `<tenant>_ops.run_ledger`, on either engine.

Schedulers and operators read it to decide what is due and how runs went. Rows hold counts,
statuses and error class names only, never row values. A run killed mid-way stays `running`
until the next run of that domain starts: it holds the domain's lock, which proves nobody else
runs it, so older `running` rows become `failed` with the message "interrupted".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg2

from runtime.core import exit_codes
from runtime.core.warehouse import Warehouse

# Every run outcome (runtime.core.exit_codes.BY_STATUS) plus the states a row passes through.
STATUSES = ("running", "failed", *exit_codes.BY_STATUS)
COLUMNS = (
    "run_id", "tenant", "stream", "domain", "started_at", "finished_at", "status", "exit_code",
    "rows_extracted", "lines_exported", "exception_lines", "dead_letters", "message",
)  # fmt: skip

_DDL = """create table if not exists {table} (
    run_id text primary key,
    tenant text not null,
    stream text not null,
    domain text not null,
    started_at timestamp with time zone not null,
    finished_at timestamp with time zone,
    status text not null,
    exit_code integer,
    rows_extracted bigint,
    lines_exported bigint,
    exception_lines bigint,
    dead_letters bigint,
    message text
)"""


def _now() -> datetime:
    return datetime.now(UTC)


class RunLedger:
    """Reads and writes one tenant's run ledger. `clock` returns the current aware time."""

    def __init__(self, warehouse: Warehouse, clock: Callable[[], datetime] = _now):
        self.warehouse = warehouse
        self.clock = clock
        self.schema = warehouse.schema("ops")
        self.table = f"{self.schema}.run_ledger"
        self._ready = False

    def start(self, stream: str, domain: str) -> str:
        """Record a run as `running` and return its run_id. Call it holding the domain's lock:
        older `running` rows of the domain are marked `failed` ("interrupted")."""
        run_id = uuid.uuid4().hex
        now = self.clock()
        self._execute(
            (
                f"update {self.table} set status = 'failed', finished_at = %s, "
                "message = 'interrupted' "
                "where tenant = %s and stream = %s and domain = %s and status = 'running'",
                (now, self.warehouse.tenant, stream, domain),
            ),
            (
                f"insert into {self.table} (run_id, tenant, stream, domain, started_at, status) "
                "values (%s, %s, %s, %s, %s, 'running')",
                (run_id, self.warehouse.tenant, stream, domain, now),
            ),
        )
        return run_id

    def finish(
        self,
        run_id: str,
        status: str,
        exit_code: int,
        rows_extracted: int = 0,
        lines_exported: int = 0,
        exception_lines: int = 0,
        dead_letters: int = 0,
        message: str = "",
    ) -> None:
        """Record how a started run ended. `message` holds counts, statuses or an error class
        name, never a row value."""
        _check_status(status)
        self._execute(
            (
                f"update {self.table} set finished_at = %s, status = %s, exit_code = %s, "
                "rows_extracted = %s, lines_exported = %s, exception_lines = %s, "
                "dead_letters = %s, message = %s where run_id = %s",
                (self.clock(), status, exit_code, rows_extracted, lines_exported,
                 exception_lines, dead_letters, message, run_id),
            )
        )  # fmt: skip

    def record_locked(self, stream: str, domain: str, message: str) -> str:
        """Record an attempt refused because the domain's lock was held (status `locked`, exit
        code 75) without touching the holder's row; returns its run_id."""
        run_id = uuid.uuid4().hex
        now = self.clock()
        self._execute(
            (
                f"insert into {self.table} (run_id, tenant, stream, domain, started_at, "
                "finished_at, status, exit_code, message) "
                "values (%s, %s, %s, %s, %s, %s, 'locked', %s, %s)",
                (
                    run_id,
                    self.warehouse.tenant,
                    stream,
                    domain,
                    now,
                    now,
                    exit_codes.LOCKED,
                    message,
                ),
            )
        )
        return run_id

    def last_success(self, stream: str, domain: str) -> datetime | None:
        """When the latest successful run started (its data is at least that fresh), in UTC."""
        rows = self._execute(
            (
                f"select max(started_at) from {self.table} "
                "where tenant = %s and stream = %s and domain = %s and status = 'ok'",
                (self.warehouse.tenant, stream, domain),
            )
        )
        return _utc(rows[0][0])

    def last_run(self, stream: str, domain: str) -> dict | None:
        """The latest run of a domain (running or finished; refused `locked` attempts aside)."""
        rows = self._select(
            "where tenant = %s and stream = %s and domain = %s and status <> 'locked'",
            (self.warehouse.tenant, stream, domain),
            limit=1,
        )
        return rows[0] if rows else None

    def recent(self, limit: int = 50) -> list[dict]:
        """The tenant's latest runs, newest first."""
        return self._select("where tenant = %s", (self.warehouse.tenant,), limit)

    def _select(self, where: str, params: tuple, limit: int) -> list[dict]:
        rows = self._execute(
            (
                f"select {', '.join(COLUMNS)} from {self.table} {where} "
                "order by started_at desc, run_id limit %s",
                (*params, limit),
            )
        )
        records = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
        for record in records:
            record["started_at"] = _utc(record["started_at"])
            record["finished_at"] = _utc(record["finished_at"])
        return records

    def _execute(self, *statements: tuple[str, tuple]) -> list[tuple]:
        """Run statements in one connection (one transaction on Postgres); rows of the last."""
        if not self._ready:
            self._create()
        with self.warehouse.connect() as con:
            cur = con.cursor()
            for sql, params in statements:
                cur.execute(self._placeholders(sql), params)
            return cur.fetchall() if cur.description else []

    def _create(self) -> None:
        try:
            with self.warehouse.connect() as con:
                cur = con.cursor()
                cur.execute(f"create schema if not exists {self.schema}")
                cur.execute(_DDL.format(table=self.table))
        except psycopg2.IntegrityError:
            pass  # another process created it at the same moment
        self._ready = True

    def _placeholders(self, sql: str) -> str:
        return sql.replace("%s", "?") if self.warehouse.kind == "duckdb" else sql


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"run status {status!r} is not one of: {', '.join(STATUSES)}")


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None
