"""Modified-since watermark: rows whose cursor column moved past the last one landed.

The cursor is the newest `last_modified` (ISO text). Each read re-reads an overlap window
before the watermark, because a row whose transaction commits late can carry a stamp older
than rows already landed; `Edge` remembers the rows landed inside the window (key and cursor)
so the re-read lands only rows that are new or changed again (duplicates are counted, late
rows too). A modified-since read cannot see deletes, so the landed keys are compared with
the source's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from extract.shared.sql_changes.sqlserver import SqlServer
from extract.shared.sql_changes.tables import DEFAULT_OVERLAP, TableSpec, TableSync, scalar


@dataclass(frozen=True)
class Watermark:
    """Rows modified after the watermark less `overlap`, up to the newest stamp."""

    overlap: timedelta = DEFAULT_OVERLAP
    name = "watermark"
    compares_keys = True  # a modified-since read cannot see deletes

    def position(self, conn: sa.Connection, dialect: SqlServer, spec: TableSpec) -> str | None:
        """The newest cursor value in the table (None: empty)."""
        cursor = sa.column(spec.cursor_column, sa.DateTime)
        latest = sa.select(sa.func.max(cursor, type_=sa.DateTime)).select_from(
            dialect.table(spec.name)
        )
        value = scalar(conn, latest, spec, f"reading the latest {spec.cursor_column}")
        return None if value is None else value.isoformat(timespec="microseconds")

    def floor(self, conn: sa.Connection, dialect: SqlServer, spec: TableSpec) -> None:
        return None

    def changes(self, dialect: SqlServer, spec: TableSpec, since: str, to: str) -> sa.Executable:
        cursor = sa.column(spec.cursor_column, sa.DateTime)
        low = datetime.fromisoformat(since) - self.overlap
        high = datetime.fromisoformat(to)
        return dialect.select_all(spec).where(
            cursor > sa.bindparam("low", low, type_=sa.DateTime),
            cursor <= sa.bindparam("high", high, type_=sa.DateTime),
        )


class Edge:
    """Watermark bookkeeping: rows landed inside the overlap window, by key and cursor, so
    re-reading the window lands only rows that are new (a late commit) or changed again."""

    def __init__(self, spec: TableSpec, mechanism: Watermark, state: dict, since, to):
        self.spec = spec
        self.landed = pa.array(state.get("edge", []), pa.string())
        self.since = None if since is None else datetime.fromisoformat(since)
        self.start = None if to is None else datetime.fromisoformat(to) - mechanism.overlap
        self.tags: list[pa.Array] = []

    def admit(self, chunk: pa.Table, sync: TableSync) -> pa.Table:
        """The chunk without the rows landed before; counts duplicates and late rows."""
        cursor = chunk.column(self.spec.cursor_column)
        tags = pc.binary_join_element_wise(
            pc.cast(chunk.column(self.spec.primary_key), pa.string()),
            pc.cast(cursor, pa.string()),
            "@",
        )
        if self.start is not None:
            self.tags.append(pc.filter(tags, pc.greater(cursor, self.start)).combine_chunks())
        fresh = pc.invert(pc.is_in(tags, value_set=self.landed))
        chunk = chunk.filter(fresh)
        sync.duplicates += len(tags) - chunk.num_rows
        if self.since is not None:
            late = pc.less_equal(chunk.column(self.spec.cursor_column), self.since)
            sync.late_rows += pc.sum(late).as_py() or 0
        return chunk

    def save(self, state: dict) -> None:
        """Remember this read's rows inside the window for the next read."""
        state["edge"] = pa.chunked_array(self.tags, pa.string()).to_pylist()
