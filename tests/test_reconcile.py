"""The monthly reconciliation pack end to end: a real run posting to the Fusion simulator over
HTTP, the pack read back from Fusion's ledger balances, and its page rendered in headless
Chromium (DuckDB and a real Postgres)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from load.formats import load_spec
from load.fusion_client import FusionClient, client_for_tenant
from runtime.core.config import ConfigError
from runtime.core.warehouse import Warehouse
from runtime.reports.reconcile import CSV_COLUMNS, ReconciliationPack, build_pack
from sandbox.fusion.server import FusionSimulator
from tests.conftest import TENANT, set_knobs
from tests.test_report import Page, render

NOW = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
MONTH = "2026-10"
DISABLED = "101-7020-41000-000-000-0000"


def client(simulator: FusionSimulator) -> FusionClient:
    return client_for_tenant(TENANT, simulator.url)


def pack_of(world, simulator: FusionSimulator, out_dir: Path | None = None) -> ReconciliationPack:
    return build_pack(world.config, TENANT, world.warehouse, client(simulator), MONTH, out_dir, NOW)


def open_queue(warehouse: Warehouse) -> list[tuple[str, str]]:
    """(batch id, error code) of every open queue item."""
    return warehouse.query(
        f"select batch_id, error_code from {warehouse.schema('ops')}.operator_queue "
        "where status = 'open'"
    )


def held(warehouse: Warehouse) -> tuple[Decimal, Decimal]:
    """October's held debits and credits from the exceptions mart."""
    rows = warehouse.query(
        "select coalesce(sum(debit_amount), 0), coalesce(sum(credit_amount), 0) "
        f"from {warehouse.schema('marts')}.exceptions__gl_journal_lines "
        "where period_name = 'Oct-26'"
    )
    return Decimal(rows[0][0]), Decimal(rows[0][1])


class Markup(Page):
    """The page's bars (class, width) and anything that would load or run outside the file."""

    def __init__(self, dom: str):
        self.bars: list[tuple[str, float]] = []
        self.outside: list[str] = []
        super().__init__(dom)

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        kind = named.get("class") or ""
        if tag == "rect" and kind.endswith(("debit", "credit")):
            self.bars.append((kind, float(named["width"])))
        if tag in ("script", "link", "img", "iframe") or named.get("src"):
            self.outside.append(tag)
        super().handle_starttag(tag, attrs)


def test_a_posted_month_is_clean(world, fusion):
    code, summary = world.run()
    assert code == 0, summary

    pack = pack_of(world, fusion)

    assert not pack.unexplained
    total = pack.total
    assert (total.unexplained.debit, total.unexplained.credit) == (0, 0)
    assert total.exceptions.debit > 0  # the sandbox always holds some entries
    assert (total.exceptions.debit, total.exceptions.credit) == held(world.warehouse)
    assert total.fusion_posted.debit == total.source.debit - total.exceptions.debit > 0
    assert total.fusion_posted.credit == total.source.credit - total.exceptions.credit
    assert total.recorded_posted.lines == summary["submit"]["totals"]["lines_posted"]
    assert total.in_flight.lines == total.rejected.lines == 0
    assert {(r.facility, r.company) for r in pack.rows} == {
        ("F01", "101"),
        ("F02", "102"),
        ("F03", "103"),
    }

    assert pack.csv_path == world.root / "work" / TENANT / "reconciliation" / MONTH / (
        "reconciliation.csv"
    )
    rows = list(csv.DictReader(pack.csv_path.open(encoding="utf-8")))
    assert [r["facility"] for r in rows] == ["F01", "F02", "F03"]
    assert list(rows[0]) == CSV_COLUMNS
    assert {r["status"] for r in rows} == {"clean"}
    assert sum(Decimal(r["fusion_posted_debit"]) for r in rows) == total.fusion_posted.debit
    assert all(r["unexplained_debit"] == r["unexplained_credit"] == "0.00" for r in rows)
    assert all(r["source_debit"].split(".")[1].isdigit() for r in rows)
    assert all(len(r["source_debit"].split(".")[1]) == 2 for r in rows)

    summary = json.loads(json.dumps(pack.summary()))
    assert summary["status"] == "clean" and summary["unexplained"] is False
    assert summary["period_name"] == "Oct-26"
    assert summary["files"]["html"] == str(pack.html_path)


def test_rejected_lines_are_explained_by_the_queue(world, fusion):
    set_knobs(fusion, disable_combinations=[DISABLED])
    code, _ = world.run()
    assert code == 0

    pack = pack_of(world, fusion)

    queued = open_queue(world.warehouse)
    assert queued and {code for _, code in queued} >= {"EF04"}
    assert not pack.unexplained
    by_company = {row.company: row for row in pack.rows}
    assert by_company["101"].rejected.lines > 0
    assert pack.total.rejected.lines == len(queued)
    # a whole journal is rejected, so its other companies' lines may be queued too
    assert pack.total.fusion_posted.debit == (
        pack.total.source.debit - pack.total.exceptions.debit - pack.total.rejected.debit
    )


def test_a_batch_fusion_never_got_is_in_flight(world, fusion):
    # Fusion answers 503 to every attempt of the first batch's calls, then recovers: that
    # batch stays exported but not submitted, the next run's work.
    set_knobs(fusion, http_5xx_next=6)
    world.run()  # its exit code is the run's business; what Fusion holds is ours
    ops = world.warehouse.schema("ops")
    submitted = world.warehouse.query(f"select count(*) from {ops}.fusion_submissions")[0][0]
    assert 0 < submitted < len(list(world.outbox.glob("GlInterface_*.zip")))

    pack = pack_of(world, fusion)

    assert not pack.unexplained
    total = pack.total
    assert total.in_flight.lines > 0
    assert total.source.lines == (
        total.recorded_posted.lines + total.in_flight.lines + total.exceptions.lines
    )
    assert total.fusion_posted.debit == (
        total.source.debit - total.exceptions.debit - total.in_flight.debit
    )


def foreign_journal(world, simulator: FusionSimulator) -> tuple[str, Decimal, Decimal]:
    """Post one of the month's journals again as someone else's batch, straight through
    importBulkData: Fusion's books move, ours do not. Returns (company, debits, credits)."""
    spec = load_spec("25B", "GlInterface")
    at = {c.name: c.position - 1 for c in spec.columns}
    zip_path = sorted(world.outbox.glob("GlInterface_*.zip"))[3]
    with zipfile.ZipFile(zip_path) as archive:
        text = archive.read(spec.csv_file).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    journal = rows[0][at["REFERENCE4"]]
    chosen = [r for r in rows if r[at["REFERENCE4"]] == journal]
    group_id = "99000001"
    for row in chosen:
        row[at["GROUP_ID"]] = group_id
        row[at["REFERENCE1"]] = "MANUAL TOP-SIDE ADJUSTMENT"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(chosen)
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as archive:
        archive.writestr(spec.csv_file, out.getvalue())
    target = world.config.tenants[TENANT].streams["epic"].domains["gl_journal"].fusion
    fusion = client(simulator)
    request_id = fusion.import_bulk_data(
        payload.getvalue(),
        "GlInterface_manual.zip",
        spec.ucm_document_account,
        spec.ess_job.name,
        f"#NULL,{target.journal_source},{target.ledger_id},{group_id},N,N,N",
    )
    assert fusion.wait_for_job(request_id, timeout=60) == "SUCCEEDED"
    companies = {r[at["SEGMENT1"]] for r in chosen}
    assert len(companies) == 1
    debit = sum(Decimal(r[at["ENTERED_DR"]] or 0) for r in chosen)
    credit = sum(Decimal(r[at["ENTERED_CR"]] or 0) for r in chosen)
    return companies.pop(), debit, credit


def test_a_failed_job_and_a_foreign_journal_show_as_categorised_drift(world, fusion, tmp_path):
    set_knobs(fusion, fail_next_jobs=1)
    code, summary = world.run()
    assert code == 0, summary
    failed = [b for b in summary["submit"]["batches"] if b["status"] == "error"]
    assert len(failed) == 1
    company, debit, credit = foreign_journal(world, fusion)

    pack = pack_of(world, fusion, tmp_path / "pack")

    assert pack.unexplained
    assert {code for _, code in open_queue(world.warehouse)} == {"JOB_ERROR"}
    assert pack.total.rejected.lines == failed[0]["lines"]
    for row in pack.rows:
        expected = (-debit, -credit) if row.company == company else (0, 0)
        assert (row.unexplained.debit, row.unexplained.credit) == expected, row.facility
    assert pack.summary()["status"] == "unexplained drift"

    page = render(pack.html_path, tmp_path)
    assert page.headings[:2] == [
        "Reconciliation pack: testhosp, Oct-26",
        "Source against Fusion by facility",
    ]
    assert "Drift by facility and category" in page.headings
    assert page.by_id["pack-status"] == "unexplained drift"
    total_row = page.by_id["pack-total"]
    assert f"{-debit:,.2f}" in total_row and f"{pack.total.rejected.debit:,.2f}" in total_row
    assert page.bar_groups == [f"{r.facility} (company {r.company})" for r in pack.rows]
    assert page.svg_count == 1
    markup = Markup(pack.html_path.read_text(encoding="utf-8"))
    assert any(w > 0 for kind, w in markup.bars if kind == "unexplained debit")
    assert any(w > 0 for kind, w in markup.bars if kind == "rejected debit")
    assert not markup.outside


def test_a_month_outside_the_calendar_is_refused(world, fusion):
    code, _ = world.run()
    assert code == 0
    with pytest.raises(ConfigError, match="--period"):
        build_pack(world.config, TENANT, world.warehouse, client(fusion), "2031-02", None, NOW)
    with pytest.raises(ConfigError, match="YYYY-MM"):
        build_pack(world.config, TENANT, world.warehouse, client(fusion), "Oct-26", None, NOW)
