"""Veradigm ambulatory charges -> Fusion GL Journal Import: TouchWorks (change tracking),
Practice Fusion (REST, several practices) and Unity (REST) each land their charges, batch the
journal lines by the day they landed, map the revenue by CPT code (seeds/cpt_gl_crosswalk.csv)
and post through the same journal chain as Sunrise, to the Fusion simulator on 127.0.0.1. A
charge voided after it posted is taken back in the next day's batch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import yaml
from click.testing import CliRunner

import runtime.pipeline.run
from cli import main
from runtime.core.config import load_config
from runtime.core.gl_models import GlChain
from runtime.core.warehouse import Warehouse
from runtime.reports.report import collect_report, render_report
from sandbox import practice_fusion, touchworks, unity
from sandbox.fusion.server import CLIENT_ID, CLIENT_SECRET, FusionSimulator
from sandbox.generate import generate
from sandbox.sunrise.database import sqlite_url
from tests.conftest import TENANT, ledger_lines, set_knobs, write_config

SEED = 3
PRACTICES = ["pf1001", "pf1002", "pf1003", "pf1004"]
UNMAPPED_CPT = "90471"  # billed by the clinics, deliberately without a crosswalk row


@dataclass(frozen=True)
class Ambulatory:
    domain: str
    source: str
    journal_source: str
    batch_name: str
    raw: tuple[str, str]  # the charges' raw layer and table


SOURCES = {
    "touchworks": Ambulatory(
        "touchworks", "veradigm_touchworks", "TouchWorks", "TOUCHWORKS CHARGES",
        ("raw_touchworks", "tw_charges"),
    ),
    "practice_fusion": Ambulatory(
        "practice_fusion", "practice_fusion", "Practice Fusion", "PRACTICE FUSION CHARGES",
        ("raw_veradigm", "pf_charges"),
    ),
    "unity": Ambulatory(
        "unity", "veradigm_unity", "Unity", "UNITY CHARGES",
        ("raw_veradigm", "unity_charges"),
    ),
}  # fmt: skip


@pytest.fixture(params=sorted(SOURCES))
def ambulatory(request, tmp_path, phi_key, warehouse_arg, monkeypatch):
    """A tenant whose only stream is Veradigm with the source's charges domain posting to GL;
    the source's stand-in and Fusion serving on 127.0.0.1."""
    spec = SOURCES[request.param]
    sandbox_dir = tmp_path / "sandbox"
    generate(sandbox_dir, seed=SEED, scale=400)
    config_path = write_config(tmp_path, sandbox_dir)
    document = yaml.safe_load(config_path.read_text())
    epic = document["tenants"][TENANT]["streams"]["epic"]["domains"]["gl_journal"]
    domain = epic | {"source": spec.source, "endpoint": spec.source}
    if spec.source == "practice_fusion":
        domain["practices"] = PRACTICES
    domain["fusion"] = epic["fusion"] | {"journal_source": spec.journal_source}
    streams = {"veradigm": {"domains": {spec.domain: domain}}}
    document["tenants"][TENANT]["streams"] = streams
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))
    secrets = {"FUSION_CLIENT_ID": CLIENT_ID, "FUSION_CLIENT_SECRET": CLIENT_SECRET}
    secrets |= {
        "UNITY_APPNAME": unity.APPNAME,
        "UNITY_USERNAME": unity.USERNAME,
        "UNITY_APP_USER": unity.APP_USER,
        "UNITY_PASSWORD": unity.PASSWORD,
    }
    for practice in PRACTICES:
        secrets[f"PF_{practice.upper()}_CLIENT_ID"] = practice_fusion.client_id(practice)
        secrets[f"PF_{practice.upper()}_CLIENT_SECRET"] = practice_fusion.client_secret(practice)
    for name, value in secrets.items():
        monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__{name}", value)
    stand_in = {"practice_fusion": practice_fusion, "unity": unity}.get(spec.domain)
    server = stand_in.STAND_IN.start(sandbox_dir) if stand_in else None
    try:
        with FusionSimulator(sandbox_dir / "endpoints.json") as simulator:
            set_knobs(simulator, job_seconds=0)
            yield Setup(spec, config_path, sandbox_dir, simulator, server, warehouse_arg)
    finally:
        if server is not None:
            server.stop()


@dataclass
class Setup:
    spec: Ambulatory
    config_path: object
    sandbox_dir: object
    simulator: FusionSimulator
    server: object
    warehouse_arg: str

    def run(self) -> tuple[int, dict]:
        args = ["run", "--config", str(self.config_path), "--tenant", TENANT]
        args += ["--stream", "veradigm", "--domain", self.spec.domain]
        args += ["--warehouse", self.warehouse_arg, "--json"]
        result = CliRunner().invoke(main, args)
        return result.exit_code, json.loads(result.stdout)

    @property
    def warehouse(self) -> Warehouse:
        tenant = load_config(self.config_path).tenants[TENANT]
        return Warehouse.for_tenant(tenant, self.warehouse_arg)

    def mart(self, role: str) -> str:
        """The domain's rows of a journal chain model (the chain's tables hold every GL
        domain's rows)."""
        return GlChain("veradigm", self.spec.domain).rows(self.warehouse, role, "mart")

    def posted(self, day) -> list[dict]:
        name = f"{self.spec.batch_name} {day:%Y%m%d}"
        return [line for line in ledger_lines(self.simulator) if line["JournalBatchName"] == name]


def landed_yesterday(monkeypatch, setup: Setup) -> None:
    """The next run's extract lands its charges as if a day earlier: their batch is yesterday's,
    so a later run today lands the next day's delivery."""
    real_land = runtime.pipeline.run.land

    def land(job):
        started = datetime.now(UTC).timestamp() - 1
        landing = real_land(job)
        layer, table = setup.spec.raw
        job.warehouse.query(
            f"update {job.warehouse.schema(layer)}.{table} "
            "set _dlt_load_id = cast(cast(_dlt_load_id as double precision) - 86400 as varchar) "
            "where cast(_dlt_load_id as double precision) >= %s",
            (started,),
        )
        return landing

    monkeypatch.setattr(runtime.pipeline.run, "land", land)


def void_posted_charges(setup: Setup, posted: list[dict]) -> set[str]:
    """Void charges in the source that posted (mapped ones); return their journal ids."""
    journals = sorted({line["References"]["REFERENCE4"] for line in posted})
    if setup.spec.domain == "touchworks":
        url = sqlite_url(setup.sandbox_dir / touchworks.DATABASE_DIR / touchworks.DATABASE_FILE)
        # the mutation stream voids the updated charges whose id is a multiple of four (the
        # others it re-prices: corrections of their own)
        touchworks.mutate(url, SEED, touchworks.Mutation(batch=1, updates=40))
        return {j for j in journals if int(j.removeprefix("TW-")) % 4 == 0}
    practices = (
        setup.server.practices.values() if setup.spec.domain == "practice_fusion"
        else [setup.server.practice]
    )  # fmt: skip
    voided = set()
    with setup.server.lock:
        for practice in practices:
            prefix = "UNITY-"
            if setup.spec.domain == "practice_fusion":
                prefix = f"PF-{practice.practice_id}:"
            for key, change in list(practice.logs["charges"].latest.items()):
                if change.row is None or prefix + key not in journals or len(voided) >= 3:
                    continue
                practice.record("charges", key, {**change.row, "status": "voided"})
                voided.add(prefix + key)
    return voided


def amounts(lines: list[dict]) -> tuple[Decimal, Decimal]:
    return (
        sum((Decimal(str(line["EnteredDr"] or 0)) for line in lines), Decimal(0)),
        sum((Decimal(str(line["EnteredCr"] or 0)) for line in lines), Decimal(0)),
    )


def test_ambulatory_charges_post_and_a_voided_charge_is_reversed_the_next_day(
    ambulatory, monkeypatch
):
    setup = ambulatory
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    real_land = runtime.pipeline.run.land
    landed_yesterday(monkeypatch, setup)

    code, summary = setup.run()

    assert code == 0, (summary["message"], summary.get("dbt"))
    [batch] = summary["export"]["batches"]
    assert batch["feed_date"] == yesterday.isoformat()
    totals = summary["submit"]["totals"]
    assert totals["lines_posted"] == batch["lines"] > 0 and totals["lines_rejected"] == 0
    first = setup.posted(yesterday)
    assert len(first) == batch["lines"]
    assert {line["References"]["REFERENCE25"] for line in first} == {"NEW"}
    assert summary["reconciliation"]["status"] == "reconciled"
    # The unmapped CPT code's charges wait in the exceptions mart, whole, and never post.
    held = setup.warehouse.query(
        "select source_line_id, journal_id, source_account, exception_reason "
        f"from {setup.mart('exceptions')}"
    )
    unmapped = {journal for _, journal, account, reason in held if account == UNMAPPED_CPT}
    assert unmapped and {r for _, _, a, r in held if a == UNMAPPED_CPT} == {"unmapped_cpt"}
    posted_ids = {int(line["References"]["REFERENCE23"]) for line in first}
    assert posted_ids.isdisjoint({line_id for line_id, *_ in held})
    assert unmapped.isdisjoint({line["References"]["REFERENCE4"] for line in first})
    assert amounts(first)[0] == amounts(first)[1]
    assert summary["exceptions"]["by_reason"]["unmapped_cpt"] > 0

    # The next day the source voids charges that posted: the day's batch takes them back.
    monkeypatch.setattr(runtime.pipeline.run, "land", real_land)
    voided = void_posted_charges(setup, first)
    code, summary = setup.run()

    assert code == 0, summary["message"]
    [batch] = summary["export"]["batches"]
    assert batch["feed_date"] == today.isoformat()
    totals = summary["submit"]["totals"]
    assert totals["lines_posted"] == batch["lines"] > 0 and totals["lines_rejected"] == 0
    second = setup.posted(today)
    assert len(second) == batch["lines"]
    assert summary["reconciliation"]["status"] == "reconciled"
    status = dict(
        setup.warehouse.query(
            "select journal_id, max(record_status) from "
            f"{setup.mart('validated')} group by journal_id"
        )
    )
    voided = {journal for journal in voided if status.get(journal) == "VOIDED"}
    assert voided
    for journal in voided:
        taken_back = [line for line in second if line["References"]["REFERENCE4"] == journal]
        assert {line["References"]["REFERENCE25"] for line in taken_back} == {"CORRECTION"}
        everything = [
            line for line in first + second if line["References"]["REFERENCE4"] == journal
        ]
        assert amounts(everything) == (Decimal(0), Decimal(0)), journal
    # Today's delivery is exported: a later run today lands nothing.
    code, again = setup.run()
    assert code == 0
    assert f"today's delivery from {setup.spec.source} is exported" in again["message"]


@pytest.mark.parametrize("ambulatory", ["practice_fusion"], indirect=True)
def test_an_unmapped_cpt_code_names_its_crosswalk_and_the_page_says_where_lines_came_from(
    ambulatory,
):
    # Practice Fusion charges carry no facility: their CPT code's row names it.
    setup = ambulatory
    code, summary = setup.run()
    assert code == 0, summary["message"]

    held = setup.warehouse.query(
        "select journal_id, source_account, facility_id, exception_reason "
        f"from {setup.mart('exceptions')}"
    )
    unmapped = {journal for journal, account, _, _ in held if account == UNMAPPED_CPT}
    assert unmapped
    reasons = {
        (account == UNMAPPED_CPT, reason) for journal, account, _, reason in held
        if journal in unmapped
    }  # fmt: skip
    # the revenue line names cpt_gl_crosswalk; its receivable waits with the entry
    assert reasons == {(True, "unmapped_cpt"), (False, "held_with_entry")}
    assert "unmapped_coa" not in summary["exceptions"]["by_reason"]

    config = load_config(setup.config_path)
    report = collect_report(config, TENANT, setup.warehouse, datetime.now(UTC))
    html = render_report(report)
    exceptions = html[html.index('<section id="exceptions">') :]
    assert "seeds/cpt_gl_crosswalk.csv" in exceptions
    assert "practice_fusion" in exceptions and "veradigm / practice_fusion" in exceptions
    assert all(line["data_source"] == "practice_fusion" for line in report.exception_lines)
    # the lines of those entries have no facility yet: the page says why
    assert any(row.facility == "(no facility)" for row in report.recon)
    assert 'id="no-facility-note"' in html
    assert "cpt_gl_crosswalk.csv" in html[html.index('id="no-facility-note"') :]
