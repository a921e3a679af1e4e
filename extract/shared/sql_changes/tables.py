"""A SQL source table's contract and what an extract reports about it.

`TableSpec` declares one source table (key, columns with their Arrow types, control columns,
tombstones); `to_arrow` turns driver rows into an Arrow table of that contract and names the
rows that do not fit (never their values). `TableSync` and `SqlExtractReport` are what an
extract reports: counts, cursors and totals only. `SourceError` is a problem the operator has
to fix; `query_error` and `scalar` turn driver errors into one without quoting a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

DELETED = "_deleted"
SYNC_LOG = "sync_log"
CHUNK_ROWS = 50_000
DEFAULT_OVERLAP = timedelta(minutes=15)
MECHANISMS = ("cdc", "change_tracking", "watermark")

ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


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


# Driver errors --------------------------------------------------------------------------------
def scalar(conn: sa.Connection, statement: sa.Executable, spec: TableSpec, what: str) -> Any:
    """The statement's one value; a driver error becomes a `SourceError` naming `what`."""
    try:
        return conn.execute(statement).scalar()
    except sa.exc.DBAPIError as exc:
        raise query_error(spec, what, exc) from None


def query_error(spec: TableSpec, what: str, exc: sa.exc.DBAPIError) -> SourceError:
    """A `SourceError` for a failed read; only the error class: a driver's message can quote
    row values."""
    return SourceError(
        f"table {spec.name}: {what} failed ({type(exc.orig).__name__}); check that the "
        "extract's login can read the table and its change objects"
    )


# Rows into Arrow ------------------------------------------------------------------------------
def landing_schema(spec: TableSpec) -> pa.Schema:
    """The contract as landed: the key not nullable, then `_deleted`."""
    key = spec.schema.get_field_index(spec.primary_key)
    schema = spec.schema.set(key, spec.schema.field(key).with_nullable(False))
    return schema.append(pa.field(DELETED, pa.bool_()))


def to_arrow(rows: Sequence[Sequence], spec: TableSpec) -> tuple[pa.Table, dict[int, str]]:
    """Driver rows (the contract's columns, then `_deleted`) as an Arrow table of the contract;
    rows whose values do not fit are left out and returned with the reason (no values)."""
    landing = landing_schema(spec)
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
    except ARROW_ERRORS:
        pass
    # Value by value, only for a chunk holding a bad value.
    pieces, bad = [], []
    for index, value in enumerate(values):
        try:
            pieces.append(_cast([value], kind))
        except ARROW_ERRORS:
            bad.append(index)
            pieces.append(pa.nulls(1, kind))
    return pa.concat_arrays(pieces), bad
