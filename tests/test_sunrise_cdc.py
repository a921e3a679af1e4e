"""Sunrise through SQL Server CDC: after each mutation batch the raw layer's live rows equal the
source, column for column, on a SQLite and a Postgres source landing in DuckDB and Postgres;
every deleted key stays as a tombstone with its last values until it is inserted again."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pytest
import sqlalchemy as sa

from extract.allscripts.sunrise import TABLES, extract_sunrise
from runtime.core.warehouse import Warehouse
from sandbox.canaries import CANARY_MRNS, canary_hits
from sandbox.sunrise import Mutation, clean_up_changes, generate, mutate, schema
from sandbox.sunrise.database import arrow_schema
from tests.conftest import TENANT
from tests.test_sql_changes import (
    SOURCES,
    assert_raw_equals_source,
    change_sunrise,
    raw_rows,
    source_database,
    tombstones,
)

SEED = 5
LAYER = "raw_sunrise"
BASE = {t.name: t for t in schema.BASE_TABLES}


def _extract(tmp_path, warehouse, url):
    return extract_sunrise(
        warehouse, "sunrise", url, "cdc", tmp_path / "dead_letter", tmp_path / "pipelines"
    )


def _source_sum(url: str, column: sa.Column):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.sum(column))).scalar()
    finally:
        engine.dispose()


@pytest.mark.parametrize("source_kind", SOURCES)
def test_cdc_keeps_the_raw_layer_equal_to_the_source(source_kind, warehouse, tmp_path, request):
    url = source_database(source_kind, tmp_path, request)
    generate(url, seed=SEED, scale=300, start=date(2026, 10, 1), days=5)

    first = _extract(tmp_path, warehouse, url)

    charges = first.tables["charge_detail"]
    assert (charges.resync, charges.resync_reason, charges.cursor_from) == (True, "initial", None)
    assert charges.rows == 300
    assert charges.control_totals["amount"] == str(_source_sum(url, schema.charge_detail.c.amount))
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)
    raw = warehouse.schema(LAYER)
    patients = {r[0] for r in warehouse.query(f"select patient_id from {raw}.encounters")}
    assert set(CANARY_MRNS) <= patients

    landed = {spec.name: raw_rows(warehouse, LAYER, spec) for spec in TABLES}
    batch = mutate(url, SEED, Mutation(1, inserts=12, updates=10, deletes=6, overlays=6, late=2))
    second = _extract(tmp_path, warehouse, url)

    charges = second.tables["charge_detail"]
    assert not charges.resync
    assert charges.cursor_from == first.tables["charge_detail"].cursor_to
    assert charges.cursor_to == batch["lsns"][-1]
    assert charges.rows == 12 + 10 + 2
    assert charges.deletes == 6
    assert second.tables["sfm_charge_overlay"].rows == 6
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)
    # Deleted keys stay as tombstones with the values they had when they were deleted.
    for spec in TABLES:
        buried = tombstones(warehouse, LAYER, spec)
        assert len(buried) == second.tables[spec.name].deletes, spec.name
        rows = raw_rows(warehouse, LAYER, spec)
        assert {k: rows[k] for k in buried} == {k: landed[spec.name][k] for k in buried}
    assert len(tombstones(warehouse, LAYER, TABLES[0])) == 6
    assert not canary_hits(json.dumps(first.as_dict()) + json.dumps(second.as_dict()))

    idle = _extract(tmp_path, warehouse, url)
    assert idle.rows == 0
    assert idle.tables["charge_detail"].cursor_to == charges.cursor_to
    log = warehouse.query(
        f"select resync, resync_reason, rows, deletes from {raw}.sync_log "
        "where table_name = 'charge_detail' order by synced_at"
    )
    assert log == [(True, "initial", 300, 0), (False, None, 24, 6), (False, None, 0, 0)]


def test_a_key_inserted_again_replaces_its_tombstone(tmp_path, request):
    warehouse = Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")
    url = source_database("sqlite", tmp_path, request)
    generate(url, seed=SEED, scale=200, start=date(2026, 10, 1), days=5)
    _extract(tmp_path, warehouse, url)
    charges = TABLES[0]
    landed = raw_rows(warehouse, LAYER, charges)
    gone = sorted(landed)[:3]
    change_sunrise(url, schema.charge_detail, delete=gone)
    assert _extract(tmp_path, warehouse, url).tables["charge_detail"].deletes == 3
    assert tombstones(warehouse, LAYER, charges) == set(gone)

    again = dict(zip(charges.columns, landed[gone[0]], strict=True)) | {"amount": 1}
    row = pa.Table.from_pylist([again], schema=arrow_schema(schema.charge_detail))
    change_sunrise(url, schema.charge_detail, insert=row)
    report = _extract(tmp_path, warehouse, url)

    assert (report.tables["charge_detail"].rows, report.tables["charge_detail"].deletes) == (1, 0)
    assert tombstones(warehouse, LAYER, charges) == set(gone[1:])
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)


def test_changes_already_cleaned_up_resynchronise_the_table(tmp_path, request):
    warehouse = Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")
    url = source_database("sqlite", tmp_path, request)
    generate(url, seed=SEED, scale=200, start=date(2026, 10, 1), days=5)
    _extract(tmp_path, warehouse, url)
    batch = mutate(url, SEED, Mutation(1, inserts=5, updates=5, deletes=5))
    clean_up_changes(url, batch["lsns"][-1])

    report = _extract(tmp_path, warehouse, url)

    charges = report.tables["charge_detail"]
    assert (charges.resync, charges.resync_reason) == (True, "behind_retention")
    assert charges.deletes == 5
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)
    # The resynchronisation found the deletes by comparing keys: tombstones with landed values.
    buried = tombstones(warehouse, LAYER, TABLES[0])
    assert len(buried) == 5
    assert all(raw_rows(warehouse, LAYER, TABLES[0])[k][9] is not None for k in buried)
    assert _extract(tmp_path, warehouse, url).tables["charge_detail"].deletes == 0


def test_enabling_cdc_after_watermark_reads_resynchronises(tmp_path, request):
    warehouse = Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")
    url = source_database("sqlite", tmp_path, request)
    generate(url, seed=SEED, scale=200, start=date(2026, 10, 1), days=5)
    extract_sunrise(
        warehouse, "sunrise", url, "watermark", tmp_path / "dead_letter", tmp_path / "pipelines"
    )
    mutate(url, SEED, Mutation(1, inserts=5, updates=5, deletes=5))

    report = _extract(tmp_path, warehouse, url)

    charges = report.tables["charge_detail"]
    assert (charges.resync_reason, charges.cursor_from) == ("mechanism_changed", None)
    assert charges.deletes == 5
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)
    assert not _extract(tmp_path, warehouse, url).tables["charge_detail"].resync
