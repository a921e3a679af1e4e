"""Run locks: held across processes on both engines, never waited for, released when the holder
dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.core.warehouse import Warehouse
from runtime.pipeline.locks import Locked, domain_lock, lock_key, writer_slot
from tests.conftest import TENANT

# A separate process that takes a lock, says so, and keeps it until it is killed.
HOLDER = f"""
import sys, time
from pathlib import Path
from runtime.pipeline.locks import domain_lock
from runtime.core.warehouse import Warehouse
kind, target, stream, domain = sys.argv[1:]
warehouse = Warehouse(kind, "{TENANT}", duckdb_path=Path(target), dsn=target)
with domain_lock(warehouse, stream, domain):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(warehouse: Warehouse) -> Iterator:
    """Start a process holding a domain's lock; returns a function taking (stream, domain)."""
    started: list[subprocess.Popen] = []

    def hold(stream: str, domain: str) -> subprocess.Popen:
        target = str(warehouse.duckdb_path or warehouse.dsn)
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, warehouse.kind, target, stream, domain],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[1],
        )
        started.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in started:
        proc.kill()
        proc.wait()


def acquire_eventually(warehouse: Warehouse, stream: str, domain: str) -> None:
    """Take the lock, allowing the server a moment to notice a dead holder's connection."""
    for _ in range(200):
        try:
            with domain_lock(warehouse, stream, domain):
                return
        except Locked:
            time.sleep(0.05)
    pytest.fail("the lock was never released")


def test_a_held_lock_refuses_another_process_at_once(warehouse, holder) -> None:
    holder("epic", "gl_journal")
    with (
        pytest.raises(Locked, match=f"{TENANT}/epic/gl_journal is locked"),
        domain_lock(warehouse, "epic", "gl_journal"),
    ):
        pytest.fail("entered a lock held by another process")


def test_the_lock_is_released_when_the_holder_is_killed(warehouse, holder) -> None:
    proc = holder("epic", "gl_journal")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    acquire_eventually(warehouse, "epic", "gl_journal")


def test_the_lock_is_released_on_exit(warehouse) -> None:
    with domain_lock(warehouse, "epic", "gl_journal"):
        pass
    with domain_lock(warehouse, "epic", "gl_journal"):
        pass


def test_a_second_lock_in_the_same_process_is_refused_too(warehouse) -> None:
    with (
        domain_lock(warehouse, "epic", "gl_journal"),
        pytest.raises(Locked),
        domain_lock(warehouse, "epic", "gl_journal"),
    ):
        pytest.fail("entered a held lock")


@pytest.mark.parametrize("warehouse_kind", ["postgres"])
def test_postgres_domains_and_tenants_lock_independently(warehouse, holder, pg_dsn) -> None:
    holder("epic", "gl_journal")
    with domain_lock(warehouse, "epic", "ar_invoices"):
        pass
    with domain_lock(warehouse, "cerner", "gl_journal"):
        pass
    with domain_lock(Warehouse("postgres", "othertenant", dsn=pg_dsn), "epic", "gl_journal"):
        pass


@pytest.mark.parametrize("warehouse_kind", ["duckdb"])
def test_duckdb_runs_of_one_file_exclude_each_other(warehouse, holder) -> None:
    """A DuckDB file admits one writer process, so another domain's run waits for the next
    tick instead of failing on the file."""
    holder("epic", "gl_journal")
    with (
        pytest.raises(Locked, match=r"DuckDB warehouse .* is in use"),
        domain_lock(warehouse, "cerner", "charges"),
    ):
        pytest.fail("entered a DuckDB file another run is writing")
    with pytest.raises(Locked), writer_slot(warehouse):
        pytest.fail("a reader entered the file a run is writing")


@pytest.mark.parametrize("warehouse_kind", ["postgres"])
def test_postgres_has_no_writer_slot(warehouse, holder) -> None:
    holder("epic", "gl_journal")
    with writer_slot(warehouse):
        pass


def test_the_advisory_key_is_derived_from_sha256_not_from_python_hash() -> None:
    # A fixed value: every host and every Python process must agree on it.
    assert lock_key("testhosp", "epic", "gl_journal") == 5471863432741389545
    assert lock_key("testhosp", "epic", "gl_journal") != lock_key("testhosp", "epi", "cgl_journal")
