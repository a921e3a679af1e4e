"""Export a record domain's marts (runtime/core/targets.py): one batch per run that has records.

The marts hold the records whose values Fusion does not hold yet (compared with every record
it accepted), dated by the run's UTC day. A batch is the zip Fusion takes (FBDI CSVs, or an
HCM Data Loader `.dat`), its records file (which file line carries which source record, with
the hash and quantity it was sent with: what the submit step records once Fusion accepts the
line) and its manifest in the outbox's chain; batch ids number the day's batches. The marts
are shared by the object's domains: the domain's rows are read (`record_rows`), without the
columns that tell domains apart, in the order of all their other columns, so a batch's bytes
depend on its records only.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pyarrow as pa

from load.formats import FormatSpec, HdlComponent, HdlSpec, load_spec
from load.manifest import ExportResult, export_batch, export_hdl_batch, make_batch_id
from load.outbox import Outbox
from runtime.core.config import Domain
from runtime.core.targets import DOMAIN_COLUMNS, Target, column_name, record_rows, target_of
from runtime.core.warehouse import Warehouse
from runtime.pipeline.delivery.batches import ExportedBatch

RECORD_COLUMNS = ("file", "line", "record_key", "record_hash", "measure")


def export_records(
    warehouse: Warehouse, tenant: str, stream: str, domain: Domain, outbox: Outbox
) -> list[ExportedBatch]:
    """Write the marts' records as the day's next batch (none when there are no records)."""
    target = target_of(domain)
    primary = record_rows(warehouse, stream, domain.name, target.primary_mart, "records")
    rows = warehouse.query(f"select distinct batch_date from {primary}")
    if not rows:
        return []
    [(value,)] = rows  # the marts date every record by the run's day
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    spec = load_spec(domain.fusion.release, domain.fusion.object)
    outbox.folder.mkdir(parents=True, exist_ok=True)
    tables = {
        name: _mart_rows(warehouse, stream, domain.name, mart, day)
        for name, mart in target.marts.items()
    }
    sequence = 1 + sum(1 for d in outbox.feed_days().values() if d == day)
    batch_id = make_batch_id(tenant, stream, domain.name, day, sequence)
    scope = {"tenant": tenant, "stream": stream, "domain": domain.name, "feed_date": day}
    scope |= {"sequence": sequence, "object": domain.fusion.object}
    if isinstance(spec, HdlSpec):
        result = _export_hdl(tables, spec, target, outbox.folder, batch_id, scope)
    else:
        result = _export_fbdi(tables, spec, target, outbox.folder, batch_id, scope)
    outbox.added(result)
    return [ExportedBatch.of(day, result)]


def _export_fbdi(
    tables: dict[str, pa.Table],
    spec: FormatSpec,
    target: Target,
    outbox: Path,
    batch_id: str,
    scope: dict,
) -> ExportResult:
    primary_file = next(iter(target.marts))
    primary = tables[primary_file]
    lines = [(primary_file, n) for n in range(1, primary.num_rows + 1)]
    records = _records_file(lines, primary.column("record_key").to_pylist(), primary)
    batches = {name: table.to_batches() for name, table in tables.items()}
    return export_batch(batches, spec, outbox, batch_id, scope, records=records)


def _export_hdl(
    tables: dict[str, pa.Table],
    spec: HdlSpec,
    target: Target,
    outbox: Path,
    batch_id: str,
    scope: dict,
) -> ExportResult:
    """One mart row per record holds all its components (`<component>__<attribute>` columns);
    components in spec order, each a METADATA line then one MERGE line per record: the
    writer's layout, which numbers the `.dat` lines the records file refers to."""
    primary = tables[next(iter(target.marts))]
    record_keys = primary.column("record_key").to_pylist()
    components, lines, keys = {}, [], []
    number = 0
    for comp in spec.components:
        rows = _component_rows(primary, comp)
        if not rows:
            continue
        components[comp.name] = rows
        number += 1  # METADATA
        for key in record_keys:
            number += 1
            lines.append((spec.dat_file, number))
            keys.append(key)
    records = _records_file(lines, keys, primary)
    return export_hdl_batch(components, spec, outbox, batch_id, scope, records=records)


def _records_file(lines: list[tuple[str, int]], keys: list, primary: pa.Table) -> bytes:
    """CSV of RECORD_COLUMNS, one row per data line, hash and measure from the primary mart."""
    sent = {
        key: (record_hash, measure)
        for key, record_hash, measure in zip(
            primary.column("record_key").to_pylist(),
            primary.column("record_hash").to_pylist(),
            primary.column("measure").to_pylist(),
            strict=True,
        )
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_COLUMNS)
    for (file, line), key in zip(lines, keys, strict=True):
        record_hash, measure = sent[key]
        writer.writerow([file, line, key, record_hash, "" if measure is None else measure])
    return out.getvalue().encode("utf-8")


def _component_rows(table: pa.Table, comp: HdlComponent) -> list[dict]:
    """The component's rows keyed by HDL attribute name, from the mart's columns named
    `<component>__<attribute>` (column_name of each); none when the mart has none of them."""
    prefix = f"{column_name(comp.name)}__"
    present = set(table.column_names)
    wanted = [(a.name, prefix + column_name(a.name)) for a in comp.attributes]
    wanted = [(name, column) for name, column in wanted if column in present]
    if not wanted or table.num_rows == 0:
        return []
    values = {column: table.column(column).to_pylist() for _, column in wanted}
    return [{name: values[column][i] for name, column in wanted} for i in range(table.num_rows)]


def _mart_rows(warehouse: Warehouse, stream: str, domain: str, mart: str, day: date) -> pa.Table:
    """The domain's rows of `mart` for `day`, ordered by every column."""
    columns = [
        name
        for (name,) in warehouse.query(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (warehouse.schema("marts"), mart),
        )
        if name not in DOMAIN_COLUMNS
    ]
    listed = ", ".join(columns)
    sql = (
        f"select {listed} from {record_rows(warehouse, stream, domain, mart, 'records')} "
        f"where batch_date = '{day.isoformat()}' order by {listed}"
    )
    with warehouse.connect() as con:
        batches = list(warehouse.stream_arrow(con, sql))
    if not batches:
        return pa.table({name: pa.array([], pa.null()) for name in columns})
    return pa.Table.from_batches(batches)
