"""When a domain is due: slots, daily and monthly run times on the tenant's wall clock, DST
changes, month ends and missed ticks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from runtime.core.config import Domain
from runtime.operations.cadence import is_due, next_due

CHICAGO = ZoneInfo("America/Chicago")
KOLKATA = ZoneInfo("Asia/Kolkata")


def schedule(cadence: str, run_at: str | None = None, month_day: int | None = None) -> Domain:
    """A domain that carries only what scheduling reads."""
    return Domain(
        name="gl_journal",
        enabled=True,
        source="epic_resolute_journal",
        endpoint="epic_resolute_journal",
        cadence=cadence,
        run_at=time.fromisoformat(run_at) if run_at else None,
        month_day=month_day,
        phi_mode="pseudonymized",
        phi_direct_authorisation=None,
        disclosure=None,
        fusion=None,
    )


def local(text: str, tz: ZoneInfo = CHICAGO, fold: int = 0) -> datetime:
    """A wall-clock time in `tz` (fold=1 picks the second of a repeated hour), as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=tz, fold=fold).astimezone(UTC)


@dataclass(frozen=True)
class Case:
    domain: Domain
    last_success: datetime | None
    now: datetime
    due: bool
    next_due: datetime
    tz: ZoneInfo = CHICAGO


CASES = {
    # realtime: due on every tick; the lock stops a second concurrent run
    "realtime never ran": Case(
        schedule("realtime"), None, local("2026-05-01 10:00"), True, local("2026-05-01 10:00")
    ),
    "realtime just succeeded": Case(
        schedule("realtime"),
        local("2026-05-01 09:59:59"),
        local("2026-05-01 10:00"),
        True,
        local("2026-05-01 10:00"),
    ),
    # 15-minute and hourly slots follow the wall clock
    "15min never ran: due now": Case(
        schedule("15min"), None, local("2026-05-01 10:07"), True, local("2026-05-01 10:07")
    ),
    "15min slot already done": Case(
        schedule("15min"),
        local("2026-05-01 10:05"),
        local("2026-05-01 10:14"),
        False,
        local("2026-05-01 10:15"),
    ),
    "15min new slot begins": Case(
        schedule("15min"),
        local("2026-05-01 10:05"),
        local("2026-05-01 10:15"),
        True,
        local("2026-05-01 10:15"),
    ),
    "15min missed slots: one run for the current slot": Case(
        schedule("15min"),
        local("2026-05-01 09:50"),
        local("2026-05-01 10:40"),
        True,
        local("2026-05-01 10:30"),
    ),
    "hourly aligned to the local hour in a half-hour zone": Case(
        schedule("hourly"),
        local("2026-05-01 10:35", KOLKATA),
        local("2026-05-01 10:59", KOLKATA),
        False,
        local("2026-05-01 11:00", KOLKATA),
        KOLKATA,
    ),
    "hourly fall-back: the repeated hour is a slot of its own": Case(
        schedule("hourly"),
        local("2026-11-01 01:10", fold=0),
        local("2026-11-01 01:10", fold=1),
        True,
        local("2026-11-01 01:00", fold=1),
    ),
    "hourly spring-forward: 03:00 CDT follows 01:00 CST": Case(
        schedule("hourly"),
        local("2026-03-08 01:30"),
        local("2026-03-08 03:05"),
        True,
        local("2026-03-08 03:00"),
    ),
    # daily at run_at local time
    "daily before run_at": Case(
        schedule("daily", "02:30"),
        local("2026-05-01 02:31"),
        local("2026-05-02 02:29"),
        False,
        local("2026-05-02 02:30"),
    ),
    "daily at run_at": Case(
        schedule("daily", "02:30"),
        local("2026-05-01 02:31"),
        local("2026-05-02 02:30"),
        True,
        local("2026-05-02 02:30"),
    ),
    "daily after missed days: one catch-up run": Case(
        schedule("daily", "02:30"),
        local("2026-04-28 02:31"),
        local("2026-05-02 10:00"),
        True,
        local("2026-05-02 02:30"),
    ),
    "daily after the catch-up: tomorrow": Case(
        schedule("daily", "02:30"),
        local("2026-05-02 10:01"),
        local("2026-05-02 10:02"),
        False,
        local("2026-05-03 02:30"),
    ),
    "daily spring-forward: 02:30 does not exist, runs at 03:30 CDT": Case(
        schedule("daily", "02:30"),
        local("2026-03-07 02:31"),
        local("2026-03-08 03:29"),
        False,
        local("2026-03-08 03:30"),
    ),
    "daily spring-forward: due at 03:30 CDT": Case(
        schedule("daily", "02:30"),
        local("2026-03-07 02:31"),
        local("2026-03-08 03:30"),
        True,
        local("2026-03-08 03:30"),
    ),
    "daily fall-back: runs at the first 01:30": Case(
        schedule("daily", "01:30"),
        local("2026-10-31 01:31"),
        local("2026-11-01 01:30", fold=0),
        True,
        local("2026-11-01 01:30", fold=0),
    ),
    "daily fall-back: not again at the second 01:30": Case(
        schedule("daily", "01:30"),
        local("2026-11-01 01:31", fold=0),
        local("2026-11-01 01:45", fold=1),
        False,
        local("2026-11-02 01:30"),
    ),
    "daily run_at late in the local day, already the next day in UTC": Case(
        schedule("daily", "23:30"),
        local("2026-12-30 23:31"),
        local("2026-12-31 23:40"),
        True,
        local("2026-12-31 23:30"),
    ),
    # monthly on month_day at run_at: the day after period close
    "monthly never ran: due now": Case(
        schedule("monthly", "06:00", 2),
        None,
        local("2026-01-15 12:00"),
        True,
        local("2026-01-15 12:00"),
    ),
    "monthly done this month": Case(
        schedule("monthly", "06:00", 2),
        local("2026-01-02 06:05"),
        local("2026-01-31 23:00"),
        False,
        local("2026-02-02 06:00"),
    ),
    "monthly missed a month: one catch-up run": Case(
        schedule("monthly", "06:00", 2),
        local("2026-01-02 06:05"),
        local("2026-03-01 08:00"),
        True,
        local("2026-02-02 06:00"),
    ),
    "monthly across the year end": Case(
        schedule("monthly", "06:00", 2),
        local("2026-12-02 06:01"),
        local("2027-01-02 06:00"),
        True,
        local("2027-01-02 06:00"),
    ),
    "monthly on the 28th in February": Case(
        schedule("monthly", "06:00", 28),
        local("2026-01-28 06:30"),
        local("2026-02-28 06:00"),
        True,
        local("2026-02-28 06:00"),
    ),
    "monthly before the day in a short month": Case(
        schedule("monthly", "06:00", 28),
        local("2026-01-28 06:30"),
        local("2026-02-27 23:59"),
        False,
        local("2026-02-28 06:00"),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_due(case: Case) -> None:
    assert next_due(case.domain, case.tz, case.last_success, case.now) == case.next_due
    assert is_due(case.domain, case.tz, case.last_success, case.now) is case.due


def test_results_are_utc_whatever_zone_the_inputs_use() -> None:
    now = datetime(2026, 5, 2, 3, 0, tzinfo=CHICAGO)
    result = next_due(schedule("daily", "02:30"), CHICAGO, local("2026-05-02 02:40"), now)
    assert result.tzinfo is UTC
    assert result == local("2026-05-03 02:30")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_due(schedule("hourly"), CHICAGO, None, datetime(2026, 5, 1, 10, 0))
