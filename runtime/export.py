"""Export a domain's mart to FBDI: one deterministic zip + manifest per feed day (batch).

Rows stream from the warehouse as Arrow batches straight into the spec-driven writer; the
batch id, GROUP_ID, batch name and DATE_CREATED all derive from the feed day, so re-exporting
a day reproduces its recorded bytes or fails loudly if they would differ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from load.formats import load_spec
from load.manifest import ExportResult, export_batch, make_batch_id, read_chain
from runtime.config import Domain
from runtime.warehouse import Warehouse

MART = "fusion__gl_interface"


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
    mart = f"{warehouse.schema('marts')}.{MART}"
    exported = []
    with warehouse.connect() as con:
        for day in sorted(feed_days):
            scope = {
                "tenant": tenant,
                "stream": stream,
                "domain": domain.name,
                "feed_date": day,
                "ledger_id": domain.fusion.ledger_id,
            }
            rows = warehouse.stream_arrow(
                con,
                f"select * from {mart} where feed_date = '{day.isoformat()}' "
                "order by reference4, source_line_id",
            )
            batch_id = make_batch_id(tenant, stream, domain.name, day)
            result = export_batch(rows, spec, outbox, batch_id, scope)
            exported.append(ExportedBatch.of(day, result))
    return exported
