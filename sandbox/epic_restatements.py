"""The Resolute feed's mutation stream: restatements of journal entries posted on earlier days.

A restatement file (`resolute_restatement_YYYYMMDD.parquet`) carries every line of each changed
entry in its new state, with the daily file's columns plus RECORD_STATUS:

* `recode`: a charge re-coded to the next clinical department of its facility (department,
  revenue account, revenue code and description change; amounts stay);
* `amount_fix`: a charge's first revenue line corrected by a few dollars, its AR line with it,
  so the entry still balances;
* `void`: the whole entry voided (RECORD_STATUS = VOIDED, lines otherwise unchanged).

Only clean entries are restated (parseable amounts, mapped departments, GL date in the posting
month, active), each at most once per file; which ones is a pure function of the seed, the
restatement day and the journal id, so the same request writes the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from sandbox import world
from sandbox.epic_resolute import FEED_DIR, FEED_FILES, SCHEMA, write_feed_file

RESTATEMENT_SCHEMA = SCHEMA.append(pa.field("RECORD_STATUS", pa.string()))
KINDS = ("void", "recode", "amount_fix")
_DEPARTMENTS = {d.department_id: (f, d) for f in world.FACILITIES for d in f.clinical}


@dataclass(frozen=True)
class Restatement:
    """What to restate on `day`: how many entries of each kind, among entries posted between
    `posted_from` and `posted_to` (inclusive; default: every day before `day`)."""

    day: date
    recode: int = 0
    amount_fix: int = 0
    void: int = 0
    posted_from: date | None = None
    posted_to: date | None = None


def restatement_path(out_dir: Path, day: date) -> Path:
    return Path(out_dir) / FEED_DIR / f"resolute_restatement_{day:%Y%m%d}.parquet"


def restate(out_dir: Path, seed: int, request: Restatement) -> dict[str, Any]:
    """Write the restatement file for `request`; return its path and counts (no row values)."""
    feed_dir = Path(out_dir) / FEED_DIR
    files = sorted(p for p in feed_dir.glob(FEED_FILES) if _day(p) < request.day)
    if not files:
        raise ValueError(f"no feed files before {request.day} under {feed_dir}")
    wanted = {kind: getattr(request, kind) for kind in KINDS}
    chosen = _choose(files, seed, request, sum(wanted.values()))
    if len(chosen) < sum(wanted.values()):
        raise ValueError(
            f"only {len(chosen)} clean entries to restate, {sum(wanted.values())} asked for"
        )
    kinds, position = {}, 0
    for kind in KINDS:
        for journal_id in chosen[position : position + wanted[kind]]:
            kinds[journal_id] = kind
        position += wanted[kind]
    entries: dict[str, list[dict[str, Any]]] = {}
    for line in _current_lines(files, list(kinds)):
        entries.setdefault(line["JOURNAL_ID"], []).append(line)
    rows = [
        row for journal_id, lines in entries.items() for row in _restated(lines, kinds[journal_id])
    ]
    table = pa.Table.from_pylist(rows, schema=RESTATEMENT_SCHEMA)
    path = restatement_path(out_dir, request.day)
    write_feed_file(table, path)
    return {"path": str(path.resolve()), "lines": table.num_rows, "entries": wanted}


def _day(path: Path) -> date:
    stamp = path.stem.rsplit("_", 1)[-1]
    return date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))


_LATEST = """
    with delivered as (
        {unions}
    ),
    latest as (
        select * exclude (_delivered, _order)
        from delivered
        qualify row_number() over (
            partition by JOURNAL_LINE_ID order by _delivered desc, _order desc
        ) = 1
    )
"""


def _latest_sql(files: list[Path]) -> str:
    def select(path: Path) -> str:
        restated = "restatement" in path.name
        status = "" if restated else "'ACTIVE' as RECORD_STATUS, "
        return (
            f"select *, {status}date '{_day(path)}' as _delivered, {int(restated)} as _order "
            f"from read_parquet('{path}')"
        )

    unions = " union all by name ".join(select(path) for path in files)
    return _LATEST.format(unions=unions)


def _choose(files: list[Path], seed: int, request: Restatement, count: int) -> list[str]:
    first = request.posted_from or date.min
    last = request.posted_to or date.max
    unmapped = ", ".join(f"'{d}'" for d in sorted(world.unmapped_department_ids()))
    money = "'^[0-9]+\\.[0-9]{2}$'"
    sql = (
        _latest_sql(files)
        + f"""
        select JOURNAL_ID
        from latest
        group by JOURNAL_ID
        having
            bool_and(RECORD_STATUS = 'ACTIVE')
            and bool_and(
                regexp_full_match(coalesce(DEBIT_AMOUNT, CREDIT_AMOUNT, ''), {money})
                and (DEBIT_AMOUNT is null) <> (CREDIT_AMOUNT is null)
            )
            and bool_and(DEPARTMENT_ID not in ({unmapped}))
            and bool_and(date_trunc('month', GL_DATE) = date_trunc('month', POST_DATE))
            and bool_and(TX_TYPE = 'CHARGE')
            and min(POST_DATE) between date '{first}' and date '{last}'
        order by md5('{seed}|{request.day}|' || JOURNAL_ID), JOURNAL_ID
        limit {int(count)}
    """
    )
    with duckdb.connect() as con:
        return [row[0] for row in con.sql(sql).fetchall()]


def _current_lines(files: list[Path], journal_ids: list[str]) -> list[dict[str, Any]]:
    ids = ", ".join(f"'{j}'" for j in journal_ids) or "''"
    columns = ", ".join(f.name for f in SCHEMA)
    sql = (
        _latest_sql(files)
        + f"select {columns} from latest where JOURNAL_ID in ({ids}) "
        + "order by JOURNAL_ID, JOURNAL_LINE_ID"
    )
    with duckdb.connect() as con:
        return con.sql(sql).to_arrow_table().to_pylist()


def _restated(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The entry's lines in their new state."""
    lines = [dict(line, RECORD_STATUS="VOIDED" if kind == "void" else "ACTIVE") for line in lines]
    revenue = [line for line in lines if line["CREDIT_AMOUNT"] is not None]
    if kind == "recode":
        for line in revenue:
            _recode(line)
    elif kind == "amount_fix":
        # The first revenue line and the AR line (the entry's debit) move by the same amount.
        fixed = revenue[0]
        delta = Decimal(fixed["JOURNAL_LINE_ID"] % 4000 + 100) / 100
        ar_line = next(line for line in lines if line["DEBIT_AMOUNT"] is not None)
        fixed["CREDIT_AMOUNT"] = f"{Decimal(fixed['CREDIT_AMOUNT']) + delta:.2f}"
        ar_line["DEBIT_AMOUNT"] = f"{Decimal(ar_line['DEBIT_AMOUNT']) + delta:.2f}"
    return lines


def _recode(line: dict[str, Any]) -> None:
    facility, department = _DEPARTMENTS[line["DEPARTMENT_ID"]]
    index = facility.clinical.index(department)
    moved = facility.clinical[(index + 1) % len(facility.clinical)]
    account, code = moved.revenue[0]
    pb = line["BILLING_SYSTEM"] == "PB"
    line.update(
        DEPARTMENT_ID=moved.department_id,
        GL_ACCOUNT=account,
        REVENUE_CODE=None if pb else code,
        LINE_DESCRIPTION=f"PB CHARGE PROF {account}" if pb else f"HB CHARGE REV {code}",
    )
