"""Export a domain's mart to FBDI: one deterministic zip + manifest per delivery day (batch).

Rows stream from the warehouse as Arrow batches straight into the spec-driven writer; the
batch id, GROUP_ID, batch name and DATE_CREATED all derive from the day, so re-exporting a day
reproduces its recorded bytes (its lines are computed against what posted in earlier batches
only) or fails loudly if they would differ. A reload exports chosen lines of one day as a batch
of its own, under a GROUP_ID of its own. The manifest scope calls the day `feed_date`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from load.formats import FormatSpec, load_spec
from load.manifest import ExportResult, ScopeValue, export_batch, make_batch_id, read_chain
from runtime.config import Domain
from runtime.gl_models import GL_INTERFACE, GlChain
from runtime.warehouse import Warehouse

EXPORT_ORDER = "reference4, source_line_id, line_kind, accounting_date"


@dataclass(frozen=True)
class ExportedBatch:
    batch_id: str
    feed_date: date
    lines: int
    zip_path: Path
    manifest_path: Path
    reexport: bool
    control_totals: list[dict]

    @classmethod
    def of(cls, feed_date: date, result: ExportResult) -> ExportedBatch:
        return cls(
            batch_id=result.batch_id,
            feed_date=feed_date,
            lines=result.written.rows,
            zip_path=result.zip_path,
            manifest_path=result.manifest_path,
            reexport=result.reexport,
            control_totals=result.manifest["control_totals"]["groups"],
        )

    def to_json(self) -> dict:
        return {
            "batch_id": self.batch_id,
            "feed_date": self.feed_date.isoformat(),
            "lines": self.lines,
            "zip": str(self.zip_path),
            "manifest": str(self.manifest_path),
            "reexport": self.reexport,
            "control_totals": self.control_totals,
        }


def batch_feed_days(outbox: Path) -> dict[str, date]:
    """The feed day of every batch in the outbox's manifest chain, by batch id."""
    days = {}
    for entry in read_chain(outbox):
        manifest = json.loads((outbox / entry.manifest).read_text(encoding="utf-8"))
        days[entry.batch_id] = date.fromisoformat(manifest["scope"]["feed_date"])
    return days


def export_feed_days(
    warehouse: Warehouse,
    tenant: str,
    stream: str,
    domain: Domain,
    feed_days: list[date],
    outbox: Path,
) -> list[ExportedBatch]:
    """Write one batch per feed day, in day order, over one warehouse connection."""
    spec = load_spec(domain.fusion.release, domain.fusion.object)
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
    outbox: Path,
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
    spec = load_spec(domain.fusion.release, domain.fusion.object)
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
    outbox: Path,
    batch_id: str,
    scope: Mapping[str, ScopeValue],
    day: date,
) -> ExportedBatch:
    """Stream one query's rows into one recorded batch."""
    result = export_batch(warehouse.stream_arrow(con, sql), spec, outbox, batch_id, scope)
    return ExportedBatch.of(day, result)
