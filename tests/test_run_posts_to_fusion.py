"""`run` ends by posting to Fusion (the simulator on 127.0.0.1) and following the import jobs;
what Fusion rejects lands in the operator queue with its reasons."""

from __future__ import annotations

import json

import pytest
import requests
from click.testing import CliRunner

from cli import main
from sandbox.fusion.server import CLIENT_ID, CLIENT_SECRET, FusionSimulator
from tests.conftest import TENANT


@pytest.fixture
def fusion(world, monkeypatch):
    for name, value in (("CLIENT_ID", CLIENT_ID), ("CLIENT_SECRET", CLIENT_SECRET)):
        monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__FUSION_{name}", value)
    with FusionSimulator(world.config.tenants[TENANT].endpoints_file) as simulator:
        fast = {"job_seconds": 0}  # jobs still run asynchronously, just without a delay
        requests.post(
            f"{simulator.url}/__sandbox__/knobs", json=fast, timeout=10
        ).raise_for_status()
        yield simulator


def cli(world, *args: str):
    common = ["--config", str(world.root / "ehrfusion.yml"), "--warehouse", world.warehouse_arg]
    return CliRunner().invoke(main, [*args, *common, "--json"])


def test_a_run_posts_every_exported_line(world, fusion):
    code, summary = world.run()

    assert code == 0, summary
    totals = summary["submit"]["totals"]
    assert totals["lines_posted"] == summary["export"]["lines"]
    assert totals["lines_rejected"] == 0
    assert {b["status"] for b in summary["submit"]["batches"]} == {"succeeded"}
    ledger = requests.get(f"{fusion.url}/__sandbox__/ledger", timeout=10).json()
    assert ledger["count"] == summary["export"]["lines"]

    pack = cli(world, "reconcile", "--tenant", TENANT, "--period", "2026-10")
    assert pack.exit_code == 0, pack.output
    assert json.loads(pack.stdout)["status"] == "clean"


def test_rejected_lines_wait_in_the_operator_queue_and_are_never_resent(world, fusion):
    knobs = {"disable_combinations": ["101-7020-41000-000-000-0000"]}
    requests.post(f"{fusion.url}/__sandbox__/knobs", json=knobs, timeout=10).raise_for_status()

    code, summary = world.run()

    assert code == 0
    totals = summary["submit"]["totals"]
    assert totals["lines_rejected"] > 0
    assert totals["lines_posted"] + totals["lines_rejected"] == summary["export"]["lines"]
    listed = json.loads(cli(world, "queue", "list", "--tenant", TENANT).stdout)
    assert {row["error_code"] for row in listed} >= {"EF04"}
    batch = listed[0]["batch_id"]
    shown = json.loads(cli(world, "queue", "show", "--tenant", TENANT, batch).stdout)
    assert shown and all(row["status"] == "open" for row in shown)

    resubmit = cli(
        world, "submit", "--tenant", TENANT, "--stream", "epic", "--domain", "gl_journal"
    )
    assert resubmit.exit_code == 0
    assert json.loads(resubmit.stdout)["submit"]["batches"] == []
    status = json.loads(cli(world, "status").stdout)
    assert status[0]["queue_depth"] == totals["lines_rejected"]
