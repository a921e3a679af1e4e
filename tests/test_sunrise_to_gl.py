"""Allscripts Sunrise charges -> Fusion GL Journal Import: the Sunrise stream lands the
database's changes (CDC), batches the journal lines by the day they landed, and posts them
through the same journal chain as the Epic feed, to the Fusion simulator on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from sandbox import sunrise
from sandbox.fusion.server import CLIENT_ID, CLIENT_SECRET, FusionSimulator
from sandbox.generate import generate
from sandbox.sunrise.database import sqlite_url
from tests.conftest import TENANT, ledger_lines, set_knobs, write_config


@pytest.fixture
def stream(tmp_path, phi_key, warehouse_arg, monkeypatch):
    """A tenant whose only stream is Sunrise with a GL domain; Fusion reachable."""
    sandbox_dir = tmp_path / "sandbox"
    generate(sandbox_dir, seed=3, scale=400)
    config_path = write_config(tmp_path, sandbox_dir)
    document = yaml.safe_load(config_path.read_text())
    epic = document["tenants"][TENANT]["streams"]["epic"]["domains"]["gl_journal"]
    charges = epic | {"source": "allscripts_sunrise", "endpoint": "allscripts_sunrise"}
    charges["fusion"] = epic["fusion"] | {"journal_source": "Sunrise"}
    document["tenants"][TENANT]["streams"] = {"sunrise": {"domains": {"charges": charges}}}
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))
    for name, value in (("CLIENT_ID", CLIENT_ID), ("CLIENT_SECRET", CLIENT_SECRET)):
        monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__FUSION_{name}", value)
    with FusionSimulator(sandbox_dir / "endpoints.json") as simulator:
        set_knobs(simulator, job_seconds=0)
        yield config_path, sandbox_dir, simulator


def cli(config_path, warehouse_arg, *args: str) -> tuple[int, dict]:
    common = ["--config", str(config_path), "--warehouse", warehouse_arg, "--json"]
    result = CliRunner().invoke(main, [*args, *common])
    return result.exit_code, json.loads(result.stdout)


def run(config_path, warehouse_arg) -> tuple[int, dict]:
    scope = ["--tenant", TENANT, "--stream", "sunrise", "--domain", "charges"]
    return cli(config_path, warehouse_arg, "run", *scope)


def test_sunrise_charges_post_to_fusion_batched_by_the_day_they_landed(stream, warehouse_arg):
    config_path, _, simulator = stream

    code, summary = run(config_path, warehouse_arg)

    assert code == 0, summary["message"]
    assert summary["extract"]["details"]["mechanism"] == "cdc"
    [batch] = summary["export"]["batches"]
    today = datetime.now(UTC).date()
    assert batch["feed_date"] == today.isoformat()
    totals = summary["submit"]["totals"]
    assert totals["lines_posted"] == batch["lines"] > 0 and totals["lines_rejected"] == 0
    name = f"SUNRISE CHARGES {today:%Y%m%d}"
    posted = [line for line in ledger_lines(simulator) if line["JournalBatchName"] == name]
    assert len(posted) == batch["lines"]
    assert {line["References"]["REFERENCE25"] for line in posted} == {"NEW"}
    assert summary["reconciliation"]["status"] == "reconciled"

    code, pack = cli(
        config_path, warehouse_arg, "reconcile", "--tenant", TENANT, "--period", "2026-10"
    )
    assert (code, pack["status"]) == (0, "clean")


def test_a_day_s_delivery_is_exported_once(stream, warehouse_arg):
    config_path, sandbox_dir, _ = stream
    assert run(config_path, warehouse_arg)[0] == 0
    database = sqlite_url(sandbox_dir / sunrise.DATABASE_DIR / sunrise.DATABASE_FILE)
    sunrise.mutate(database, 3, sunrise.Mutation(batch=1, inserts=5, updates=5, overlays=2))

    code, again = run(config_path, warehouse_arg)

    assert code == 0
    assert "today's delivery from allscripts_sunrise is exported" in again["message"]
    assert again["extract"]["rows"] == 0 and again["export"]["batches"] == []
