"""The tenant's reference data: the dbt seeds (crosswalks, period calendar, status maps) every
domain's models read.

Seeds are loaded, with their tests, only when their content changed since they were last loaded
for the tenant (a digest kept in `<tenant>_ops.reference_state`), under a tenant-wide lock: runs
of streams in parallel on Postgres would otherwise replace the same tables at the same time, and
every run would pay for reloading tables that did not change. Domain builds then exclude seeds.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

from runtime.dbt import PROJECT_DIR, DbtOutcome, run_dbt
from runtime.locks import reference_lock
from runtime.warehouse import Warehouse

SEED_ARGS = ["--select", "resource_type:seed", "--indirect-selection", "cautious"]
# Under the tenant's dbt folder: where the last seed load's results are kept, so the finance
# page shows its checks beside the last domain build's (both share one target folder, hence
# one parse).
REFERENCE_DIR = "reference"
_RESULTS = ("run_results.json", "manifest.json")
# dbt `build` arguments that leave the seeds to `ensure_reference_data`.
WITHOUT_SEEDS = ["--exclude", "resource_type:seed"]


def seeds_digest(project_dir: Path | None) -> str:
    """SHA-256 over the seed files (names and bytes) and the project settings that type them."""
    project = project_dir or PROJECT_DIR
    digest = hashlib.sha256()
    files = [project / "dbt_project.yml", *sorted((project.parent / "seeds").rglob("*"))]
    for path in files:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_reference_data(
    warehouse: Warehouse, env: dict[str, str], work_dir: Path, project_dir: Path | None
) -> DbtOutcome | None:
    """Load the seeds and run their tests when their content changed; None when it did not.
    A failed load is retried by the next run (its digest is not recorded). `work_dir` is the
    tenant's dbt folder."""
    digest = seeds_digest(project_dir)
    table = f"{warehouse.schema('ops')}.reference_state"
    with reference_lock(warehouse):
        with warehouse.connect() as con:
            cur = con.cursor()
            cur.execute(f"create schema if not exists {warehouse.schema('ops')}")
            cur.execute(
                f"create table if not exists {table} "
                "(digest text not null, loaded_at timestamp with time zone not null)"
            )
        loaded = warehouse.query(f"select digest from {table}")
        if loaded and loaded[0][0] == digest:
            return None
        outcome = run_dbt("build", SEED_ARGS, env, work_dir, project_dir)
        _keep_results(work_dir)
        if outcome.success:
            with warehouse.connect() as con:
                cur = con.cursor()
                cur.execute(f"delete from {table}")
                sql = f"insert into {table} (digest, loaded_at) values (%s, %s)"
                if warehouse.kind == "duckdb":
                    sql = sql.replace("%s", "?")
                cur.execute(sql, (digest, datetime.now(UTC)))
        return outcome


def _keep_results(work_dir: Path) -> None:
    kept = work_dir / REFERENCE_DIR / "target"
    kept.mkdir(parents=True, exist_ok=True)
    for name in _RESULTS:
        if (work_dir / "target" / name).is_file():
            shutil.copyfile(work_dir / "target" / name, kept / name)
