"""A domain run as operations and compliance see it: the lock, the run ledger, the metrics
file and the accounting of disclosures, through the CLI on DuckDB and Postgres."""

from __future__ import annotations

import json

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from cli import main
from runtime.compliance.audit import DisclosureLog
from runtime.pipeline.locks import domain_lock
from runtime.pipeline.run_ledger import RunLedger
from tests.conftest import TENANT


def cli(world, *args: str):
    common = ["--config", str(world.root / "ehrfusion.yml"), "--warehouse", world.warehouse_arg]
    return CliRunner().invoke(main, [*args, *common])


def test_every_patient_read_or_exported_is_in_the_accounting_of_disclosures(world):
    code, summary = world.run()
    assert code == 0

    marts = world.warehouse.schema("marts")
    lines = f"{world.warehouse.schema('intermediate')}.int_journal_lines_validated"
    read = world.warehouse.query(f"select count(distinct patient_pseudonym) from {lines}")[0][0]
    disclosed = world.warehouse.query(
        f"select count(distinct patient_pseudonym) from {lines} where not is_held"
    )[0][0]
    assert summary["disclosures_recorded"] == read + disclosed
    assert read > 0 and disclosed > 0
    tenant = world.config.tenants[TENANT]
    log = DisclosureLog(world.warehouse, TENANT, tenant.audit)
    assert log.verify().ok

    verify = cli(world, "audit", "verify", "--tenant", TENANT, "--json")
    assert verify.exit_code == 0 and json.loads(verify.stdout)["ok"]

    patient = world.warehouse.query(
        f"select reference22 from {marts}.fusion__gl_interface order by source_line_id limit 1"
    )[0][0]
    report = cli(
        world, "audit", "report", "--tenant", TENANT, "--patient-pseudonym", patient, "--json"
    )
    entries = json.loads(report.stdout)
    assert {e["action"] for e in entries} == {"read", "disclose"}
    disclosed_to = {e["recipient"] for e in entries if e["action"] == "disclose"}
    assert disclosed_to == {"Oracle Fusion Cloud (EHF US Primary Ledger)"}

    again_code, again = world.run("--feed-date", "2026-10-07")
    assert again_code == 0 and again["disclosures_recorded"] == 0  # a re-export sends nothing new


def test_a_tampered_disclosure_log_fails_verification(world):
    assert world.run()[0] == 0
    audit = world.warehouse.schema("audit")
    world.warehouse.query(
        f"update {audit}.disclosures set recipient = 'someone else' where sequence = 3"
    )
    result = cli(world, "audit", "verify", "--tenant", TENANT, "--json")
    assert result.exit_code == 5
    assert any("entry 3" in problem for problem in json.loads(result.stdout)["problems"])


def test_each_run_is_in_the_ledger_and_leaves_its_metrics(world):
    code, summary = world.run()
    assert code == 0
    last = RunLedger(world.warehouse).last_run("epic", "gl_journal")
    assert last["run_id"] == summary["run_id"] and last["status"] == "ok"
    assert last["lines_exported"] == summary["export"]["lines"]

    metrics_file = world.root / "metrics" / f"ehrfusion-{TENANT}-epic-gl_journal.prom"
    families = {f.name: f for f in text_string_to_metric_families(metrics_file.read_text())}
    held = {s.labels["reason"]: s.value for s in families["ehrfusion_exception_lines"].samples}
    assert {k: v for k, v in held.items() if v} == summary["exceptions"]["by_reason"]
    [success] = families["ehrfusion_last_success_timestamp_seconds"].samples
    assert success.value > 0 and success.labels["tenant"] == TENANT


def test_a_second_run_while_one_holds_the_lock_exits_75_and_does_nothing(world):
    with domain_lock(world.warehouse, "epic", "gl_journal"):
        code, summary = world.run()
    assert code == 75
    assert summary["status"] == "locked"
    assert not world.outbox.exists()
