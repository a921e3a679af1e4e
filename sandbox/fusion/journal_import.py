"""Journal Import as the simulator runs it: load a GlInterface zip, validate, post.

Two stages, like Fusion's: the load (zip contents, field count, parseable numbers) fails the
whole job with nothing posted; then each row and each journal is validated, rejected journals
are reported row by row in `rejected_rows.csv`, and the rest post. Messages never quote field
values other than codes, ledgers, periods and combinations (lines may carry PHI).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache

from sandbox.fusion.catalog import Column, FbdiObject, fbdi_object
from sandbox.fusion.ledger import CENT, Books, PostedLine

RELEASE = "25B"
SUCCEEDED, WARNING, ERROR = "SUCCEEDED", "WARNING", "ERROR"
REJECTED_HEADER = (
    "line_number",
    "group_id",
    "journal_name",
    "line_reference",
    "error_code",
    "message",
)
_DATE = re.compile(r"^\d{4}/\d{2}/\d{2}$")
_INTEGER = re.compile(r"^-?\d+$")
_SEGMENTS = 6
_USED_SEGMENTS = tuple(f"SEGMENT{i}" for i in range(1, _SEGMENTS + 1))
_UNUSED_SEGMENTS = tuple(f"SEGMENT{i}" for i in range(_SEGMENTS + 1, 31))
_JOURNAL_KEY = ("LEDGER_ID", "GROUP_ID", "REFERENCE1", "REFERENCE4")


@cache
def spec() -> FbdiObject:
    """The GlInterface layout the simulator validates against (its own catalogue)."""
    return fbdi_object("GlInterface")


class LoadError(ValueError):
    """The file cannot be loaded at all; the message says why and where."""


@dataclass(frozen=True)
class JobParameters:
    """The importBulkData ParameterList of JournalImportLauncher."""

    data_access_set: str
    source: str
    ledger_id: str
    group_id: str

    @classmethod
    def parse(cls, parameter_list: str) -> JobParameters:
        """Parse `<DataAccessSetId|#NULL>,<Source>,<LedgerId>,<GroupId>,N,N,N`."""
        expected = len(spec().ess_job.parameters)
        parts = parameter_list.split(",")
        if len(parts) != expected:
            raise ValueError(f"ParameterList needs {expected} comma-separated values")
        return cls(parts[0], parts[1], parts[2], parts[3])


@dataclass(frozen=True)
class Rejection:
    """One row of `rejected_rows.csv`."""

    line_number: int
    group_id: str
    journal_name: str
    line_reference: str
    error_code: str
    message: str

    def as_row(self) -> tuple[str, ...]:
        """The CSV fields in header order."""
        return (
            str(self.line_number),
            self.group_id,
            self.journal_name,
            self.line_reference,
            self.error_code,
            self.message,
        )


@dataclass
class Outcome:
    """What one import did: terminal status, the human log and rejected rows."""

    status: str
    log: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


Row = dict[str, str]


def load_rows(document: bytes) -> list[Row]:
    """The GlInterface.csv rows of a zip, keyed by column name; LoadError if not loadable."""
    layout = spec()
    try:
        archive = zipfile.ZipFile(io.BytesIO(document))
    except zipfile.BadZipFile:
        raise LoadError("the document is not a zip file") from None
    names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == layout.csv_file]
    if not names:
        raise LoadError(f"the zip holds no {layout.csv_file}")
    try:
        text = archive.read(names[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise LoadError(f"{layout.csv_file} is not UTF-8 text") from None
    columns = [c.name for c in layout.columns]
    numeric = [c for c in layout.columns if c.type in ("integer", "amount")]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for number, fields in enumerate(reader, start=1):
            if len(fields) != len(columns):
                raise LoadError(
                    f"line {number} has {len(fields)} fields; the template has {len(columns)}"
                )
            row = dict(zip(columns, fields, strict=True))
            for column in numeric:
                if row[column.name] and not _is_number(row[column.name], column.type):
                    raise LoadError(
                        f"line {number} column {column.position} {column.name} is not a number"
                    )
            rows.append(row)
    except csv.Error:
        raise LoadError(f"line {reader.line_num}: unparseable CSV") from None
    if not rows:
        raise LoadError(f"{layout.csv_file} has no rows")
    return rows


def import_journals(
    rows: list[Row], params: JobParameters, books: Books, request_id: str
) -> Outcome:
    """Validate loaded rows and post every clean journal; the caller holds the books' lock."""
    outcome = Outcome(ERROR)
    earlier = books.imported_by(params.source, params.group_id)
    if earlier is not None:
        message = f"batch already imported: source and group id posted by request {earlier}"
        outcome.rejected = [_reject(n, row, "EB01", message) for n, row in _numbered(rows)]
        outcome.log.append(f"Duplicate batch: {message}. Nothing was imported.")
        return outcome

    problems = {n: p for n, row in _numbered(rows) if (p := _row_problem(row, params, books))}
    journals: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for number, row in _numbered(rows):
        journals[tuple(row[c] for c in _JOURNAL_KEY)].append(number)

    accepted: list[PostedLine] = []
    rejected_journals = 0
    for numbers in journals.values():
        lines = [(n, rows[n - 1]) for n in numbers]
        if any(n in problems for n in numbers):
            rejected_journals += 1
            for n, row in lines:
                code, message = problems.get(
                    n, ("EJ01", "journal rejected: another line of the journal has errors")
                )
                outcome.rejected.append(_reject(n, row, code, message))
            continue
        debits = sum((_amount(row["ENTERED_DR"]) for _, row in lines), Decimal(0))
        credits = sum((_amount(row["ENTERED_CR"]) for _, row in lines), Decimal(0))
        if debits.quantize(CENT) != credits.quantize(CENT):
            rejected_journals += 1
            message = f"journal does not balance: debits {debits:.2f}, credits {credits:.2f}"
            outcome.rejected.extend(_reject(n, row, "EU02", message) for n, row in lines)
            continue
        accepted.extend(_posted(n, row, books, request_id) for n, row in lines)

    outcome.rejected.sort(key=lambda r: r.line_number)
    books.post(accepted)
    if accepted:
        outcome.status = WARNING if outcome.rejected else SUCCEEDED
    codes = Counter(r.error_code for r in outcome.rejected)
    outcome.log.extend(
        [
            f"Journals: {len(journals) - rejected_journals} posted, {rejected_journals} rejected.",
            f"Lines: {len(accepted)} posted, {len(outcome.rejected)} rejected.",
            *(f"Rejected lines with {code}: {count}" for code, count in sorted(codes.items())),
        ]
    )
    return outcome


def _numbered(rows: list[Row]) -> list[tuple[int, Row]]:
    return list(enumerate(rows, start=1))


def _row_problem(row: Row, params: JobParameters, books: Books) -> tuple[str, str] | None:
    """The first reason this row cannot post, as (code, message), in Fusion's check order."""
    constrained, dates = _checked_columns()
    for column in constrained:
        value = row[column.name]
        if column.required and not value:
            return "ER01", f"required column {column.name} is empty"
        if value and column.allowed and value not in column.allowed:
            return "ER01", f"column {column.name} must be {' or '.join(column.allowed)}"
    if not row["ENTERED_DR"] and not row["ENTERED_CR"]:
        return "ER01", "required column ENTERED_DR or ENTERED_CR is empty"
    for name in dates:
        if row[name] and _date(row[name]) is None:
            return "ED01", f"column {name} is not a YYYY/MM/DD date"
    ledger = books.ledgers.get(row["LEDGER_ID"])
    if ledger is None:
        return "EL01", f"unknown ledger {row['LEDGER_ID']}"
    if row["LEDGER_ID"] != params.ledger_id:
        return "EL01", f"ledger {row['LEDGER_ID']} is not the job's ledger {params.ledger_id}"
    if row["USER_JE_SOURCE_NAME"] != params.source or row["GROUP_ID"] != params.group_id:
        return "ES01", "journal source or group id does not match the job parameters"
    if row["CURRENCY_CODE"] != ledger.currency:
        return "EC01", f"currency {row['CURRENCY_CODE']} unknown for ledger {ledger.name}"
    combo = _combination(row)
    if combo is None:
        return "EF04", "segment combination must use SEGMENT1 to SEGMENT6 and only those"
    problem = ledger.combination_problem(combo)
    if problem is not None:
        return "EF04", problem
    period = ledger.period_for(_date(row["ACCOUNTING_DATE"]) or date.min)
    if period is None:
        return "EP01", "no accounting period contains the accounting date"
    if not ledger.is_open(period.name):
        return "EP01", f"period {period.name} is not open"
    return None


@cache
def _reference_columns() -> tuple[str, ...]:
    return tuple(c.name for c in spec().columns if c.name.startswith("REFERENCE"))


@cache
def _checked_columns() -> tuple[tuple[Column, ...], tuple[str, ...]]:
    """Columns with required flags or allowed values, and the names of date columns."""
    columns = spec().columns
    constrained = tuple(c for c in columns if c.required or c.allowed)
    return constrained, tuple(c.name for c in columns if c.type == "date")


def _posted(number: int, row: Row, books: Books, request_id: str) -> PostedLine:
    accounting_date = _date(row["ACCOUNTING_DATE"])
    ledger = books.ledgers[row["LEDGER_ID"]]
    period = ledger.period_for(accounting_date)  # both validated before posting
    assert accounting_date is not None and period is not None
    return PostedLine(
        request_id=request_id,
        line_number=number,
        ledger_id=row["LEDGER_ID"],
        journal_source=row["USER_JE_SOURCE_NAME"],
        journal_category=row["USER_JE_CATEGORY_NAME"],
        group_id=row["GROUP_ID"],
        batch_name=row["REFERENCE1"],
        journal_name=row["REFERENCE4"],
        accounting_date=accounting_date,
        period_name=period.name,
        currency=row["CURRENCY_CODE"],
        account_combination=_combination(row) or "",
        entered_dr=_amount(row["ENTERED_DR"]),
        entered_cr=_amount(row["ENTERED_CR"]),
        references={k: row[k] for k in _reference_columns() if row[k]},
    )


def _reject(number: int, row: Row, code: str, message: str) -> Rejection:
    return Rejection(number, row["GROUP_ID"], row["REFERENCE4"], row["REFERENCE23"], code, message)


def _combination(row: Row) -> str | None:
    used = [row[name] for name in _USED_SEGMENTS]
    if not all(used) or any(row[name] for name in _UNUSED_SEGMENTS):
        return None
    return "-".join(used)


@lru_cache(maxsize=4096)  # a batch carries few distinct dates
def _date(value: str) -> date | None:
    if not _DATE.match(value):
        return None
    try:
        return date(int(value[:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return None


def _is_number(value: str, column_type: str) -> bool:
    if column_type == "integer":
        return bool(_INTEGER.match(value))
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


def _amount(value: str) -> Decimal:
    return Decimal(value) if value else Decimal(0)
