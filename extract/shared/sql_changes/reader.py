"""Reading one table's changes: the algorithm every mechanism shares.

`read_table` asks the mechanism where the source is now (`position`) and the oldest cursor
it can still serve (`floor`), resynchronises the table when it must (first run, a cursor
below the floor, a source behind the cursor, a change of mechanism: a full snapshot plus a
delete for every landed key the source no longer has), otherwise reads the changes since the
cursor in chunks as Arrow. Rows that break the contract go to the dead-letter store; a
`sync_log` record follows the data, and the cursor moves in the resource state after
everything is yielded, so it commits in the same load as the rows.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from extract.dead_letter import TABLE as DEAD_LETTER
from extract.dead_letter import DeadLetterStore, file_sha256
from extract.shared.sql_changes.cdc import Cdc
from extract.shared.sql_changes.cdc import fix as cdc_fix
from extract.shared.sql_changes.change_tracking import ChangeTracking
from extract.shared.sql_changes.change_tracking import fix as change_tracking_fix
from extract.shared.sql_changes.plain_tables import dialect_for
from extract.shared.sql_changes.sqlserver import SqlServer
from extract.shared.sql_changes.tables import (
    ARROW_ERRORS,
    CHUNK_ROWS,
    DEFAULT_OVERLAP,
    DELETED,
    MECHANISMS,
    SYNC_LOG,
    SourceError,
    SqlExtractReport,
    TableSpec,
    TableSync,
    landing_schema,
    query_error,
    to_arrow,
)
from extract.shared.sql_changes.watermark import Edge, Watermark


class Mechanism(Protocol):
    """How a table's changes are found: `cdc.Cdc`, `change_tracking.ChangeTracking`,
    `watermark.Watermark`."""

    name: str
    compares_keys: bool  # True: deletes are found by comparing landed keys with the source's

    def position(self, conn: sa.Connection, dialect: SqlServer, spec: TableSpec) -> Any: ...

    def floor(self, conn: sa.Connection, dialect: SqlServer, spec: TableSpec) -> Any: ...

    def changes(self, dialect: SqlServer, spec: TableSpec, since: Any, to: Any) -> Any: ...


def mechanism_for(name: str, overlap: timedelta = DEFAULT_OVERLAP) -> Mechanism:
    """The mechanism called `name`; `overlap` is the watermark's re-read window."""
    if name == "watermark":
        return Watermark(overlap)
    if name == "cdc":
        return Cdc()
    if name == "change_tracking":
        return ChangeTracking()
    raise ValueError(f"unknown change mechanism {name!r}; use one of {', '.join(MECHANISMS)}")


@dataclass
class SqlSource:
    """What the table readers of one extract share. `landed_keys` gives the keys a table
    holds in the raw layer (empty before its first load; live rows only where the table keeps
    tombstones), `landed_rows` the landed values of some keys (for their tombstones)."""

    name: str
    engine: sa.Engine
    mechanism: Mechanism
    landed_keys: Callable[[TableSpec], pa.Array]
    store: DeadLetterStore
    report: SqlExtractReport
    chunk_rows: int = CHUNK_ROWS
    landed_rows: Callable[[TableSpec, pa.Array], list[tuple]] | None = None


def read_table(source: SqlSource, spec: TableSpec) -> Iterator:
    """The changes of one table as Arrow tables (with `_deleted`), then its dead-letter and
    `sync_log` records; the cursor moves in the resource state after everything is yielded."""
    state = dlt.current.resource_state()
    mechanism, dialect = source.mechanism, dialect_for(source.engine)
    switched = state.get("mechanism", mechanism.name) != mechanism.name
    since = None if switched else state.get("cursor")
    sync = TableSync(spec.name, mechanism.name, cursor_from=since)
    source.report.tables[spec.name] = sync
    totals = {column: 0 for column in spec.control_columns}
    with source.engine.connect() as conn:
        _require(conn, dialect, mechanism.name, spec)
        to = mechanism.position(conn, dialect, spec)
        sync.cursor_to = to
        floor = mechanism.floor(conn, dialect, spec)
        sync.resync_reason = "mechanism_changed" if switched else _resync_reason(since, to, floor)
        sync.resync = sync.resync_reason is not None
        edge = Edge(spec, mechanism, state, since, to) if isinstance(mechanism, Watermark) else None
        if sync.resync:
            query = dialect.select_all(spec)
        else:
            query = None if since == to else mechanism.changes(dialect, spec, since, to)
        upserted = []
        for item in _chunks(source, conn, query, spec, sync):
            if not isinstance(item, pa.Table):
                yield item
                continue
            chunk = edge.admit(item, sync) if edge else item
            live = chunk.filter(pc.invert(chunk.column(DELETED)))
            upserted.append(live.column(spec.primary_key).combine_chunks())
            sync.rows += live.num_rows
            sync.deletes += chunk.num_rows - live.num_rows
            for column in totals:
                totals[column] += pc.sum(live.column(column)).as_py() or 0
            if chunk.num_rows:
                yield chunk
        landed = source.landed_keys(spec) if sync.resync or mechanism.compares_keys else []
        if len(landed):
            keep = [*_source_keys(conn, dialect, spec), *upserted]
            gone = _deletes(source, spec, landed, keep)
            sync.deletes += gone.num_rows
            if gone.num_rows:
                yield gone
    sync.control_totals = {column: str(total) for column, total in totals.items()}
    state.update(cursor=to, mechanism=mechanism.name)
    if edge is None:
        state.pop("edge", None)
    elif query is not None:  # a run that read nothing keeps the window's rows it remembers
        edge.save(state)
    yield _marked(_sync_record(source.name, sync), SYNC_LOG)


def _require(conn: sa.Connection, dialect: SqlServer, mechanism: str, spec: TableSpec) -> None:
    inspector = sa.inspect(conn)
    if not inspector.has_table(spec.name, schema=dialect.schema):
        raise SourceError(
            f"table {spec.name} not found in the source database; check that the endpoint's url "
            "names the right database and that the extract's login can see the table"
        )
    fix = cdc_fix if mechanism == "cdc" else change_tracking_fix
    for name in dialect.required(mechanism, spec):
        if not inspector.has_table(name):
            raise SourceError(fix(spec, f"{name} not found"))


def _resync_reason(since: Any, to: Any, floor: Any) -> str | None:
    if since is None:
        return "initial"
    if floor is not None and since < floor:
        return "behind_retention"
    if to is not None and since > to:
        return "source_behind_cursor"
    return None


def _chunks(source: SqlSource, conn: sa.Connection, query, spec: TableSpec, sync: TableSync):
    """Arrow tables of the query's rows, each followed by a dead-letter record for the rows of
    that chunk that break the contract."""
    if query is None:
        return
    try:
        result = conn.execution_options(yield_per=source.chunk_rows).execute(query)
        for number, partition in enumerate(result.partitions()):
            chunk, rejected = to_arrow(partition, spec)
            yield chunk
            if rejected:
                sync.dead_letters += len(rejected)
                yield _dead_letter(source, spec, sync, number, partition, rejected)
    except sa.exc.DBAPIError as exc:
        raise query_error(spec, f"reading its {sync.mechanism} changes", exc) from None


def _source_keys(conn: sa.Connection, dialect: SqlServer, spec: TableSpec) -> list[pa.Array]:
    query = sa.select(sa.column(spec.primary_key)).select_from(dialect.table(spec.name))
    try:
        result = conn.execution_options(yield_per=CHUNK_ROWS).execute(query).scalars()
        return [pa.array(part).cast(spec.key_type) for part in result.partitions()]
    except sa.exc.DBAPIError as exc:
        raise query_error(spec, "reading its keys", exc) from None
    except ARROW_ERRORS:
        raise SourceError(f"table {spec.name}: a primary key is not {spec.key_type}") from None


def _deletes(
    source: SqlSource, spec: TableSpec, landed: pa.Array, keep: list[pa.Array]
) -> pa.Table:
    """Delete markers for the landed keys not in `keep` (the source's keys and this load's):
    the key alone, or for a table with tombstones the row as it was landed (the key alone
    where its landed values no longer fit the contract)."""
    kept = pa.chunked_array(keep, spec.key_type).combine_chunks()
    gone = pc.filter(landed, pc.invert(pc.is_in(landed, kept)))
    markers = []
    if spec.tombstones and len(gone) and source.landed_rows is not None:
        rows = [(*row, 1) for row in source.landed_rows(spec, gone)]
        tombstones, _ = to_arrow(rows, spec)
        markers.append(tombstones)
        found = tombstones.column(spec.primary_key)
        gone = pc.filter(gone, pc.invert(pc.is_in(gone, found)))
    columns = [
        gone if f.name == spec.primary_key else pa.nulls(len(gone), f.type) for f in spec.schema
    ]
    markers.append(
        pa.Table.from_arrays(
            [*columns, pa.array([True] * len(gone), pa.bool_())], schema=landing_schema(spec)
        )
    )
    return pa.concat_tables(markers)


# Records beside the data ----------------------------------------------------------------------
def _marked(record: pa.Table, table: str):
    """A record for an append-only table of its own (not the resource's merge table)."""
    hints = dlt.mark.make_hints(
        table_name=table, write_disposition="append", primary_key=[], columns={}
    )
    return dlt.mark.with_hints(record, hints, create_table_variant=True)


def _dead_letter(source, spec, sync, number, rows, rejected):
    """Quarantine a chunk's rejected rows (as text, in a Parquet file) with their reasons."""
    bad = [rows[i] for i in sorted(rejected)]
    text = {
        name: pa.array([None if row[j] is None else str(row[j]) for row in bad], pa.string())
        for j, name in enumerate(spec.columns)
    }
    cursor = re.sub(r"[^0-9A-Za-z]", "", str(sync.cursor_to))
    reasons = "; ".join(sorted(set(rejected.values())))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{spec.name}_{cursor}_{number}.parquet"
        pq.write_table(pa.table(text), path)
        record = source.store.quarantine(
            path, file_sha256(path), source.name, "contract_violation", reasons
        )
    source.report.dead_letters.append(
        {"table": spec.name, "rows": len(bad), "reason_code": "contract_violation"}
    )
    return _marked(record.data, DEAD_LETTER)


def _sync_record(source: str, sync: TableSync) -> pa.Table:
    def text(value: Any) -> pa.Array:
        return pa.array([None if value is None else str(value)], pa.string())

    return pa.table(
        {
            "source": [source],
            "table_name": [sync.table],
            "mechanism": [sync.mechanism],
            "cursor_from": text(sync.cursor_from),
            "cursor_to": text(sync.cursor_to),
            "resync": [sync.resync],
            "resync_reason": text(sync.resync_reason),
            "rows": [sync.rows],
            "deletes": [sync.deletes],
            "dead_letters": [sync.dead_letters],
            "control_totals": [json.dumps(sync.control_totals, sort_keys=True)],
            "synced_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
        }
    )
