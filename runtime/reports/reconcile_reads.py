"""What the reconciliation pack reads from the warehouse for one GL period, on either engine.

Only amounts, counts, facility ids and companies are selected: no identifier or pseudonym.
For the source lines of the period (by their accounting date), source minus what Fusion posted
in the period splits exactly into:
- exceptions: held lines, their current amount minus whatever posted for them earlier;
- in flight / rejected: the mart rows of those lines not posted yet, by the state the
  submission records give them (batch not final; open operator-queue item);
- re-dated: what posted for those lines in another period (corrections to a closed period,
  reversed and re-posted in the open one), minus what posted in this period for lines of
  another period.
Anything else is unexplained drift.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from runtime.core.config import ConfigError
from runtime.core.gl_models import GlChain
from runtime.core.warehouse import Warehouse
from runtime.pipeline.posting import TERMINAL
from runtime.reports.report_reads import NO_FACILITY, Reader

# Side names used below and in the pack's columns.
SOURCE, EXCEPTIONS = "source", "exceptions"
IN_FLIGHT, REJECTED, REDATED = "in_flight", "rejected", "redated"
RECORDED_POSTED = "recorded_posted"  # what our records say posted in the period


@dataclass(frozen=True)
class Period:
    """A calendar month and the ledger's GL period covering it."""

    month: str  # YYYY-MM
    name: str  # the ledger's period name, e.g. Oct-26
    start: date
    end: date


@dataclass(frozen=True)
class GlDomain:
    """One GL domain of the tenant and its journal chain's relations."""

    stream: str
    domain: str

    @property
    def chain(self) -> GlChain:
        return GlChain(self.stream, self.domain)


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
    db: Reader, warehouse: Warehouse, ledger: str, period: Period, gl: GlDomain
) -> list[SideTotal]:
    """Per facility: one GL domain's source lines of the period and the categories explaining
    what Fusion does not show of them (see the module docstring), plus what our records say
    posted."""
    needed = [GlChain.relation(warehouse, role) for role in ("validated", "gl_interface")]
    if not all(db.exists(*relation.split(".")) for relation in needed):
        raise ConfigError(
            "--period", f"the journal marts of {gl.domain} are not built yet; run it first"
        )
    relations = _relations(warehouse, ledger, gl)
    found = []
    for side, sql in (
        (SOURCE, _SOURCE),
        (EXCEPTIONS, _EXCEPTIONS),
        (RECORDED_POSTED, _RECORDED_POSTED),
        (REDATED, _REDATED),
    ):
        found += [(side, *row) for row in db.rows(sql.format(**relations), (period.name,))[1]]
    found += db.rows(_OUTSTANDING.format(**relations), (period.name,))[1]
    return [
        SideTotal(
            facility or NO_FACILITY, side, int(lines), Decimal(debit or 0), Decimal(credit or 0)
        )
        for side, facility, lines, debit, credit in found
        if side is not None
    ]


def _relations(warehouse: Warehouse, ledger: str, gl: GlDomain) -> dict[str, str]:
    ops, stream, domain = warehouse.schema("ops"), gl.stream, gl.domain
    terminal = ", ".join(f"'{status}'" for status in sorted(TERMINAL))
    submissions = (
        f"(select batch_id, group_id, status from {ops}.fusion_submissions "
        f"where stream = {_literal(stream)} and domain = {_literal(domain)})"
    )
    return {
        "lines": f"""(
            select
                source_line_id, facility_id, period_name, is_held,
                case when is_voided then 0 else coalesce(debit_amount, 0) end as debit,
                case when is_voided then 0 else coalesce(credit_amount, 0) end as credit
            from {GlChain.relation(warehouse, "validated")}
            where {gl.chain.condition}
        )""",
        "mart": f"(select * from {GlChain.relation(warehouse, 'gl_interface')} "
        f"where {gl.chain.condition})",
        "calendar": f"(select * from {warehouse.schema('reference')}.gl_period_calendar "
        f"where ledger_name = {_literal(ledger)})",
        "submissions": submissions,
        "posted": f"""(
            select posted.*
            from {ops}.fusion_posted as posted
            inner join {submissions} as submissions on submissions.batch_id = posted.batch_id
        )""",
        "queued": f"(select distinct batch_id, source_line_id from {ops}.operator_queue "
        "where status = 'open')",
        "terminal": terminal,
    }


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_SOURCE = """
    select lines.facility_id, count(*), sum(lines.debit), sum(lines.credit)
    from {lines} as lines
    where lines.period_name = %s
    group by lines.facility_id
"""

_EXCEPTIONS = """
    select
        lines.facility_id,
        count(*),
        sum(lines.debit - coalesce(posted.debit, 0)),
        sum(lines.credit - coalesce(posted.credit, 0))
    from {lines} as lines
    left join (
        select source_line_id, sum(entered_dr) as debit, sum(entered_cr) as credit
        from {posted} as posted
        group by source_line_id
    ) as posted on posted.source_line_id = lines.source_line_id
    where lines.is_held and lines.period_name = %s
    group by lines.facility_id
"""

_POSTED_WITH_PERIODS = """
    select
        lines.facility_id,
        coalesce(lines.period_name, '') as source_period,
        coalesce(calendar.period_name, '') as posted_period,
        posted.entered_dr,
        posted.entered_cr
    from {posted} as posted
    inner join {lines} as lines on lines.source_line_id = posted.source_line_id
    left join {calendar} as calendar
        on posted.accounting_date between calendar.start_date and calendar.end_date
"""

_RECORDED_POSTED = (
    "select facility_id, count(*), sum(entered_dr), sum(entered_cr) from ("
    + _POSTED_WITH_PERIODS
    + ") as rows where posted_period = %s group by facility_id"
)

_REDATED = (
    """
    select
        facility_id,
        count(*),
        sum(case when source_period = period.name then 1 else -1 end * coalesce(entered_dr, 0)),
        sum(case when source_period = period.name then 1 else -1 end * coalesce(entered_cr, 0))
    from ("""
    + _POSTED_WITH_PERIODS
    + """) as rows
    cross join (select cast(%s as varchar(15)) as name) as period
    where (source_period = period.name) <> (posted_period = period.name)
    group by facility_id
"""
)

_OUTSTANDING = f"""
    select
        case
            when posted.source_line_id is not null then null
            when queued.source_line_id is not null then '{REJECTED}'
            when submissions.status is null or submissions.status not in ({{terminal}})
                then '{IN_FLIGHT}'
        end as state,
        lines.facility_id,
        count(*),
        sum(exported.entered_dr),
        sum(exported.entered_cr)
    from {{mart}} as exported
    inner join {{lines}} as lines on lines.source_line_id = exported.source_line_id
    left join {{submissions}} as submissions
        on submissions.group_id = cast(exported.group_id as varchar)
    left join {{queued}} as queued
        on queued.batch_id = submissions.batch_id
        and queued.source_line_id = exported.source_line_id
    left join (select distinct batch_date, source_line_id from {{posted}} as posted) as posted
        on posted.batch_date = exported.batch_date
        and posted.source_line_id = exported.source_line_id
    where lines.period_name = %s
    group by 1, 2
"""
