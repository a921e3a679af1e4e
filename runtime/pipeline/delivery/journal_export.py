"""Export a GL domain's GlInterface mart to FBDI: one deterministic zip and manifest per
delivery day (batch).

Rows stream from the warehouse as Arrow batches straight into the spec-driven writer; the
batch id, GROUP_ID, batch name and DATE_CREATED all derive from the day, so re-exporting a day
reproduces its recorded bytes (its lines are computed against what posted in earlier batches
only) or fails loudly if they would differ. A reload exports chosen lines of one day as a batch
of its own, under a GROUP_ID of its own. The manifest scope calls the day `feed_date`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date

from load.formats import FormatSpec
from load.manifest import ScopeValue, export_batch, make_batch_id
from load.outbox import Outbox
from runtime.core.config import Domain
from runtime.core.gl_models import GL_INTERFACE, GlChain
from runtime.core.warehouse import Warehouse
from runtime.pipeline.delivery.batches import ExportedBatch

EXPORT_ORDER = "reference4, source_line_id, line_kind, accounting_date"


def export_feed_days(
    warehouse: Warehouse,
    tenant: str,
    stream: str,
    domain: Domain,
    feed_days: list[date],
    outbox: Outbox,
    spec: FormatSpec,
) -> list[ExportedBatch]:
    """Write one batch per feed day, in day order, over one warehouse connection."""
    mart = GlChain(stream, domain.name).rows(warehouse, "gl_interface", "mart")
    exported = []
    with warehouse.connect() as con:
        for day in sorted(feed_days):
            batch_id = make_batch_id(tenant, stream, domain.name, day)
            scope = _scope(tenant, stream, domain, day)
            sql = _mart_query("*", mart, day)
            exported.append(_export(warehouse, con, sql, spec, outbox, batch_id, scope, day))
    return exported


def export_source_lines(
    warehouse: Warehouse,
    tenant: str,
    stream: str,
    domain: Domain,
    feed_date: date,
    source_line_ids: Collection[int],
    outbox: Outbox,
    spec: FormatSpec,
    batch_id: str,
    group_id: int,
    scope: Mapping[str, ScopeValue],
) -> ExportedBatch:
    """Write the mart's current rows of `source_line_ids` on `feed_date` as batch `batch_id`,
    with GROUP_ID set to `group_id` so Fusion imports them as a group of their own.

    `scope` adds to the manifest scope export_feed_days records; ids absent from the mart are
    not written.
    """
    if not source_line_ids:
        raise ValueError("a batch of chosen source lines needs at least one line id")
    columns = [
        f"cast({int(group_id)} as bigint) as group_id" if name == "group_id" else name
        for name in _mart_columns(warehouse, warehouse.schema("marts"), GL_INTERFACE)
    ]
    ids = ", ".join(str(int(i)) for i in sorted(source_line_ids))
    sql = _mart_query(
        ", ".join(columns),
        GlChain(stream, domain.name).rows(warehouse, "gl_interface", "mart"),
        feed_date,
        f"source_line_id in ({ids})",
    )
    full_scope = _scope(tenant, stream, domain, feed_date) | dict(scope)
    with warehouse.connect() as con:
        return _export(warehouse, con, sql, spec, outbox, batch_id, full_scope, feed_date)


def mart_rows_query(warehouse: Warehouse, stream: str, domain: Domain, days: list[date]) -> str:
    """Every mart row of the domain's `days`, in the order the batches are written."""
    listed = ", ".join(f"'{d.isoformat()}'" for d in sorted(days)) or "null"
    mart = GlChain(stream, domain.name).rows(warehouse, "gl_interface", "mart")
    return (
        f"select * from {mart} where batch_date in ({listed}) order by batch_date, {EXPORT_ORDER}"
    )


def _scope(tenant: str, stream: str, domain: Domain, day: date) -> dict[str, ScopeValue]:
    return {
        "tenant": tenant,
        "stream": stream,
        "domain": domain.name,
        "feed_date": day,
        "ledger_id": domain.fusion.ledger_id,
    }


def _mart_query(select: str, mart: str, day: date, condition: str = "") -> str:
    where = f"batch_date = '{day.isoformat()}'" + (f" and {condition}" if condition else "")
    return f"select {select} from {mart} where {where} order by {EXPORT_ORDER}"


def _mart_columns(warehouse: Warehouse, schema: str, mart: str) -> list[str]:
    rows = warehouse.query(
        "select column_name from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, mart),
    )
    return [name for (name,) in rows]


def _export(
    warehouse: Warehouse,
    con,
    sql: str,
    spec: FormatSpec,
    outbox: Outbox,
    batch_id: str,
    scope: Mapping[str, ScopeValue],
    day: date,
) -> ExportedBatch:
    """Stream one query's rows into one recorded batch of the outbox."""
    result = export_batch(warehouse.stream_arrow(con, sql), spec, outbox.folder, batch_id, scope)
    outbox.added(result)
    return ExportedBatch.of(day, result)
