"""A record object's models are shared by the tenant's domains of that object: two streams
building the same object's models at the same time on Postgres write their own rows, and each
domain's rows are exactly what its build alone makes of them (the journal chain's guarantee,
tests/test_journal_chain_shared.py, for inventory transactions)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2

from runtime.core.catalog import RECORD_OBJECTS
from runtime.core.config import FusionTarget
from runtime.core.targets import dbt_selection, record_rows
from runtime.core.warehouse import Warehouse
from runtime.pipeline.dbt import run_dbt
from runtime.pipeline.posting import Posting
from runtime.pipeline.reference import WITHOUT_SEEDS
from runtime.pipeline.run import dbt_environment
from tests.conftest import PHI_KEY, TENANT
from tests.test_sunrise_inventory_and_assets import UNMAPPED, Source, _domain, run_day

ROOT = Path(__file__).resolve().parent.parent
CHAIN = RECORD_OBJECTS["InvTransactionsInterface"].chain
STREAMS = {
    stream: _domain(
        "supplies", FusionTarget("InvTransactionsInterface", "25B", source_code=stream.upper())
    )
    for stream in ("east", "west")
}
# The object's shared tables (and the accepted records every record object copies per domain).
TABLES = (
    ("staging", "stg_ops__fusion_records"),
    ("intermediate", "int_inv_transactions_mapped"),
    ("intermediate", "int_inv_transaction_deltas"),
    ("intermediate", "int_inv_transactions_reconciled"),
    ("marts", "fusion__inv_transactions"),
    ("marts", "exceptions__inv_transactions"),
)
# One build of the object's shared models for one domain, in a process of its own (dbt runs one
# invocation per process); its outcome comes back as JSON.
BUILD = """
import json, sys
from pathlib import Path
from runtime.pipeline.dbt import run_dbt
job = json.load(sys.stdin)
outcome = run_dbt("build", job["args"], job["env"], Path(job["work"]))
failed = [check.name for check in outcome.failed_checks]
print(json.dumps({"success": outcome.success, "errors": outcome.errors, "failed": failed}))
"""


def domain_rows(warehouse: Warehouse) -> dict[tuple[str, str], tuple]:
    """Per shared table and domain: its rows and a fingerprint of their values (the batch day
    left out, so a build after midnight compares too)."""
    found = {}
    for layer, table in TABLES:
        rows = warehouse.query(
            "select stream_name || '/' || domain_name, count(*), "
            "md5(string_agg((to_jsonb(t) - 'batch_date')::text, ',' order by "
            "(to_jsonb(t) - 'batch_date')::text)) "
            f"from {warehouse.schema(layer)}.{table} as t group by 1"
        )
        found.update({(table, owner): (n, mark) for owner, n, mark in rows})
    return found


def start_build(warehouse: Warehouse, stream: str, work_dir: Path) -> subprocess.Popen:
    """`dbt build` of the object's shared models for the stream's domain, as a run whose seeds
    are loaded already builds them (the contribution is the source's, not the domain's)."""
    job = {
        "args": ["--select", f"tag:{CHAIN}", *WITHOUT_SEEDS, "--indirect-selection", "cautious"],
        "env": dbt_environment(warehouse, stream, STREAMS[stream], PHI_KEY),
        "work": str(work_dir / stream),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", BUILD],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    process.stdin.write(json.dumps(job))
    process.stdin.close()
    return process


def finished(process: subprocess.Popen) -> dict:
    """The outcome a build process printed last."""
    output = process.stdout.read()
    process.wait()
    return json.loads(output.splitlines()[-1])


def waiting_on(pg_dsn: str, relation: str) -> int:
    """Sessions waiting for a lock on `relation`."""
    with psycopg2.connect(pg_dsn) as con, con.cursor() as cur:
        cur.execute(
            "select count(*) from pg_locks where not granted and relation = %s::regclass",
            (relation,),
        )
        return cur.fetchone()[0]


def test_two_streams_build_the_same_record_object_at_once_and_keep_their_rows_apart(
    tmp_path, phi_key, pg_dsn
):
    warehouse = Warehouse("postgres", TENANT, dsn=pg_dsn)
    source = Source(warehouse, tmp_path)
    [(held,)] = source.rows("select min(consumption_id) from supply_consumption")
    source.change(
        "update supply_consumption set location_code = ?, last_modified = ? "
        "where consumption_id = ?",
        UNMAPPED, source.now(), held,
    )  # fmt: skip
    source.land()
    Posting(warehouse).ensure()
    work_dir = tmp_path / "work"
    for stream in STREAMS:
        build_domain(warehouse, stream, work_dir)
    # Fusion accepted ten of east's transactions and three of west's: each domain's next build
    # sends the others, each from its own acceptances.
    sent = {}
    for stream, accepted in (("east", slice(0, 10)), ("west", slice(-3, None))):
        mart = record_rows(warehouse, stream, "supplies", "fusion__inv_transactions", "sent")
        sent[stream] = warehouse.query(
            f"select record_key, record_hash, measure from {mart} order by 1"
        )
        accept_for(warehouse, stream, sent[stream][accepted])
        build_domain(warehouse, stream, work_dir)

    alone = domain_rows(warehouse)
    owners = {"east/supplies", "west/supplies"}
    for _, table in TABLES:
        assert {owner for (t, owner) in alone if t == table} == owners, table
    assert alone[("fusion__inv_transactions", "east/supplies")][0] == len(sent["east"]) - 10
    assert alone[("fusion__inv_transactions", "west/supplies")][0] == len(sent["west"]) - 3

    # Both streams build again at once: neither may see, replace or delete the other's rows.
    # Holding the accepted records makes both builds wait at the same model, then go together.
    ops = f"{warehouse.schema('ops')}.fusion_records"
    gate = psycopg2.connect(pg_dsn)
    try:
        gate.cursor().execute(f"lock table {ops} in access exclusive mode")
        builds = {stream: start_build(warehouse, stream, work_dir) for stream in STREAMS}
        for _ in range(1200):
            if waiting_on(pg_dsn, ops) >= len(builds) or any(
                b.poll() is not None for b in builds.values()
            ):
                break
            time.sleep(0.25)
        assert waiting_on(pg_dsn, ops) == len(builds), "both builds wait at the accepted records"
    finally:
        gate.rollback()  # releases the lock: the builds go on at the same time
        gate.close()
    outcomes = {stream: finished(build) for stream, build in builds.items()}
    assert outcomes == {s: {"success": True, "errors": [], "failed": []} for s in STREAMS}

    assert domain_rows(warehouse) == alone


def build_domain(warehouse: Warehouse, stream: str, work_dir: Path) -> None:
    """The domain's whole selection (seeds included), alone, as its run builds it."""
    domain = STREAMS[stream]
    env = dbt_environment(warehouse, stream, domain, PHI_KEY)
    args = [*dbt_selection(domain), "--indirect-selection", "cautious"]
    outcome = run_dbt("build", args, env, work_dir / stream)
    assert outcome.success, outcome.errors
    assert not outcome.failed_checks, [check.name for check in outcome.failed_checks]


def accept_for(warehouse: Warehouse, stream: str, records: list[tuple]) -> None:
    """Record (record_key, record_hash, measure) as accepted by Fusion for the stream's domain
    in yesterday's batch."""
    day = run_day() - timedelta(days=1)
    accepted_at = datetime.combine(day, datetime.min.time(), UTC)
    for key, record_hash, measure in records:
        warehouse.query(
            f"insert into {warehouse.schema('ops')}.fusion_records (stream, domain, batch_id, "
            "batch_date, record_key, record_hash, measure, accepted_at) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (stream, "supplies", f"{stream}-{day:%Y%m%d}", day, key, record_hash, measure,
             accepted_at),
        )  # fmt: skip
