"""dbt's parse is kept in the tenant's dbt folder across processes, one state per environment:
a domain's next run re-parses nothing, however many other domains ran in between, and a
changed model is the only thing parsed again. The state never names or holds the PHI key."""

from __future__ import annotations

import shutil
from pathlib import Path

from runtime.core.warehouse import Warehouse
from runtime.pipeline import dbt
from runtime.pipeline.dbt import PARSE_FILE, PROJECT_DIR, parse_state_dir, parse_state_path, run_dbt
from runtime.pipeline.run import TARGET_SETTINGS_ENV
from tests.conftest import TENANT

PHI_KEY = "parse-state-test-key-0123456789abcdef0123"


def environment(tmp_path: Path, stream: str, domain: str) -> dict[str, str]:
    warehouse = Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")
    return (
        dict.fromkeys(TARGET_SETTINGS_ENV, "")
        | warehouse.dbt_env(PHI_KEY)
        | {
            "EHRFUSION_PHI_MODE": "pseudonymized",
            "EHRFUSION_PHI_KEY_VERSION": "v1",
            "EHRFUSION_LEDGER_ID": "0",
            "EHRFUSION_STREAM": stream,
            "EHRFUSION_DOMAIN": domain,
        }
    )


def parsed(work: Path) -> int | None:
    """When dbt last wrote a parse into the target folder (it writes one only after parsing)."""
    written = work / "target" / PARSE_FILE
    return written.stat().st_mtime_ns if written.exists() else None


def test_each_environment_keeps_its_parse_and_only_changes_are_parsed_again(tmp_path, monkeypatch):
    monkeypatch.delenv(dbt.PARSE_DIR_ENV, raising=False)  # the tenant's own folder
    project = tmp_path / "dbt_project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copytree(PROJECT_DIR.parent / "seeds", tmp_path / "seeds")
    work = tmp_path / "work" / TENANT / "dbt"
    epic, sunrise = environment(tmp_path, "epic", "gl"), environment(tmp_path, "sunrise", "gl")

    assert run_dbt("parse", [], epic, work, project).success
    assert run_dbt("parse", [], sunrise, work, project).success
    states = {parse_state_path(work, project, env) for env in (epic, sunrise)}
    assert len(states) == 2 and all(state.is_file() for state in states)
    last_parse = parsed(work)

    assert run_dbt("parse", [], epic, work, project).success
    assert parsed(work) == last_parse  # the other domain's run left nothing to parse again

    model = project / "models" / "marts" / "journal" / "fusion__gl_interface.sql"
    model.write_text(model.read_text() + "\n-- reviewed\n")
    assert run_dbt("parse", [], epic, work, project).success
    assert parsed(work) != last_parse
    log = (work / "logs" / "dbt.log").read_text()
    assert log.count("Unable to do partial parsing") == 1  # only the very first parse was full

    for state in parse_state_dir(work).iterdir():
        assert PHI_KEY not in state.name
        assert PHI_KEY.encode() not in state.read_bytes()
