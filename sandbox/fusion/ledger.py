"""The simulated Fusion books: ledgers, their periods, posted journal lines, batches, balances.

Posted lines are kept one Arrow table per import, in GL_INTERFACE column names (string columns
of few distinct values dictionary-encoded), packed as zstd-compressed Arrow IPC (only the
sandbox's ledger route reads them back), never as an object per line. Amounts stay the text
the file carried and are summed as decimal128(38, 2) when they have at most two decimals, as
Decimal otherwise.

Not thread-safe on its own: the simulator holds one lock around every use.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc

from sandbox.fusion import chart
from sandbox.fusion.columns import column_or_empty, group_numbers, is_empty, to_bools

CENT = Decimal("0.01")
MONEY = pa.decimal128(38, 2)
_CENTS = r"^-?[0-9]{1,20}(\.[0-9]{1,2})?$"  # exact in decimal128(38, 2), sums included
# The columns of a posted line besides its REFERENCE columns (GL_INTERFACE names, and ours).
POSTED_COLUMNS = (
    "LINE_NUMBER",
    "LEDGER_ID",
    "USER_JE_SOURCE_NAME",
    "USER_JE_CATEGORY_NAME",
    "GROUP_ID",
    "ACCOUNTING_DATE",
    "PERIOD_NAME",
    "CURRENCY_CODE",
    "ACCOUNT_COMBINATION",
    "ENTERED_DR",
    "ENTERED_CR",
)
_ACTIVITY_KEY = ("LEDGER_ID", "PERIOD_NAME", "ACCOUNT_COMBINATION", "CURRENCY_CODE")


def amounts(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, dict[int, Decimal]]:
    """Amount texts (empty: none) as decimal128(38, 2), null where empty or where the text has
    more decimals or digits than that holds; those rows' amounts as Decimal, by row."""
    plain = pc.match_substring_regex(column, _CENTS)
    cents = pc.cast(pc.if_else(plain, column, pa.scalar(None, pa.string())), MONEY)
    other = np.flatnonzero(~to_bools(plain) & ~is_empty(column))
    texts = column.take(pa.array(other, pa.int64())).to_pylist()
    return cents, {int(row): Decimal(text) for row, text in zip(other, texts, strict=True)}


def decimal(value: Decimal | None) -> Decimal:
    """A sum that may be null (no amounts) as a Decimal."""
    return Decimal(0) if value is None else value


@dataclass
class JournalBatch:
    """A posted batch: the lines one request posted under one batch name (REFERENCE1)."""

    request_id: str
    ledger_id: str
    batch_name: str
    group_id: str
    journal_source: str
    line_references: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))

    def summary(self) -> dict[str, Any]:
        """The journalBatches item without its line references."""
        return {
            "JournalBatchName": self.batch_name,
            "LedgerId": self.ledger_id,
            "GroupId": self.group_id,
            "JournalSource": self.journal_source,
            "Status": "Posted",
            "RequestId": self.request_id,
            "LineCount": len(self.line_references),
        }

    def to_json(self) -> dict[str, Any]:
        """The journalBatches item."""
        return self.summary() | {"PostedLineReferences": self.line_references.to_pylist()}


def _no_activity() -> list[Decimal]:
    """Debits and credits of a combination nothing posted to yet (a module function: the
    simulator's state is pickled)."""
    return [Decimal(0), Decimal(0)]


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
        self.activity: dict[tuple[str, str, str], list[Decimal]] = defaultdict(_no_activity)

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

    def add(
        self, period_name: str, combination: str, currency: str, dr: Decimal, cr: Decimal
    ) -> None:
        """Add posted amounts to the balances."""
        amounts = self.activity[(period_name, combination, currency)]
        amounts[0] += dr
        amounts[1] += cr

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
    """Every ledger of the simulated Fusion plus the lines and batches posted to them."""

    def __init__(self) -> None:
        primary = Ledger(chart.LEDGER_ID, chart.LEDGER_NAME, chart.LEDGER_CURRENCY)
        self.ledgers: dict[str, Ledger] = {primary.ledger_id: primary}
        self.batches: list[JournalBatch] = []
        self._posted: list[tuple[str, pa.Buffer]] = []  # (request id, its posted lines packed)

    def ledger_named(self, name: str) -> Ledger | None:
        """The ledger called `name`."""
        return next((x for x in self.ledgers.values() if x.name == name), None)

    def imported_by(self, source: str, group_id: str) -> str | None:
        """The request that already posted this source and group id, if any."""
        for batch in self.batches:
            if batch.journal_source == source and batch.group_id == group_id:
                return batch.request_id
        return None

    def post(self, request_id: str, lines: pa.Table) -> None:
        """Post one request's accepted lines, in posting order: the balances, the line store and
        one batch per ledger and batch name (REFERENCE1), in order of their first line.

        `lines` has the POSTED_COLUMNS (ACCOUNTING_DATE a date) and the REFERENCE columns.
        """
        if lines.num_rows == 0:
            return
        self._add_activity(lines)
        self._posted.append((request_id, _packed(lines)))
        batch_names = column_or_empty(lines, "REFERENCE1")
        references = column_or_empty(lines, "REFERENCE23")
        numbers, firsts = group_numbers([lines.column("LEDGER_ID"), batch_names], lines.num_rows)
        for number, first in enumerate(firsts.tolist()):
            rows = np.flatnonzero(numbers == number) if len(firsts) > 1 else None
            self.batches.append(
                JournalBatch(
                    request_id,
                    lines.column("LEDGER_ID")[first].as_py(),
                    batch_names[first].as_py(),
                    lines.column("GROUP_ID")[first].as_py(),
                    lines.column("USER_JE_SOURCE_NAME")[first].as_py(),
                    (references if rows is None else references.take(rows)).combine_chunks(),
                )
            )

    def posted_lines(self) -> Iterator[dict[str, Any]]:
        """Every posted line as `/__sandbox__/ledger` shows it, in posting order."""
        for request_id, packed in self._posted:
            table = pa.ipc.open_stream(packed).read_all()
            references = [n for n in table.column_names if n.startswith("REFERENCE")]
            for batch in table.to_batches(max_chunksize=65_536):
                for row in batch.to_pylist():
                    yield {
                        "RequestId": request_id,
                        "LineNumber": row["LINE_NUMBER"],
                        "LedgerId": row["LEDGER_ID"],
                        "JournalSource": row["USER_JE_SOURCE_NAME"],
                        "JournalCategory": row["USER_JE_CATEGORY_NAME"],
                        "GroupId": row["GROUP_ID"],
                        "JournalBatchName": row.get("REFERENCE1", ""),
                        "JournalName": row.get("REFERENCE4", ""),
                        "AccountingDate": row["ACCOUNTING_DATE"].isoformat(),
                        "PeriodName": row["PERIOD_NAME"],
                        "Currency": row["CURRENCY_CODE"],
                        "AccountCombination": row["ACCOUNT_COMBINATION"],
                        "EnteredDr": _money(Decimal(row["ENTERED_DR"] or 0)),
                        "EnteredCr": _money(Decimal(row["ENTERED_CR"] or 0)),
                        "References": {k: row[k] for k in references if row[k]},
                    }

    def _add_activity(self, lines: pa.Table) -> None:
        """Each line's amounts into its ledger's balances, summed per period, combination and
        currency."""
        dr, dr_other = amounts(lines.column("ENTERED_DR"))
        cr, cr_other = amounts(lines.column("ENTERED_CR"))
        keys = [lines.column(name) for name in _ACTIVITY_KEY]
        numbers, firsts = group_numbers(keys, lines.num_rows)
        sums = (
            pa.table({"key": numbers, "dr": dr, "cr": cr})
            .group_by("key", use_threads=False)
            .aggregate([("dr", "sum"), ("cr", "sum")])
        )
        totals = {
            key: [decimal(dr_sum), decimal(cr_sum)]
            for key, dr_sum, cr_sum in zip(
                sums.column("key").to_pylist(),
                sums.column("dr_sum").to_pylist(),
                sums.column("cr_sum").to_pylist(),
                strict=True,
            )
        }
        for side, others in ((0, dr_other), (1, cr_other)):
            for row, amount in others.items():
                totals[int(numbers[row])][side] += amount
        for key, first in enumerate(firsts.tolist()):
            ledger_id, *activity = (column[first].as_py() for column in keys)
            self.ledgers[ledger_id].add(*activity, *totals[key])


def _packed(table: pa.Table) -> pa.Buffer:
    """A table as a zstd-compressed Arrow IPC stream: posted lines are read back rarely (the
    sandbox's ledger route), and packed they take a fraction of their Arrow size."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("%")))


def _money(amount: Decimal) -> float:
    """Two-decimal amount as a JSON number."""
    return float(amount.quantize(CENT))
