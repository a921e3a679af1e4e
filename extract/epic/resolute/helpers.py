"""Helpers of the Resolute journal source: the feed contract and the files of a drop folder.

`conform` checks a file against the contract (columns, types, post dates, record status) and
returns exactly the contract's columns with the record status and the delivery day; a breach
is a `FeedContractError` whose reason names columns and types, never values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from extract.epic.resolute.settings import (
    DAILY,
    DELIVERED_ON,
    FEED_SCHEMA,
    FILE_PATTERN,
    RECORD_STATUS,
    RECORD_STATUSES,
)


class FeedContractError(Exception):
    def __init__(self, reason_code: str, reason: str):
        self.reason_code = reason_code
        super().__init__(reason)


@dataclass
class ExtractReport:
    """What one extract saw; counts and file names only, never row values."""

    files_seen: int = 0
    files_loaded: list[str] = field(default_factory=list)
    files_skipped: int = 0
    rows: int = 0
    feed_dates: list[date] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)
    # Files in the drop folder whose names are not the feed's: never read, reported each run.
    files_unrecognised: list[str] = field(default_factory=list)


def conform(source: pa.Table, feed_date: date, kind: str = DAILY) -> pa.Table:
    """Check a feed file against the contract; return it with exactly the contract's columns,
    the record status and the delivery day."""
    table = source
    missing = [f.name for f in FEED_SCHEMA if f.name not in table.column_names]
    if missing:
        raise FeedContractError("schema_mismatch", f"missing columns: {', '.join(missing)}")
    columns = []
    for expected in FEED_SCHEMA:
        column = table.column(expected.name)
        if column.type != expected.type:
            try:
                column = column.cast(expected.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise FeedContractError(
                    "schema_mismatch",
                    f"column {expected.name} has type {column.type}, expected {expected.type}",
                ) from None
        columns.append(column)
    table = pa.Table.from_arrays(columns, schema=FEED_SCHEMA)
    if table.column("JOURNAL_LINE_ID").null_count:
        raise FeedContractError("schema_mismatch", "JOURNAL_LINE_ID has null values")
    post_dates = pc.unique(table.column("POST_DATE")).to_pylist()
    if kind == DAILY and post_dates and post_dates != [feed_date]:
        raise FeedContractError(
            "wrong_post_date", f"POST_DATE values differ from the file's day {feed_date}"
        )
    if kind != DAILY and any(d is None or d > feed_date for d in post_dates):
        raise FeedContractError(
            "wrong_post_date", f"a restatement of {feed_date} restates lines not posted before it"
        )
    status = _record_status(source, table.num_rows)
    delivered = pa.array([feed_date] * table.num_rows, pa.date32())
    return table.append_column(RECORD_STATUS, status).append_column(DELIVERED_ON, delivered)


def _record_status(table: pa.Table, rows: int) -> pa.Array:
    if RECORD_STATUS not in table.column_names:
        return pa.array([RECORD_STATUSES[0]] * rows, pa.string())
    status = table.column(RECORD_STATUS).combine_chunks().cast(pa.string())
    if status.null_count or not pc.all(pc.is_in(status, pa.array(RECORD_STATUSES))).as_py():
        raise FeedContractError(
            "schema_mismatch", f"{RECORD_STATUS} values must be one of {', '.join(RECORD_STATUSES)}"
        )
    return status


def feed_files(drop_dir: Path) -> list[tuple[Path, date | None, str]]:
    """Feed files in delivery order: by day, a day's journal before its restatement. A name of
    the feed's pattern whose day is no calendar date (`resolute_journal_20261340`) comes first
    with no day: `feed_day` gives its reason, and it goes to the dead-letter store."""
    files = []
    for path in drop_dir.glob("*.parquet"):
        match = FILE_PATTERN.match(path.name)
        if match:
            try:
                day = feed_day(path)
            except FeedContractError:
                day = None
            files.append((path, day, match.group(1)))
    return sorted(files, key=lambda f: (f[1] or date.min, f[2] != DAILY, f[0].name))


def feed_day(path: Path) -> date:
    """The day a feed file's name carries (`..._YYYYMMDD.parquet`)."""
    digits = FILE_PATTERN.match(path.name).group(2)
    try:
        return datetime.strptime(digits, "%Y%m%d").date()
    except ValueError:
        raise FeedContractError(
            "invalid_file_name",
            f"the day in the file name, {digits}, is not a calendar date (YYYYMMDD); the "
            "source must deliver the file again under its day's name",
        ) from None


def unrecognised_files(drop_dir: Path) -> list[str]:
    """Files in the drop folder that are not feed files by name (a misnamed delivery such as
    `resolute_journal_2026-11-06.parquet`); hidden files (uploads in progress) are left out."""
    return sorted(
        path.name
        for path in drop_dir.iterdir()
        if path.is_file() and not path.name.startswith(".") and not FILE_PATTERN.match(path.name)
    )


def read_feed(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        # Arrow's messages for unreadable files describe structure (footer, magic bytes,
        # page headers), not row values.
        raise FeedContractError("unreadable_file", f"not a readable Parquet file: {exc}") from None
