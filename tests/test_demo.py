"""`ehrfusion demo`: the quickstart generates the sandbox and runs every enabled domain; right
after it, the README's commands work as shown (the demo's key and credentials found where it
put them, the sandbox's servers kept running by `ehrfusion sandbox serve`)."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from sandbox.fusion.server import CLIENT_ID, CLIENT_SECRET
from tests.conftest import TENANT, write_config

KEY_ENV = f"EHRFUSION__{TENANT.upper()}__PHI_KEY"


def test_the_demo_runs_the_slice_with_a_generated_key_and_is_repeatable(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    for name in ("CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"EHRFUSION__{TENANT.upper()}__FUSION_{name}", raising=False)
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, tmp_path / "sandbox")
    args = ["demo", "--config", str(config), "--scale", "2000", "--json"]

    first = demo(tmp_path, args)  # a process of its own, as `make demo` is
    assert first.returncode == 0, first.stderr[-3000:]
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
    secrets_file = tmp_path / ".dlt" / "secrets.toml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    saved = secrets_file.read_text()
    assert f"[ehrfusion.{TENANT}]" in saved and "phi_key = " in saved
    assert f'fusion_client_id = "{CLIENT_ID}"' in saved
    assert f'fusion_client_secret = "{CLIENT_SECRET}"' in saved

    commands_work_after_the_demo(tmp_path, config)

    second = demo(tmp_path, args)
    assert second.returncode == 0, second.stderr[-3000:]
    again = json.loads(second.stdout)["runs"]
    for repeat in again:
        assert repeat["extract"]["rows"] == 0
        assert repeat["export"]["batches"] == []
        assert repeat["submit"]["batches"] == []  # nothing is ever sent twice
    assert again[-1]["reconciliation"] == corrections["reconciliation"]


BASE = [sys.executable, "-m", "cli"]


def clean_environment() -> dict[str, str]:
    """The environment without any ehrfusion setting: what the demo wrote must suffice."""
    return {k: v for k, v in os.environ.items() if not k.startswith("EHRFUSION__")}


def demo(root: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*BASE, *args], cwd=root, env=clean_environment(), capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip


def commands_work_after_the_demo(root: Path, config: Path) -> None:
    """In new processes without any ehrfusion environment variable, as a user types them."""
    env = clean_environment()
    base = BASE

    def ehrfusion(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*base, *args, "--config", str(config)], cwd=root, env=env, capture_output=True,
            text=True, timeout=600,
        )  # fmt: skip

    serving = subprocess.Popen(
        [*base, "sandbox", "serve", "--config", str(config)], cwd=root, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    endpoints = root / "sandbox" / "endpoints.json"
    try:
        deadline = time.monotonic() + 60
        while "fusion" not in json.loads(endpoints.read_text())["endpoints"]:
            assert serving.poll() is None and time.monotonic() < deadline, serving.stderr.read()
            time.sleep(0.2)
        domain = ["--tenant", TENANT, "--stream", "epic", "--domain", "gl_journal"]
        for args in (
            ["plan", *domain],
            ["run", *domain],
            ["submit", *domain],
            ["queue", "list", "--tenant", TENANT],
            ["status"],
            ["audit", "verify", "--tenant", TENANT],
        ):
            done = ehrfusion(*args)
            assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        reconcile = ehrfusion("reconcile", "--tenant", TENANT, "--period", "2026-10", "--json")
        assert reconcile.returncode == 0, reconcile.stderr[-2000:]
        assert json.loads(reconcile.stdout)["status"] == "clean"  # the Fusion the demo posted to
    finally:
        serving.send_signal(signal.SIGTERM)
        serving.wait(timeout=60)
    assert serving.returncode == 0, serving.stderr.read()
    assert stat.S_IMODE((root / "sandbox" / "fusion_state.pickle").stat().st_mode) == 0o600
