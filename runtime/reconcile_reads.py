"""What the reconciliation pack reads from the warehouse for one GL period, on either engine.

Only amounts, counts, facility ids and companies are selected: no identifier or pseudonym.
Every journal line of the period is counted once per side: its source line, and, for the
lines the marts export, the state the submission records give it.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from runtime.config import ConfigError
from runtime.posting import TERMINAL
from runtime.report_reads import NO_FACILITY, Reader
from runtime.warehouse import Warehouse

# Side names used below and in the pack's columns.
SOURCE, EXCEPTIONS = "source", "exceptions"
IN_FLIGHT, REJECTED, RECORDED_POSTED = "in_flight", "rejected", "recorded_posted"
UNRECORDED = "unrecorded"  # exported, batch final, but neither posted nor queued by our records


@dataclass(frozen=True)
class Period:
    """A calendar month and the ledger's GL period covering it."""

    month: str  # YYYY-MM
    name: str  # the ledger's period name, e.g. Oct-26
    start: date
    end: date


@dataclass(frozen=True)
class SideTotal:
    """Lines, debits and credits of one facility on one side."""

    facility: str
    side: str
    lines: int
    debit: Decimal
    credit: Decimal


def parse_month(month: str) -> tuple[date, date]:
    """First and last day of a `YYYY-MM` month; a ConfigError names `--period` otherwise."""
    if re.fullmatch(r"\d{4}-\d{2}", month) and 1 <= int(month[5:]) <= 12:
        year, number = int(month[:4]), int(month[5:])
        return date(year, number, 1), date(year, number, monthrange(year, number)[1])
    raise ConfigError("--period", f"{month!r} is not a month; use YYYY-MM, e.g. 2026-10")


def gl_period(db: Reader, warehouse: Warehouse, ledger: str, month: str) -> Period:
    """The ledger's GL period that covers the whole month, from the period calendar seed."""
    first, last = parse_month(month)
    reference = warehouse.schema("reference")
    if not db.exists(reference, "gl_period_calendar"):
        raise ConfigError("--period", "the GL period calendar is not loaded yet; run the domain")
    _, rows = db.rows(
        "select period_name, cast(start_date as date), cast(end_date as date) "
        f"from {reference}.gl_period_calendar where ledger_name = %s "
        "and cast(start_date as date) <= %s and cast(end_date as date) >= %s",
        (ledger, first, last),
    )
    if len(rows) != 1:
        raise ConfigError(
            "--period", f"no single GL period of ledger {ledger!r} covers {month} in the calendar"
        )
    name, start, end = rows[0]
    return Period(month, str(name), start, end)


def companies(db: Reader, warehouse: Warehouse, period: Period) -> dict[str, str]:
    """Facility -> Fusion company (segment1) from the crosswalk rows effective in the period.

    A facility mapped to several companies within one period is refused: its lines could not
    be matched to one company's balances.
    """
    reference = warehouse.schema("reference")
    _, rows = db.rows(
        "select distinct facility_id, cast(company as varchar) "
        f"from {reference}.coa_crosswalk where cast(valid_from as date) <= %s "
        "and (valid_to is null or cast(valid_to as date) >= %s) order by 1, 2",
        (period.end, period.start),
    )
    found: dict[str, str] = {}
    for facility, company in rows:
        if found.setdefault(facility, company) != company:
            raise ConfigError(
                "seeds/coa_crosswalk.csv",
                f"facility {facility} maps to companies {found[facility]} and {company} "
                f"in {period.name}; the pack needs one company per facility and period",
            )
    return found


def side_totals(
    db: Reader, warehouse: Warehouse, period: Period, stream: str, domain: str
) -> list[SideTotal]:
    """Per facility: the period's source lines, its held lines and its exported lines by the
    state the submission records give them (in flight, rejected, recorded posted, unrecorded)."""
    intermediate, marts = warehouse.schema("intermediate"), warehouse.schema("marts")
    needed = [
        (intermediate, "int_journal_lines_validated"),
        (marts, "exceptions__gl_journal_lines"),
        (marts, "fusion__gl_interface"),
    ]
    if not all(db.exists(*relation) for relation in needed):
        raise ConfigError("--period", "the journal marts are not built yet; run the domain first")
    validated = f"{intermediate}.int_journal_lines_validated"
    totals = "count(*), sum(lines.debit_amount), sum(lines.credit_amount)"
    found = [
        (SOURCE, *row)
        for row in db.rows(
            f"select lines.facility_id, {totals} from {validated} as lines "
            "where lines.period_name = %s group by lines.facility_id",
            (period.name,),
        )[1]
    ]
    found += [
        (EXCEPTIONS, *row)
        for row in db.rows(
            f"select lines.facility_id, {totals} "
            f"from {marts}.exceptions__gl_journal_lines as lines "
            "where lines.period_name = %s group by lines.facility_id",
            (period.name,),
        )[1]
    ]
    found += db.rows(*_exported_states(db, warehouse, period, stream, domain))[1]
    return [
        SideTotal(
            facility or NO_FACILITY, side, int(lines), Decimal(debit or 0), Decimal(credit or 0)
        )
        for side, facility, lines, debit, credit in found
    ]


def _exported_states(
    db: Reader, warehouse: Warehouse, period: Period, stream: str, domain: str
) -> tuple[str, tuple]:
    """The query giving (state, facility, lines, debits, credits) for the exported lines.

    A line is rejected when an open queue item of its batch names it; in flight while its
    batch has no final submission (not submitted yet, or its job not finished); otherwise
    recorded posted or, when our records hold nothing for it, unrecorded.
    """
    ops, marts = warehouse.schema("ops"), warehouse.schema("marts")
    intermediate = warehouse.schema("intermediate")
    params: tuple = (period.name,)
    if db.exists(ops, "fusion_submissions"):
        submissions = (
            f"select batch_id, group_id, status from {ops}.fusion_submissions "
            "where stream = %s and domain = %s"
        )
        params = (stream, domain, *params)
    else:
        submissions = "select '' as batch_id, '' as group_id, '' as status where 1 = 0"
    queued = (
        f"select distinct batch_id, source_line_id from {ops}.operator_queue where status = 'open'"
        if db.exists(ops, "operator_queue")
        else "select '' as batch_id, 0 as source_line_id where 1 = 0"
    )
    posted = (
        f"select distinct batch_id, source_line_id from {ops}.fusion_posted"
        if db.exists(ops, "fusion_posted")
        else "select '' as batch_id, 0 as source_line_id where 1 = 0"
    )
    terminal = ", ".join(f"'{status}'" for status in sorted(TERMINAL))
    sql = f"""
        select
            case
                when queued.source_line_id is not null then '{REJECTED}'
                when submissions.status is null or submissions.status not in ({terminal})
                    then '{IN_FLIGHT}'
                when posted.source_line_id is not null then '{RECORDED_POSTED}'
                else '{UNRECORDED}'
            end as state,
            lines.facility_id,
            count(*),
            sum(exported.entered_dr),
            sum(exported.entered_cr)
        from {marts}.fusion__gl_interface as exported
        inner join {intermediate}.int_journal_lines_validated as lines
            on lines.source_line_id = exported.source_line_id
        left join ({submissions}) as submissions
            on submissions.group_id = cast(exported.group_id as varchar)
        left join ({queued}) as queued
            on queued.batch_id = submissions.batch_id
            and queued.source_line_id = exported.source_line_id
        left join ({posted}) as posted
            on posted.batch_id = submissions.batch_id
            and posted.source_line_id = exported.source_line_id
        where exported.period_name = %s
        group by 1, 2
    """
    return sql, params
