"""The monthly reconciliation pack's contents: per facility and category, the amounts that
explain source minus Fusion (built by runtime/reports/reconcile.py, drawn by
runtime/reports/reconcile_page.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path

from runtime.reports import reconcile_reads as reads
from runtime.reports.reconcile_reads import Period

CURRENCY = "USD"
CENT = Decimal("0.01")
NO_COMPANY = "(unmapped)"
# The categories that explain source minus Fusion, in the order the pack shows them.
CATEGORIES = {
    reads.IN_FLIGHT: "in flight",
    reads.REJECTED: "rejected in queue",
    reads.EXCEPTIONS: "held as exceptions",
    reads.REDATED: "re-dated corrections",
}


@dataclass
class Amounts:
    """Debits and credits (and lines, where they are known) of one category."""

    lines: int | None = 0
    debit: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)

    def add(self, other: Amounts) -> None:
        """Add `other` in place; lines stay unknown when either side has none."""
        if self.lines is not None and other.lines is not None:
            self.lines += other.lines
        else:
            self.lines = None
        self.debit += other.debit
        self.credit += other.credit


@dataclass
class FacilityRow:
    """One facility (or the facilities sharing one Fusion company) in the period."""

    facility: str
    company: str
    source: Amounts = field(default_factory=Amounts)
    fusion_posted: Amounts = field(default_factory=lambda: Amounts(lines=None))
    recorded_posted: Amounts = field(default_factory=Amounts)
    in_flight: Amounts = field(default_factory=Amounts)
    rejected: Amounts = field(default_factory=Amounts)
    exceptions: Amounts = field(default_factory=Amounts)
    redated: Amounts = field(default_factory=Amounts)

    @property
    def unexplained(self) -> Amounts:
        """Source minus Fusion's posted activity minus every explaining category."""
        explained = [self.fusion_posted, *(getattr(self, name) for name in CATEGORIES)]
        return Amounts(
            lines=None,
            debit=self.source.debit - sum((a.debit for a in explained), Decimal(0)),
            credit=self.source.credit - sum((a.credit for a in explained), Decimal(0)),
        )

    @property
    def clean(self) -> bool:
        return not (self.unexplained.debit or self.unexplained.credit)

    def add(self, other: FacilityRow) -> None:
        """Add every category of `other` in place (for totals)."""
        for name in ("source", "fusion_posted", "recorded_posted", *CATEGORIES):
            getattr(self, name).add(getattr(other, name))


CSV_COLUMNS = (
    ["period", "period_name", "facility", "company", "currency"]
    + [
        f"{name}_{measure}"
        for name, measures in (
            ("source", ("lines", "debit", "credit")),
            ("fusion_posted", ("debit", "credit")),
            ("recorded_posted", ("lines", "debit", "credit")),
            *((name, ("lines", "debit", "credit")) for name in CATEGORIES),
            ("unexplained", ("debit", "credit")),
        )
        for measure in measures
    ]
    + ["status"]
)


@dataclass
class ReconciliationPack:
    """The pack of one tenant and GL period, and the files written for it."""

    tenant: str
    timezone: tzinfo
    ledger: str
    period: Period
    currency: str
    generated_at: datetime
    warehouse: str
    rows: list[FacilityRow]
    csv_path: Path | None = None
    html_path: Path | None = None

    @property
    def total(self) -> FacilityRow:
        """Every row added up."""
        total = FacilityRow("Total", "")
        for row in self.rows:
            total.add(row)
        return total

    @property
    def unexplained(self) -> bool:
        """Whether any facility has drift no category explains (debits or credits)."""
        return not all(row.clean for row in self.rows)

    @property
    def status(self) -> str:
        return "unexplained drift" if self.unexplained else "clean"

    def csv_row(self, row: FacilityRow) -> dict[str, str]:
        """One CSV row: counts as integers, amounts as decimals with two places."""
        values = {
            "period": self.period.month,
            "period_name": self.period.name,
            "facility": row.facility,
            "company": row.company,
            "currency": self.currency,
            "status": "clean" if row.clean else "unexplained drift",
        }
        for column in CSV_COLUMNS:
            if column in values:
                continue
            name, measure = column.rsplit("_", 1)
            value = getattr(getattr(row, name), measure)
            values[column] = str(value) if measure == "lines" else cents(value)
        return values

    def summary(self) -> dict:
        """A JSON-able summary: status, totals per category and facility, file paths."""
        return {
            "tenant": self.tenant,
            "ledger": self.ledger,
            "period": self.period.month,
            "period_name": self.period.name,
            "currency": self.currency,
            "generated_at": self.generated_at.isoformat(),
            "status": self.status,
            "unexplained": self.unexplained,
            "total": _drop_labels(self.csv_row(self.total)),
            "facilities": [self.csv_row(row) for row in self.rows],
            "files": {
                "csv": str(self.csv_path) if self.csv_path else None,
                "html": str(self.html_path) if self.html_path else None,
            },
        }


def cents(value: Decimal) -> str:
    """An amount as a plain decimal string with two places (no separators)."""
    return str(Decimal(value).quantize(CENT))


def _drop_labels(values: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if k not in ("facility", "company")}
