"""TouchWorks through SQL Server change tracking: after each batch the raw layer equals the
source, and a consumer that fell behind the minimum valid version resynchronises (and says so),
on a SQLite and a Postgres source landing in DuckDB and Postgres."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from extract.shared.sql_changes import SourceError
from extract.veradigm.touchworks import TABLES, extract_touchworks
from runtime.core.warehouse import Warehouse
from sandbox.canaries import CANARY_MRNS, canary_hits
from sandbox.touchworks import Mutation, advance_min_valid_version, generate, mutate
from sandbox.touchworks import schema as tw_schema
from tests.conftest import TENANT
from tests.test_sql_changes import SOURCES, assert_raw_equals_source, source_database

SEED = 4
LAYER = "raw_touchworks"
BASE = {t.name: t for t in tw_schema.BASE_TABLES}


def _extract(tmp_path, warehouse, url):
    return extract_touchworks(
        warehouse,
        "touchworks",
        url,
        "change_tracking",
        tmp_path / "dead_letter",
        tmp_path / "pipelines",
    )


@pytest.mark.parametrize("source_kind", SOURCES)
def test_change_tracking_keeps_the_raw_layer_equal_and_resyncs_when_behind(
    source_kind, warehouse, tmp_path, request
):
    url = source_database(source_kind, tmp_path, request)
    generate(url, seed=SEED, scale=300, start=date(2026, 10, 1), days=5)
    first = _extract(tmp_path, warehouse, url)
    assert first.tables["tw_charges"].resync_reason == "initial"
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)
    raw = warehouse.schema(LAYER)
    assert set(CANARY_MRNS) <= {r[0] for r in warehouse.query(f"select mrn from {raw}.tw_patients")}

    batch = mutate(url, SEED, Mutation(1, inserts=10, updates=8, deletes=5))
    second = _extract(tmp_path, warehouse, url)

    charges = second.tables["tw_charges"]
    assert (charges.cursor_from, charges.cursor_to) == (0, batch["current_version"])
    assert (charges.rows, charges.deletes, charges.resync) == (18, 5, False)
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)

    # The consumer falls behind: two batches, then cleanup passes its last version.
    mutate(url, SEED, Mutation(2, inserts=4, updates=4, deletes=3))
    latest = mutate(url, SEED, Mutation(3, inserts=4, updates=4, deletes=3))
    assert advance_min_valid_version(url) == latest["current_version"]

    third = _extract(tmp_path, warehouse, url)

    for table in TABLES:
        sync = third.tables[table.name]
        assert (sync.resync, sync.resync_reason) == (True, "behind_retention")
        assert sync.cursor_to == latest["current_version"]
    assert third.tables["tw_charges"].deletes == 6  # deleted while the consumer was behind
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)
    assert not canary_hits(json.dumps([r.as_dict() for r in (first, second, third)]))
    log = warehouse.query(
        f"select resync_reason from {raw}.sync_log where table_name = 'tw_charges' "
        "order by synced_at"
    )
    assert log == [("initial",), (None,), ("behind_retention",)]

    # Caught up again: only the new changes.
    mutate(url, SEED, Mutation(4, updates=2))
    fourth = _extract(tmp_path, warehouse, url)
    assert (fourth.tables["tw_charges"].rows, fourth.tables["tw_charges"].resync) == (2, False)
    assert_raw_equals_source(url, warehouse, LAYER, TABLES, BASE)


def test_a_table_without_change_tracking_names_the_fix(tmp_path, request):
    warehouse = Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")
    url = source_database("sqlite", tmp_path, request)
    generate(url, seed=SEED, scale=50, start=date(2026, 10, 1), days=2)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            tw_schema.tracked_tables.delete().where(
                tw_schema.tracked_tables.c.table_name == "tw_charges"
            )
        )
    engine.dispose()

    with pytest.raises(SourceError) as caught:
        _extract(tmp_path, warehouse, url)

    assert "tw_charges: change tracking is not enabled for the table" in str(caught.value)
    assert "ALTER TABLE dbo.tw_charges ENABLE CHANGE_TRACKING" in str(caught.value)
