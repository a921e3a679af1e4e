"""What Fusion did with each exported batch, in `<tenant>_ops` on either engine.

- `fusion_submissions`: one row per batch: submitting -> submitted -> a terminal status.
- `fusion_posted`: one row per file line Fusion accepted, with what the file said (batch day,
  line kind, accounting date, segments, amounts): the posted state dbt computes corrections
  against (`stg_ops__fusion_posted_lines`).
- `operator_queue`: one row per line Fusion did not post, with its row-level reason; `status`
  is 'open' until the line is reloaded or resolved.

A batch's outcome (posted lines, queue rows, terminal status) is written in one transaction,
so a process that dies mid-way leaves the submission non-terminal and nothing half-recorded.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.csv as pacsv

from runtime.core.warehouse import Warehouse

TERMINAL = frozenset({"succeeded", "warning", "error", "already_posted"})
# Collected from the outbox where the tenant has no Fusion endpoint: recorded like posted (the
# state corrections compare with) but not final: once a Fusion endpoint is configured the batch
# is submitted, and its outcome replaces the hand-over record.
HANDED_OVER = "handed_over"
SUBMISSION_COLUMNS = (
    "batch_id", "tenant", "stream", "domain", "group_id", "request_id", "status", "lines",
    "lines_posted", "lines_rejected", "submitted_at", "finished_at", "message",
)  # fmt: skip
QUEUE_COLUMNS = (
    "queue_id", "batch_id", "source_line_id", "journal_name", "line_number", "error_code",
    "message", "status", "created_at", "resolved_at", "record_key",
)  # fmt: skip

_DDL = (
    """create table if not exists {schema}.fusion_submissions (
    batch_id text primary key,
    tenant text not null,
    stream text not null,
    domain text not null,
    group_id text not null,
    request_id text,
    status text not null,
    lines bigint not null,
    lines_posted bigint,
    lines_rejected bigint,
    submitted_at timestamp with time zone not null,
    finished_at timestamp with time zone,
    message text
)""",
    """create table if not exists {schema}.fusion_posted (
    batch_id text not null,
    source_line_id bigint,
    journal_name text,
    request_id text,
    posted_at timestamp with time zone not null
)""",
    # aggregate_only files carry no source line id (REFERENCE23)
    "alter table {schema}.fusion_posted alter column source_line_id drop not null",
    *(
        f"alter table {{schema}}.fusion_posted add column if not exists {column} {kind}"
        for column, kind in (
            ("batch_date", "date"),
            ("line_number", "bigint"),
            ("line_kind", "text"),
            ("accounting_date", "date"),
            ("currency_code", "text"),
            *((f"segment{n}", "text") for n in range(1, 7)),
            ("entered_dr", "numeric(18, 2)"),
            ("entered_cr", "numeric(18, 2)"),
        )
    ),
    """create table if not exists {schema}.fusion_records (
    stream text not null,
    domain text not null,
    batch_id text not null,
    batch_date date not null,
    record_key text not null,
    record_hash text not null,
    measure numeric(18, 4),
    accepted_at timestamp with time zone not null
)""",
    """create table if not exists {schema}.operator_queue (
    queue_id text primary key,
    batch_id text not null,
    source_line_id bigint,
    journal_name text,
    line_number bigint,
    error_code text not null,
    message text,
    status text not null,
    created_at timestamp with time zone not null,
    resolved_at timestamp with time zone
)""",
    # record objects (inventory, assets, workers) queue records, not journal lines
    "alter table {schema}.operator_queue add column if not exists record_key text",
)


# A batch's file lines as recorded once Fusion accepts them (read from the accepted zip).
POSTED_LINES = pa.schema(
    [
        ("line_number", pa.int64()),
        ("source_line_id", pa.int64()),  # null where the PHI mode leaves record keys out
        ("journal_name", pa.string()),
        ("line_kind", pa.string()),
        ("accounting_date", pa.date32()),
        ("currency_code", pa.string()),
        *((f"segment{n}", pa.string()) for n in range(1, 7)),
        ("entered_dr", pa.decimal128(18, 2)),
        ("entered_cr", pa.decimal128(18, 2)),
    ]
)


@dataclass(frozen=True)
class QueuedLine:
    """A line Fusion did not post, with its reason (`record_key` for record objects)."""

    source_line_id: int | None
    journal_name: str
    line_number: int | None
    error_code: str
    message: str
    record_key: str | None = None


# What Fusion accepted of a batch of record objects: one row per record.
ACCEPTED_RECORDS = pa.schema(
    [("record_key", pa.string()), ("record_hash", pa.string()), ("measure", pa.decimal128(18, 4))]
)


def _now() -> datetime:
    return datetime.now(UTC)


class Posting:
    """Reads and writes one tenant's submission records. `clock` returns an aware time."""

    def __init__(self, warehouse: Warehouse, clock: Callable[[], datetime] = _now) -> None:
        self.warehouse = warehouse
        self.clock = clock
        self.schema = warehouse.schema("ops")
        self._ready = False

    # writes ----------------------------------------------------------------------------------
    def start(self, batch_id: str, stream: str, domain: str, group_id: str, lines: int) -> None:
        """Record `submitting` for a batch (before its upload); replaces a non-terminal row."""
        self._execute(
            (f"delete from {self.schema}.fusion_submissions where batch_id = %s", (batch_id,)),
            (
                f"insert into {self.schema}.fusion_submissions (batch_id, tenant, stream, "
                "domain, group_id, status, lines, submitted_at) "
                "values (%s, %s, %s, %s, %s, 'submitting', %s, %s)",
                (batch_id, self.warehouse.tenant, stream, domain, group_id, lines, self.clock()),
            ),
        )

    def submitted(self, batch_id: str, request_id: str) -> None:
        """Record the request id Fusion answered the upload with."""
        self._execute(
            (
                f"update {self.schema}.fusion_submissions set status = 'submitted', "
                "request_id = %s where batch_id = %s",
                (request_id, batch_id),
            )
        )

    def note(self, batch_id: str, message: str) -> None:
        """Attach a message to a non-terminal submission (why it is still open)."""
        self._execute(
            (
                f"update {self.schema}.fusion_submissions set message = %s where batch_id = %s",
                (message, batch_id),
            )
        )

    def finish(
        self,
        batch_id: str,
        status: str,
        request_id: str | None,
        posted: pa.Table,
        queued: Sequence[QueuedLine],
        message: str | None = None,
        batch_date: date | None = None,
    ) -> None:
        """Record a terminal outcome with its posted lines (a POSTED_LINES table) and queue rows,
        atomically."""
        if status not in TERMINAL | {HANDED_OVER}:
            raise ValueError(f"{status!r} is not a terminal submission status")
        now = self.clock()
        posted_rows = _posted_table(batch_id, batch_date, request_id, now, posted)
        self._finish(batch_id, status, request_id, now, queued, message, posted.num_rows,
                     ("fusion_posted", posted_rows))  # fmt: skip

    def finish_records(
        self,
        batch_id: str,
        status: str,
        request_id: str | None,
        accepted: pa.Table,
        queued: Sequence[QueuedLine],
        message: str,
        batch_date: date,
    ) -> None:
        """Record a terminal outcome of a batch of records with the records Fusion accepted (an
        ACCEPTED_RECORDS table) and queue rows for the others, atomically."""
        if status not in TERMINAL | {HANDED_OVER}:
            raise ValueError(f"{status!r} is not a terminal submission status")
        now = self.clock()
        stream, domain = self._select(
            f"select stream, domain from {self.schema}.fusion_submissions where batch_id = %s",
            (batch_id,),
        )[0]
        n = accepted.num_rows
        rows = pa.table(
            {
                "stream": pa.repeat(pa.scalar(stream, pa.string()), n),
                "domain": pa.repeat(pa.scalar(domain, pa.string()), n),
                "batch_id": pa.repeat(pa.scalar(batch_id, pa.string()), n),
                "batch_date": pa.repeat(pa.scalar(batch_date, pa.date32()), n),
                **{name: accepted.column(name) for name in ACCEPTED_RECORDS.names},
                "accepted_at": pa.repeat(pa.scalar(now, pa.timestamp("us", tz="UTC")), n),
            }
        )
        self._finish(
            batch_id, status, request_id, now, queued, message, n, ("fusion_records", rows)
        )
        self._resolve_accepted(stream, domain, batch_id)

    def _resolve_accepted(self, stream: str, domain: str, batch_id: str) -> None:
        """Close the open queue items of the domain's records this batch got accepted."""
        self._execute(
            (
                f"update {self.schema}.operator_queue set status = 'resolved', resolved_at = %s "
                "where status = 'open' and batch_id <> %s and record_key in "
                f"(select record_key from {self.schema}.fusion_records where batch_id = %s) "
                f"and batch_id in (select batch_id from {self.schema}.fusion_submissions "
                "where stream = %s and domain = %s)",
                (self.clock(), batch_id, batch_id, stream, domain),
            )
        )

    def _finish(
        self,
        batch_id: str,
        status: str,
        request_id: str | None,
        now: datetime,
        queued: Sequence[QueuedLine],
        message: str | None,
        accepted: int,
        outcome: tuple[str, pa.Table],
    ) -> None:
        queue_rows = pa.table(
            {
                "queue_id": pa.array([uuid.uuid4().hex for _ in queued], pa.string()),
                "batch_id": pa.array([batch_id] * len(queued), pa.string()),
                "source_line_id": pa.array([q.source_line_id for q in queued], pa.int64()),
                "journal_name": pa.array([q.journal_name for q in queued], pa.string()),
                "line_number": pa.array([q.line_number for q in queued], pa.int64()),
                "error_code": pa.array([q.error_code for q in queued], pa.string()),
                "message": pa.array([q.message for q in queued], pa.string()),
                "status": pa.array(["open"] * len(queued), pa.string()),
                "created_at": pa.array([now] * len(queued), pa.timestamp("us", tz="UTC")),
                "resolved_at": pa.array([None] * len(queued), pa.timestamp("us", tz="UTC")),
                "record_key": pa.array([q.record_key for q in queued], pa.string()),
            }
        )
        table, rows = outcome
        self._ensure()
        with self.warehouse.connect() as con:
            cur = self._transaction(con)
            for cleared in (table, "operator_queue"):
                self._run(
                    cur, f"delete from {self.schema}.{cleared} where batch_id = %s", (batch_id,)
                )
            self._insert(con, table, rows)
            self._insert(con, "operator_queue", queue_rows)
            self._run(
                cur,
                f"update {self.schema}.fusion_submissions set status = %s, request_id = %s, "
                "lines_posted = %s, lines_rejected = %s, finished_at = %s, message = %s "
                "where batch_id = %s",
                (status, request_id, accepted, len(queued), now, message, batch_id),
            )

    # reads -----------------------------------------------------------------------------------
    def submission(self, batch_id: str) -> dict | None:
        """The batch's submission row, or None when it was never submitted."""
        rows = self._select(
            f"select {', '.join(SUBMISSION_COLUMNS)} from {self.schema}.fusion_submissions "
            "where batch_id = %s",
            (batch_id,),
        )
        return dict(zip(SUBMISSION_COLUMNS, rows[0], strict=True)) if rows else None

    def submissions(self, stream: str, domain: str) -> list[dict]:
        """Every submission of a domain, oldest first."""
        rows = self._select(
            f"select {', '.join(SUBMISSION_COLUMNS)} from {self.schema}.fusion_submissions "
            "where stream = %s and domain = %s order by submitted_at, batch_id",
            (stream, domain),
        )
        return [dict(zip(SUBMISSION_COLUMNS, r, strict=True)) for r in rows]

    def posted_line_ids(self, batch_id: str) -> list[int]:
        """Source line ids recorded as posted for a batch, ascending."""
        rows = self._select(
            f"select source_line_id from {self.schema}.fusion_posted where batch_id = %s "
            "order by source_line_id",
            (batch_id,),
        )
        return [int(r[0]) for r in rows]

    def posted_in_batch(self, batch_id: str, source_line_ids: Iterable[int]) -> set[int]:
        """Which of these source lines Fusion posted in the batch or one of its reloads."""
        ids = ", ".join(str(int(i)) for i in source_line_ids)
        if not ids:
            return set()
        prefix = f"{batch_id}-r"
        rows = self._select(
            f"select distinct source_line_id from {self.schema}.fusion_posted "
            f"where (batch_id = %s or left(batch_id, {len(prefix)}) = %s) "
            f"and source_line_id in ({ids})",
            (batch_id, prefix),
        )
        return {int(r[0]) for r in rows}

    def queue_summary(self) -> list[dict]:
        """Open queue items counted by batch and error code (`queue list`)."""
        rows = self._select(
            f"select batch_id, error_code, count(*) from {self.schema}.operator_queue "
            "where status = 'open' group by batch_id, error_code order by batch_id, error_code"
        )
        return [{"batch_id": b, "error_code": c, "lines": int(n)} for b, c, n in rows]

    def queue_rows(self, batch_id: str, status: str | None = None) -> list[dict]:
        """One batch's queue rows in file order (`queue show BATCH`), optionally one status."""
        sql = (
            f"select {', '.join(QUEUE_COLUMNS)} from {self.schema}.operator_queue "
            "where batch_id = %s"
        )
        params: tuple = (batch_id,)
        if status is not None:
            sql, params = sql + " and status = %s", (batch_id, status)
        rows = self._select(sql + " order by line_number, source_line_id", params)
        return [dict(zip(QUEUE_COLUMNS, r, strict=True)) for r in rows]

    def open_queue_depth(self, stream: str, domain: str) -> int:
        """Open queue items of one domain's batches."""
        rows = self._select(
            f"select count(*) from {self.schema}.operator_queue q "
            f"join {self.schema}.fusion_submissions s on s.batch_id = q.batch_id "
            "where q.status = 'open' and s.stream = %s and s.domain = %s",
            (stream, domain),
        )
        return int(rows[0][0])

    def mark_queue(self, batch_id: str, status: str, queue_ids: Iterable[str]) -> None:
        """Move queue items of a batch to 'reloaded' or 'resolved'."""
        if status not in ("reloaded", "resolved"):
            raise ValueError("queue items move to 'reloaded' or 'resolved'")
        now = self.clock()
        self._execute(
            *(
                (
                    f"update {self.schema}.operator_queue set status = %s, resolved_at = %s "
                    "where batch_id = %s and queue_id = %s",
                    (status, now, batch_id, queue_id),
                )
                for queue_id in queue_ids
            )
        )

    def settle_reload(self, batch_id: str, reload_batch_id: str) -> None:
        """Carry a finished reload batch's outcome back to the open queue rows of the batch it
        reloaded, atomically: lines it posted become 'reloaded'; lines Fusion rejected again
        stay 'open' with the new reason; the reload batch's own queue rows are removed, so each
        line waits in the queue once, under the batch the operator reloads."""
        schema = self.schema
        statements = [
            (
                f"update {schema}.operator_queue set status = 'reloaded', resolved_at = %s "
                "where batch_id = %s and status = 'open' and source_line_id in "
                f"(select source_line_id from {schema}.fusion_posted where batch_id = %s)",
                (self.clock(), batch_id, reload_batch_id),
            )
        ]
        statements += [
            (
                f"update {schema}.operator_queue set error_code = %s, message = %s "
                "where batch_id = %s and status = 'open' and source_line_id = %s",
                (row["error_code"], row["message"], batch_id, row["source_line_id"]),
            )
            for row in self.queue_rows(reload_batch_id)
        ]
        statements.append(
            (f"delete from {schema}.operator_queue where batch_id = %s", (reload_batch_id,))
        )
        self._execute(*statements)

    # plumbing --------------------------------------------------------------------------------
    def ensure(self) -> None:
        """Create the ops schema and tables (dbt reads them as sources from the first run)."""
        self._ready = False
        self._ensure()

    def _ensure(self) -> None:
        if self._ready:
            return
        with self.warehouse.connect() as con:
            cur = con.cursor()
            cur.execute(f"create schema if not exists {self.schema}")
            for ddl in _DDL:
                cur.execute(ddl.format(schema=self.schema))
        self._ready = True

    def _execute(self, *statements: tuple[str, tuple]) -> None:
        self._ensure()
        with self.warehouse.connect() as con:
            cur = self._transaction(con)
            for sql, params in statements:
                self._run(cur, sql, params)

    def _select(self, sql: str, params: tuple = ()) -> list[tuple]:
        self._ensure()
        return self.warehouse.query(sql, params)

    def _transaction(self, con):
        """A cursor inside one transaction, committed when the connection closes cleanly."""
        if self.warehouse.kind == "duckdb":
            # a DuckDB cursor is a separate connection that autocommits: use the connection
            con.execute("begin transaction")
            return con
        return con.cursor()

    def _run(self, cur, sql: str, params: tuple) -> None:
        cur.execute(sql.replace("%s", "?") if self.warehouse.kind == "duckdb" else sql, params)

    def _insert(self, con, table: str, rows: pa.Table) -> None:
        """Bulk insert: DuckDB reads the Arrow table; Postgres takes it through COPY."""
        if rows.num_rows == 0:
            return
        target = f"{self.schema}.{table} ({', '.join(rows.column_names)})"
        if self.warehouse.kind == "duckdb":
            con.register("_posting_rows", rows)
            try:
                con.execute(f"insert into {target} select * from _posting_rows")
            finally:
                con.unregister("_posting_rows")
            return
        buffer = io.BytesIO()
        pacsv.write_csv(rows, buffer, pacsv.WriteOptions(include_header=False))
        buffer.seek(0)
        con.cursor().copy_expert(f"copy {target} from stdin with (format csv)", buffer)


def _posted_table(
    batch_id: str,
    batch_date: date | None,
    request_id: str | None,
    posted_at: datetime,
    posted: pa.Table,
) -> pa.Table:
    n = posted.num_rows
    recorded = {
        "batch_id": pa.repeat(pa.scalar(batch_id, pa.string()), n),
        "request_id": pa.repeat(pa.scalar(request_id, pa.string()), n),
        "posted_at": pa.repeat(pa.scalar(posted_at, pa.timestamp("us", tz="UTC")), n),
        "batch_date": pa.repeat(pa.scalar(batch_date, pa.date32()), n),
    }
    lines = posted.select(POSTED_LINES.names)
    return pa.Table.from_arrays(
        [*recorded.values(), *lines.columns], names=[*recorded, *lines.column_names]
    )
