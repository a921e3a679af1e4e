"""dlt source for the Epic Resolute HB/PB journal feed (Clarity-style Parquet drops).

Daily files carry the lines posted that day; restatement files carry the current version of
lines posted earlier (the latest delivery of a line wins downstream). Each file is processed
once: the cursor is the set of file names with their sha256 in dlt resource state, committed in
the same load as the rows. Files are read whole and conformed to the contract before anything
is yielded, so a file lands completely or goes to the dead-letter store with the reason; it
never lands half.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from extract.dead_letter import DeadLetterStore, file_sha256
from extract.epic.settings import (
    DAILY,
    DELIVERED_ON,
    FEED_SCHEMA,
    FILE_PATTERN,
    RECORD_STATUS,
    RECORD_STATUSES,
    SOURCE,
    TABLE,
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


def _feed_files(drop_dir: Path) -> list[tuple[Path, date, str]]:
    """Feed files in delivery order: by day, a day's journal before its restatement."""
    files = []
    for path in drop_dir.glob("*.parquet"):
        match = FILE_PATTERN.match(path.name)
        if match:
            day = datetime.strptime(match.group(2), "%Y%m%d").date()
            files.append((path, day, match.group(1)))
    return sorted(files, key=lambda f: (f[1], f[2] != DAILY, f[0].name))


def journal_lines(drop_dir: Path, store: DeadLetterStore, report: ExtractReport) -> Iterator:
    """Yield one Arrow table per new feed file, and a dead-letter record per unreadable one."""
    seen: dict = dlt.current.resource_state().setdefault("files", {})
    for path, feed_date, kind in _feed_files(drop_dir):
        report.files_seen += 1
        sha = file_sha256(path)
        previous = seen.get(path.name)
        if previous and previous["sha256"] == sha:
            report.files_skipped += 1
            continue
        try:
            if previous and previous["status"] == "loaded":
                raise FeedContractError(
                    "redelivered_changed",
                    "file was loaded before with different content; changes to posted lines "
                    "must arrive in a restatement file of a later day",
                )
            table = conform(_read(path), feed_date, kind)
        except FeedContractError as exc:
            seen[path.name] = {"sha256": sha, "status": "dead_letter"}
            report.dead_letters.append({"file": path.name, "reason_code": exc.reason_code})
            yield store.quarantine(path, sha, SOURCE, exc.reason_code, str(exc))
            continue
        seen[path.name] = {"sha256": sha, "status": "loaded"}
        report.files_loaded.append(path.name)
        report.rows += table.num_rows
        report.feed_dates.append(feed_date)
        yield table.append_column("_SOURCE_FILE", pa.array([path.name] * table.num_rows))


def _read(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        # Arrow's messages for unreadable files describe structure (footer, magic bytes,
        # page headers), not row values.
        raise FeedContractError("unreadable_file", f"not a readable Parquet file: {exc}") from None


@dlt.source(name="epic_resolute", max_table_nesting=0)
def resolute_journal_source(drop_dir: Path, store: DeadLetterStore, report: ExtractReport):
    """The feed as a dlt source with one resource, appending to `resolute_journal_lines`."""
    return dlt.resource(
        journal_lines(drop_dir, store, report),
        name=TABLE,
        write_disposition="append",
    )
