"""Hand-written DuckDB baseline for the GL journal path: feed files in, one GL_INTERFACE zip per
delivery day out.

It does the output work the product does for a first run of the Epic Resolute feed, in one
DuckDB session and no framework:

- reads every daily and restatement Parquet file, checks that each line's POST_DATE is not
  after its file's day and that a line id appears in one daily file only, and keeps each line's
  latest delivery (a later file wins; on one day the restatement over the daily file);
- parses the text amounts (missing, non-numeric), pseudonymizes the patient MRN and the
  hospital account with keyed HMAC-SHA256 (`hmac(key, '<kind>:<value>')`, hex);
- maps each line through the effective-dated COA crosswalk (an exact department row beats the
  facility-wide `*` row) and finds its GL period by a day-by-day calendar;
- gives each line at most one exception reason, holds every line of an entry with an
  exception line or out of balance (voided lines post nothing and count for nothing), writes
  the held lines with their reasons to `exceptions.parquet`;
- dates each entry in the batch of its latest delivery and checks that every batch balances;
- writes per batch day a headerless GlInterface.csv with every column the product fills
  (LEDGER_NAME, PERIOD_NAME, REFERENCE1/2 batch name and description, REFERENCE4 journal,
  REFERENCE5 billing system and transaction type, REFERENCE10 description, REFERENCE21/22
  pseudonyms, REFERENCE23 line id, REFERENCE24 key version, REFERENCE25 line kind, GROUP_ID)
  in the release's column order, sorted like the product's batches, into a deterministic zip
  (fixed timestamps and modes, DEFLATE level 1), with a manifest (rows, debit/credit totals,
  sha256 of the CSV and the zip).

A first run has nothing posted in Fusion, so every entry is new: the baseline has no posted
state to compute corrections against, and the product's correction paths add (nearly) nothing
to such a run. Not done here, and done by the product: landing the rows into a warehouse with
their cursor, data tests, the reconciliation and exception marts, recording handed-over lines,
the accounting of disclosures, locks, ledger and metrics.

The zips are byte-identical to the product's (`bench/run.py` counts the batches whose zips
match), so the two sides are known to have done the same output work.

    python bench/baseline_duckdb.py --drop SANDBOX_DIR --seeds seeds --out OUT_DIR

prints one JSON line: rows_in, rows_out, batches, held_lines, seconds, rows_per_s, peak_rss_mb.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO / "load" / "formats" / "25B" / "GlInterface.yml"
FEED_GLOB = "epic/resolute/resolute_*.parquet"
DECIMAL_TEXT = r"^-?[0-9]+([.][0-9]{1,2})?$"
KEY_ENV = "EHRFUSION__BENCH__PHI_KEY"
SEGMENTS = ("company", "cost_center", "account", "sub_account", "intercompany", "future")

# GL_INTERFACE column -> SQL expression over the `posted` table; every other column stays empty.
FILLED = {
    "STATUS": "'NEW'",
    "LEDGER_ID": "$ledger_id",
    "ACCOUNTING_DATE": "strftime(accounting_date, '%Y/%m/%d')",
    "USER_JE_SOURCE_NAME": "$journal_source",
    "USER_JE_CATEGORY_NAME": "$journal_category",
    "CURRENCY_CODE": "currency_code",
    "DATE_CREATED": "strftime(batch_date, '%Y/%m/%d')",
    "ACTUAL_FLAG": "'A'",
    "LEDGER_NAME": "$ledger_name",
    "PERIOD_NAME": "period_name",
    **{f"SEGMENT{i}": segment for i, segment in enumerate(SEGMENTS, start=1)},
    "ENTERED_DR": "nullif(dr, 0)",
    "ENTERED_CR": "nullif(cr, 0)",
    "REFERENCE1": "$batch_name || ' ' || strftime(batch_date, '%Y%m%d')",
    "REFERENCE2": "$batch_description || ' ' || strftime(batch_date, '%Y%m%d')",
    "REFERENCE4": "journal_id",
    "REFERENCE5": "billing_system || ' ' || tx_type",
    "REFERENCE10": "line_description",
    "REFERENCE21": "account_pseudonym",
    "REFERENCE22": "patient_pseudonym",
    "REFERENCE23": "cast(line_id as varchar)",
    "REFERENCE24": "$key_version",
    "REFERENCE25": "'NEW'",
    "GROUP_ID": "strftime(batch_date, '%Y%m%d')",
}


def hmac_pads(key: str) -> tuple[bytes, bytes]:
    """HMAC-SHA256's (inner, outer) padded keys (RFC 2104)."""
    raw = key.encode()
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in raw), bytes(b ^ 0x5C for b in raw)


def _hmac(column: str, kind: str) -> str:
    """Hex HMAC-SHA256 of '<kind>:<value>' under the key whose pads are $inner and $outer."""
    return f"sha256($outer || unhex(sha256($inner || encode('{kind}:' || {column}))))"


def _amount(column: str) -> str:
    return (
        f"case when regexp_full_match(trim({column}), '{DECIMAL_TEXT}') "
        f"then cast(trim({column}) as decimal(18, 2)) end"
    )


def _blank(column: str) -> str:
    return f"coalesce(trim({column}), '') = ''"


def _bad_text(column: str) -> str:
    return f"(not {_blank(column)} and not regexp_full_match(trim({column}), '{DECIMAL_TEXT}'))"


def _load(con: duckdb.DuckDBPyConnection, drop: Path, seeds: Path, key: str, ledger: str) -> None:
    con.execute(
        f"""
        create temp table crosswalk as
        select facility_id, department_id, source_account,
               cast(valid_from as date) as valid_from,
               cast(nullif(valid_to, '') as date) as valid_to,
               {", ".join(SEGMENTS)}
        from read_csv('{seeds / "coa_crosswalk.csv"}', header = true, all_varchar = true)
        """
    )
    con.execute(
        f"""
        create temp table calendar as
        select cast(day as date) as day, period_name, closing_status
        from read_csv('{seeds / "gl_period_calendar.csv"}', header = true, all_varchar = true),
             generate_series(cast(start_date as timestamp), cast(end_date as timestamp),
                             interval 1 day) as days (day)
        where ledger_name = $ledger
        """,
        {"ledger": ledger},
    )
    # Every delivery of every line; the file's day is its delivery day.
    con.execute(
        f"""
        create temp view deliveries as
        select *,
               parse_filename(filename) as source_file,
               strptime(regexp_extract(parse_filename(filename), '_([0-9]{{8}})[.]', 1),
                        '%Y%m%d')::date as delivered_on
        from read_parquet('{drop / FEED_GLOB}', filename = true, union_by_name = true)
        """
    )
    late = con.execute("select count(*) from deliveries where POST_DATE > delivered_on").fetchall()[
        0
    ][0]
    twice = con.execute(
        "select count(*) from (select JOURNAL_LINE_ID from deliveries "
        "where source_file like 'resolute_journal_%' group by 1 having count(*) > 1)"
    ).fetchall()[0][0]
    if late or twice:
        raise SystemExit(f"feed contract broken: {late} lines dated after their file, "
                         f"{twice} line ids in more than one daily file")  # fmt: skip
    described = con.execute("select column_name from (describe deliveries)").fetchall()
    status = "RECORD_STATUS" if ("RECORD_STATUS",) in described else "null"
    inner, outer = hmac_pads(key)
    con.execute(
        f"""
        create temp table lines as
        select JOURNAL_LINE_ID as line_id, JOURNAL_ID as journal_id,
               BILLING_SYSTEM as billing_system, TX_TYPE as tx_type,
               FACILITY_ID as facility_id, DEPARTMENT_ID as department_id,
               GL_ACCOUNT as source_account, CURRENCY_CODE as currency_code,
               LINE_DESCRIPTION as line_description, GL_DATE as accounting_date, delivered_on,
               coalesce({status}, 'ACTIVE') = 'VOIDED' as is_voided,
               {_hmac("HSP_ACCOUNT_ID", "hospital_account")} as account_pseudonym,
               {_hmac("PAT_MRN_ID", "mrn")} as patient_pseudonym,
               {_amount("DEBIT_AMOUNT")} as dr,
               {_amount("CREDIT_AMOUNT")} as cr,
               case
                   when {_blank("DEBIT_AMOUNT")} and {_blank("CREDIT_AMOUNT")} then 'missing_amount'
                   when {_bad_text("DEBIT_AMOUNT")} or {_bad_text("CREDIT_AMOUNT")}
                       then 'non_numeric_amount'
               end as amount_problem
        from deliveries
        qualify row_number() over (
            partition by JOURNAL_LINE_ID order by delivered_on desc, source_file desc
        ) = 1
        """,
        {"inner": inner, "outer": outer},
    )


def _validate(con: duckdb.DuckDBPyConnection) -> None:
    """Map, give each line its reason, hold whole entries, date entries in their batch."""
    picked = ",\n".join(f"coalesce(e.{s}, w.{s}) as {s}" for s in SEGMENTS)
    con.execute(
        f"""
        create temp table checked as
        with mapped as (
            select l.*, {picked}, cal.period_name, cal.closing_status
            from lines as l
            left join crosswalk as e
              on e.facility_id = l.facility_id and e.department_id = l.department_id
             and e.source_account = l.source_account and l.accounting_date >= e.valid_from
             and (e.valid_to is null or l.accounting_date <= e.valid_to)
            left join crosswalk as w
              on w.facility_id = l.facility_id and w.department_id = '*'
             and w.source_account = l.source_account and l.accounting_date >= w.valid_from
             and (w.valid_to is null or l.accounting_date <= w.valid_to)
            left join calendar as cal on cal.day = l.accounting_date
        ),
        reasons as (
            select *,
                   case
                       when is_voided then null
                       when amount_problem is not null then amount_problem
                       when company is null then 'unmapped_coa'
                       when period_name is null then 'no_gl_period'
                       when closing_status = 'C' then 'closed_period'
                       when closing_status <> 'O' then 'period_not_open'
                   end as line_reason
            from mapped
        ),
        entries as (
            select journal_id,
                   max(delivered_on) as batch_date,
                   count(line_reason) as exception_lines,
                   coalesce(sum(dr) filter (where not is_voided), 0)
                   - coalesce(sum(cr) filter (where not is_voided), 0) as imbalance
            from reasons group by journal_id
        )
        select reasons.*, entries.batch_date,
               coalesce(line_reason,
                        case when exception_lines > 0 then 'held_with_entry'
                             when imbalance <> 0 then 'entry_out_of_balance' end)
                   as exception_reason
        from reasons join entries using (journal_id)
        """
    )
    con.execute(
        "copy (select * exclude (account_pseudonym, patient_pseudonym) from checked "
        "where exception_reason is not null) to $path (format parquet)",
        {"path": str(_OUT / "exceptions.parquet")},
    )
    con.execute(
        "create temp table posted as select * from checked "
        "where exception_reason is null and not is_voided and (dr <> 0 or cr <> 0) "
        "order by batch_date"
    )
    unbalanced = con.execute(
        "select batch_date from posted group by batch_date "
        "having sum(coalesce(dr, 0)) <> sum(coalesce(cr, 0))"
    ).fetchall()
    if unbalanced:
        raise SystemExit(f"batches out of balance: {unbalanced}")


# Text fields that never need quotes: constants (quoted in Python once), hex and digits.
_PLAIN = {"STATUS", "LEDGER_NAME", "USER_JE_SOURCE_NAME", "USER_JE_CATEGORY_NAME", "ACTUAL_FLAG",
          "REFERENCE21", "REFERENCE22", "REFERENCE23", "REFERENCE24", "REFERENCE25"}  # fmt: skip


def _csv_field(value: str) -> str:
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _text(expression: str) -> str:
    """A text field as CSV writes it: quoted only when it holds a comma, quote or line break."""
    return (
        f"case when regexp_matches({expression}, '[,\"\\r\\n]') "
        f"then '\"' || replace({expression}, '\"', '\"\"') || '\"' else {expression} end"
    )


def _line_sql(spec: Path) -> str:
    """One CSV line per row (with its line break): the filled fields at their positions."""
    layout = yaml.safe_load(spec.read_text())
    columns = {
        c["name"]: (c.get("position", i), c["type"]) for i, c in enumerate(layout["columns"], 1)
    }
    fields = [""] * max(p for p, _ in columns.values())
    for name, expression in FILLED.items():
        position, kind = columns[name]
        text = f"cast({expression} as varchar)"
        fields[position - 1] = _text(text) if kind == "text" and name not in _PLAIN else text
    tokens, literal = [], ""
    for i, field in enumerate(fields):
        literal += "," if i else ""
        if field:
            tokens += [f"'{literal}'"] if literal else []
            tokens.append(field)
            literal = ""
    tokens.append(f"'{literal}'")
    tokens.append("chr(10)")
    # concat() writes a null as nothing, and builds each line once.
    return f"concat({', '.join(tokens)})"


class _Zip:
    """A zip with one entry whose bytes depend only on its name and content."""

    def __init__(self, path: Path, entry: str) -> None:
        info = zipfile.ZipInfo(entry, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = (0o100000 | 0o644) << 16
        info._compresslevel = 1
        self.path = path
        self.archive = zipfile.ZipFile(path, "w", allowZip64=False)
        self.entry = self.archive.open(info, "w")
        self.csv_sha256 = hashlib.sha256()

    def write(self, data: memoryview) -> None:
        self.entry.write(data)
        self.csv_sha256.update(data)

    def close(self) -> str:
        self.entry.close()
        self.archive.close()
        digest = hashlib.sha256()
        with self.path.open("rb") as written:
            while block := written.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()


def _write(con: duckdb.DuckDBPyConnection, spec: Path, params: dict) -> list[dict]:
    """One zip and manifest per batch day; a thread compresses a day while the next is built."""
    line = _line_sql(spec)
    days = con.execute("select distinct batch_date from posted order by 1").fetchall()
    days = [day for (day,) in days]
    with ThreadPoolExecutor(max_workers=1) as zipper:
        pending = []
        for day in days:
            lines = con.sql(
                f"select {line} as line from posted where batch_date = $day "
                "order by journal_id, line_id",
                params=params | {"day": day},
            ).to_arrow_table()
            rows, dr, cr = con.execute(
                "select count(*), sum(dr), sum(cr) from posted where batch_date = $day",
                {"day": day},
            ).fetchall()[0]
            summary = {"batch_date": day.isoformat(), "rows": rows, "entered_dr": str(dr),
                       "entered_cr": str(cr)}  # fmt: skip
            pending.append(zipper.submit(_zip_day, lines, summary))
            if len(pending) > 2:
                pending[-3].result()
        return [p.result() for p in pending]


def _zip_day(lines, summary: dict) -> dict:
    stem = _OUT / f"GlInterface_{summary['batch_date']}"
    out = _Zip(stem.with_suffix(".zip"), "GlInterface.csv")
    for chunk in lines.column(0).chunks:
        _, offsets, data = chunk.buffers()
        bounds = memoryview(offsets).cast("q" if chunk.type == "large_string" else "i")
        out.write(memoryview(data)[bounds[chunk.offset] : bounds[chunk.offset + len(chunk)]])
    manifest = summary | {"csv_sha256": out.csv_sha256.hexdigest(), "zip_sha256": out.close()}
    stem.with_suffix(".manifest.json").write_text(json.dumps(manifest, sort_keys=True))
    return manifest


_OUT = Path(".")


def run(args: argparse.Namespace) -> dict:
    """Transform the drop into one zip and manifest per batch day in `args.out`."""
    global _OUT
    started = time.perf_counter()
    _OUT = args.out
    _OUT.mkdir(parents=True, exist_ok=True)
    key = os.environ.get(KEY_ENV) or args.phi_key
    con = duckdb.connect(config={"preserve_insertion_order": False})
    _load(con, args.drop, args.seeds, key, args.ledger_name)
    _validate(con)
    batches = _write(
        con,
        args.spec,
        {
            "ledger_id": args.ledger_id,
            "journal_source": _csv_field(args.journal_source),
            "journal_category": _csv_field(args.journal_category),
            "batch_name": args.batch_name,
            "batch_description": args.batch_description,
            "key_version": _csv_field(args.key_version),
            "ledger_name": _csv_field(args.ledger_name),
        },
    )
    rows_in = con.execute("select count(*) from lines").fetchall()[0][0]
    held = con.execute("select count(*) from checked where exception_reason is not null")
    held_lines = held.fetchall()[0][0]
    seconds = time.perf_counter() - started
    con.close()
    return {
        "rows_in": rows_in,
        "rows_out": sum(b["rows"] for b in batches),
        "batches": len(batches),
        "held_lines": held_lines,
        "csv_sha256": {b["batch_date"]: b["csv_sha256"] for b in batches},
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows_in / seconds) if seconds else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drop", type=Path, required=True, help="sandbox output directory")
    parser.add_argument("--seeds", type=Path, required=True, help="folder with the seed CSVs")
    parser.add_argument("--out", type=Path, required=True, help="where the zips go")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="GL_INTERFACE format")
    parser.add_argument("--phi-key", default="bench-" + "0" * 40, help=f"unless {KEY_ENV} is set")
    parser.add_argument("--key-version", default="v1")
    parser.add_argument("--ledger-id", type=int, default=300000046975971)
    parser.add_argument("--ledger-name", default="EHF US Primary Ledger")
    parser.add_argument("--journal-source", default="Epic Resolute")
    parser.add_argument("--journal-category", default="Patient Revenue")
    parser.add_argument("--batch-name", default="EPIC RESOLUTE")
    parser.add_argument("--batch-description", default="Epic Resolute HB/PB journal feed of")
    print(json.dumps(run(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
