"""The finance seeds agree with the sandbox world: every emitted combination maps, periods chain."""

from __future__ import annotations

import csv
import itertools
from calendar import month_abbr
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sandbox import epic_resolute, world
from sandbox.generate import generate

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
OPEN_ENDED = date.max
FEED_START, FEED_END = date(2026, 9, 1), date(2026, 10, 31)  # late entries reach September


def _rows(name: str) -> list[dict[str, str]]:
    with open(SEEDS / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def crosswalk() -> list[dict[str, str]]:
    return _rows("coa_crosswalk.csv")


@pytest.fixture(scope="module")
def calendar() -> list[dict[str, str]]:
    return _rows("gl_period_calendar.csv")


def _range(row: dict[str, str]) -> tuple[date, date]:
    end = date.fromisoformat(row["valid_to"]) if row["valid_to"] else OPEN_ENDED
    return date.fromisoformat(row["valid_from"]), end


def _matches(row: dict[str, str], facility: str, department: str, account: str, day: date) -> bool:
    start, end = _range(row)
    return (
        row["facility_id"] == facility
        and row["department_id"] in (department, "*")
        and row["source_account"] == account
        and start <= day <= end
    )


def test_crosswalk_header_and_segment_formats(crosswalk) -> None:
    with open(SEEDS / "coa_crosswalk.csv", encoding="utf-8") as handle:
        header = handle.readline().strip()
    assert header == (
        "facility_id,department_id,source_account,valid_from,valid_to,"
        "company,cost_center,account,sub_account,intercompany,future"
    )
    companies = {f.facility_id: f.company for f in world.FACILITIES}
    for row in crosswalk:
        assert row["company"] == companies[row["facility_id"]]
        assert len(row["cost_center"]) == 4 and row["cost_center"].isdigit()
        assert len(row["account"]) == 5 and row["account"].isdigit()
        assert (row["sub_account"], row["intercompany"], row["future"]) == ("000", "000", "0000")
        start, end = _range(row)
        assert start <= end


def test_every_emitted_combination_maps_on_every_feed_day(crosswalk) -> None:
    combos = world.emitted_combinations(include_unmapped=False)
    day = FEED_START
    while day <= FEED_END:
        for facility, department, account in combos:
            hits = [r for r in crosswalk if _matches(r, facility, department, account, day)]
            exact = [r for r in hits if r["department_id"] == department]
            assert len(exact) == 1 or (not exact and len(hits) == 1), (
                facility,
                department,
                account,
                day,
            )
        day += timedelta(days=1)


def test_unmapped_departments_have_no_rows_and_do_not_map(crosswalk) -> None:
    unmapped = world.unmapped_department_ids()
    assert unmapped
    assert not [r for r in crosswalk if r["department_id"] in unmapped]
    emitted = world.emitted_combinations(include_unmapped=True)
    revenue_only = {c for c in emitted if c[1] in unmapped}
    assert revenue_only
    for facility, department, account in revenue_only:
        assert not [r for r in crosswalk if _matches(r, facility, department, account, FEED_END)]


def test_balance_sheet_accounts_map_through_the_wildcard(crosswalk) -> None:
    for facility in world.FACILITIES:
        for account in world.BALANCE_SHEET_ACCOUNTS:
            rows = [
                r
                for r in crosswalk
                if (r["facility_id"], r["department_id"], r["source_account"])
                == (facility.facility_id, "*", account)
            ]
            assert len(rows) == 1


def test_no_overlapping_ranges_for_the_same_key(crosswalk) -> None:
    by_key = defaultdict(list)
    for row in crosswalk:
        by_key[(row["facility_id"], row["department_id"], row["source_account"])].append(
            _range(row)
        )
    for key, ranges in by_key.items():
        ranges.sort()
        for (_, end), (next_start, _) in itertools.pairwise(ranges):
            assert end < next_start, key


def test_a_cost_center_is_remapped_inside_october(crosswalk) -> None:
    changes = [
        r for r in crosswalk if r["valid_to"] == "2026-10-15" or r["valid_from"] == "2026-10-16"
    ]
    ended = {
        (r["facility_id"], r["department_id"], r["source_account"]): r
        for r in changes
        if r["valid_to"] == "2026-10-15"
    }
    started = {
        (r["facility_id"], r["department_id"], r["source_account"]): r
        for r in changes
        if r["valid_from"] == "2026-10-16"
    }
    assert ended and ended.keys() == started.keys()
    for key, old in ended.items():
        assert old["cost_center"] != started[key]["cost_center"]
        assert old["account"] == started[key]["account"]


def test_calendar_is_contiguous_monthly_with_the_expected_statuses(calendar) -> None:
    assert [r["period_name"] for r in calendar] == [
        *(f"{month_abbr[m]}-26" for m in range(1, 13)),
        "Jan-27",
    ]
    assert {r["ledger_name"] for r in calendar} == {"EHF US Primary Ledger"}
    previous_end = None
    for row in calendar:
        start, end = date.fromisoformat(row["start_date"]), date.fromisoformat(row["end_date"])
        assert (start.year, start.month, start.day) == (
            int(row["period_year"]),
            int(row["period_num"]),
            1,
        )
        assert (end + timedelta(days=1)).day == 1 and end.month == start.month
        if previous_end is not None:
            assert start == previous_end + timedelta(days=1)
        previous_end = end
    closed = {f"{month_abbr[m]}-26": "C" for m in range(1, 10)}
    expected = closed | {"Oct-26": "O", "Nov-26": "O", "Dec-26": "F", "Jan-27": "F"}
    assert {r["period_name"]: r["closing_status"] for r in calendar} == expected


def test_generated_feed_lines_map_unless_their_department_is_unmapped(tmp_path, crosswalk) -> None:
    generate(tmp_path, 3, 3_000)
    table = pq.read_table(
        tmp_path / epic_resolute.FEED_DIR,
        columns=["FACILITY_ID", "DEPARTMENT_ID", "GL_ACCOUNT", "GL_DATE"],
    )
    keys = set(zip(*(table[c].to_pylist() for c in table.column_names), strict=True))
    assert {k[:3] for k in keys} <= world.emitted_combinations(include_unmapped=True)
    unmapped = world.unmapped_department_ids()
    for facility, department, account, day in keys:
        hits = [r for r in crosswalk if _matches(r, facility, department, account, day)]
        assert bool(hits) == (department not in unmapped), (facility, department, account, day)
