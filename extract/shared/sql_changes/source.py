"""A SQL source as a dlt source, and one extract of it into the warehouse.

`sql_changes_source` gives one merge resource per table (delete-insert on the primary key;
`_deleted` is dlt's hard-delete hint, or a plain flag for a table with tombstones);
`run_sql_source` connects, reads every table's changes and lands rows, deletes, dead letters,
the sync log and every cursor in one dlt load. `landed_keys` and `landed_rows` read back what
the raw layer holds, for the deletes a snapshot or a watermark read has to infer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dlt
import pyarrow as pa
import sqlalchemy as sa
from dlt.pipeline.exceptions import PipelineStepFailed

from extract.dead_letter import DeadLetterStore
from extract.shared.landing import load_into
from extract.shared.sql_changes.reader import SqlSource, mechanism_for, read_table
from extract.shared.sql_changes.tables import (
    CHUNK_ROWS,
    DEFAULT_OVERLAP,
    DELETED,
    SourceError,
    SqlExtractReport,
    TableSpec,
)
from runtime.core.warehouse import Warehouse


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


@dataclass(frozen=True)
class SqlSourceSettings:
    """What a SQL source package declares in its settings: its catalog name, the name messages
    use, the raw layer it lands in, its tables and the change mechanisms it can be read by."""

    name: str
    label: str
    layer: str
    tables: tuple[TableSpec, ...]
    mechanisms: tuple[str, ...]


def extract_sql(
    settings: SqlSourceSettings,
    warehouse: Warehouse,
    pipeline_name: str,
    source_url: str,
    mechanism: str,
    dead_letter_dir: Path,
    pipelines_dir: Path,
    overlap: timedelta = DEFAULT_OVERLAP,
    chunk_rows: int = CHUNK_ROWS,
    tables: Sequence[str] | None = None,
) -> SqlExtractReport:
    """Land a SQL source's changes in `<tenant>_<layer>` by `mechanism` (`overlap` is a
    watermark's re-read window); `tables` limits it to those tables (a domain lands the tables
    its Fusion object needs)."""
    if mechanism not in settings.mechanisms:
        raise ValueError(
            f"{settings.label} is read by {' or '.join(settings.mechanisms)}, not {mechanism!r}"
        )
    unknown = sorted(set(tables or ()) - {spec.name for spec in settings.tables})
    if unknown:
        raise ValueError(f"{settings.label} has no table {', '.join(unknown)}")
    return run_sql_source(
        warehouse,
        pipeline_name,
        settings.name,
        settings.layer,
        source_url,
        mechanism,
        [spec for spec in settings.tables if tables is None or spec.name in tables],
        dead_letter_dir,
        pipelines_dir,
        overlap=overlap,
        chunk_rows=chunk_rows,
    )


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
    try:
        load_into(warehouse, pipeline_name, layer, pipelines_dir, sql_changes_source(source, specs))
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
