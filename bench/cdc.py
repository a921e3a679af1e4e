"""Benchmark: the Sunrise CDC extract from a SQLite source into a DuckDB warehouse.

In one invocation, on one generated database:

1. full run: the first extract of a Sunrise database with `--scale` charges (every table, a
   snapshot of each);
2. incremental run after 1 % of the charges changed (inserts, updates, deletes, SFM overlays,
   late commits, and the rows they touch in the other tables); printed: its cost against the
   full run's (the target is at most 1/10);
3. the CDC path at about `--changes` changes (charges inserted and updated, with their
   encounters and supply rows), against a plain SQL copy of the same rows: the changed rows
   selected from the base tables with the same driver and Arrow conversion, written into a
   DuckDB table, no change tables and no dlt. Printed: rows/s of each and the ratio.

    .venv/bin/python -m bench.cdc [--scale 1000000] [--changes 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import sqlalchemy as sa

from extract.allscripts.sunrise import TABLES, extract_sunrise
from extract.shared.sql_changes import DELETED, to_arrow
from runtime.core.warehouse import Warehouse
from sandbox.sunrise import Mutation, generate, mutate
from sandbox.sunrise.database import sqlite_url

START = date(2026, 10, 1)


def timed(step, *args, **kwargs):
    started = time.perf_counter()
    result = step(*args, **kwargs)
    return result, time.perf_counter() - started


def latest_change(url: str) -> datetime:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        column = sa.column("last_modified", sa.DateTime)
        latest = max(
            conn.execute(
                sa.select(sa.func.max(column, type_=sa.DateTime)).select_from(sa.table(t.name))
            ).scalar()
            for t in TABLES
        )
    engine.dispose()
    return latest


def plain_copy(url: str, since: datetime, target: Path) -> int:
    """Rows changed after `since`, selected from the base tables into DuckDB tables."""
    engine = sa.create_engine(url)
    con = duckdb.connect(str(target))
    copied = 0
    with engine.connect() as conn:
        for spec in TABLES:
            cursor = sa.column(spec.cursor_column, sa.DateTime)
            query = (
                sa.select(*(sa.column(c) for c in spec.columns), sa.literal(0).label(DELETED))
                .select_from(sa.table(spec.name))
                .where(cursor > sa.bindparam("since", since, type_=sa.DateTime))
            )
            result = conn.execution_options(yield_per=50_000).execute(query)
            for number, partition in enumerate(result.partitions()):
                chunk, _ = to_arrow(partition, spec)
                chunk = chunk.drop_columns([DELETED])
                if number == 0:
                    con.execute(f"create or replace table {spec.name} as select * from chunk")
                else:
                    con.execute(f"insert into {spec.name} select * from chunk")
                copied += chunk.num_rows
    con.close()
    engine.dispose()
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ehrfusion-bench-cdc-") as tmp:
        root = Path(tmp)
        url = sqlite_url(root / "sunrise.db")
        warehouse = Warehouse("duckdb", "bench", duckdb_path=root / "warehouse.duckdb")

        def extract():
            return extract_sunrise(
                warehouse, "sunrise", url, "cdc", root / "dead_letter", root / "pipelines"
            )

        _, seconds = timed(generate, url, args.seed, args.scale, START, 31)
        print(f"generated {args.scale:,} charges (all tables) in {seconds:.1f} s")

        full, full_seconds = timed(extract)
        print(f"full run:        {full.rows:>10,} rows  {full_seconds:7.2f} s")

        changed = args.scale // 100
        mutate(
            url,
            args.seed,
            Mutation(
                1,
                inserts=changed // 4,
                updates=changed // 2,
                deletes=changed // 10,
                overlays=changed // 10,
                late=changed // 20,
            ),
        )
        incremental, incremental_seconds = timed(extract)
        ratio = incremental_seconds / full_seconds
        print(
            f"incremental run: {incremental.rows:>10,} rows  {incremental_seconds:7.2f} s  "
            f"after 1 % changed: {ratio:.3f} of the full run (target <= 0.100: "
            f"{'met' if ratio <= 0.1 else 'not met'})"
        )

        since = latest_change(url)
        # A charge inserted or updated brings encounter and supply rows with it: about 1.6
        # changes per charge; the count landed is printed.
        charges = round(args.changes / 1.6)
        _, seconds = timed(
            mutate, url, args.seed, Mutation(2, inserts=charges // 2, updates=charges // 2)
        )
        cdc, cdc_seconds = timed(extract)
        copied, copy_seconds = timed(plain_copy, url, since, root / "copy.duckdb")
        cdc_rate, copy_rate = cdc.rows / cdc_seconds, copied / copy_seconds
        print(f"(mutation batch of {cdc.rows:,} changes written in {seconds:.1f} s)")
        for label, rows, took, rate in (
            ("CDC path:       ", cdc.rows, cdc_seconds, cdc_rate),
            ("plain SQL copy: ", copied, copy_seconds, copy_rate),
        ):
            print(f"{label} {rows:>10,} rows  {took:7.2f} s  {rate:>9,.0f} rows/s")
        print(f"CDC path / plain copy: {cdc_seconds / copy_seconds:.2f}x the time")


if __name__ == "__main__":
    main()
