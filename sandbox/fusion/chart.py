"""The simulated Fusion ledger's setup: chart of accounts and accounting calendar.

The valid segment combinations are the Fusion side of the sandbox health system, derived from
`sandbox.world` (not from the product's seeds): each facility's company, one cost centre per
clinical department, the natural account behind each EHR revenue account, and the
balance-sheet accounts on cost centre 0000. Beside them, the expense accounts Fusion charges
without the EHR's revenue feeds knowing them: medical supplies (inventory issues) and
depreciation (asset distributions) on every clinical cost centre; and the ambulatory clinics'
professional-fee revenue accounts on their own cost centres (CPT-coded charges).
"""

from __future__ import annotations

from calendar import month_abbr, monthrange
from dataclasses import dataclass
from datetime import date

from sandbox import world

LEDGER_ID = "300000046975971"
LEDGER_NAME = "EHF US Primary Ledger"
LEDGER_CURRENCY = "USD"
BUSINESS_UNIT = "EHF US Business Unit"
SEGMENT_COUNT = 6
BALANCE_SHEET_COST_CENTRE = "0000"
_TAIL_SEGMENTS = ("000", "000", "0000")  # sub-account, intercompany, future

# Natural accounts of the Fusion chart that no EHR revenue account maps to.
SUPPLIES_EXPENSE_ACCOUNT = "61000"
DEPRECIATION_EXPENSE_ACCOUNT = "68100"
EXPENSE_ACCOUNTS = (SUPPLIES_EXPENSE_ACCOUNT, DEPRECIATION_EXPENSE_ACCOUNT)

# Finance split the main campus radiology cost centre in October 2026; both stay enabled so
# lines accounted before and after the change post.
_EXTRA_COST_CENTRES: dict[tuple[str, str], str] = {("101", "7050"): "7055"}

OPEN, CLOSED, FUTURE = "O", "C", "F"
_CALENDAR_YEARS = (2026, 2027)
_FIRST_OPEN = date(2026, 10, 1)
_FIRST_FUTURE = date(2026, 12, 1)


def cost_centre(department: world.Department) -> str:
    """A clinical department's cost centre: 7000 plus ten times its department number."""
    return f"{7000 + 10 * int(department.department_id[-3:]):04d}"


def natural_account(ehr_account: str) -> str:
    """The five-digit Fusion natural account behind a four-digit EHR GL account."""
    return f"{ehr_account}0"


def combination(*segments: str) -> str:
    """Segments joined the way Fusion shows a combination: `101-7010-40100-000-000-0000`."""
    return "-".join(segments)


def _clinical_cost_centres(facility: world.Facility, department: world.Department) -> list[str]:
    centres = [cost_centre(department)]
    if (facility.company, centres[0]) in _EXTRA_COST_CENTRES:
        centres.append(_EXTRA_COST_CENTRES[(facility.company, centres[0])])
    return centres


def chart_of_accounts() -> frozenset[str]:
    """The ledger's combinations the EHR's revenue feeds post to: revenue accounts on clinical
    cost centres, balance-sheet accounts on 0000 (what the COA crosswalk maps to)."""
    combos: set[str] = set()
    for facility in world.FACILITIES:
        company = facility.company
        for department in facility.clinical:
            for centre in _clinical_cost_centres(facility, department):
                for account, _ in department.revenue:
                    account_segment = natural_account(account)
                    combos.add(combination(company, centre, account_segment, *_TAIL_SEGMENTS))
        for account in world.BALANCE_SHEET_ACCOUNTS:
            combos.add(
                combination(
                    company, BALANCE_SHEET_COST_CENTRE, natural_account(account), *_TAIL_SEGMENTS
                )
            )
    return frozenset(combos)


def expense_combinations() -> frozenset[str]:
    """The supplies and depreciation expense accounts on every clinical cost centre: where
    inventory issues and asset distributions are charged."""
    return frozenset(
        combination(facility.company, centre, account, *_TAIL_SEGMENTS)
        for facility in world.FACILITIES
        for department in facility.clinical
        for centre in _clinical_cost_centres(facility, department)
        for account in EXPENSE_ACCOUNTS
    )


def clinic_cost_centre(clinic: world.Clinic) -> str:
    """An ambulatory clinic's cost centre: 8000 plus ten times its clinic number."""
    return f"{8000 + 10 * clinic.number:04d}"


def ambulatory_combinations() -> frozenset[str]:
    """The professional-fee revenue accounts of the CPT codes finance has mapped, on every
    ambulatory clinic's cost centre in its facility's company: where the ambulatory EHRs'
    charges are credited (their receivables debit the facility's 1200 on 0000)."""
    accounts = sorted({account for _, account in world.PROFESSIONAL_REVENUE})
    return frozenset(
        combination(
            world.clinic_company(clinic),
            clinic_cost_centre(clinic),
            natural_account(account),
            *_TAIL_SEGMENTS,
        )
        for clinic in world.CLINICS
        for account in accounts
    )


def valid_combinations() -> frozenset[str]:
    """Every valid segment combination of the ledger's chart."""
    return chart_of_accounts() | expense_combinations() | ambulatory_combinations()


@dataclass(frozen=True)
class Period:
    """One monthly accounting period, e.g. `Oct-26`."""

    name: str
    start: date
    end: date
    initial_status: str


def calendar() -> tuple[Period, ...]:
    """The ledger's periods in order: closed before Oct-26, Oct/Nov-26 open, later future."""
    periods = []
    for year in _CALENDAR_YEARS:
        for month in range(1, 13):
            start = date(year, month, 1)
            end = date(year, month, monthrange(year, month)[1])
            if start < _FIRST_OPEN:
                status = CLOSED
            elif start < _FIRST_FUTURE:
                status = OPEN
            else:
                status = FUTURE
            periods.append(Period(f"{month_abbr[month]}-{year % 100:02d}", start, end, status))
    return tuple(periods)
