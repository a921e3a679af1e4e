"""The run ledger on both engines: its exact columns, run lifecycles, interrupted runs, refused
attempts, and the last success the scheduler reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtime.core.warehouse import Warehouse
from runtime.pipeline.run_ledger import COLUMNS, RunLedger
from tests.conftest import TENANT

T0 = datetime(2026, 5, 1, 7, 30, tzinfo=UTC)


class Clock:
    """A clock that advances one minute per reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def ledger(warehouse) -> RunLedger:
    return RunLedger(warehouse, clock=Clock())


def test_the_table_has_exactly_the_documented_columns(ledger, warehouse) -> None:
    ledger.start("epic", "gl_journal")
    rows = warehouse.query(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = %s and table_name = 'run_ledger' order by ordinal_position",
        (f"{TENANT}_ops",),
    )
    assert [name for name, _ in rows] == list(COLUMNS)
    types = {name: kind.lower() for name, kind in rows}
    assert types["started_at"] in ("timestamp with time zone", "timestamptz")
    assert types["exit_code"] == "integer"
    assert types["lines_exported"] == "bigint"


def test_a_run_is_running_until_it_finishes(ledger) -> None:
    run_id = ledger.start("epic", "gl_journal")
    running = ledger.last_run("epic", "gl_journal")
    assert running["run_id"] == run_id
    assert running["status"] == "running"
    assert running["finished_at"] is None

    ledger.finish(run_id, "ok", 0, rows_extracted=3000, lines_exported=2950,
                  exception_lines=50, dead_letters=1, message="31 batches")  # fmt: skip
    done = ledger.last_run("epic", "gl_journal")
    assert done["status"] == "ok"
    assert done["exit_code"] == 0
    assert (done["rows_extracted"], done["lines_exported"]) == (3000, 2950)
    assert (done["exception_lines"], done["dead_letters"]) == (50, 1)
    assert done["message"] == "31 batches"
    assert done["started_at"] == T0 + timedelta(minutes=1)
    assert done["finished_at"] == T0 + timedelta(minutes=2)


def test_last_success_is_when_the_latest_ok_run_started(ledger) -> None:
    assert ledger.last_success("epic", "gl_journal") is None
    first = ledger.start("epic", "gl_journal")
    ledger.finish(first, "ok", 0)
    failed = ledger.start("epic", "gl_journal")
    ledger.finish(failed, "quality_gate_failed", 3, message="2 checks failed")
    assert ledger.last_success("epic", "gl_journal") == T0 + timedelta(minutes=1)
    assert ledger.last_success("epic", "other_domain") is None


def test_a_new_run_marks_a_killed_run_as_interrupted(ledger) -> None:
    killed = ledger.start("epic", "gl_journal")
    other_domain = ledger.start("epic", "ar_invoices")
    ledger.start("epic", "gl_journal")
    runs = {r["run_id"]: r for r in ledger.recent()}
    assert runs[killed]["status"] == "failed"
    assert runs[killed]["message"] == "interrupted"
    assert runs[killed]["finished_at"] is not None
    assert runs[other_domain]["status"] == "running"


def test_a_refused_attempt_is_recorded_without_touching_the_holder(ledger) -> None:
    holder = ledger.start("epic", "gl_journal")
    refused = ledger.record_locked("epic", "gl_journal", "locked, try later")
    runs = {r["run_id"]: r for r in ledger.recent()}
    assert runs[holder]["status"] == "running"
    assert (runs[refused]["status"], runs[refused]["exit_code"]) == ("locked", 75)
    assert ledger.last_run("epic", "gl_journal")["run_id"] == holder


def test_recent_lists_newest_first_up_to_the_limit(ledger) -> None:
    ids = [ledger.start("epic", f"domain_{n}") for n in range(4)]
    assert [r["run_id"] for r in ledger.recent(limit=3)] == ids[::-1][:3]


def test_tenants_do_not_see_each_other(warehouse, tmp_path, ledger) -> None:
    ledger.start("epic", "gl_journal")
    if warehouse.kind == "duckdb":
        other = Warehouse("duckdb", "otherhosp", duckdb_path=tmp_path / "otherhosp.duckdb")
    else:
        other = Warehouse("postgres", "otherhosp", dsn=warehouse.dsn)
    assert RunLedger(other).recent() == []


def test_an_unknown_status_is_refused(ledger) -> None:
    run_id = ledger.start("epic", "gl_journal")
    with pytest.raises(ValueError, match="not one of"):
        ledger.finish(run_id, "done", 0)
