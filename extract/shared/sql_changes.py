"""Read a SQL source's changes into the raw layer: SQL Server CDC, change tracking, watermarks.

One reader serves every SQL source, configured per mechanism (docs/sql_sources.md):

* `cdc`: net changes per key from the change tables, between the last processed LSN and the
  current maximum LSN; deletes are honoured.
* `change_tracking`: the rows changed since the last synchronised version, joined to their
  current values; deleted keys come back as deletes.
* `watermark`: rows whose cursor column (`last_modified`) moved past the watermark, re-reading
  an overlap window so rows whose transaction committed late are not missed; rows already
  landed with the same key and cursor are dropped, and keys gone from the source are deleted.

The first run of a table, a cursor below the oldest change the source still holds (CDC
retention, change tracking's minimum valid version), a source that moved behind the cursor
(a restore) and a change of mechanism resynchronise the table: a full snapshot plus a delete
for every landed key the source no longer has. Every batch lands with dlt's merge on the
primary key; a delete is a key with `_deleted` set: dlt's hard-delete hint, so the raw table
equals the source, or, for a table declared with `tombstones`, a soft flag: the deleted row
stays with its last values and `_deleted` true (its `_dlt_load_id` is the load that landed
the delete), so downstream models can undo what the row caused; a re-inserted key replaces
its tombstone.

Each table's cursor lives in its dlt resource state and commits in the same load as its rows.
The SQL Server statements sit behind one seam (`SqlServer`); the sandbox's SQLite and Postgres
stand-ins keep the same objects as plain tables (`StandIn`). Rows are read in chunks and turned
into Arrow column by column; a row whose value does not fit the table's contract goes to the
dead-letter store. Reports, logs and errors carry counts, cursors and names, never row values.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from dlt.pipeline.exceptions import PipelineStepFailed

from extract.dead_letter import TABLE as DEAD_LETTER
from extract.dead_letter import DeadLetterStore, file_sha256
from runtime.warehouse import Warehouse

DELETED = "_deleted"
SYNC_LOG = "sync_log"
CHUNK_ROWS = 50_000
DEFAULT_OVERLAP = timedelta(minutes=15)
MECHANISMS = ("cdc", "change_tracking", "watermark")

_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


class SourceError(Exception):
    """A problem with the source the operator has to fix; the message names the table and
    the fix, never a row value."""


@dataclass(frozen=True)
class TableSpec:
    """One source table: its key, its contract (columns and Arrow types, as landed) and the
    columns whose sums are reported as control totals. With `tombstones`, a deleted row stays
    in the raw table with its last values and `_deleted` true instead of being removed."""

    name: str
    primary_key: str
    schema: pa.Schema
    control_columns: tuple[str, ...] = ()
    cursor_column: str = "last_modified"
    tombstones: bool = False

    @property
    def columns(self) -> list[str]:
        return self.schema.names

    @property
    def key_type(self) -> pa.DataType:
        return self.schema.field(self.primary_key).type

    @property
    def capture_instance(self) -> str:
        return f"dbo_{self.name}"


@dataclass
class TableSync:
    """What one extract did to one table: rows upserted, keys deleted, the cursor's move."""

    table: str
    mechanism: str
    cursor_from: Any = None
    cursor_to: Any = None
    resync: bool = False
    resync_reason: str | None = None
    rows: int = 0
    deletes: int = 0
    dead_letters: int = 0
    duplicates: int = 0
    late_rows: int = 0
    control_totals: dict[str, str] = field(default_factory=dict)


@dataclass
class SqlExtractReport:
    """What one extract of a SQL source did; counts, cursors and totals only."""

    source: str
    mechanism: str
    tables: dict[str, TableSync] = field(default_factory=dict)
    dead_letters: list[dict] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Changes landed: rows upserted plus keys deleted."""
        return sum(t.rows + t.deletes for t in self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "mechanism": self.mechanism,
            "rows": self.rows,
            "tables": {name: asdict(sync) for name, sync in self.tables.items()},
            "dead_letters": self.dead_letters,
        }


# The dialect seam -----------------------------------------------------------------------------
class StandIn:
    """The sandbox's SQLite and Postgres stand-ins: SQL Server's CDC and change-tracking objects
    kept as plain tables (`cdc.x` as `cdc_x`, CHANGETABLE's rows as `change_tracking_<table>`,
    the database and table versions as `change_tracking_database` / `change_tracking_tables`)."""

    schema: str | None = None

    def table(self, name: str, columns: Sequence[str] = ()) -> sa.TableClause:
        return sa.table(name, *(sa.column(c) for c in columns), schema=self.schema)

    def required(self, mechanism: str, spec: TableSpec) -> list[str]:
        """Objects that must exist besides the table itself."""
        if mechanism == "cdc":
            return ["cdc_lsn_time_mapping", "cdc_change_tables", f"cdc_{spec.capture_instance}_CT"]
        if mechanism == "change_tracking":
            return ["change_tracking_database", "change_tracking_tables", _tracked(spec)]
        return []

    def max_lsn(self) -> sa.Executable:
        lsn = sa.column("start_lsn")  # no max() over bytea in Postgres
        return (
            sa.select(lsn)
            .select_from(sa.table("cdc_lsn_time_mapping"))
            .order_by(lsn.desc())
            .limit(1)
        )

    def min_lsn(self, spec: TableSpec) -> sa.Executable:
        instances = sa.table(
            "cdc_change_tables", sa.column("start_lsn"), sa.column("capture_instance")
        )
        return sa.select(instances.c.start_lsn).where(
            instances.c.capture_instance == spec.capture_instance
        )

    def net_changes(self, spec: TableSpec, since: bytes, to: bytes) -> sa.Executable:
        """fn_cdc_get_net_changes_<instance>(since + 1, to, 'all') in plain SQL: per key its last
        image in the range, nothing for a key inserted and deleted within it."""
        meta = ("__$start_lsn", "__$seqval", "__$operation")
        change = sa.table(
            f"cdc_{spec.capture_instance}_CT", *(sa.column(c) for c in (*meta, *spec.columns))
        )
        lsn, seqval, operation = (change.c[c] for c in meta)
        key = change.c[spec.primary_key]
        ranged = (
            sa.select(
                *(change.c[c] for c in spec.columns),
                operation.label("last_op"),
                sa.func.first_value(operation)
                .over(partition_by=key, order_by=(lsn, seqval))
                .label("first_op"),
                sa.func.row_number()
                .over(partition_by=key, order_by=(lsn.desc(), seqval.desc()))
                .label("newest"),
            )
            .where(lsn > since, lsn <= to, operation != 3)  # 3: an update's before image
            .subquery()
        )
        deleted = ranged.c.last_op == 1
        return sa.select(
            *(ranged.c[c] for c in spec.columns), sa.case((deleted, 1), else_=0).label(DELETED)
        ).where(ranged.c.newest == 1, sa.not_(sa.and_(deleted, ranged.c.first_op == 2)))

    def current_version(self) -> sa.Executable:
        return sa.select(sa.column("current_version")).select_from(
            sa.table("change_tracking_database")
        )

    def min_valid_version(self, spec: TableSpec) -> sa.Executable:
        tables = sa.table(
            "change_tracking_tables", sa.column("min_valid_version"), sa.column("table_name")
        )
        return sa.select(tables.c.min_valid_version).where(tables.c.table_name == spec.name)

    def tracked_changes(self, spec: TableSpec, since: int) -> sa.Executable:
        """CHANGETABLE(CHANGES table, since) joined to the table's current rows."""
        key = spec.primary_key
        columns = (key, "SYS_CHANGE_VERSION", "SYS_CHANGE_OPERATION")
        tracked = sa.table(_tracked(spec), *(sa.column(c) for c in columns))
        current = self.table(spec.name, spec.columns)
        columns = [tracked.c[key] if c == key else current.c[c] for c in spec.columns]
        deleted = sa.case((tracked.c["SYS_CHANGE_OPERATION"] == "D", 1), else_=0).label(DELETED)
        return (
            sa.select(*columns, deleted)
            .select_from(tracked.outerjoin(current, current.c[key] == tracked.c[key]))
            .where(tracked.c["SYS_CHANGE_VERSION"] > since)
        )


class SqlServer(StandIn):
    """SQL Server itself: the documented CDC and change-tracking functions, tables in `dbo`."""

    schema = "dbo"

    def required(self, mechanism: str, spec: TableSpec) -> list[str]:
        return []  # min_lsn and min_valid_version return NULL when the feature is off

    def max_lsn(self) -> sa.Executable:
        return sa.text("SELECT sys.fn_cdc_get_max_lsn()")

    def min_lsn(self, spec: TableSpec) -> sa.Executable:
        return sa.text(
            "SELECT NULLIF(sys.fn_cdc_get_min_lsn(:instance), 0x00000000000000000000)"
        ).bindparams(instance=spec.capture_instance)

    def net_changes(self, spec: TableSpec, since: bytes, to: bytes) -> sa.Executable:
        columns = ", ".join(f"[{c}]" for c in spec.columns)
        return sa.text(
            f"SELECT {columns}, CASE WHEN [__$operation] = 1 THEN 1 ELSE 0 END AS {DELETED} "
            f"FROM cdc.fn_cdc_get_net_changes_{spec.capture_instance}"
            "(sys.fn_cdc_increment_lsn(:since), :to, N'all')"
        ).bindparams(
            sa.bindparam("since", since, type_=sa.LargeBinary),
            sa.bindparam("to", to, type_=sa.LargeBinary),
        )

    def current_version(self) -> sa.Executable:
        return sa.text("SELECT CHANGE_TRACKING_CURRENT_VERSION()")

    def min_valid_version(self, spec: TableSpec) -> sa.Executable:
        return sa.text("SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(:table))").bindparams(
            table=f"dbo.{spec.name}"
        )

    def tracked_changes(self, spec: TableSpec, since: int) -> sa.Executable:
        key = spec.primary_key
        columns = ", ".join(f"ct.[{c}]" if c == key else f"t.[{c}]" for c in spec.columns)
        return sa.text(
            f"SELECT {columns}, CASE WHEN ct.SYS_CHANGE_OPERATION = 'D' THEN 1 ELSE 0 END "
            f"AS {DELETED} FROM CHANGETABLE(CHANGES dbo.[{spec.name}], :since) AS ct "
            f"LEFT JOIN dbo.[{spec.name}] AS t ON t.[{key}] = ct.[{key}]"
        ).bindparams(since=since)


def dialect_for(engine: sa.Engine) -> StandIn:
    return SqlServer() if engine.dialect.name == "mssql" else StandIn()


def _tracked(spec: TableSpec) -> str:
    return f"change_tracking_{spec.name}"


# Mechanisms: where the source is now, the oldest cursor it can still serve, what changed ------
class Cdc:
    name = "cdc"
    compares_keys = False  # deletes arrive as changes

    def position(self, conn: sa.Connection, dialect: StandIn, spec: TableSpec) -> str:
        lsn = _scalar(conn, dialect.max_lsn(), spec, "reading the maximum LSN")
        if lsn is None:
            raise SourceError(_cdc_fix(spec, "CDC is not enabled for the database"))
        return bytes(lsn).hex().upper()

    def floor(self, conn: sa.Connection, dialect: StandIn, spec: TableSpec) -> str:
        lsn = _scalar(conn, dialect.min_lsn(spec), spec, "reading its capture instance")
        if lsn is None:
            raise SourceError(_cdc_fix(spec, f"no capture instance {spec.capture_instance}"))
        return bytes(lsn).hex().upper()

    def changes(self, dialect: StandIn, spec: TableSpec, since: str, to: str) -> sa.Executable:
        return dialect.net_changes(spec, bytes.fromhex(since), bytes.fromhex(to))


class ChangeTracking(Cdc):
    name = "change_tracking"

    def position(self, conn: sa.Connection, dialect: StandIn, spec: TableSpec) -> int:
        version = _scalar(conn, dialect.current_version(), spec, "reading the current version")
        if version is None:
            raise SourceError(_ct_fix(spec, "change tracking is not enabled for the database"))
        return int(version)

    def floor(self, conn: sa.Connection, dialect: StandIn, spec: TableSpec) -> int:
        version = _scalar(conn, dialect.min_valid_version(spec), spec, "reading its versions")
        if version is None:
            raise SourceError(_ct_fix(spec, "change tracking is not enabled for the table"))
        return int(version)

    def changes(self, dialect: StandIn, spec: TableSpec, since: int, to: int) -> sa.Executable:
        return dialect.tracked_changes(spec, since)


@dataclass(frozen=True)
class Watermark:
    overlap: timedelta = DEFAULT_OVERLAP
    name = "watermark"
    compares_keys = True  # a modified-since read cannot see deletes

    def position(self, conn: sa.Connection, dialect: StandIn, spec: TableSpec) -> str | None:
        cursor = sa.column(spec.cursor_column, sa.DateTime)
        latest = sa.select(sa.func.max(cursor, type_=sa.DateTime)).select_from(
            dialect.table(spec.name)
        )
        value = _scalar(conn, latest, spec, f"reading the latest {spec.cursor_column}")
        return None if value is None else value.isoformat(timespec="microseconds")

    def floor(self, conn: sa.Connection, dialect: StandIn, spec: TableSpec) -> None:
        return None

    def changes(self, dialect: StandIn, spec: TableSpec, since: str, to: str) -> sa.Executable:
        cursor = sa.column(spec.cursor_column, sa.DateTime)
        low = datetime.fromisoformat(since) - self.overlap
        high = datetime.fromisoformat(to)
        return _select_all(dialect, spec).where(
            cursor > sa.bindparam("low", low, type_=sa.DateTime),
            cursor <= sa.bindparam("high", high, type_=sa.DateTime),
        )


def mechanism_for(name: str, overlap: timedelta = DEFAULT_OVERLAP) -> Cdc | Watermark:
    if name == "watermark":
        return Watermark(overlap)
    if name == "cdc":
        return Cdc()
    if name == "change_tracking":
        return ChangeTracking()
    raise ValueError(f"unknown change mechanism {name!r}; use one of {', '.join(MECHANISMS)}")


class _Edge:
    """Watermark bookkeeping: rows landed inside the overlap window, by key and cursor, so
    re-reading the window lands only rows that are new (a late commit) or changed again."""

    def __init__(self, spec: TableSpec, mechanism: Watermark, state: dict, since, to):
        self.spec = spec
        self.landed = pa.array(state.get("edge", []), pa.string())
        self.since = None if since is None else datetime.fromisoformat(since)
        self.start = None if to is None else datetime.fromisoformat(to) - mechanism.overlap
        self.tags: list[pa.Array] = []

    def admit(self, chunk: pa.Table, sync: TableSync) -> pa.Table:
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
        state["edge"] = pa.chunked_array(self.tags, pa.string()).to_pylist()


def _cdc_fix(spec: TableSpec, problem: str) -> str:
    return (
        f"table {spec.name}: {problem}; enable it with EXEC sys.sp_cdc_enable_db, then "
        f"EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'{spec.name}', "
        "@role_name = NULL, @supports_net_changes = 1 (or extract with mechanism 'watermark')"
    )


def _ct_fix(spec: TableSpec, problem: str) -> str:
    return (
        f"table {spec.name}: {problem}; enable it with ALTER DATABASE <db> SET CHANGE_TRACKING "
        f"= ON (CHANGE_RETENTION = 7 DAYS, AUTO_CLEANUP = ON), then ALTER TABLE dbo.{spec.name} "
        "ENABLE CHANGE_TRACKING"
    )


def _scalar(conn: sa.Connection, statement: sa.Executable, spec: TableSpec, what: str) -> Any:
    try:
        return conn.execute(statement).scalar()
    except sa.exc.DBAPIError as exc:
        raise _query_error(spec, what, exc) from None


def _query_error(spec: TableSpec, what: str, exc: sa.exc.DBAPIError) -> SourceError:
    # Only the error class: a driver's message can quote row values.
    return SourceError(
        f"table {spec.name}: {what} failed ({type(exc.orig).__name__}); check that the "
        "extract's login can read the table and its change objects"
    )


def _select_all(dialect: StandIn, spec: TableSpec) -> sa.Select:
    columns = (sa.column(c) for c in spec.columns)
    return sa.select(*columns, sa.literal(0).label(DELETED)).select_from(dialect.table(spec.name))


# Reading one table ----------------------------------------------------------------------------
@dataclass
class SqlSource:
    """What the table readers of one extract share. `landed_keys` gives the keys a table
    holds in the raw layer (empty before its first load; live rows only where the table keeps
    tombstones), `landed_rows` the landed values of some keys (for their tombstones)."""

    name: str
    engine: sa.Engine
    mechanism: Cdc | Watermark
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
        edge = _Edge(spec, mechanism, state, since, to) if mechanism.name == "watermark" else None
        if sync.resync:
            query = _select_all(dialect, spec)
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


def _require(conn: sa.Connection, dialect: StandIn, mechanism: str, spec: TableSpec) -> None:
    inspector = sa.inspect(conn)
    if not inspector.has_table(spec.name, schema=dialect.schema):
        raise SourceError(
            f"table {spec.name} not found in the source database; check that the endpoint's url "
            "names the right database and that the extract's login can see the table"
        )
    fix = _cdc_fix if mechanism == "cdc" else _ct_fix
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
        raise _query_error(spec, f"reading its {sync.mechanism} changes", exc) from None


def _source_keys(conn: sa.Connection, dialect: StandIn, spec: TableSpec) -> list[pa.Array]:
    query = sa.select(sa.column(spec.primary_key)).select_from(dialect.table(spec.name))
    try:
        result = conn.execution_options(yield_per=CHUNK_ROWS).execute(query).scalars()
        return [pa.array(part).cast(spec.key_type) for part in result.partitions()]
    except sa.exc.DBAPIError as exc:
        raise _query_error(spec, "reading its keys", exc) from None
    except _ARROW_ERRORS:
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
            [*columns, pa.array([True] * len(gone), pa.bool_())], schema=_landing_schema(spec)
        )
    )
    return pa.concat_tables(markers)


# Rows into Arrow ------------------------------------------------------------------------------
def _landing_schema(spec: TableSpec) -> pa.Schema:
    key = spec.schema.get_field_index(spec.primary_key)
    schema = spec.schema.set(key, spec.schema.field(key).with_nullable(False))
    return schema.append(pa.field(DELETED, pa.bool_()))


def to_arrow(rows: Sequence[Sequence], spec: TableSpec) -> tuple[pa.Table, dict[int, str]]:
    """Driver rows (the contract's columns, then `_deleted`) as an Arrow table of the contract;
    rows whose values do not fit are left out and returned with the reason (no values)."""
    landing = _landing_schema(spec)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(landing)
    rejected: dict[int, str] = {}
    arrays = []
    for target, values in zip(landing, columns, strict=True):
        array, bad = _column(values, target.type)
        for index in bad:
            rejected.setdefault(index, f"column {target.name} does not hold {target.type}")
        arrays.append(array)
    key = arrays[landing.get_field_index(spec.primary_key)]
    for index in pc.indices_nonzero(pc.is_null(key)).to_pylist():
        rejected.setdefault(index, f"primary key {spec.primary_key} is null")
    table = pa.Table.from_arrays(arrays, names=landing.names)
    if rejected:
        table = table.filter(pa.array([i not in rejected for i in range(len(rows))]))
    return table.cast(landing), rejected


def _cast(values: Sequence, kind: pa.DataType) -> pa.Array:
    array = pa.array(values)
    if pa.types.is_decimal(kind) and pa.types.is_integer(array.type):
        # int64 -> decimal(12, 2) is refused by type (19 digits); via decimal(38, 0) the
        # precision is checked per value.
        array = array.cast(pa.decimal128(38, 0))
    return array.cast(kind)


def _column(values: Sequence, kind: pa.DataType) -> tuple[pa.Array, list[int]]:
    try:
        return _cast(values, kind), []
    except _ARROW_ERRORS:
        pass
    # Value by value, only for a chunk holding a bad value.
    pieces, bad = [], []
    for index, value in enumerate(values):
        try:
            pieces.append(_cast([value], kind))
        except _ARROW_ERRORS:
            bad.append(index)
            pieces.append(pa.nulls(1, kind))
    return pa.concat_arrays(pieces), bad


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


# Running an extract ---------------------------------------------------------------------------
def connect(url: str, source: str) -> sa.Engine:
    """An engine for the source database, checked by connecting once."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise SourceError(
            f"{source}: the source url is not a database URL "
            "(dialect+driver://user:password@host:port/database)"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise SourceError(f"{source}: the SQLite database {parsed.database} does not exist")
    try:
        engine = sa.create_engine(parsed)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise SourceError(f"{source}: no driver for {shown}: {exc}; install it") from None
    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise SourceError(
            f"{source}: cannot connect to {shown} ({type(exc.orig).__name__}); check the url, "
            "that the server is up and reachable from here, and the login"
        ) from None
    return engine


def _column_hints(spec: TableSpec) -> dict[str, dict]:
    # With tombstones `_deleted` is a plain flag: the delete-insert merge replaces the row by
    # its tombstone (also on a table landed with the hard-delete hint before).
    hints = {DELETED: {"data_type": "bool", "hard_delete": not spec.tombstones}}
    for column in spec.schema:
        if pa.types.is_timestamp(column.type) and column.type.tz is None:
            hints[column.name] = {"data_type": "timestamp", "timezone": False, "precision": 6}
    return hints


def sql_changes_source(source: SqlSource, specs: Sequence[TableSpec]):
    """The source as a dlt source: one merge resource per table."""

    def tables():
        return [
            dlt.resource(
                read_table(source, spec),
                name=spec.name,
                write_disposition={"disposition": "merge", "strategy": "delete-insert"},
                primary_key=spec.primary_key,
                columns=_column_hints(spec),
            )
            for spec in specs
        ]

    return dlt.source(tables, name=source.name, max_table_nesting=0)()


def landed_keys(warehouse: Warehouse, dataset: str) -> Callable[[TableSpec], pa.Array]:
    """The keys a raw table holds (none before its first load); tombstones are not counted:
    their keys are deleted already."""

    def keys(spec: TableSpec) -> pa.Array:
        exists = warehouse.query(
            "select count(*) from information_schema.tables "
            "where table_schema = %s and table_name = %s",
            (dataset, spec.name),
        )[0][0]
        if not exists:
            return pa.array([], spec.key_type)
        with warehouse.connect() as con:
            sql = f"select {spec.primary_key} from {dataset}.{spec.name}"
            if spec.tombstones:
                sql += f" where {DELETED} is not true"
            arrays = [batch.column(0) for batch in warehouse.stream_arrow(con, sql)]
        return (
            pa.chunked_array(arrays, arrays[0].type if arrays else spec.key_type)
            .cast(spec.key_type)
            .combine_chunks()
        )

    return keys


def landed_rows(
    warehouse: Warehouse, dataset: str, batch: int = 1_000
) -> Callable[[TableSpec, pa.Array], list[tuple]]:
    """The contract's columns of the landed rows of some keys, as driver rows."""

    def rows(spec: TableSpec, keys: pa.Array) -> list[tuple]:
        values = keys.to_pylist()
        found: list[tuple] = []
        for start in range(0, len(values), batch):
            part = values[start : start + batch]
            found += warehouse.query(
                f"select {', '.join(spec.columns)} from {dataset}.{spec.name} "
                f"where {spec.primary_key} in ({', '.join(['%s'] * len(part))})",
                tuple(part),
            )
        return found

    return rows


def run_sql_source(
    warehouse: Warehouse,
    pipeline_name: str,
    source_name: str,
    layer: str,
    source_url: str,
    mechanism: str,
    specs: Sequence[TableSpec],
    dead_letter_dir: Path,
    pipelines_dir: Path,
    overlap: timedelta = DEFAULT_OVERLAP,
    chunk_rows: int = CHUNK_ROWS,
) -> SqlExtractReport:
    """Land one SQL source's changes in `<tenant>_<layer>`; rows, deletes, dead letters, the
    sync log and every table's cursor commit in one dlt load."""
    changes = mechanism_for(mechanism, overlap)
    engine = connect(source_url, source_name)
    report = SqlExtractReport(source_name, mechanism)
    dataset = warehouse.schema(layer)
    source = SqlSource(
        source_name,
        engine,
        changes,
        landed_keys(warehouse, dataset),
        DeadLetterStore(dead_letter_dir),
        report,
        chunk_rows,
        landed_rows(warehouse, dataset),
    )
    # Loaded packages would otherwise keep a copy of the raw rows (PHI) in the work folder.
    dlt.config["load.delete_completed_jobs"] = True
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=warehouse.dlt_destination(),
        dataset_name=dataset,
        pipelines_dir=str(pipelines_dir),
    )
    file_format = "parquet" if warehouse.kind == "duckdb" else "csv"
    try:
        pipeline.run(sql_changes_source(source, specs), loader_file_format=file_format)
    except PipelineStepFailed as exc:
        cause = _source_error(exc)
        if cause is None:
            raise
        raise cause from None
    finally:
        engine.dispose()
    return report


def _source_error(exc: BaseException) -> SourceError | None:
    while exc is not None:
        if isinstance(exc, SourceError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None
