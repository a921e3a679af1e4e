"""Sunrise with CDC off: a `last_modified` watermark with an overlap window. After a mutation
batch, including charges whose transaction committed late (their `last_modified` is before the
watermark), the raw layer's live rows equal the source on a SQLite and a Postgres source landing
in DuckDB and Postgres; keys gone from the source stay as tombstones with their landed values."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest

from extract.allscripts.sunrise import TABLES, extract_sunrise
from runtime.core.warehouse import Warehouse
from sandbox.sunrise import Mutation, generate, mutate, schema
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

SEED = 8
LAYER = "raw_sunrise"
BASE = {t.name: t for t in schema.BASE_TABLES}


def _extract(tmp_path, warehouse, url, overlap=timedelta(minutes=15)):
    return extract_sunrise(
        warehouse,
        "sunrise",
        url,
        "watermark",
        tmp_path / "dead_letter",
        tmp_path / "pipelines",
        overlap=overlap,
    )


@pytest.mark.parametrize("source_kind", SOURCES)
def test_watermark_catches_late_commits_inside_the_overlap(
    source_kind, warehouse, tmp_path, request
):
    url = source_database(source_kind, tmp_path, request)
    generate(url, seed=SEED, scale=300, start=date(2026, 10, 1), days=5, cdc=False)
    first = _extract(tmp_path, warehouse, url)
    assert first.tables["charge_detail"].resync_reason == "initial"
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)

    landed = {spec.name: raw_rows(warehouse, LAYER, spec) for spec in TABLES}
    batch = mutate(
        url,
        SEED,
        Mutation(
            1, inserts=12, updates=10, deletes=6, overlays=6, late=2, late_by=timedelta(minutes=5)
        ),
    )
    second = _extract(tmp_path, warehouse, url)

    charges = second.tables["charge_detail"]
    assert charges.cursor_from == first.tables["charge_detail"].cursor_to
    assert batch["late"] == {"charge_detail": 2}
    assert charges.late_rows == 2
    assert charges.rows == 12 + 10 + 2
    assert charges.deletes == 6  # by comparing keys: a modified-since read cannot see deletes
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)
    # The keys gone stay as tombstones with the values they were landed with.
    for spec in TABLES:
        buried = tombstones(warehouse, LAYER, spec)
        assert len(buried) == second.tables[spec.name].deletes, spec.name
        rows = raw_rows(warehouse, LAYER, spec)
        assert {k: rows[k] for k in buried} == {k: landed[spec.name][k] for k in buried}

    # The next run re-reads the overlap window and lands nothing again; tombstones are not
    # deleted twice.
    third = _extract(tmp_path, warehouse, url)
    assert third.rows == 0
    assert third.tables["charge_detail"].duplicates == 0
    assert len(tombstones(warehouse, LAYER, TABLES[0])) == 6


def test_a_key_inserted_again_replaces_its_tombstone(tmp_path, request):
    warehouse = Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")
    url = source_database("sqlite", tmp_path, request)
    generate(url, seed=SEED, scale=200, start=date(2026, 10, 1), days=5, cdc=False)
    _extract(tmp_path, warehouse, url)
    devices = next(spec for spec in TABLES if spec.name == "device_assets")
    landed = raw_rows(warehouse, LAYER, devices)
    gone = sorted(landed)[:2]
    change_sunrise(url, schema.device_assets, delete=gone)
    assert _extract(tmp_path, warehouse, url).tables["device_assets"].deletes == 2
    assert tombstones(warehouse, LAYER, devices) == set(gone)

    again = dict(zip(devices.columns, landed[gone[0]], strict=True))
    again["last_modified"] = datetime(2027, 1, 1)  # re-inserted after the watermark
    row = pa.Table.from_pylist([again], schema=arrow_schema(schema.device_assets))
    change_sunrise(url, schema.device_assets, insert=row)
    report = _extract(tmp_path, warehouse, url)

    assert (report.tables["device_assets"].rows, report.tables["device_assets"].deletes) == (1, 0)
    assert tombstones(warehouse, LAYER, devices) == {gone[1]}
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)


def test_rows_reread_in_the_overlap_are_not_landed_twice(tmp_path, request):
    warehouse = Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")
    url = source_database("sqlite", tmp_path, request)
    generate(url, seed=SEED, scale=200, start=date(2026, 10, 1), days=5, cdc=False)
    day = timedelta(days=1)
    first = _extract(tmp_path, warehouse, url, overlap=day)
    mutate(url, SEED, Mutation(1, updates=8))
    second = _extract(tmp_path, warehouse, url, overlap=day)
    mutate(url, SEED, Mutation(2, updates=3))

    third = _extract(tmp_path, warehouse, url, overlap=day)

    charges = third.tables["charge_detail"]
    assert second.tables["charge_detail"].rows == 8
    assert second.tables["charge_detail"].duplicates > 0  # the initial load's last day
    assert (charges.rows, charges.late_rows) == (3, 0)
    assert charges.duplicates >= 8  # batch 1's rows, still inside the day-long window
    assert first.tables["charge_detail"].duplicates == 0
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)


def test_a_commit_later_than_the_overlap_is_missed(tmp_path, request):
    """The window is the limit of the mechanism: size it above the longest transaction."""
    warehouse = Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")
    url = source_database("sqlite", tmp_path, request)
    generate(url, seed=SEED, scale=200, start=date(2026, 10, 1), days=5, cdc=False)
    _extract(tmp_path, warehouse, url, overlap=timedelta(minutes=1))
    mutate(url, SEED, Mutation(1, late=1, late_by=timedelta(minutes=5)))

    report = _extract(tmp_path, warehouse, url, overlap=timedelta(minutes=1))

    assert report.tables["charge_detail"].rows == 0
    with pytest.raises(AssertionError, match="charge_detail: 1 rows differ"):
        assert_raw_equals_source(url, warehouse, LAYER, TABLES[:1], BASE)
