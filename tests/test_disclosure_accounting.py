"""No crash leaves a hole in the accounting of disclosures: a run killed (SIGKILL) at each step
boundary leaves its landing or its sent batches unrecorded, `audit verify` names them (exit 5),
and the next run records them before anything else, so the log ends up naming exactly the
patients read and disclosed, on DuckDB and Postgres."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from runtime.compliance.audit import DisclosureLog
from runtime.core.phi import pseudonymize
from tests.conftest import PHI_KEY, TENANT
from tests.test_submit import exported_line_ids

ROOT = Path(__file__).resolve().parents[1]

# Runs the domain in a process that kills itself with SIGKILL right after one step.
KILLED_RUN = """
import os, signal, sys
import runtime.pipeline.run as run
from runtime.pipeline.delivery.journal import JournalDelivery
from runtime.pipeline.posting import Posting

def after(owner, name):
    real = getattr(owner, name)
    def step(*args, **kwargs):
        value = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return value
    setattr(owner, name, step)

boundary, config, warehouse = sys.argv[1:4]
after(*{
    "landed": (run, "land"),
    "exported": (JournalDelivery, "export"),
    "accepted": (Posting, "finish"),
    "sent": (run, "_send"),
}[boundary])
from cli import main
main(["run", "--config", config, "--tenant", "testhosp", "--stream", "epic",
      "--domain", "gl_journal", "--warehouse", warehouse])
"""


def killed_at(world, boundary: str) -> None:
    config = str(world.root / "ehrfusion.yml")
    process = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, boundary, config, world.warehouse_arg],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr[-2000:]


def verify(world) -> tuple[int, list[str]]:
    args = ["audit", "verify", "--tenant", TENANT, "--json"]
    args += ["--config", str(world.root / "ehrfusion.yml"), "--warehouse", world.warehouse_arg]
    result = CliRunner().invoke(main, args)
    return result.exit_code, json.loads(result.stdout)["problems"]


def logged(world, action: str) -> list[str]:
    log = DisclosureLog(world.warehouse, TENANT, world.config.tenants[TENANT].audit)
    entries = log.export(datetime(2000, 1, 1))
    return [e["patient_pseudonym"] for e in entries if e["action"] == action]


def test_a_run_killed_at_every_step_boundary_leaves_no_hole(world, fusion):
    killed_at(world, "landed")  # the feed files landed; nothing recorded yet
    code, problems = verify(world)
    assert code == 5
    assert problems and all("load" in p and "with no read entries" in p for p in problems)

    killed_at(world, "exported")  # the next run records the landing first
    assert verify(world) == (0, [])

    killed_at(world, "accepted")  # Fusion's answer to the first batch is recorded
    code, problems = verify(world)
    assert code == 5 and len(problems) == 1 and "with no disclose entries" in problems[0]

    killed_at(world, "sent")  # the other batches go (settled, then sent), not yet recorded
    code, problems = verify(world)
    assert code == 5 and len(problems) > 1
    assert all("with no disclose entries" in p for p in problems)

    code, summary = world.run()  # records them before anything else
    assert code == 0 and summary["disclosures_recorded"] > 0, summary
    assert verify(world) == (0, [])

    raw = f"{world.warehouse.schema('raw_epic')}.resolute_journal_lines"
    mrns = world.warehouse.query(f"select distinct pat_mrn_id from {raw}")
    read = logged(world, "read")
    assert sorted(read) == sorted({pseudonymize(m, "mrn", PHI_KEY) for (m,) in mrns})

    lines = f"{world.warehouse.schema('intermediate')}.int_journal_lines_validated"
    sent = ",".join(str(i) for i in exported_line_ids(world))
    patients = world.warehouse.query(
        f"select distinct patient_pseudonym from {lines} where source_line_id in ({sent})"
    )
    disclosed = logged(world, "disclose")
    assert sorted(set(disclosed)) == sorted(p for (p,) in patients)
    assert len(disclosed) <= 2 * len(set(disclosed))  # one entry per patient per pass


def test_a_process_killed_between_the_two_writes_of_an_append_is_restored(world):
    """The mirror is written before the warehouse commits: a kill in between leaves the last
    entries in the mirror only. Appends stop (they would fork the chain) until `audit restore`
    rebuilds the warehouse copy from the mirror."""
    from runtime.compliance.audit import AuditError, DisclosureRecord

    log = DisclosureLog(world.warehouse, TENANT, world.config.tenants[TENANT].audit)
    entry = {"scope": "s", "purpose": "p", "recipient": "r"}
    log.append([DisclosureRecord(f"{i:064x}", **entry) for i in range(5)])
    world.warehouse.query(f"delete from {log.table} where sequence > 3")  # the lost commit
    code, problems = verify(world)
    assert code == 5 and problems == ["entries 4-5 only in the mirror"]
    with pytest.raises(AuditError, match="ehrfusion audit restore"):
        log.append([DisclosureRecord(f"{9:064x}", **entry)])

    args = ["--config", str(world.root / "ehrfusion.yml"), "--warehouse", world.warehouse_arg]
    restored = CliRunner().invoke(main, ["audit", "restore", "--tenant", TENANT, *args])
    assert restored.exit_code == 0, restored.output
    assert verify(world) == (0, [])
    log.append([DisclosureRecord(f"{9:064x}", **entry)])
    assert verify(world) == (0, [])
