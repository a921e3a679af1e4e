"""`ehrfusion demo`: the quickstart generates the sandbox and runs every enabled domain."""

import json
import stat

from click.testing import CliRunner

from cli import main
from sandbox.fusion.server import CLIENT_ID, CLIENT_SECRET
from tests.conftest import TENANT, write_config

KEY_ENV = f"EHRFUSION__{TENANT.upper()}__PHI_KEY"


def test_the_demo_runs_the_slice_with_a_generated_key_and_is_repeatable(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    for name, value in (("CLIENT_ID", CLIENT_ID), ("CLIENT_SECRET", CLIENT_SECRET)):
        monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__FUSION_{name}", value)
    config = write_config(tmp_path, tmp_path / "sandbox")
    args = ["demo", "--config", str(config), "--scale", "2000", "--json"]

    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert (tmp_path / "sandbox" / "endpoints.json").is_file()
    run, corrections = summary["runs"]
    assert run["status"] == corrections["status"] == "ok"
    [corrected] = corrections["export"]["batches"]
    assert corrected["feed_date"] == "2026-11-01"
    assert corrections["submit"]["totals"]["lines_posted"] == corrected["lines"] > 0
    assert (
        run["extract"]["rows"]
        == summary["sandbox"][TENANT]["stand_ins"]["epic_resolute_journal"]["lines"]
    )
    assert len(run["export"]["batches"]) == 31
    assert run["reconciliation"]["status"] == "reconciled"
    posted = run["submit"]
    assert {b["status"] for b in posted["batches"]} == {"succeeded"}
    assert posted["totals"]["lines_posted"] == run["export"]["lines"]
    assert summary["reconciliation"][TENANT]["status"] == "clean"
    page = tmp_path / "work" / TENANT / "report" / "finance_report.html"
    assert summary["reports"] == {TENANT: str(page)}
    assert "Finance review" in page.read_text()
    key_file = tmp_path / "work" / TENANT / "demo_phi.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)["runs"]
    for repeat in again:
        assert repeat["extract"]["rows"] == 0
        assert repeat["export"]["batches"] == []
        assert repeat["submit"]["batches"] == []  # nothing is ever sent twice
    assert again[-1]["reconciliation"] == corrections["reconciliation"]
