"""Allscripts Sunrise supplies -> Fusion inventory transactions and medical devices -> Fusion
Fixed Assets mass additions, built by their catalog targets on DuckDB and Postgres from a landed
Sunrise stand-in: every consumption and device is sent or held as an exception; a later batch
sends only what Fusion does not hold yet (quantity deltas, new devices), never a device
changed after its addition; the marts write through the FBDI writer at their spec positions."""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from extract.allscripts.sunrise import extract_sunrise
from load.fbdi import write_fbdi_zip
from load.formats import load_spec
from runtime.core.config import Disclosure, Domain, FusionTarget
from runtime.core.targets import dbt_selection
from runtime.core.warehouse import Warehouse
from runtime.pipeline.dbt import DbtOutcome, run_dbt
from runtime.pipeline.posting import Posting
from runtime.pipeline.run import dbt_environment
from sandbox import sunrise, world
from sandbox.sunrise.database import sqlite_url
from tests.conftest import PHI_KEY

SEED = 5
SCALE = 200  # 100 consumptions, 20 devices
START = date(2026, 10, 1)
DAYS = 5
STREAM = "sunrise"
SOURCE_CODE = "EHF SUNRISE SUPPLIES"
BOOK = "EHF US CORP"
FEEDER = "SUNRISE"
UNMAPPED = sorted(world.unmapped_department_ids())[0]

SUPPLY_UNIT_TESTS = {
    "inv_transaction_delta_against_accepted_records",
    "inv_transaction_deltas_become_issues_and_receipts",
}
DEVICE_UNIT_TESTS = {"mass_addition_changed_after_addition_is_never_sent_again"}


def _domain(name: str, fusion: FusionTarget) -> Domain:
    return Domain(
        name=name,
        enabled=True,
        source="allscripts_sunrise",
        endpoint="allscripts_sunrise",
        cadence="daily",
        run_at=time(2, 30),
        month_day=None,
        phi_mode="pseudonymized",
        phi_direct_authorisation=None,
        disclosure=Disclosure("payment and health care operations", f"Oracle Fusion ({name})"),
        fusion=fusion,
    )


SUPPLY_DOMAIN = _domain(
    "supplies", FusionTarget("InvTransactionsInterface", "25B", source_code=SOURCE_CODE)
)
DEVICE_DOMAIN = _domain(
    "devices",
    FusionTarget("FaMassAdditions", "25B", book_type_code=BOOK, feeder_system_name=FEEDER),
)


# The Sunrise stand-in, landed -------------------------------------------------------------------
class Source:
    """The Sunrise stand-in database (read by watermark) and its landing in the warehouse."""

    def __init__(self, warehouse: Warehouse, root: Path) -> None:
        self.warehouse, self.root = warehouse, root
        self.path = root / "sunrise.db"
        sunrise.generate(sqlite_url(self.path), SEED, SCALE, START, DAYS, cdc=False)
        self.clock = datetime(2026, 10, 20)  # after every generated last_modified

    def now(self) -> str:
        """A last_modified later than any before it, so the next read sees the change."""
        self.clock += timedelta(minutes=1)
        return self.clock.isoformat(sep=" ", timespec="microseconds")

    def change(self, sql: str, *params: object) -> None:
        """Change source rows (the statement sets last_modified to `now()`)."""
        with sqlite3.connect(self.path) as con:
            assert con.execute(sql, params).rowcount > 0, sql

    def land(self) -> None:
        report = extract_sunrise(
            self.warehouse, STREAM, sqlite_url(self.path), "watermark",
            self.root / "dead_letter", self.root / "pipelines",
        )  # fmt: skip
        assert not report.dead_letters

    def rows(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.path) as con:
            return con.execute(sql).fetchall()


def build(warehouse: Warehouse, work_dir: Path, domain: Domain) -> DbtOutcome:
    """`dbt build` of the domain's selection as its run does it."""
    Posting(warehouse).ensure()  # what Fusion accepted: the record marts read it
    env = dbt_environment(warehouse, STREAM, domain, PHI_KEY)
    outcome = run_dbt(
        "build", [*dbt_selection(domain), "--indirect-selection", "cautious"], env, work_dir
    )
    assert outcome.success, outcome.errors
    assert not outcome.failed_checks, [check.name for check in outcome.failed_checks]
    return outcome


def mart(warehouse: Warehouse, name: str, columns: str) -> list[tuple]:
    return warehouse.query(f"select {columns} from {warehouse.schema('marts')}.{name}")


def accept(warehouse: Warehouse, domain: Domain, batch_date: date, records: list[tuple]) -> None:
    """Record (record_key, record_hash, measure) as accepted by Fusion in batch_date's batch."""
    batch_id = f"{domain.name}-{batch_date:%Y%m%d}"
    accepted_at = datetime.combine(batch_date, time(6), UTC)
    for key, record_hash, measure in records:
        warehouse.query(
            f"insert into {warehouse.schema('ops')}.fusion_records (stream, domain, batch_id, "
            "batch_date, record_key, record_hash, measure, accepted_at) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (STREAM, domain.name, batch_id, batch_date, key, record_hash, measure, accepted_at),
        )


def run_day() -> date:
    return datetime.now(UTC).date()


def md5(*values: object) -> str:
    """The record hash as both engines compute it: md5 of the values joined by '|'."""
    return hashlib.md5("|".join(str(v) for v in values).encode()).hexdigest()


# FBDI ---------------------------------------------------------------------------------------------
def write_and_read(
    warehouse: Warehouse, domain: Domain, marts: dict[str, str], zip_path: Path
) -> dict[str, list[dict[str, str]]]:
    """Write the marts' rows through the FBDI writer; return each CSV's rows by spec column."""
    spec = load_spec(domain.fusion.release, domain.fusion.object)
    tables = {}
    with warehouse.connect() as con:
        for csv_file, name in marts.items():
            sql = f"select * from {warehouse.schema('marts')}.{name} order by 1, 2"
            tables[csv_file] = pa.Table.from_batches(list(warehouse.stream_arrow(con, sql)))
    write_fbdi_zip({f: table.to_batches() for f, table in tables.items()}, spec, zip_path)
    out = {}
    with zipfile.ZipFile(zip_path) as archive:
        for file in spec.files:
            text = archive.read(file.csv_file).decode("utf-8")
            rows = list(csv.reader(io.StringIO(text)))
            assert len(rows) == (tables[file.csv_file].num_rows if file.csv_file in tables else 0)
            out[file.csv_file] = [
                {col.name: row[col.position - 1] for col in file.columns} for row in rows
            ]
    return out


# Supplies -----------------------------------------------------------------------------------------
INV_COLUMNS = (
    "record_key, measure, transaction_quantity, transaction_type_name, item_number, "
    "organization_name, subinventory_code, source_header_id, source_line_id, "
    "transaction_reference, batch_date"
)


def inventory(warehouse: Warehouse) -> dict[str, tuple]:
    rows = mart(warehouse, "fusion__inv_transactions", INV_COLUMNS)
    return {row[0]: row[1:] for row in rows}


def test_supplies_send_each_consumption_then_only_its_deltas(warehouse, phi_key, tmp_path):
    source = Source(warehouse, tmp_path)
    ids = [i for (i,) in source.rows("select consumption_id from supply_consumption order by 1")]
    unmapped, no_item = ids[0], ids[1]
    source.change(
        "update supply_consumption set location_code = ?, last_modified = ? "
        "where consumption_id = ?",
        UNMAPPED, source.now(), unmapped,
    )  # fmt: skip
    source.change(
        "update supply_consumption set item_number = null, last_modified = ? "
        "where consumption_id = ?",
        source.now(), no_item,
    )  # fmt: skip
    source.land()
    work_dir = tmp_path / "work"

    outcome = build(warehouse, work_dir, SUPPLY_DOMAIN)

    assert {c.name for c in outcome.checks if c.kind == "unit_test"} == SUPPLY_UNIT_TESTS
    today = run_day()
    quantities = dict(source.rows("select consumption_id, quantity from supply_consumption"))
    sent = inventory(warehouse)
    held = dict(mart(warehouse, "exceptions__inv_transactions", "source_line_id, exception_reason"))
    assert held == {
        unmapped: "location not in inventory crosswalk",
        no_item: "missing item number",
    }
    assert {int(k) for k in sent} | set(held) == set(ids)
    assert not {int(k) for k in sent} & set(held)
    facility = {d.department_id: f.facility_id for f in world.FACILITIES for d in f.clinical}
    locations = dict(source.rows("select consumption_id, location_code from supply_consumption"))
    for key, row in sent.items():
        measure, quantity, kind, item, org, subinventory, header, line, ref, day = row
        consumption = int(key)
        assert measure == quantities[consumption] and quantity == -measure
        assert kind == "Miscellaneous Issue" and item.startswith("ITM")
        assert org == f"EHF {facility[locations[consumption]]} Inventory"
        assert subinventory == "CENTRAL"
        assert (header, line, ref, day) == (1, consumption, f"SC{key}", today)
    columns = {c for (c,) in warehouse.query(
        "select column_name from information_schema.columns where table_schema = %s "
        "and table_name = 'fusion__inv_transactions'", (warehouse.schema("marts"),),
    )}  # fmt: skip
    assert "encounter_id" not in columns

    hashes = dict(mart(warehouse, "fusion__inv_transactions", "record_key, record_hash"))
    for consumption, item, location, quantity, consumed_at in source.rows(
        "select consumption_id, item_number, location_code, quantity, consumed_at "
        "from supply_consumption"
    ):
        if consumption not in held:
            expected = md5(item, location, f"{quantity}.0000", consumed_at[:10].replace("-", ""))
            assert hashes[str(consumption)] == expected

    # Fusion accepted yesterday's batch with every consumption but one, which it accepted in an
    # earlier batch today (that counts too); then two quantities change at the source.
    keys = sorted(hashes)
    same_day, increased, decreased, unchanged = keys[0], keys[1], keys[2], keys[3]
    accepted = [(k, hashes[k], quantities[int(k)]) for k in keys]
    accept(warehouse, SUPPLY_DOMAIN, today - timedelta(days=1), accepted[1:])
    accept(warehouse, SUPPLY_DOMAIN, today, accepted[:1])
    increase = quantities[int(increased)] + 3
    decrease = quantities[int(decreased)] - 1
    for key, quantity in ((increased, increase), (decreased, decrease)):
        source.change(
            "update supply_consumption set quantity = ?, last_modified = ? "
            "where consumption_id = ?",
            quantity, source.now(), int(key),
        )  # fmt: skip
    source.land()

    build(warehouse, work_dir, SUPPLY_DOMAIN)

    deltas = {k: (float(v[0]), float(v[1]), v[2]) for k, v in inventory(warehouse).items()}
    assert deltas == {
        increased: (3.0, -3.0, "Miscellaneous Issue"),
        decreased: (-1.0, 1.0, "Miscellaneous Receipt"),
    }
    assert unchanged not in deltas and same_day not in deltas
    held = mart(warehouse, "exceptions__inv_transactions", "source_line_id")
    assert sorted(held) == sorted([(unmapped,), (no_item,)])

    files = write_and_read(
        warehouse, SUPPLY_DOMAIN,
        {"InvTransactionsInterface.csv": "fusion__inv_transactions"},
        tmp_path / "InvTransactionsInterface.zip",
    )  # fmt: skip
    lines = {line["SOURCE_LINE_ID"]: line for line in files["InvTransactionsInterface.csv"]}
    assert set(lines) == set(deltas)
    receipt = lines[decreased]
    assert Decimal(receipt["TRANSACTION_QUANTITY"]) == 1
    assert receipt["TRANSACTION_TYPE_NAME"] == "Miscellaneous Receipt"
    assert receipt["TRANSACTION_DATE"].count("/") == 2
    assert receipt["PROCESS_FLAG"] == "1" and receipt["TRANSACTION_MODE"] == "3"
    assert receipt["SOURCE_CODE"] == SOURCE_CODE
    assert receipt["SOURCE_HEADER_ID"] == "2"  # its second transaction in Fusion
    assert receipt["TRANSACTION_REFERENCE"] == f"SC{decreased}"
    assert receipt["TRANSACTION_UOM"] == "Ea" and receipt["DST_SEGMENT1"].isdigit()
    assert receipt["ORGANIZATION_NAME"].startswith("EHF F0")


# Devices ------------------------------------------------------------------------------------------
def test_devices_are_added_once_and_changes_after_addition_are_held(warehouse, phi_key, tmp_path):
    source = Source(warehouse, tmp_path)
    tags = [t for (t,) in source.rows("select asset_tag from device_assets order by 1")]
    unmapped, cheap, badly_tagged = tags[0], tags[1], "MISC-0001"
    source.change(
        "update device_assets set description = 'MRI SCANNER', last_modified = ? "
        "where asset_tag = ?",
        source.now(), unmapped,
    )  # fmt: skip
    source.change(
        "update device_assets set acquisition_cost = 1200.00, last_modified = ? "
        "where asset_tag = ?",
        source.now(), cheap,
    )  # fmt: skip
    source.change(
        "update device_assets set asset_tag = ?, last_modified = ? where asset_tag = ?",
        badly_tagged, source.now(), tags[2],
    )  # fmt: skip
    source.land()
    work_dir = tmp_path / "work"

    outcome = build(warehouse, work_dir, DEVICE_DOMAIN)

    assert {c.name for c in outcome.checks if c.kind == "unit_test"} == DEVICE_UNIT_TESTS
    today = run_day()
    assets = {
        row[0]: row[1:]
        for row in source.rows(
            "select asset_tag, description, acquisition_cost, acquisition_date, facility_code, "
            "department_code from device_assets"
        )
    }
    threshold = 5000
    added = {
        row[0]: row[1:]
        for row in mart(
            warehouse, "fusion__mass_additions",
            "record_key, mass_addition_id, tag_number, description, fixed_assets_cost, "
            "date_placed_in_service, book_type_code, feeder_system_name, asset_type, "
            "category_segment1, measure, batch_date",
        )
    }  # fmt: skip
    held = dict(mart(warehouse, "exceptions__mass_additions", "asset_tag, exception_reason"))
    assert set(added) | set(held) == set(assets) and not set(added) & set(held)
    assert held[unmapped] == "description not in asset category crosswalk"
    assert held[cheap] == "below capitalization threshold"
    assert held[badly_tagged] == "asset tag is not AST and six digits"
    for tag, (_, cost, _, _, _) in assets.items():
        if tag not in (unmapped, badly_tagged):
            assert (tag in held) == (cost < threshold), tag
    for tag, (mass_id, tag_number, description, cost, placed, book, feeder, kind, category,
              measure, day) in added.items():  # fmt: skip
        assert mass_id == int(tag[3:]) and tag_number == tag
        assert (description, float(cost), str(placed)) == (
            assets[tag][0], float(assets[tag][1]), assets[tag][2],
        )  # fmt: skip
        assert (book, feeder, kind, category) == (BOOK, FEEDER, "CAPITALIZED", "MEDEQUIP")
        assert measure is None and day == today
    distributions = {
        row[0]: row[1:]
        for row in mart(
            warehouse, "fusion__mass_addition_distributions",
            "mass_addition_id, units, location_segment1, location_segment2, "
            "deprn_expense_segment1, deprn_expense_segment3",
        )
    }  # fmt: skip
    companies = {f.facility_id: f.company for f in world.FACILITIES}
    assert set(distributions) == {row[0] for row in added.values()}
    for tag in added:
        units, facility, department, company, account = distributions[int(tag[3:])]
        assert (units, facility, department) == (1, assets[tag][3], assets[tag][4])
        assert (company, account) == (companies[facility], "68100")

    hashes = dict(mart(warehouse, "fusion__mass_additions", "record_key, record_hash"))
    categories = dict(mart(warehouse, "fusion__mass_additions", "record_key, category_segment2"))
    for tag, (description, cost, acquired, facility, department) in assets.items():
        if tag in hashes:
            expected = md5(
                description, f"{Decimal(str(cost)):.2f}", acquired.replace("-", ""), "MEDEQUIP",
                categories[tag], facility, department,
            )  # fmt: skip
            assert hashes[tag] == expected

    # Fusion accepted yesterday's batch; since then one added device's cost changed at the
    # source and a new device arrived.
    accept(warehouse, DEVICE_DOMAIN, today - timedelta(days=1),
           [(tag, record_hash, None) for tag, record_hash in hashes.items()])  # fmt: skip
    changed = sorted(hashes)[0]
    source.change(
        "update device_assets set acquisition_cost = acquisition_cost + 100, last_modified = ? "
        "where asset_tag = ?",
        source.now(), changed,
    )  # fmt: skip
    source.change(
        "insert into device_assets (asset_tag, description, facility_code, department_code, "
        "acquisition_date, acquisition_cost, manufacturer, serial_number, last_modified) "
        "values ('AST000900', 'VENTILATOR', 'F01', '10101003', '2026-10-15', 41000.00, "
        "'DRAEGER', 'SN0000000900', ?)",
        source.now(),
    )  # fmt: skip
    source.land()

    build(warehouse, work_dir, DEVICE_DOMAIN)

    assert mart(warehouse, "fusion__mass_additions", "record_key") == [("AST000900",)]
    assert mart(warehouse, "fusion__mass_addition_distributions", "mass_addition_id") == [(900,)]
    held_now = dict(mart(warehouse, "exceptions__mass_additions", "asset_tag, exception_reason"))
    assert held_now == held | {changed: "changed after addition"}

    files = write_and_read(
        warehouse, DEVICE_DOMAIN,
        {
            "FaMassAdditions.csv": "fusion__mass_additions",
            "FaMassaddDistributions.csv": "fusion__mass_addition_distributions",
        },
        tmp_path / "FaMassAdditions.zip",
    )  # fmt: skip
    [addition] = files["FaMassAdditions.csv"]
    assert addition["MASS_ADDITION_ID"] == "900" and addition["TAG_NUMBER"] == "AST000900"
    assert addition["BOOK_TYPE_CODE"] == BOOK and addition["FEEDER_SYSTEM_NAME"] == FEEDER
    assert Decimal(addition["FIXED_ASSETS_COST"]) == Decimal("41000.00")
    assert addition["DATE_PLACED_IN_SERVICE"] == "2026/10/15"
    assert Decimal(addition["FIXED_ASSETS_UNITS"]) == 1
    assert (addition["CATEGORY_SEGMENT1"], addition["CATEGORY_SEGMENT2"]) == (
        "MEDEQUIP", "RESPIRATORY",
    )  # fmt: skip
    assert (addition["POSTING_STATUS"], addition["QUEUE_NAME"]) == ("POST", "POST")
    [distribution] = files["FaMassaddDistributions.csv"]
    assert distribution["MASS_ADDITION_ID"] == "900" and Decimal(distribution["UNITS"]) == 1
    assert [distribution[f"LOCATION_SEGMENT{i}"] for i in (1, 2, 3)] == ["F01", "10101003", "MAIN"]
    assert [distribution[f"DEPRN_EXPENSE_SEGMENT{i}"] for i in range(1, 7)] == [
        "101", "7030", "68100", "000", "000", "0000",
    ]  # fmt: skip
