"""The tenant's reference data: the dbt seeds (crosswalks, period calendar, status maps) the
domains' models read.

A domain build loads its selection's seeds, with their tests, only when the seed files changed
since a build of its target last loaded them (a digest per target, e.g. `allscripts_sunrise:
GlInterface`, in `<tenant>_ops.reference_state`);
otherwise it excludes seeds, so an unchanged seed costs nothing. Loading takes the tenant's
reference lock exclusively and builds that only read seeds take it shared: streams running in
parallel on Postgres never replace a seed table while another build reads or replaces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from runtime.core.warehouse import Warehouse
from runtime.pipeline.dbt import PROJECT_DIR, DbtOutcome
from runtime.pipeline.locks import reference_lock

# dbt `build` arguments that leave the seeds as they are.
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


def build_with_reference_data(
    warehouse: Warehouse,
    selector: str,
    project_dir: Path | None,
    build: Callable[[list[str]], DbtOutcome],
) -> DbtOutcome:
    """Run `build(extra_args)`: with the selector's seeds when they changed since it last
    loaded them (recorded once the build succeeds), else with WITHOUT_SEEDS."""
    digest = seeds_digest(project_dir)
    with reference_lock(warehouse, shared=False):
        _ensure_table(warehouse)  # concurrent `create ... if not exists` can collide on Postgres
    with reference_lock(warehouse, shared=True):
        if _loaded(warehouse, selector) == digest:
            return build(WITHOUT_SEEDS)
    with reference_lock(warehouse, shared=False):
        if _loaded(warehouse, selector) == digest:  # another run loaded them meanwhile
            return build(WITHOUT_SEEDS)
        outcome = build([])
        if outcome.success:
            _record(warehouse, selector, digest)
        return outcome


def _table(warehouse: Warehouse) -> str:
    return f"{warehouse.schema('ops')}.reference_state"


def _ensure_table(warehouse: Warehouse) -> None:
    with warehouse.connect() as con:
        cur = con.cursor()
        cur.execute(f"create schema if not exists {warehouse.schema('ops')}")
        cur.execute(
            f"create table if not exists {_table(warehouse)} (selector text primary key, "
            "digest text not null, loaded_at timestamp with time zone not null)"
        )


def _loaded(warehouse: Warehouse, selector: str) -> str | None:
    rows = warehouse.query(
        f"select digest from {_table(warehouse)} where selector = %s", (selector,)
    )
    return rows[0][0] if rows else None


def _record(warehouse: Warehouse, selector: str, digest: str) -> None:
    statements = (
        (f"delete from {_table(warehouse)} where selector = %s", (selector,)),
        (
            f"insert into {_table(warehouse)} (selector, digest, loaded_at) values (%s, %s, %s)",
            (selector, digest, datetime.now(UTC)),
        ),
    )
    with warehouse.connect() as con:
        cur = con.cursor()
        for sql, params in statements:
            cur.execute(sql.replace("%s", "?") if warehouse.kind == "duckdb" else sql, params)
