"""Rows deleted in Allscripts Sunrise after Fusion took them, end to end on DuckDB and Postgres:
the raw layer keeps them as tombstones, and what they caused in Fusion is taken back or put in
front of finance and HR. A deleted supply consumption is received back (Miscellaneous Receipt of
what Fusion accepted); a deleted charge is reversed like a credited one (nothing is sent for a
charge that never posted); a deleted device or clinician Fusion holds goes to its review list,
never to an automatic retirement or termination."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner

from cli import main
from extract.allscripts.sunrise import TABLES, extract_sunrise
from runtime.core.config import Disclosure, Domain, FusionTarget, load_config
from runtime.core.targets import dbt_selection
from runtime.core.warehouse import Warehouse
from runtime.pipeline.dbt import run_dbt
from runtime.pipeline.posting import POSTED_LINES, Posting
from runtime.pipeline.run import dbt_environment
from sandbox import sunrise
from sandbox.fusion.server import CLIENT_ID, CLIENT_SECRET, FusionSimulator
from sandbox.generate import generate
from sandbox.sunrise import schema
from sandbox.sunrise.database import engine_for, sqlite_url
from tests.conftest import PHI_KEY, TENANT, set_knobs, write_config
from tests.test_sql_changes import change_sunrise, tombstones
from tests.test_sunrise_records import sunrise_domains

STREAM = "sunrise"
SPECS = {spec.name: spec for spec in TABLES}


# The record domains through the CLI, against the Fusion simulator -----------------------------
@pytest.fixture
def stream(tmp_path, phi_key, warehouse_arg, monkeypatch):
    """A tenant whose Sunrise stream feeds the record domains; Fusion reachable."""
    sandbox_dir = tmp_path / "sandbox"
    generate(sandbox_dir, seed=5, scale=300)
    config_path = write_config(tmp_path, sandbox_dir)
    sunrise_domains(config_path)
    for name, value in (("CLIENT_ID", CLIENT_ID), ("CLIENT_SECRET", CLIENT_SECRET)):
        monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__FUSION_{name}", value)
    with FusionSimulator(sandbox_dir / "endpoints.json") as simulator:
        set_knobs(simulator, job_seconds=0)
        tenant = load_config(config_path).tenant(TENANT)
        database = sqlite_url(sandbox_dir / sunrise.DATABASE_DIR / sunrise.DATABASE_FILE)
        yield config_path, database, simulator, Warehouse.for_tenant(tenant, warehouse_arg)


def run(config_path, warehouse_arg, domain: str) -> dict:
    scope = ["--tenant", TENANT, "--stream", STREAM, "--domain", domain]
    common = ["--config", str(config_path), "--warehouse", warehouse_arg, "--json"]
    result = CliRunner().invoke(main, ["run", *scope, *common])
    summary = json.loads(result.stdout)
    assert result.exit_code == 0, summary
    return summary


def accepted(warehouse: Warehouse, domain: str) -> dict[str, Decimal | None]:
    """record key -> summed measure of what Fusion accepted for the domain."""
    rows = warehouse.query(
        f"select record_key, sum(measure) from {TENANT}_ops.fusion_records "
        "where domain = %s group by record_key",
        (domain,),
    )
    return dict(rows)


def source_keys(database: str, table) -> list:
    engine = engine_for(database)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(sa.select(table.c[schema.key_of(table)])).scalars())
    finally:
        engine.dispose()


def stored(simulator, name: str) -> list[dict]:
    answer = requests.get(f"{simulator.url}/__sandbox__/objects/{name}", timeout=30)
    answer.raise_for_status()
    return [item["Values"] for item in answer.json()["items"]]


def mart(warehouse: Warehouse, name: str, columns: str) -> list[tuple]:
    return warehouse.query(f"select {columns} from {warehouse.schema('marts')}.{name}")


def test_deleted_supply_consumptions_are_received_back(stream, warehouse_arg):
    config_path, database, simulator, warehouse = stream
    # Fusion rejects the consumptions of one location: they are never accepted.
    set_knobs(simulator, disable_combinations=[disabled_combination()])
    first = run(config_path, warehouse_arg, "supplies")
    issued = accepted(warehouse, "supplies")
    assert first["submit"]["totals"]["lines_posted"] == len(issued) > 0
    rejected = sorted(
        key
        for (key,) in warehouse.query(
            f"select record_key from {TENANT}_ops.operator_queue where status = 'open'"
        )
    )
    assert rejected and not set(rejected) & set(issued)
    set_knobs(simulator, disable_combinations=[])

    # Sunrise deletes consumptions Fusion accepted, and one it rejected.
    sunrise.mutate(database, 5, sunrise.Mutation(batch=1, deletes=8))
    change_sunrise(database, schema.supply_consumption, delete=[int(rejected[0])])
    second = run(config_path, warehouse_arg, "supplies")  # a second batch the same day

    deleted = {str(k) for k in tombstones(warehouse, "raw_sunrise", SPECS["supply_consumption"])}
    assert rejected[0] in deleted and deleted & set(issued)
    sent = stored(simulator, "InvTransactionsInterface")
    receipts = {
        v["SOURCE_LINE_ID"]: Decimal(v["TRANSACTION_QUANTITY"])
        for v in sent
        if v["TRANSACTION_TYPE_NAME"] == "Miscellaneous Receipt"
    }
    # What Fusion had issued for each deleted consumption comes back; nothing for the one it
    # never accepted, while the other rejected ones are issued again.
    assert receipts == {key: issued[key] for key in deleted & set(issued)}
    after = accepted(warehouse, "supplies")
    assert all(after[key] == 0 for key in deleted & set(issued))
    assert rejected[0] not in after
    assert set(after) - set(issued) == set(rejected[1:])
    assert second["submit"]["totals"]["lines_rejected"] == 0

    idle = run(config_path, warehouse_arg, "supplies")
    assert idle["export"]["batches"] == []


def disabled_combination() -> str:
    """The supplies expense account of the first location in the inventory crosswalk."""
    seed = Path(__file__).parent.parent / "seeds" / "inventory_location_crosswalk.csv"
    first = next(csv.DictReader(seed.open(encoding="utf-8")))
    return "-".join(first[f"dst_segment{n}"] for n in range(1, 7))


def test_deleted_devices_and_clinicians_go_to_review_not_to_fusion(stream, warehouse_arg):
    config_path, database, simulator, warehouse = stream
    for domain in ("devices", "clinicians"):
        run(config_path, warehouse_arg, domain)
    added = set(accepted(warehouse, "devices"))
    hired = set(accepted(warehouse, "clinicians"))
    assets = source_keys(database, schema.device_assets)
    clinicians = [str(k) for k in source_keys(database, schema.clinicians)]
    gone_assets = sorted(added)[:2] + [k for k in assets if k not in added][:1]
    gone_clinicians = sorted(hired)[:2] + [k for k in clinicians if k not in hired][:1]
    assert len(gone_assets) == 3  # one device was never added (held back)
    change_sunrise(database, schema.device_assets, delete=gone_assets)
    change_sunrise(database, schema.clinicians, delete=[int(k) for k in gone_clinicians])
    objects_before = len(stored(simulator, "FaMassAdditions"))

    devices = run(config_path, warehouse_arg, "devices")
    workers = run(config_path, warehouse_arg, "clinicians")

    assert devices["export"]["batches"] == [] and workers["export"]["batches"] == []
    assert len(stored(simulator, "FaMassAdditions")) == objects_before
    review = dict(mart(warehouse, "exceptions__mass_additions", "asset_tag, exception_reason"))
    assert {tag: review.get(tag) for tag in gone_assets} == {
        **{tag: "deleted in Sunrise after addition" for tag in sorted(added)[:2]},
        gone_assets[2]: None,  # deleted before Fusion had it: nothing to review
    }
    assert devices["exceptions"]["by_reason"]["deleted in Sunrise after addition"] == 2
    hr = mart(warehouse, "exceptions__workers", "record_key, exception_reason")
    listed = {key: [r for k, r in hr if k == key] for key in gone_clinicians}
    assert listed == {
        **{key: ["deleted_in_sunrise"] for key in sorted(hired)[:2]},
        **{key: [] for key in gone_clinicians[2:]},
    }
    assert workers["exceptions"]["by_reason"]["deleted_in_sunrise"] == 2


# Charges through the journal chain, built with dbt against earlier postings -------------------
GL_DOMAIN = Domain(
    name="charges",
    enabled=True,
    source="allscripts_sunrise",
    endpoint="allscripts_sunrise",
    cadence="daily",
    run_at=time(2, 30),
    month_day=None,
    phi_mode="pseudonymized",
    phi_direct_authorisation=None,
    disclosure=Disclosure("payment and health care operations", "Oracle Fusion (charges)"),
    fusion=FusionTarget(
        "GlInterface",
        "25B",
        ledger_id=300000046975971,
        ledger_name="EHF US Primary Ledger",
        business_unit="EHF US Business Unit",
        journal_source="Sunrise",
        journal_category="Patient Revenue",
    ),
)
DELTA_COLUMNS = (
    "source_line_id", "journal_id", "batch_date", "line_kind", "accounting_date",
    "currency_code", "segment1", "segment2", "segment3", "segment4", "segment5", "segment6",
    "entered_dr", "entered_cr",
)  # fmt: skip


def land_and_build(warehouse: Warehouse, url: str, root) -> None:
    extract_sunrise(warehouse, STREAM, url, "cdc", root / "dead_letter", root / "pipelines")
    Posting(warehouse).ensure()
    env = dbt_environment(warehouse, STREAM, GL_DOMAIN, PHI_KEY)
    outcome = run_dbt(
        "build", [*dbt_selection(GL_DOMAIN), "--indirect-selection", "cautious"],
        env, root / "work",
    )  # fmt: skip
    assert not outcome.failed_checks, [check.name for check in outcome.failed_checks]
    assert outcome.success, outcome.errors


def deltas(warehouse: Warehouse) -> list[dict]:
    relation = f"{warehouse.schema('intermediate')}.int_journal_line_deltas"
    rows = warehouse.query(f"select {', '.join(DELTA_COLUMNS)} from {relation}")
    return [dict(zip(DELTA_COLUMNS, row, strict=True)) for row in rows]


def post(warehouse: Warehouse, lines: list[dict], batch_date: date) -> None:
    """Record `lines` as posted by Fusion in batch_date's batch of the charges domain."""
    batch_id = f"SUNRISE-{batch_date:%Y%m%d}"
    posting = Posting(warehouse)
    posting.start(batch_id, STREAM, GL_DOMAIN.name, f"{batch_date:%Y%m%d}", len(lines))
    columns = {
        name: [n if name == "line_number" else line.get(name) for n, line in enumerate(lines, 1)]
        for name in POSTED_LINES.names
    }
    columns["journal_name"] = [line["journal_id"] for line in lines]
    table = pa.table(columns, schema=POSTED_LINES)
    posting.finish(batch_id, "succeeded", "1", table, [], batch_date=batch_date)


def charge_of(journal_id: str) -> int:
    return int(journal_id.removeprefix("SUN-"))


def net(rows: list[dict]) -> dict[tuple, tuple[Decimal, Decimal]]:
    """Per line, segment combination and date: debit and credit."""
    out: dict[tuple, tuple[Decimal, Decimal]] = {}
    for row in rows:
        key = (row["source_line_id"], row["accounting_date"],
               *(row[f"segment{n}"] for n in range(1, 7)))  # fmt: skip
        dr, cr = out.get(key, (Decimal(0), Decimal(0)))
        out[key] = (dr + (row["entered_dr"] or 0), cr + (row["entered_cr"] or 0))
    return out


def test_a_deleted_charge_is_reversed_like_a_credited_one(warehouse, tmp_path):
    url = sqlite_url(tmp_path / "sunrise.db")
    sunrise.generate(url, 5, 200, date(2026, 10, 1), 5)
    land_and_build(warehouse, url, tmp_path)
    today = datetime.now(UTC).date()
    first = deltas(warehouse)
    assert {row["batch_date"] for row in first} == {today}
    # Fusion posted the even charges in an earlier batch; the odd ones never posted.
    posted = [row for row in first if charge_of(row["journal_id"]) % 2 == 0]
    post(warehouse, posted, today - timedelta(days=1))

    sunrise.mutate(url, 5, sunrise.Mutation(batch=1, deletes=8))
    land_and_build(warehouse, url, tmp_path)

    deleted = tombstones(warehouse, "raw_sunrise", SPECS["charge_detail"])
    deleted_posted = deleted & {charge_of(row["journal_id"]) for row in posted}
    assert deleted_posted and {c for c in deleted if c % 2 == 1}
    rows = deltas(warehouse)
    by_charge: dict[int, list[dict]] = {}
    for row in rows:
        by_charge.setdefault(charge_of(row["journal_id"]), []).append(row)
    # A deleted charge that posted: exactly what posted, taken back in today's batch; one that
    # never posted: nothing. Posted charges still live: nothing either.
    for charge in deleted_posted:
        taken_back = by_charge.pop(charge)
        assert {row["line_kind"] for row in taken_back} == {"CORRECTION"}
        assert {row["batch_date"] for row in taken_back} == {today}
        was = net([row for row in posted if charge_of(row["journal_id"]) == charge])
        assert net(taken_back) == {key: (-dr, -cr) for key, (dr, cr) in was.items()}
    assert not set(by_charge) & deleted
    assert all(charge % 2 == 1 for charge in by_charge)  # the odd ones, still new
    assert {row["line_kind"] for lines in by_charge.values() for row in lines} == {"NEW"}

    recon = f"{warehouse.schema('marts')}.recon__gl_journal_daily"
    assert warehouse.query(f"select distinct status from {recon}") == [("reconciled",)]
    held = mart(warehouse, "exceptions__gl_journal_lines", "journal_id")
    assert not {charge_of(j) for (j,) in held} & deleted
