"""The shared SQL change reader: the stand-in statements behind the dialect seam on SQLite and
Postgres, the SQL Server statements they stand in for, rows into Arrow with contract checks,
dead letters and the errors an operator sees. Also the helpers the source tests share."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg2
import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from extract.allscripts.sunrise import TABLES, extract_sunrise
from extract.shared.sql_changes import (
    DELETED,
    PlainTables,
    SourceError,
    SqlServer,
    TableSpec,
    connect,
    to_arrow,
)
from runtime.core.warehouse import Warehouse
from sandbox.canaries import canary_hits
from sandbox.sunrise import capture, database, generate, schema
from sandbox.sunrise.database import sqlite_url
from tests.conftest import PG_PASSWORD, TENANT

SOURCES = ("sqlite", "postgres")
START = date(2026, 10, 1)


def source_database(kind: str, tmp_path: Path, request) -> str:
    """A SQLAlchemy URL for an empty source database: a SQLite file, or a database of its own
    in the test Postgres server (apart from the warehouse's)."""
    if kind == "sqlite":
        return sqlite_url(tmp_path / "source.db")
    server = request.getfixturevalue("pg_server")
    name = f"src_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(
        host=server["host"], port=server["port"], user=server["user"],
        password=server["password"], dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    admin.cursor().execute(f"create database {name}")
    admin.close()
    return (
        f"postgresql+psycopg2://{server['user']}:{server['password']}@{server['host']}:"
        f"{server['port']}/{name}"
    )


def assert_raw_equals_source(
    url: str, warehouse: Warehouse, layer: str, specs, tables: dict[str, sa.Table]
) -> None:
    """Every column of every row of each table is the same in the source and the raw layer (its
    live rows, where the table keeps tombstones: then no tombstone's key is in the source)."""
    engine = sa.create_engine(url)
    try:
        for spec in specs:
            table = tables[spec.name]
            with engine.connect() as conn:
                source = conn.execute(
                    sa.select(*(table.c[c] for c in spec.columns)).order_by(
                        table.c[spec.primary_key]
                    )
                ).all()
            live = f" where {DELETED} is not true" if spec.tombstones else ""
            raw = warehouse.query(
                f"select {', '.join(spec.columns)} from {warehouse.schema(layer)}.{spec.name}"
                f"{live} order by {spec.primary_key}"
            )
            source_rows = {row[0]: tuple(row) for row in source}
            raw_rows = {row[0]: tuple(row) for row in raw}
            differing = [k for k in source_rows.keys() | raw_rows.keys()
                         if source_rows.get(k) != raw_rows.get(k)]  # fmt: skip
            assert not differing, f"{spec.name}: {len(differing)} rows differ, e.g. {differing[0]}"
            assert len(raw) == len(source)
            if spec.tombstones:
                revived = tombstones(warehouse, layer, spec) & source_rows.keys()
                assert not revived, f"{spec.name}: {len(revived)} live keys still tombstoned"
    finally:
        engine.dispose()


def tombstones(warehouse: Warehouse, layer: str, spec) -> set:
    """The keys of a table's tombstones: rows deleted at the source, kept marked deleted."""
    relation = f"{warehouse.schema(layer)}.{spec.name}"
    rows = warehouse.query(f"select {spec.primary_key} from {relation} where {DELETED}")
    return {key for (key,) in rows}


def raw_rows(warehouse: Warehouse, layer: str, spec) -> dict:
    """key -> the contract's values of every row of a raw table (tombstones included)."""
    rows = warehouse.query(
        f"select {', '.join(spec.columns)} from {warehouse.schema(layer)}.{spec.name}"
    )
    return {row[0]: tuple(row) for row in rows}


def change_sunrise(url: str, table: sa.Table, delete=(), insert: pa.Table | None = None) -> None:
    """Delete the rows keyed `delete` from a Sunrise stand-in table and insert the rows of
    `insert`, in one transaction that CDC captures where it is enabled (as Sunrise would)."""
    key = schema.key_of(table)
    engine = database.engine_for(url)
    try:
        with engine.begin() as conn:
            tx = capture.Transaction(conn) if capture.enabled(conn) else None
            before = database.select(conn, table, key, list(delete))
            database.delete(conn, table, key, list(delete))
            if insert is not None:
                database.insert(conn, table, insert)
            if tx is not None:
                tx.rows(table.name, capture.DELETE, before)
                if insert is not None:
                    tx.rows(table.name, capture.INSERT, insert)
                moment = datetime(2027, 1, 1)
                tx.commit(moment, moment)
    finally:
        engine.dispose()


# The stand-in statements, on both engines ------------------------------------------------------
ITEMS = TableSpec("items", "item_id", pa.schema([("item_id", pa.int64()), ("qty", pa.int32())]))
_meta = sa.MetaData()
_items = sa.Table(
    "items",
    _meta,
    sa.Column("item_id", sa.BigInteger, primary_key=True),
    sa.Column("qty", sa.Integer),
)
_items_ct = sa.Table(
    "cdc_dbo_items_CT",
    _meta,
    sa.Column("__$start_lsn", sa.LargeBinary),
    sa.Column("__$seqval", sa.LargeBinary),
    sa.Column("__$operation", sa.Integer),
    sa.Column("item_id", sa.BigInteger),
    sa.Column("qty", sa.Integer),
)
_items_tracked = sa.Table(
    "change_tracking_items",
    _meta,
    sa.Column("item_id", sa.BigInteger, primary_key=True),
    sa.Column("SYS_CHANGE_VERSION", sa.BigInteger),
    sa.Column("SYS_CHANGE_OPERATION", sa.Text),
)


def _lsn(n: int) -> bytes:
    return n.to_bytes(10, "big")


def _run(url: str, statement) -> dict[int, tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(statement).all()
    finally:
        engine.dispose()
    table, rejected = to_arrow(rows, ITEMS)
    assert not rejected
    return {r["item_id"]: (r["qty"], r[DELETED]) for r in table.to_pylist()}


@pytest.mark.parametrize("source_kind", SOURCES)
def test_net_changes_keep_each_keys_last_image_within_the_lsn_range(source_kind, tmp_path, request):
    url = source_database(source_kind, tmp_path, request)
    engine = sa.create_engine(url)
    changes = [
        # lsn, seqval, operation, item, qty
        (1, 1, 2, 5, 1),  # at or before the cursor: already processed
        (2, 1, 2, 1, 10),  # inserted, then updated: the after image
        (3, 1, 3, 1, 10),
        (3, 1, 4, 1, 11),
        (2, 2, 2, 2, 20),  # inserted and deleted within the range: nothing
        (4, 1, 1, 2, 20),
        (3, 2, 3, 3, 30),  # updated, then deleted: a delete
        (3, 2, 4, 3, 31),
        (4, 2, 1, 3, 31),
        (5, 1, 4, 4, 40),  # after the upper bound: next time
    ]
    with engine.begin() as conn:
        _meta.create_all(conn)
        conn.execute(
            _items_ct.insert(),
            [
                {"__$start_lsn": _lsn(lsn), "__$seqval": _lsn(lsn * 100 + seq),
                 "__$operation": op, "item_id": item, "qty": qty}
                for lsn, seq, op, item, qty in changes
            ],
        )  # fmt: skip
    engine.dispose()

    net = _run(url, PlainTables().net_changes(ITEMS, _lsn(1), _lsn(4)))

    assert net == {1: (11, False), 3: (31, True)}


@pytest.mark.parametrize("source_kind", SOURCES)
def test_tracked_changes_join_current_rows_and_return_deleted_keys(source_kind, tmp_path, request):
    url = source_database(source_kind, tmp_path, request)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        _meta.create_all(conn)
        conn.execute(_items.insert(), [{"item_id": 1, "qty": 5}, {"item_id": 2, "qty": 7}])
        conn.execute(
            _items_tracked.insert(),
            [
                {"item_id": 1, "SYS_CHANGE_VERSION": 3, "SYS_CHANGE_OPERATION": "U"},
                {"item_id": 2, "SYS_CHANGE_VERSION": 1, "SYS_CHANGE_OPERATION": "I"},
                {"item_id": 9, "SYS_CHANGE_VERSION": 4, "SYS_CHANGE_OPERATION": "D"},
            ],
        )
    engine.dispose()

    assert _run(url, PlainTables().tracked_changes(ITEMS, 2)) == {1: (5, False), 9: (None, True)}


def test_sql_server_reads_through_its_documented_functions():
    def sql(statement) -> str:
        return str(statement.compile(dialect=mssql.dialect()))

    server = SqlServer()
    net = sql(server.net_changes(ITEMS, _lsn(1), _lsn(2)))
    assert "FROM cdc.fn_cdc_get_net_changes_dbo_items(sys.fn_cdc_increment_lsn(" in net
    assert "N'all')" in net
    assert sql(server.max_lsn()) == "SELECT sys.fn_cdc_get_max_lsn()"
    assert "sys.fn_cdc_get_min_lsn(" in sql(server.min_lsn(ITEMS))
    tracked = sql(server.tracked_changes(ITEMS, 7))
    assert "FROM CHANGETABLE(CHANGES dbo.[items]" in tracked
    assert "LEFT JOIN dbo.[items] AS t ON t.[item_id] = ct.[item_id]" in tracked
    assert sql(server.current_version()) == "SELECT CHANGE_TRACKING_CURRENT_VERSION()"
    assert "CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(" in sql(server.min_valid_version(ITEMS))


# Rows into Arrow -----------------------------------------------------------------------------
CHARGES = TABLES[0]


def _charge(charge_id, amount, last_modified="2026-10-02 08:00:00.000001"):
    return (
        charge_id, 3000000001, "F01", "10101001", "4010", "0450", "2026-10-01",
        date(2026, 10, 2), 2, amount, "A", last_modified, 0,
    )  # fmt: skip


def test_driver_values_become_the_contract_types():
    # SQLite hands back floats and text, Postgres Decimal, date and datetime objects.
    sqlite_rows = [_charge(1, 12.5), _charge(2, 100)]
    postgres = list(_charge(3, Decimal("7.05"), datetime(2026, 10, 2, 8, 0, 0, 1)))
    postgres[6] = date(2026, 10, 1)
    whole = [_charge(4, 100), _charge(5, Decimal("20"))]

    for rows, amounts in (
        (sqlite_rows, ["12.50", "100.00"]),
        ([tuple(postgres)], ["7.05"]),
        (whole, ["100.00", "20.00"]),
    ):
        table, rejected = to_arrow(rows, CHARGES)
        assert not rejected
        assert table.schema.field("amount").type == pa.decimal128(12, 2)
        values = table.to_pylist()
        assert [r["amount"] for r in values] == [Decimal(a) for a in amounts]
        assert values[0]["service_date"] == date(2026, 10, 1)
        assert values[0]["last_modified"] == datetime(2026, 10, 2, 8, 0, 0, 1)
        assert values[0][DELETED] is False


def test_rows_that_break_the_contract_are_set_aside_without_their_values():
    rows = [
        _charge(1, 12.5),
        _charge(2, "ZZCANARY"),
        _charge(None, 3.0),
        _charge(4, 1.0, "not a time"),
    ]

    table, rejected = to_arrow(rows, CHARGES)

    assert table.column("charge_id").to_pylist() == [1]
    assert rejected == {
        1: "column amount does not hold decimal128(12, 2)",
        2: "primary key charge_id is null",
        3: "column last_modified does not hold timestamp[us]",
    }


# Errors and dead letters ----------------------------------------------------------------------
def test_a_missing_sqlite_file_is_named(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        connect(sqlite_url(tmp_path / "nowhere.db"), "allscripts_sunrise")


def test_an_unreachable_server_is_reported_without_the_password():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg2://ehr:{PG_PASSWORD}@127.0.0.1:{port}/sunrise"

    with pytest.raises(SourceError) as caught:
        connect(url, "allscripts_sunrise")

    message = str(caught.value)
    assert "cannot connect to postgresql+psycopg2://ehr:***@127.0.0.1" in message
    assert PG_PASSWORD not in message


def _duckdb(tmp_path: Path) -> Warehouse:
    return Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")


def _extract(tmp_path: Path, warehouse: Warehouse, url: str, mechanism: str):
    return extract_sunrise(
        warehouse, "sunrise", url, mechanism, tmp_path / "dead_letter", tmp_path / "pipelines"
    )


def test_cdc_on_a_database_without_it_names_the_table_and_the_fix(tmp_path):
    url = sqlite_url(tmp_path / "sunrise.db")
    generate(url, seed=3, scale=50, start=START, days=3, cdc=False)

    with pytest.raises(SourceError) as caught:
        _extract(tmp_path, _duckdb(tmp_path), url, "cdc")

    assert "charge_detail" in str(caught.value)
    assert "sys.sp_cdc_enable_table" in str(caught.value)
    assert "watermark" in str(caught.value)


def test_a_row_breaking_the_contract_goes_to_the_dead_letter_store(tmp_path):
    url = sqlite_url(tmp_path / "sunrise.db")
    generate(url, seed=3, scale=200, start=START, days=3, cdc=False)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        bad_id = conn.execute(sa.select(sa.func.min(schema.charge_detail.c.charge_id))).scalar()
        # SQLite keeps whatever it is given: a value the contract rejects.
        conn.exec_driver_sql(
            "update charge_detail set amount = 'ZZCANARY-AMOUNT' where charge_id = ?", (bad_id,)
        )
    warehouse = _duckdb(tmp_path)

    report = _extract(tmp_path, warehouse, url, "watermark")

    assert report.dead_letters == [
        {"table": "charge_detail", "rows": 1, "reason_code": "contract_violation"}
    ]
    assert report.tables["charge_detail"].rows == 199
    assert report.tables["charge_detail"].dead_letters == 1
    assert not canary_hits(json.dumps(report.as_dict()))
    raw = warehouse.schema("raw_sunrise")
    assert (
        warehouse.query(f"select count(*) from {raw}.charge_detail where charge_id = {bad_id}")[0][
            0
        ]
        == 0
    )
    reasons = warehouse.query(f"select reason_code, reason from {raw}.dead_letter")
    assert reasons == [("contract_violation", "column amount does not hold decimal128(12, 2)")]
    quarantined = list((tmp_path / "dead_letter").glob("*charge_detail*.parquet"))
    assert len(quarantined) == 1

    # Corrected at the source, the row lands with the next change.
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "update charge_detail set amount = 10.00, last_modified = '2027-01-01 00:00:00.000000'"
            " where charge_id = ?",
            (bad_id,),
        )
    engine.dispose()
    report = _extract(tmp_path, warehouse, url, "watermark")
    assert report.tables["charge_detail"].rows == 1
    assert_raw_equals_source(
        url, warehouse, "raw_sunrise", [CHARGES], {"charge_detail": schema.charge_detail}
    )
