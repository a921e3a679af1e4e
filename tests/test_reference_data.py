"""Reference data (the dbt seeds the domains read) is loaded with its tests by a domain build
only when its content changed since that build's selector loaded it, and a seed that fails its
tests stops the run until it is fixed."""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from runtime.core.warehouse import Warehouse
from runtime.pipeline.dbt import PROJECT_DIR, DbtOutcome, run_dbt
from runtime.pipeline.domain import RunResult
from runtime.pipeline.reference import WITHOUT_SEEDS, build_with_reference_data
from runtime.pipeline.run import TARGET_SETTINGS_ENV
from runtime.reports.summary import render_run

PHI_KEY = "reference-test-key-0123456789abcdef0123"


def environment(warehouse: Warehouse) -> dict[str, str]:
    return (
        dict.fromkeys(TARGET_SETTINGS_ENV, "")
        | warehouse.dbt_env(PHI_KEY)
        | {
            "EHRFUSION_PHI_MODE": "pseudonymized",
            "EHRFUSION_PHI_KEY_VERSION": "v1",
            "EHRFUSION_LEDGER_ID": "0",
            "EHRFUSION_STREAM": "s",
            "EHRFUSION_DOMAIN": "d",
        }
    )


def build(warehouse: Warehouse, project: Path, work: Path) -> tuple[DbtOutcome, list[str]]:
    """Build like a run does, for a selection of the seeds alone (models need landed data);
    returns the outcome and the seed arguments it was built with."""
    used: list[list[str]] = []

    def run(seeds: list[str]) -> DbtOutcome:
        used.append(seeds)
        args = ["--select", "resource_type:seed", *seeds, "--indirect-selection", "cautious"]
        return run_dbt("build", args, environment(warehouse), work, project)

    outcome = build_with_reference_data(warehouse, "seeds", project, run)
    return outcome, used[0]


def project_copy(root: Path) -> Path:
    """The shipped dbt project with its seeds beside it, as a deployment keeps its own."""
    shutil.copytree(PROJECT_DIR, root / "dbt_project", ignore=shutil.ignore_patterns("target"))
    shutil.copytree(PROJECT_DIR.parent / "seeds", root / "seeds")
    return root / "dbt_project"


def test_seeds_load_once_until_their_content_changes(warehouse, tmp_path):
    project, work = project_copy(tmp_path), tmp_path / "dbt"

    first, first_seeds = build(warehouse, project, work)
    again, again_seeds = build(warehouse, project, work)

    assert first.success and first.seeds > 0 and first_seeds == []
    assert again.success and again.seeds == 0 and again_seeds == WITHOUT_SEEDS
    crosswalk = project.parent / "seeds" / "coa_crosswalk.csv"
    lines = crosswalk.read_text().splitlines()
    facility, department, _, *rest = lines[-1].split(",")
    new_row = ",".join([facility, department, "9999", *rest])  # a new source account
    crosswalk.write_text("\n".join([*lines, new_row]) + "\n")

    changed, changed_seeds = build(warehouse, project, work)

    assert changed.success and changed.seeds > 0 and changed_seeds == []


def test_a_seed_failing_its_tests_is_loaded_again_by_the_next_run(warehouse, tmp_path):
    project, work = project_copy(tmp_path), tmp_path / "dbt"
    crosswalk = project.parent / "seeds" / "coa_crosswalk.csv"
    good = crosswalk.read_text()
    lines = good.splitlines()
    crosswalk.write_text("\n".join([*lines, lines[-1]]) + "\n")  # an overlapping range

    failed, _ = build(warehouse, project, work)

    assert not failed.success
    assert any("no_overlapping_ranges" in check.name for check in failed.failed_checks)
    crosswalk.write_text(good)
    fixed, seeds = build(warehouse, project, work)
    assert fixed.success and seeds == []


def test_a_malformed_seed_row_is_shown_first_and_the_checks_it_stopped_as_skipped(
    warehouse, tmp_path
):
    project, work = project_copy(tmp_path), tmp_path / "dbt"
    crosswalk = project.parent / "seeds" / "coa_crosswalk.csv"
    lines = crosswalk.read_text().splitlines()
    lines[86] += ",extra"  # line 87 of the file: one value too many
    crosswalk.write_text("\n".join(lines) + "\n")

    outcome, _ = build(warehouse, project, work)

    assert not outcome.success
    assert outcome.failed_checks == []  # no check ran, so none failed
    assert outcome.skipped_checks and all(c.status == "skipped" for c in outcome.skipped_checks)
    [error] = outcome.errors
    assert error.startswith("seed coa_crosswalk: line 87 of seeds/coa_crosswalk.csv has 12 values")
    assert "materialization" not in error  # dbt's macro trace is left out

    result = RunResult("t", "s", "d", "duckdb", status="quality_gate_failed", dbt=outcome)
    console = Console(record=True, width=300)
    render_run(result, console)
    text = console.export_text()
    assert text.index("line 87 of seeds/coa_crosswalk.csv") < text.index("checks passed")
    assert f"0 failed, {len(outcome.skipped_checks)} skipped" in text
    assert "failed check" not in text
