"""Hand-written DuckDB baseline for the GL journal path: feed files in, GL_INTERFACE CSV out.

It does what the product does for the Epic Resolute feed, in one DuckDB session and no
framework: read every daily Parquet file, parse the text amounts, map each line through the
effective-dated crosswalk (an exact department row beats the facility-wide `*` row), drop every
line of an entry that has any unparsable, unmapped or closed-period line or does not balance,
check that each feed day balances, and write a headerless 149-field `GlInterface.csv` in the
release's column order. Only the core columns are filled (no pseudonymised references), so the
product should be compared against it knowing it does strictly more work.

    python bench/baseline_duckdb.py --drop SANDBOX_DIR --seeds seeds --out OUT_DIR

prints one JSON line: rows_in, rows_out, seconds, rows_per_s, peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import duckdb
import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO / "load" / "formats" / "25B" / "GlInterface.yml"
FEED_GLOB = "epic/resolute/resolute_journal_*.parquet"
DECIMAL_TEXT = r"^-?[0-9]+([.][0-9]{1,2})?$"

# GL_INTERFACE column -> SQL expression over the `posted` table; every other column stays empty.
FILLED = {
    "STATUS": "'NEW'",
    "LEDGER_ID": "$ledger_id",
    "ACCOUNTING_DATE": "strftime(GL_DATE, '%Y/%m/%d')",
    "USER_JE_SOURCE_NAME": "$journal_source",
    "USER_JE_CATEGORY_NAME": "$journal_category",
    "CURRENCY_CODE": "CURRENCY_CODE",
    "DATE_CREATED": "strftime(POST_DATE, '%Y/%m/%d')",
    "ACTUAL_FLAG": "'A'",
    "SEGMENT1": "company",
    "SEGMENT2": "cost_center",
    "SEGMENT3": "account",
    "SEGMENT4": "sub_account",
    "SEGMENT5": "intercompany",
    "SEGMENT6": "future",
    "ENTERED_DR": "dr",
    "ENTERED_CR": "cr",
    "REFERENCE1": "'EPIC RESOLUTE ' || strftime(POST_DATE, '%Y%m%d')",
    "REFERENCE4": "JOURNAL_ID",
    "REFERENCE10": "LINE_DESCRIPTION",
}


def _amount(column: str) -> str:
    return (
        f"case when regexp_full_match(trim({column}), '{DECIMAL_TEXT}') "
        f"then cast(trim({column}) as decimal(18, 2)) end"
    )


def _is_bad_text(column: str) -> str:
    return (
        f"(coalesce(trim({column}), '') <> '' "
        f"and not regexp_full_match(trim({column}), '{DECIMAL_TEXT}'))"
    )


def _load(con: duckdb.DuckDBPyConnection, drop: Path, seeds: Path, ledger_name: str) -> None:
    con.execute(
        f"""
        create temp table crosswalk as
        select facility_id, department_id, source_account,
               cast(valid_from as date) as valid_from,
               cast(nullif(valid_to, '') as date) as valid_to,
               company, cost_center, account, sub_account, intercompany, future
        from read_csv('{seeds / "coa_crosswalk.csv"}', header = true, all_varchar = true)
        """
    )
    con.execute(
        f"""
        create temp table calendar as
        select cast(start_date as date) as start_date, cast(end_date as date) as end_date,
               closing_status
        from read_csv('{seeds / "gl_period_calendar.csv"}', header = true, all_varchar = true)
        where ledger_name = $ledger_name
        """,
        {"ledger_name": ledger_name},
    )
    con.execute(
        f"""
        create temp view lines as
        select JOURNAL_LINE_ID, JOURNAL_ID, POST_DATE, GL_DATE, FACILITY_ID, DEPARTMENT_ID,
               GL_ACCOUNT, CURRENCY_CODE, LINE_DESCRIPTION,
               {_amount("DEBIT_AMOUNT")} as dr,
               {_amount("CREDIT_AMOUNT")} as cr,
               (coalesce(trim(DEBIT_AMOUNT), '') = '' and coalesce(trim(CREDIT_AMOUNT), '') = '')
                 or {_is_bad_text("DEBIT_AMOUNT")} or {_is_bad_text("CREDIT_AMOUNT")}
                 as amount_bad
        from read_parquet('{drop / FEED_GLOB}')
        """
    )


def _transform(con: duckdb.DuckDBPyConnection) -> None:
    segments = ("company", "cost_center", "account", "sub_account", "intercompany", "future")
    picked = ",\n".join(f"coalesce(e.{s}, w.{s}) as {s}" for s in segments)
    con.execute(
        f"""
        create temp table posted as
        with mapped as (
            select l.*, {picked}, cal.closing_status
            from lines as l
            left join crosswalk as e
              on e.facility_id = l.FACILITY_ID and e.department_id = l.DEPARTMENT_ID
             and e.source_account = l.GL_ACCOUNT
             and l.GL_DATE >= e.valid_from and (e.valid_to is null or l.GL_DATE <= e.valid_to)
            left join crosswalk as w
              on w.facility_id = l.FACILITY_ID and w.department_id = '*'
             and w.source_account = l.GL_ACCOUNT
             and l.GL_DATE >= w.valid_from and (w.valid_to is null or l.GL_DATE <= w.valid_to)
            left join calendar as cal on l.GL_DATE between cal.start_date and cal.end_date
        ),
        entries as (
            select JOURNAL_ID,
                   bool_or(amount_bad or company is null
                           or closing_status is distinct from 'O') as held,
                   coalesce(sum(dr), 0) - coalesce(sum(cr), 0) as imbalance
            from mapped group by JOURNAL_ID
        )
        select POST_DATE, GL_DATE, JOURNAL_LINE_ID, JOURNAL_ID, CURRENCY_CODE,
               LINE_DESCRIPTION, dr, cr, {", ".join(segments)}
        from mapped join entries using (JOURNAL_ID)
        where not entries.held and entries.imbalance = 0
        """
    )


def _check_days_balance(con: duckdb.DuckDBPyConnection) -> None:
    unbalanced = con.execute(
        "select POST_DATE, sum(coalesce(dr, 0)) - sum(coalesce(cr, 0)) as diff "
        "from posted group by POST_DATE having diff <> 0 order by POST_DATE"
    ).fetchall()
    if unbalanced:
        raise SystemExit(f"feed days out of balance: {unbalanced}")


def _write(con: duckdb.DuckDBPyConnection, spec: Path, out: Path, params: dict) -> None:
    columns = [c["name"] for c in yaml.safe_load(spec.read_text())["columns"]]
    select = ", ".join(
        f"{FILLED[name]} as {name}" if name in FILLED else f"cast(null as varchar) as {name}"
        for name in columns
    )
    out.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""
        copy (select {select} from posted order by POST_DATE, JOURNAL_LINE_ID)
        to '{out / "GlInterface.csv"}' (format csv, header false, delimiter ',')
        """,
        params,
    )


def run(args: argparse.Namespace) -> dict:
    """Transform the drop into `<out>/GlInterface.csv`; return the measurement."""
    started = time.perf_counter()
    con = duckdb.connect()
    _load(con, args.drop, args.seeds, args.ledger_name)
    _transform(con)
    _check_days_balance(con)
    _write(
        con,
        args.spec,
        args.out,
        {
            "ledger_id": args.ledger_id,
            "journal_source": args.journal_source,
            "journal_category": args.journal_category,
        },
    )
    rows_in = con.execute("select count(*) from lines").fetchone()[0]
    rows_out = con.execute("select count(*) from posted").fetchone()[0]
    seconds = time.perf_counter() - started
    con.close()
    return {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows_in / seconds) if seconds else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drop", type=Path, required=True, help="sandbox output directory")
    parser.add_argument("--seeds", type=Path, required=True, help="folder with the seed CSVs")
    parser.add_argument("--out", type=Path, required=True, help="where GlInterface.csv goes")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="GL_INTERFACE format")
    parser.add_argument("--ledger-id", type=int, default=300000046975971)
    parser.add_argument("--ledger-name", default="EHF US Primary Ledger")
    parser.add_argument("--journal-source", default="Epic Resolute")
    parser.add_argument("--journal-category", default="Patient Revenue")
    print(json.dumps(run(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
