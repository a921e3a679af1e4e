"""When a domain is due, from its cadence, the tenant's timezone and its last success.

Pure functions over aware datetimes: UTC in, UTC out. Schedules are evaluated on the tenant's
wall clock, so a daily 02:30 run stays at 02:30 local across DST changes. Each cadence defines
occurrences (slot starts, daily or monthly run times); a domain is due when the latest
occurrence at or before `now` has no success at or after it. Missed ticks therefore cause one
catch-up run, never a burst.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from runtime.core.config import Domain

SLOT_MINUTES = {"15min": 15, "hourly": 60}


def next_due(
    domain: Domain, tenant_tz: ZoneInfo, last_success: datetime | None, now: datetime
) -> datetime:
    """The instant (UTC) the domain became or becomes due.

    A domain that never succeeded, and a `realtime` one, is due `now`. Otherwise it is the latest
    occurrence at or before `now` if that has no success yet, else the following occurrence.
    """
    now = _utc(now)
    if last_success is None or domain.cadence == "realtime":
        return now
    latest = _latest_occurrence(domain, tenant_tz, now)
    if _utc(last_success) < latest:
        return latest
    return _following_occurrence(domain, tenant_tz, latest)


def is_due(
    domain: Domain, tenant_tz: ZoneInfo, last_success: datetime | None, now: datetime
) -> bool:
    """Whether the domain should run at `now` (it may be running already: the lock decides)."""
    return next_due(domain, tenant_tz, last_success, now) <= _utc(now)


def _latest_occurrence(domain: Domain, tz: ZoneInfo, now: datetime) -> datetime:
    local = now.astimezone(tz)
    if domain.cadence in SLOT_MINUTES:
        step = SLOT_MINUTES[domain.cadence]
        # replace() keeps the fold, so the repeated hour at fall-back is its own slot.
        start = local.replace(minute=local.minute - local.minute % step, second=0, microsecond=0)
        return _utc(start)
    candidate = _run_time(domain, tz, _period_day(domain, local.date()))
    if candidate <= now:
        return candidate
    return _run_time(domain, tz, _period_day(domain, _previous_period(domain, local.date())))


def _following_occurrence(domain: Domain, tz: ZoneInfo, occurrence: datetime) -> datetime:
    if domain.cadence in SLOT_MINUTES:
        return occurrence + timedelta(minutes=SLOT_MINUTES[domain.cadence])
    day = occurrence.astimezone(tz).date()
    return _run_time(domain, tz, _period_day(domain, _next_period(domain, day)))


def _period_day(domain: Domain, day: date) -> date:
    """The day in `day`'s period the run falls on: the day itself, or the month's run day."""
    return day.replace(day=domain.month_day) if domain.cadence == "monthly" else day


def _previous_period(domain: Domain, day: date) -> date:
    if domain.cadence == "monthly":
        return day.replace(day=1) - timedelta(days=1)
    return day - timedelta(days=1)


def _next_period(domain: Domain, day: date) -> date:
    if domain.cadence == "monthly":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=1)


def _run_time(domain: Domain, tz: ZoneInfo, day: date) -> datetime:
    # A run time inside the spring-forward gap resolves with the pre-transition offset (fold=0),
    # i.e. one hour later on the wall clock; an ambiguous one takes its first occurrence.
    return _utc(datetime.combine(day, domain.run_at, tzinfo=tz))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware")
    return moment.astimezone(UTC)
