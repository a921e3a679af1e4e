"""dlt source for the Epic Resolute HB/PB journal feed (Clarity-style Parquet drops).

Daily files carry the lines posted that day; restatement files carry the current version of
lines posted earlier (the latest delivery of a line wins downstream). Each file is processed
once: the cursor is the set of file names with their sha256 in dlt resource state, committed in
the same load as the rows. Files are read whole and conformed to the contract before anything
is yielded, so a file lands completely or goes to the dead-letter store with the reason; it
never lands half. The feed's names and contract are in `settings`, the checks in `helpers`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dlt
import pyarrow as pa

from extract.dead_letter import DeadLetterStore, file_sha256
from extract.epic.resolute.helpers import (
    ExtractReport,
    FeedContractError,
    conform,
    feed_day,
    feed_files,
    read_feed,
    unrecognised_files,
)
from extract.epic.resolute.settings import DATASET_LAYER, SOURCE, TABLE
from extract.shared.landing import load_into
from runtime.core.warehouse import Warehouse

__all__ = [
    "ExtractReport",
    "FeedContractError",
    "conform",
    "extract_resolute",
    "journal_lines",
    "resolute_journal_source",
]


def journal_lines(drop_dir: Path, store: DeadLetterStore, report: ExtractReport) -> Iterator:
    """Yield one Arrow table per new feed file, and a dead-letter record per unreadable one
    (a file whose name carries no calendar day among them). Files of other names are reported,
    never read."""
    seen: dict = dlt.current.resource_state().setdefault("files", {})
    report.files_unrecognised = unrecognised_files(drop_dir)
    for path, feed_date, kind in feed_files(drop_dir):
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
            feed_date = feed_date or feed_day(path)
            table = conform(read_feed(path), feed_date, kind)
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


@dlt.source(name="epic_resolute", max_table_nesting=0)
def resolute_journal_source(drop_dir: Path, store: DeadLetterStore, report: ExtractReport):
    """The feed as a dlt source with one resource, appending to `resolute_journal_lines`."""
    return dlt.resource(
        journal_lines(drop_dir, store, report),
        name=TABLE,
        write_disposition="append",
    )


def extract_resolute(
    warehouse: Warehouse,
    pipeline_name: str,
    location: Path,
    dead_letter_dir: Path,
    pipelines_dir: Path,
) -> ExtractReport:
    """Land new Resolute feed files from `location` in `<tenant>_raw_epic`; rows, dead letters
    and the file cursor commit in one load."""
    report = ExtractReport()
    source = resolute_journal_source(location, DeadLetterStore(dead_letter_dir), report)
    load_into(warehouse, pipeline_name, DATASET_LAYER, pipelines_dir, source)
    return report
