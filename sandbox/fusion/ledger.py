"""The simulated Fusion books: ledgers, their periods, posted journal lines, batches, balances.

Not thread-safe on its own: the simulator holds one lock around every use.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.fusion import chart

CENT = Decimal("0.01")


@dataclass(frozen=True)
class PostedLine:
    """One journal line as posted, with the GL_INTERFACE reference columns it carried."""

    request_id: str
    line_number: int
    ledger_id: str
    journal_source: str
    journal_category: str
    group_id: str
    batch_name: str
    journal_name: str
    accounting_date: date
    period_name: str
    currency: str
    account_combination: str
    entered_dr: Decimal
    entered_cr: Decimal
    references: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """JSON-able form for `/__sandbox__/ledger`."""
        return {
            "RequestId": self.request_id,
            "LineNumber": self.line_number,
            "LedgerId": self.ledger_id,
            "JournalSource": self.journal_source,
            "JournalCategory": self.journal_category,
            "GroupId": self.group_id,
            "JournalBatchName": self.batch_name,
            "JournalName": self.journal_name,
            "AccountingDate": self.accounting_date.isoformat(),
            "PeriodName": self.period_name,
            "Currency": self.currency,
            "AccountCombination": self.account_combination,
            "EnteredDr": _money(self.entered_dr),
            "EnteredCr": _money(self.entered_cr),
            "References": dict(self.references),
        }


@dataclass
class JournalBatch:
    """A posted batch: the lines one request posted under one batch name (REFERENCE1)."""

    request_id: str
    ledger_id: str
    batch_name: str
    group_id: str
    journal_source: str
    line_references: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The journalBatches item."""
        return {
            "JournalBatchName": self.batch_name,
            "LedgerId": self.ledger_id,
            "GroupId": self.group_id,
            "JournalSource": self.journal_source,
            "Status": "Posted",
            "RequestId": self.request_id,
            "LineCount": len(self.line_references),
            "PostedLineReferences": list(self.line_references),
        }


class Ledger:
    """One ledger: its chart, period statuses and the activity posted to it."""

    def __init__(self, ledger_id: str, name: str, currency: str) -> None:
        self.ledger_id = ledger_id
        self.name = name
        self.currency = currency
        self.combinations = chart.valid_combinations()
        self.disabled: set[str] = set()
        self.periods = chart.calendar()
        self.period_status = {p.name: p.initial_status for p in self.periods}
        self._order = {p.name: i for i, p in enumerate(self.periods)}
        # (period, combination, currency) -> [debits, credits]
        self.activity: dict[tuple[str, str, str], list[Decimal]] = defaultdict(
            lambda: [Decimal(0), Decimal(0)]
        )

    def combination_problem(self, combination: str) -> str | None:
        """Why `combination` cannot take postings, or None when it can."""
        if combination not in self.combinations:
            return f"segment combination {combination} is not in the chart of accounts"
        if combination in self.disabled:
            return f"segment combination {combination} is disabled"
        return None

    def period_for(self, day: date) -> chart.Period | None:
        """The period containing `day`, if the calendar has one."""
        return next((p for p in self.periods if p.start <= day <= p.end), None)

    def is_open(self, period_name: str) -> bool:
        """Whether the period accepts postings."""
        return self.period_status.get(period_name) == chart.OPEN

    def post(self, line: PostedLine) -> None:
        """Add one line's amounts to the balances."""
        amounts = self.activity[(line.period_name, line.account_combination, line.currency)]
        amounts[0] += line.entered_dr
        amounts[1] += line.entered_cr

    def balances(self, period_name: str, currency: str, pattern: str | None) -> list[dict]:
        """AccountBalanceFinder rows, one per combination with any balance up to the period.

        `pattern` is a combination in which `%` matches any run of characters.
        """
        if period_name not in self._order:
            return []
        upto = self._order[period_name]
        matcher = _like(pattern) if pattern else None
        rows: dict[str, list[Decimal]] = {}
        for (period, combo, cur), (dr, cr) in self.activity.items():
            if cur != currency or self._order[period] > upto:
                continue
            if matcher is not None and not matcher.fullmatch(combo):
                continue
            row = rows.setdefault(combo, [Decimal(0), Decimal(0), Decimal(0)])
            if period == period_name:
                row[1] += dr
                row[2] += cr
            else:
                row[0] += dr - cr
        return [
            {
                "LedgerName": self.name,
                "PeriodName": period_name,
                "Currency": currency,
                "DetailAccountCombination": combo,
                "BeginningBalance": _money(begin),
                "PeriodActivity": _money(dr - cr),
                "EndingBalance": _money(begin + dr - cr),
                "PeriodActivityDebit": _money(dr),
                "PeriodActivityCredit": _money(cr),
            }
            for combo, (begin, dr, cr) in sorted(rows.items())
        ]


class Books:
    """Every ledger of the simulated Fusion plus the batches posted to them."""

    def __init__(self) -> None:
        primary = Ledger(chart.LEDGER_ID, chart.LEDGER_NAME, chart.LEDGER_CURRENCY)
        self.ledgers: dict[str, Ledger] = {primary.ledger_id: primary}
        self.lines: list[PostedLine] = []
        self.batches: list[JournalBatch] = []

    def ledger_named(self, name: str) -> Ledger | None:
        """The ledger called `name`."""
        return next((x for x in self.ledgers.values() if x.name == name), None)

    def imported_by(self, source: str, group_id: str) -> str | None:
        """The request that already posted this source and group id, if any."""
        for batch in self.batches:
            if batch.journal_source == source and batch.group_id == group_id:
                return batch.request_id
        return None

    def post(self, lines: list[PostedLine]) -> None:
        """Post accepted lines: balances, the line store and one batch per batch name."""
        batches: dict[tuple[str, str], JournalBatch] = {}
        for line in lines:
            self.ledgers[line.ledger_id].post(line)
            self.lines.append(line)
            key = (line.ledger_id, line.batch_name)
            if key not in batches:
                batches[key] = JournalBatch(
                    line.request_id,
                    line.ledger_id,
                    line.batch_name,
                    line.group_id,
                    line.journal_source,
                )
            batches[key].line_references.append(line.references.get("REFERENCE23", ""))
        self.batches.extend(batches.values())


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("%")))


def _money(amount: Decimal) -> float:
    """Two-decimal amount as a JSON number."""
    return float(amount.quantize(CENT))
