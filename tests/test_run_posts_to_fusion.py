"""`run` ends by posting to Fusion (the simulator on 127.0.0.1) and following the import jobs;
what Fusion rejects lands in the operator queue with its reasons."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli import main
from tests.conftest import TENANT, ledger_lines, set_knobs


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
    assert len(ledger_lines(fusion)) == summary["export"]["lines"]

    pack = cli(world, "reconcile", "--tenant", TENANT, "--period", "2026-10")
    assert pack.exit_code == 0, pack.output
    assert json.loads(pack.stdout)["status"] == "clean"


def test_rejected_lines_wait_in_the_operator_queue_and_are_never_resent(world, fusion):
    set_knobs(fusion, disable_combinations=["101-7020-41000-000-000-0000"])

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
