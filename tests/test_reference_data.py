"""Reference data (the dbt seeds every domain reads) is loaded with its tests only when its
content changed, and a seed that fails its tests stops the run until it is fixed."""

from __future__ import annotations

import shutil
from pathlib import Path

from runtime.dbt import PROJECT_DIR
from runtime.reference import ensure_reference_data
from runtime.run import TARGET_SETTINGS_ENV
from runtime.warehouse import Warehouse

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


def project_copy(root: Path) -> Path:
    """The shipped dbt project with its seeds beside it, as a deployment keeps its own."""
    shutil.copytree(PROJECT_DIR, root / "dbt_project", ignore=shutil.ignore_patterns("target"))
    shutil.copytree(PROJECT_DIR.parent / "seeds", root / "seeds")
    return root / "dbt_project"


def test_seeds_load_once_until_their_content_changes(warehouse, tmp_path):
    project = project_copy(tmp_path)
    env, work = environment(warehouse), tmp_path / "dbt"

    first = ensure_reference_data(warehouse, env, work, project)
    again = ensure_reference_data(warehouse, env, work, project)

    assert first is not None and first.success and first.seeds > 0 and first.checks
    assert again is None
    crosswalk = project.parent / "seeds" / "coa_crosswalk.csv"
    lines = crosswalk.read_text().splitlines()
    facility, department, _, *rest = lines[-1].split(",")
    new_row = ",".join([facility, department, "9999", *rest])  # a new source account
    crosswalk.write_text("\n".join([*lines, new_row]) + "\n")

    changed = ensure_reference_data(warehouse, env, work, project)

    assert changed is not None and changed.success


def test_a_seed_failing_its_tests_is_loaded_again_by_the_next_run(warehouse, tmp_path):
    project = project_copy(tmp_path)
    env, work = environment(warehouse), tmp_path / "dbt"
    crosswalk = project.parent / "seeds" / "coa_crosswalk.csv"
    good = crosswalk.read_text()
    lines = good.splitlines()
    crosswalk.write_text("\n".join([*lines, lines[-1]]) + "\n")  # an overlapping range

    failed = ensure_reference_data(warehouse, env, work, project)

    assert failed is not None and not failed.success
    assert any("no_overlapping_ranges" in check.name for check in failed.failed_checks)
    crosswalk.write_text(good)
    fixed = ensure_reference_data(warehouse, env, work, project)
    assert fixed is not None and fixed.success
