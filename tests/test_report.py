"""The finance review page end to end: a real run through the sandbox, the report built from
the warehouse and dbt's artifacts, and the page rendered in headless Chromium to read what a
person sees (DuckDB and a real Postgres)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from cli import main
from runtime.core.config import ConfigError, load_config
from runtime.core.warehouse import Warehouse
from runtime.pipeline.run_ledger import RunLedger
from runtime.reports.report import build_report, report_tenant
from sandbox.canaries import CANARY_ACCOUNTS, CANARY_MRNS, CANARY_NAMES
from sandbox.generate import generate
from tests.conftest import PHI_KEY, TENANT, write_config

SCALE = 2000  # about 65 lines a feed day: a redelivered day fails with more than 50 rows
TIMEZONE = "America/Chicago"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def world(tmp_path, phi_key, warehouse_arg):
    """A generated sandbox, a tenant in Chicago time reading it, and a way to run the domain."""
    sandbox_dir = tmp_path / "sandbox"
    generate(sandbox_dir, seed=5, scale=SCALE)
    config_path = write_config(tmp_path, sandbox_dir)
    document = yaml.safe_load(config_path.read_text())
    document["tenants"][TENANT]["timezone"] = TIMEZONE
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))

    class World:
        root = tmp_path
        drop = sandbox_dir / "epic" / "resolute"
        config = load_config(config_path)
        warehouse = Warehouse.for_tenant(config.tenants[TENANT], warehouse_arg)

        @staticmethod
        def run() -> tuple[int, dict]:
            args = ["run", "--config", str(config_path), "--tenant", TENANT, "--stream", "epic"]
            args += ["--domain", "gl_journal", "--warehouse", warehouse_arg, "--json"]
            result = CliRunner().invoke(main, args)
            return result.exit_code, json.loads(result.stdout)

        @staticmethod
        def record_run(started: datetime, code: int, summary: dict) -> None:
            """Write the run to the run ledger as the runtime does, at a fixed time."""
            ledger = RunLedger(World.warehouse, clock=lambda: started)
            run_id = ledger.start("epic", "gl_journal")
            ledger.finish(
                run_id,
                summary["status"],
                code,
                rows_extracted=summary["extract"]["rows"],
                lines_exported=summary["export"]["lines"],
                exception_lines=summary["exceptions"]["lines"],
                dead_letters=len(summary["extract"]["dead_letters"]),
                message=summary["message"],
            )

        @staticmethod
        def report() -> tuple[str, Page]:
            path = build_report(World.config, TENANT, World.warehouse, tmp_path / "r.html", NOW)
            return path.read_text(encoding="utf-8"), render(path, tmp_path)

    return World


class Page(HTMLParser):
    """What a browser shows of a DOM: headings, text by element id, the chart's bar groups."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr"})
    HIDDEN = frozenset({"style", "script", "title", "head"})

    def __init__(self, dom: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.headings: list[str] = []
        self.by_id: dict[str, str] = {}
        self.bar_groups: list[str] = []
        self.svg_count = 0
        self.parts: list[str] = []
        self.feed(dom)
        self.text = " ".join(" ".join(self.parts).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            self.svg_count += 1
        if tag == "g" and "bar-group" in (attrs.get("class") or "").split():
            self.bar_groups.append(attrs.get("data-facility", ""))
        if tag not in self.VOID:
            self.stack.append((tag, attrs))
            if tag in ("h1", "h2", "h3"):
                self.headings.append("")

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        tags = [t for t, _ in self.stack]
        if any(t in self.HIDDEN for t in tags):
            return
        self.parts.append(data)
        if any(t in ("h1", "h2", "h3") for t in tags):
            self.headings[-1] = _words(self.headings[-1], data)
        for _, attrs in self.stack:
            if "id" in attrs:
                self.by_id[attrs["id"]] = _words(self.by_id.get(attrs["id"], ""), data)


def _words(*parts: str) -> str:
    """Text as a reader sees it: runs of whitespace, and element boundaries, as one space."""
    return " ".join(" ".join(parts).split())


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "headless Chromium renders the report in this test and is missing: "
            "apt-get install -y chromium (.ci/run installs it)"
        )
    return found


def render(html: Path, tmp_path: Path) -> Page:
    """Open the page in headless Chromium; keep a screenshot beside it; return the DOM read."""
    base = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"]
    url = html.resolve().as_uri()
    dom = subprocess.run(
        [*base, "--dump-dom", url], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    screenshot = html.with_suffix(".png")
    subprocess.run(
        [*base, f"--screenshot={screenshot}", "--window-size=1280,2000", url],
        capture_output=True,
        check=True,
        timeout=300,
    )
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "</html>" in dom, "Chromium did not render the page"
    return Page(dom)


def finance_sentences(target: Path) -> list[str]:
    """The finance sentences (`config.meta.finance`) of the data tests the last build ran."""
    manifest = json.loads((target / "manifest.json").read_text())
    ran = {r["unique_id"] for r in json.loads((target / "run_results.json").read_text())["results"]}
    return [
        node["config"]["meta"]["finance"]
        for test_id, node in manifest["nodes"].items()
        if test_id in ran
        and node["resource_type"] == "test"
        and node["config"].get("meta", {}).get("finance")
    ]


def money(value: str | Decimal) -> str:
    return f"{Decimal(value):,.2f}"


def pseudonyms(warehouse: Warehouse) -> set[str]:
    """Every pseudonym the marts hold (patient and hospital account)."""
    marts = warehouse.schema("marts")
    values = warehouse.query(
        f"select reference21 from {marts}.fusion__gl_interface union "
        f"select reference22 from {marts}.fusion__gl_interface"
    )
    held = [
        name
        for (name,) in warehouse.query(
            "select column_name from information_schema.columns where table_schema = %s "
            "and table_name = 'exceptions__gl_journal_lines'",
            (marts,),
        )
        if "patient" in name or "pseudonym" in name or "account_reference" in name
    ]
    for name in held:
        values += warehouse.query(f"select {name} from {marts}.exceptions__gl_journal_lines")
    return {v for (v,) in values if v}


def assert_no_phi(html: str, page: Page, warehouse: Warehouse) -> None:
    hidden = pseudonyms(warehouse)
    assert len(hidden) > 100
    for value in [*CANARY_MRNS, *CANARY_NAMES, *CANARY_ACCOUNTS, *hidden, PHI_KEY]:
        assert value not in html, f"{value!r} is in the page"
        assert value not in page.text


def assert_self_contained(html: str) -> None:
    lowered = html.lower()
    for marker in ("<script", " src=", "<link", "url(", "http:", "https:", "@import"):
        assert marker not in lowered, marker


def test_the_page_shows_runs_checks_reconciliation_and_exceptions(world):
    code, summary = world.run()
    assert code == 0, summary
    world.record_run(datetime(2026, 11, 21, 8, 30, tzinfo=UTC), code, summary)

    html, page = world.report()

    assert page.headings[:2] == [f"Finance review: {TENANT}", "Last runs"]
    for heading in (
        "dbt checks in plain words",
        "Data tests",
        "Unit tests",
        "Reconciliation by facility and GL period",
        "Exported and held debits by facility and GL period",
        "Open exceptions",
        "Operator queue",
    ):
        assert heading in page.headings
    # Times are the tenant's: 12:00 UTC is 06:00 in Chicago, the run's 08:30 UTC is 02:30.
    assert "Generated 2026-11-21 06:00 CST" in page.text
    runs = page.by_id["runs"]
    assert "2026-11-21 02:30 CST" in runs and "epic / gl_journal" in runs
    assert f"{summary['extract']['rows']:,}" in runs

    checks = page.by_id["checks"]
    passed = summary["dbt"]["checks_passed"]
    assert f"{passed} passed, 0 failed" in checks
    assert "source_line_id is unique in int_journal_lines_validated" in checks
    sentences = finance_sentences(world.root / "work" / TENANT / "dbt" / "target")
    assert len(sentences) >= 5
    for sentence in sentences:
        assert _words(sentence) in checks
    assert "FAILED" not in checks
    assert "Amounts arrive as text" in checks  # a unit test, by its description

    recon = summary["reconciliation"]
    assert page.by_id["recon-total-source-lines"] == f"{recon['source_lines']:,}"
    assert page.by_id["recon-total-exported-lines"] == f"{recon['exported_lines']:,}"
    assert page.by_id["recon-total-exception-lines"] == f"{recon['exception_lines']:,}"
    assert page.by_id["recon-total-source-debit"] == money(recon["source_debit"])
    assert page.by_id["recon-total-exported-debit"] == money(recon["exported_debit"])
    assert page.by_id["recon-total-exception-debit"] == money(recon["exception_debit"])
    assert page.by_id["recon-status"] == "reconciled"
    raw = world.warehouse.schema("raw_epic")
    facilities = world.warehouse.query(
        f"select distinct facility_id from {raw}.resolute_journal_lines order by 1"
    )
    assert page.svg_count == 1
    assert page.bar_groups == [f for (f,) in facilities]

    exceptions = page.by_id["exceptions"]
    for reason, lines in summary["exceptions"]["by_reason"].items():
        assert f"{reason} " in exceptions and f" {lines:,} " in f" {exceptions} "
    assert "the GL period is closed" in exceptions
    assert "No operator queue items." in page.by_id["operator-queue"]
    for card in (
        "Last run ok",
        f"dbt checks {passed} passed, 0 failed",
        "Reconciliation reconciled",
    ):
        assert card in page.text
    assert_self_contained(html)
    assert_no_phi(html, page, world.warehouse)


def test_a_failing_check_is_shown_in_plain_words_with_its_failing_rows(world):
    code, first = world.run()
    assert code == 0
    world.record_run(datetime(2026, 11, 21, 8, 30, tzinfo=UTC), code, first)
    # The lines of a day delivered again under a new feed day: their line ids are duplicates.
    table = pq.read_table(world.drop / "resolute_journal_20261005.parquet")
    for name in ("POST_DATE", "GL_DATE"):
        column = pa.array([date(2026, 11, 2)] * table.num_rows, pa.date32())
        table = table.set_column(table.schema.get_field_index(name), name, column)
    pq.write_table(table, world.drop / "resolute_journal_20261102.parquet")
    code, second = world.run()
    assert code == 3 and second["status"] == "quality_gate_failed"
    world.record_run(datetime(2026, 11, 21, 9, 30, tzinfo=UTC), code, second)
    queued_pseudonym = "ab" * 32
    ops = world.warehouse.schema("ops")
    # A queue table of another shape: the page shows what it can and withholds PHI columns.
    world.warehouse.query(f"drop table {ops}.operator_queue")
    world.warehouse.query(
        f"create table {ops}.operator_queue (item_id integer, created_at timestamp, "
        "reason varchar(200), source_line_id bigint, patient_pseudonym varchar(64))"
    )
    world.warehouse.query(
        f"insert into {ops}.operator_queue values "
        "(1, '2026-11-21 09:00:00', 'rejected by Fusion: invalid account', 42, %s)",
        (queued_pseudonym,),
    )

    html, page = world.report()

    assert table.num_rows > 50
    failure = page.by_id["checks"]
    assert "A journal line is posted once by the daily files" in failure
    assert f"FAILED — {table.num_rows:,} failing rows in resolute_journal_lines" in failure
    assert f"Showing 50 of {table.num_rows:,} stored failing rows (the first 50)" in failure
    assert "not run because an earlier step failed" in failure
    assert "dbt checks" in page.text and "1 failed" in page.text
    assert "Last run quality_gate_failed" in page.text
    # The failing source check stopped the build: the page shows the last built models.
    assert page.by_id["recon-status"] == "reconciled"
    source_lines = first["reconciliation"]["source_lines"]
    assert page.by_id["recon-total-source-lines"] == f"{source_lines:,}"
    queue = page.by_id["operator-queue"]
    assert "rejected by Fusion: invalid account" in queue
    assert "Not shown (patient identifiers or pseudonyms): patient_pseudonym." in queue
    assert queued_pseudonym not in html
    assert_self_contained(html)
    assert_no_phi(html, page, world.warehouse)


def test_the_checks_of_every_domain_are_shown_grouped_by_domain(world, warehouse_arg):
    config_path = world.root / "ehrfusion.yml"
    document = yaml.safe_load(config_path.read_text())
    identity = {
        "enabled": True,
        "source": "dbmotion_identity",
        "endpoint": "dbmotion_identity",
        "cadence": "15min",
        "phi_mode": "pseudonymized",
    }
    document["tenants"][TENANT]["streams"]["dbmotion"] = {"domains": {"identity": identity}}
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))
    world.config = load_config(config_path)
    code, epic = world.run()
    assert code == 0, epic
    args = ["run", "--config", str(config_path), "--tenant", TENANT, "--stream", "dbmotion"]
    args += ["--domain", "identity", "--warehouse", warehouse_arg, "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    landing = json.loads(result.stdout)

    html, page = world.report()  # the identity domain's build was dbt's last invocation

    checks = page.by_id["checks"]
    assert "epic / gl_journal: " in checks and "dbmotion / identity: " in checks
    epic_part, identity_part = checks.split("dbmotion / identity: ")
    assert "source_line_id is unique in int_journal_lines_validated" in epic_part
    assert "int_journal_lines_validated" not in identity_part
    assert "int_identity__patient_pseudonyms" in identity_part
    passed = epic["dbt"]["checks_passed"] + landing["dbt"]["checks_passed"]
    assert f"{passed} passed, 0 failed" in checks
    by_domain = build_summary(world)["checks_by_domain"]
    assert by_domain["epic / gl_journal"]["passed"] == epic["dbt"]["checks_passed"]
    assert by_domain["dbmotion / identity"]["passed"] == landing["dbt"]["checks_passed"]
    assert_no_phi(html, page, world.warehouse)


def build_summary(world) -> dict:
    from runtime.reports.report import collect_report

    return collect_report(world.config, TENANT, world.warehouse, NOW).summary()


def test_a_tenant_that_never_ran_gets_a_page_that_says_so(tmp_path):
    config = load_config(write_config(tmp_path, tmp_path / "sandbox"))
    warehouse = Warehouse.for_tenant(config.tenants[TENANT], "duckdb")

    path = build_report(config, TENANT, warehouse, tmp_path / "report.html", NOW)
    page = render(path, tmp_path)

    assert "No runs recorded yet." in page.by_id["runs"]
    assert "dbt has not run for this tenant yet." in page.by_id["checks"]
    assert "Not available yet" in page.by_id["reconciliation"]
    assert "Not available yet" in page.by_id["exceptions"]
    assert "No operator queue items." in page.by_id["operator-queue"]
    assert "Generated 2026-11-21 12:00 UTC" in page.text
    assert page.svg_count == 0
    assert not warehouse.duckdb_path.exists()  # reading never creates the warehouse
    assert report_tenant(config, None) == TENANT
    with pytest.raises(ConfigError, match=r"tenants\.elsewhere: name a configured tenant"):
        report_tenant(config, "elsewhere")
