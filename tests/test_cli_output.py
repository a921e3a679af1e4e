"""What the CLI prints for people: `status` whole and quick, `queue show` of an unknown batch
refused, `reconcile` as a table per facility, and the help's own examples working."""

from __future__ import annotations

import re

from click.testing import CliRunner

from cli import main
from runtime.core.warehouse import Warehouse
from tests.conftest import TENANT


def cli(world, *args: str):
    common = ["--config", str(world.root / "ehrfusion.yml"), "--warehouse", world.warehouse_arg]
    return CliRunner().invoke(main, [*args, *common])


def test_the_cli_prints_what_a_person_needs(world, fusion, monkeypatch):
    code, summary = world.run()
    assert code == 0, summary

    connections = []
    real_connect = Warehouse.connect

    def counting(self):
        connections.append(self.tenant)
        return real_connect(self)

    with monkeypatch.context() as patched:
        patched.setattr(Warehouse, "connect", counting)
        status = cli(world, "status")
    assert status.exit_code == 0, status.output
    assert connections == [TENANT]  # one connection per tenant, not a few per domain
    row = next(line for line in status.output.splitlines() if "gl_journal" in line)
    assert TENANT in row and "epic" in row and " ok " in row  # no cell cut to fit 80 columns
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row)

    unknown = cli(world, "queue", "show", "--tenant", TENANT, "NO-SUCH-BATCH")
    assert unknown.exit_code == 2
    assert "NO-SUCH-BATCH" in unknown.output and "queue list" in unknown.output
    batch = summary["submit"]["batches"][0]["batch_id"]
    clean = cli(world, "queue", "show", "--tenant", TENANT, batch)
    assert clean.exit_code == 0 and f"batch {batch} has no lines" in clean.output

    reconcile = cli(world, "reconcile", "--tenant", TENANT, "--period", "2026-10")
    assert reconcile.exit_code == 0, reconcile.output
    lines = reconcile.output.splitlines()
    for facility in ("F01", "F02", "F03", "Total"):
        assert any(facility in line and "clean" in line for line in lines), facility
    assert "posted in Fusion" in reconcile.output and "2026-10: clean" in reconcile.output

    help_text = CliRunner().invoke(main, ["formats", "diff", "--help"])
    example = re.search(r"e\.g\. (\w+) (\w+)", " ".join(help_text.output.split()))
    diff = CliRunner().invoke(main, ["formats", "diff", *example.groups()])
    assert diff.exit_code == 0, diff.output


def test_the_demo_ends_with_a_tally_that_names_its_units():
    from rich.console import Console

    from runtime.pipeline.delivery.batches import BatchOutcome, SubmitResult
    from runtime.pipeline.domain import RunResult
    from runtime.reports.summary import render_tally

    journal = RunResult("t", "epic", "gl_journal", "duckdb", rows_extracted=5000)
    journal.submission = SubmitResult(
        "t", "epic", "gl_journal", [BatchOutcome("b", "1", "ok", 9, 9)]
    )
    devices = RunResult("t", "sunrise", "devices", "duckdb", posted_unit="records", status="failed")
    devices.submission = SubmitResult(
        "t", "sunrise", "devices", [BatchOutcome("d", "2", "ok", 37, 37, 0)]
    )
    console = Console(record=True, width=200)
    render_tally([journal, devices], console)
    text = console.export_text()
    assert "2 runs: 1 ok, 1 not ok" in text
    assert "9 lines" in text and "37 records" in text
    assert "posted counts what Fusion accepts" in text
