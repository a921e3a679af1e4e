"""The scheduler tick: what is due runs, streams never hold each other, a held lock is "try
later", and a run killed at any point resumes without duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from runtime.core.config import load_config
from runtime.core.warehouse import Warehouse
from runtime.operations.status import status
from runtime.operations.tick import tick
from runtime.pipeline.locks import domain_lock, writer_slot
from runtime.pipeline.run_ledger import RunLedger
from sandbox.generate import generate
from tests.conftest import TENANT, write_config

ROOT = Path(__file__).parents[1]
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def sandbox_dir(tmp_path) -> Path:
    generate(tmp_path / "sandbox", seed=11, scale=3000)
    return tmp_path / "sandbox"


def add_broken_stream(config_path: Path) -> None:
    """Add a tenant `otherhosp` whose stream `cerner` has a drop folder missing from the
    endpoints file (a tenant holds one instance of a source, so the second feed is its own)."""
    document = yaml.safe_load(config_path.read_text())
    tenant = document["tenants"][TENANT]
    broken = tenant["streams"]["epic"]["domains"]["gl_journal"] | {"endpoint": "cerner_drop"}
    other = tenant | {
        "warehouse": {"kind": "duckdb", "path": "warehouse/otherhosp.duckdb"},
        "streams": {"cerner": {"domains": {"gl_journal": broken}}},
    }
    document["tenants"] = {"otherhosp": other} | document["tenants"]  # the broken one first
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))


def record_success(warehouse: Warehouse, at: datetime) -> None:
    ledger = RunLedger(warehouse, clock=lambda: at)
    ledger.finish(ledger.start("epic", "gl_journal"), "ok", 0)


def outcomes(result) -> dict[str, tuple[str, int]]:
    return {f"{o.stream}/{o.domain}": (o.status, o.exit_code) for o in result.outcomes}


def test_a_domain_that_succeeded_in_its_period_is_not_run(tmp_path, sandbox_dir) -> None:
    config_path = write_config(tmp_path, sandbox_dir, cadence="daily", run_at="02:30")
    config = load_config(config_path)
    record_success(Warehouse.for_tenant(config.tenants[TENANT]), NOW - timedelta(hours=1))
    result = tick(config, config_path, NOW)
    assert result.outcomes == []
    assert result.exit_code == 0


def test_disabled_domains_never_run(tmp_path, sandbox_dir) -> None:
    config_path = write_config(tmp_path, sandbox_dir, enabled=False)
    result = tick(load_config(config_path), config_path, NOW)
    assert (result.outcomes, result.exit_code) == ([], 0)


def test_a_busy_duckdb_warehouse_is_try_later_not_a_failure(tmp_path, sandbox_dir) -> None:
    config_path = write_config(tmp_path, sandbox_dir)
    config = load_config(config_path)
    with writer_slot(Warehouse.for_tenant(config.tenants[TENANT])):
        result = tick(config, config_path, NOW)
    assert outcomes(result) == {"epic/gl_journal": ("locked", 75)}
    assert "try later" in result.outcomes[0].message
    assert result.exit_code == 0


def test_an_unreachable_warehouse_fails_its_domains(tmp_path, sandbox_dir) -> None:
    config_path = write_config(tmp_path, sandbox_dir)
    closed_port = "postgresql://nobody:x@127.0.0.1:9/nowhere"
    result = tick(load_config(config_path), config_path, NOW, warehouse_override=closed_port)
    assert outcomes(result) == {"epic/gl_journal": ("failed", 1)}
    assert result.outcomes[0].message == "run ledger unreadable: OperationalError"
    assert result.exit_code == 1


def test_runs_past_the_time_limit_are_killed_and_reported(tmp_path, sandbox_dir) -> None:
    config_path = write_config(tmp_path, sandbox_dir)
    result = tick(load_config(config_path), config_path, NOW, timeout_seconds=0.5)
    assert outcomes(result) == {"epic/gl_journal": ("timeout", 1)}
    assert result.exit_code == 1


def test_a_broken_stream_does_not_stop_the_other(
    tmp_path, sandbox_dir, phi_key, monkeypatch
) -> None:
    monkeypatch.setenv("EHRFUSION__OTHERHOSP__PHI_KEY", phi_key)
    config_path = write_config(tmp_path, sandbox_dir)
    add_broken_stream(config_path)
    result = tick(load_config(config_path), config_path, NOW)
    by_stream = {o.stream: o for o in result.outcomes}
    assert (by_stream["epic"].status, by_stream["epic"].exit_code) == ("ok", 0)
    assert by_stream["epic"].summary["export"]["lines"] > 0
    assert (by_stream["cerner"].status, by_stream["cerner"].exit_code) == ("config_error", 2)
    assert "cerner_drop" in by_stream["cerner"].message
    assert result.exit_code == 2
    json.dumps(result.to_json())


def test_a_locked_domain_is_try_later(tmp_path, sandbox_dir, phi_key, pg_dsn) -> None:
    config_path = write_config(tmp_path, sandbox_dir)
    config = load_config(config_path)
    warehouse = Warehouse.for_tenant(config.tenants[TENANT], pg_dsn)
    with domain_lock(warehouse, "epic", "gl_journal"):
        result = tick(config, config_path, NOW, warehouse_override=pg_dsn)
    assert outcomes(result) == {"epic/gl_journal": ("locked", 75)}
    assert result.exit_code == 0


def test_a_successful_run_is_not_repeated_in_its_period(tmp_path, sandbox_dir, phi_key) -> None:
    # The run records its success at the real time, so the ticks look at the real time too.
    config_path = write_config(tmp_path, sandbox_dir, cadence="daily", run_at="02:30")
    config = load_config(config_path)
    first = tick(config, config_path, datetime.now(UTC))
    assert outcomes(first) == {"epic/gl_journal": ("ok", 0)}
    assert tick(config, config_path, datetime.now(UTC)).outcomes == []


def run_command(config_path: Path, warehouse_arg: str) -> list[str]:
    return [
        sys.executable, "-m", "cli", "run", "--config", str(config_path), "--tenant", TENANT,
        "--stream", "epic", "--domain", "gl_journal", "--warehouse", warehouse_arg,
    ]  # fmt: skip


def kill_at_export(command: list[str]) -> None:
    """Start a run and SIGKILL it as soon as it reports that the export begins."""
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    for line in proc.stderr:
        if line.startswith("» export"):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before its export began"


def test_a_run_killed_during_export_resumes_without_duplicates(
    tmp_path, sandbox_dir, phi_key, warehouse_arg
) -> None:
    config_path = write_config(tmp_path, sandbox_dir)
    command = run_command(config_path, warehouse_arg)
    kill_at_export(command)

    rerun = subprocess.run([*command, "--json"], capture_output=True, text=True, cwd=ROOT)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    summary = json.loads(rerun.stdout)

    feed_days = {p.name for p in (sandbox_dir / "epic" / "resolute").glob("*.parquet")}
    outbox = tmp_path / "outbox" / TENANT / "epic" / "gl_journal"
    chain = [json.loads(line) for line in (outbox / "manifests.jsonl").read_text().splitlines()]
    zips = sorted(p.name for p in outbox.glob("*.zip"))
    assert len(chain) == len(zips) == len(feed_days) == summary["reconciliation"]["feed_days"]
    assert len(set(zips)) == len(zips)

    warehouse = Warehouse.for_tenant(load_config(config_path).tenants[TENANT], warehouse_arg)
    raw = warehouse.schema("raw_epic")
    duplicates = warehouse.query(
        f"select journal_line_id from {raw}.resolute_journal_lines "
        "group by journal_line_id having count(*) > 1"
    )
    assert duplicates == []


def test_status_of_a_domain_that_never_ran(tmp_path, sandbox_dir) -> None:
    config_path = write_config(tmp_path, sandbox_dir)
    [row] = status(load_config(config_path), NOW)
    assert row == {
        "tenant": TENANT, "stream": "epic", "domain": "gl_journal", "enabled": True,
        "cadence": "daily", "last_run_status": None, "last_run_finished_at": None,
        "last_success": None, "lag_seconds": None, "next_due": NOW.isoformat(),
        "open_exceptions": 0, "queue_depth": 0, "error": None,
    }  # fmt: skip


def test_status_reports_lag_next_due_and_open_work(tmp_path, sandbox_dir) -> None:
    config_path = write_config(tmp_path, sandbox_dir, cadence="daily", run_at="02:30")
    config = load_config(config_path)
    warehouse = Warehouse.for_tenant(config.tenants[TENANT])
    record_success(warehouse, NOW - timedelta(minutes=10))
    for sql in (
        f"create schema {TENANT}_marts",
        # the journal chain's exceptions: this domain's two held lines and another domain's
        f"create table {TENANT}_marts.exceptions__gl_journal_lines "
        "(stream_name text, domain_name text, reason text)",
        f"insert into {TENANT}_marts.exceptions__gl_journal_lines values "
        "('epic', 'gl_journal', 'unmapped_coa'), ('epic', 'gl_journal', 'x'), "
        "('sunrise', 'charges', 'x')",
        f"create table {TENANT}_ops.operator_queue (status text)",
        f"insert into {TENANT}_ops.operator_queue values ('open'), ('resolved')",
    ):
        warehouse.query(sql)
    [row] = status(config, NOW)
    assert row["last_run_status"] == "ok"
    assert row["last_success"] == (NOW - timedelta(minutes=10)).isoformat()
    assert row["lag_seconds"] == 600
    assert row["next_due"] == "2026-11-03T02:30:00+00:00"  # the tenant's timezone is UTC
    assert (row["open_exceptions"], row["queue_depth"]) == (2, 1)
    json.dumps(row)


def test_status_does_not_touch_a_duckdb_file_a_run_is_writing(tmp_path, sandbox_dir) -> None:
    config_path = write_config(tmp_path, sandbox_dir)
    config = load_config(config_path)
    with writer_slot(Warehouse.for_tenant(config.tenants[TENANT])):
        [row] = status(config, NOW)
    assert row["error"].startswith("busy")
    assert row["last_run_status"] is None
