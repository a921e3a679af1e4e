"""SQL stand-in databases: a SQLite file for the demo, Postgres in the tests, the same tables.

Used by the Sunrise and TouchWorks stand-ins. Tables are declared once with SQLAlchemy; rows
move as Arrow tables and are written through the driver's bulk path (sqlite3 `executemany`,
psycopg2 `execute_values`). Values go over as text in forms both engines parse: ISO dates,
`YYYY-MM-DD HH:MM:SS.ffffff` timestamps (also how SQLAlchemy stores DATETIME in SQLite, so
typed comparisons work there) and plain decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from sandbox.standin import GenerationRequest, StandIn

_KEYS_PER_STATEMENT = 5_000  # below SQLite's bound-parameter limit


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def engine_for(url: str) -> sa.Engine:
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        # A stand-in file, rebuilt at will: trade durability for bulk-load speed.
        sa.event.listen(engine, "connect", _fast_sqlite)
    return engine


def _fast_sqlite(dbapi_connection, _record) -> None:
    dbapi_connection.execute("pragma journal_mode = memory")
    dbapi_connection.execute("pragma synchronous = off")


def arrow_type(column: sa.Column) -> pa.DataType:
    kind = column.type
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return pa.decimal128(kind.precision, kind.scale)
    if isinstance(kind, sa.Integer):
        return pa.int64()
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us")
    if isinstance(kind, sa.Date):
        return pa.date32()
    if isinstance(kind, sa.LargeBinary):
        return pa.binary()
    return pa.string()


def arrow_schema(table: sa.Table) -> pa.Schema:
    return pa.schema([(c.name, arrow_type(c)) for c in table.columns])


def arrow_table(table: sa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    """Columns built for `table`, in its column order and types."""
    arrow = arrow_schema(table)
    return pa.Table.from_arrays([columns[f.name] for f in arrow], schema=arrow)


def with_columns(table: pa.Table, **columns: pa.Array) -> pa.Table:
    """`table` with the named columns replaced."""
    for name, values in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, values)
    return table


def recreate(engine: sa.Engine, metadata: sa.MetaData, tables: Sequence[sa.Table]) -> None:
    """Drop and create `tables` (a fresh stand-in database)."""
    metadata.drop_all(engine, tables=list(tables))
    metadata.create_all(engine, tables=list(tables))


def _driver_values(column: pa.ChunkedArray | pa.Array) -> list:
    kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_decimal(kind):
        column = column.cast(pa.string())  # microsecond timestamps keep all six digits
    return column.to_pylist()


def _rows(table: pa.Table, names: Sequence[str]) -> list[tuple]:
    return list(zip(*(_driver_values(table.column(name)) for name in names), strict=True))


def _execute_many(conn: sa.Connection, sql: str, rows: list[tuple], values_clause: str) -> None:
    """One statement per row on SQLite; multi-row VALUES pages on Postgres."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if conn.dialect.name == "sqlite":
            cursor.executemany(sql.replace("%s", "?"), rows)
        else:
            from psycopg2.extras import execute_values

            execute_values(cursor, sql.replace(values_clause, "%s"), rows, page_size=2_000)
    finally:
        cursor.close()


def insert(conn: sa.Connection, table: sa.Table, rows: pa.Table) -> None:
    if not rows.num_rows:
        return
    quote = conn.dialect.identifier_preparer.quote_identifier
    names = rows.column_names
    values = f"({', '.join(['%s'] * len(names))})"
    sql = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES {values}"
    _execute_many(conn, sql, _rows(rows, names), values)


def update(conn: sa.Connection, table: sa.Table, rows: pa.Table, key: str) -> None:
    """Set every other column of `rows` on the rows with the same `key`."""
    if not rows.num_rows:
        return
    names = [n for n in rows.column_names if n != key]
    # Untyped columns: the values are already driver text (see the module docstring).
    target = sa.table(table.name, *(sa.column(n) for n in rows.column_names))
    statement = (
        target.update()
        .where(target.c[key] == sa.bindparam("k"))
        .values({n: sa.bindparam(f"v_{i}") for i, n in enumerate(names)})
    )
    values = [
        {"k": row[0], **{f"v_{i}": value for i, value in enumerate(row[1:])}}
        for row in _rows(rows, [key, *names])
    ]
    conn.execute(statement, values)


def delete(conn: sa.Connection, table: sa.Table, key: str, keys: Iterable[Any]) -> None:
    keys = list(keys)
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        chunk = keys[start : start + _KEYS_PER_STATEMENT]
        conn.execute(table.delete().where(table.c[key].in_(chunk)))


def select(conn: sa.Connection, table: sa.Table, key: str, keys: Iterable[Any]) -> pa.Table:
    """The current rows with the given keys, as Arrow, ordered by key."""
    keys, rows = list(keys), []
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        chunk = keys[start : start + _KEYS_PER_STATEMENT]
        rows += conn.execute(sa.select(table).where(table.c[key].in_(chunk))).all()
    schema = arrow_schema(table)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    arrays = [pa.array(list(v), f.type) for v, f in zip(columns, schema, strict=True)]
    result = pa.Table.from_arrays(arrays, schema=schema)
    return result.take(pc.sort_indices(result.column(key)))


def column_values(conn: sa.Connection, column: sa.Column) -> pa.Array:
    """Every value of one column, as Arrow."""
    values = conn.execute(sa.select(column)).scalars().all()
    return pa.array(values, arrow_type(column))


@dataclass(frozen=True)
class SqlStandIn(StandIn):
    """A stand-in database kept as a SQLite file under the sandbox output directory.

    Its endpoints entry is a file entry (folder and file name) that also gives the SQLAlchemy
    URL and the change mechanism the generated database supports.
    """

    mechanism: str = ""

    def endpoint(self, out_dir: Path) -> dict[str, Any] | None:
        entry = super().endpoint(out_dir)
        path = Path(entry["path"]) / str(self.file_pattern)
        return entry | {"url": sqlite_url(path), "mechanism": self.mechanism}


def sqlite_stand_in(
    name: str, directory: str, file_name: str, mechanism: str, generate: Callable[..., dict]
) -> SqlStandIn:
    """The stand-in whose generation rebuilds `directory/file_name` as a SQLite database with
    `generate(url, seed, scale, start_date, days)`."""

    def generate_file(request: GenerationRequest) -> dict[str, Any]:
        path = request.out_dir / directory / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        summary = generate(
            sqlite_url(path), request.seed, request.scale, request.start_date, request.days
        )
        return {"path": str(path.resolve()), **summary}

    return SqlStandIn(
        name=name,
        kind="files",
        generate=generate_file,
        files_dir=directory,
        file_pattern=file_name,
        mechanism=mechanism,
    )
