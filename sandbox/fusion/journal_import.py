"""Journal Import as the simulator runs it: load a GlInterface zip, validate, post.

Two stages, like Fusion's: the load (zip contents, field count, parseable numbers) fails the
whole job with nothing posted; then each row and each journal is validated, rejected journals
are reported row by row in `rejected_rows.csv`, and the rest post. Messages never quote field
values other than codes, ledgers, periods and combinations (lines may carry PHI).

A row carries the first of these problems: ER01 a required column empty or a value not allowed
(in column order), ER01 neither ENTERED_DR nor ENTERED_CR, ED01 a date column not YYYY/MM/DD,
EL01 an unknown ledger or not the job's, ES01 journal source or group id not the job's, EC01 a
currency not the ledger's, EF04 segments other than SEGMENT1..6 or a combination not in the
chart (or disabled), EP01 no period or one not open. A journal (rows sharing LEDGER_ID,
GROUP_ID, REFERENCE1, REFERENCE4) with a bad row is rejected whole (its other rows EJ01); one
whose debits and credits differ to the cent is rejected whole with EU02. A source and group id
posted before rejects the whole file with EB01.

The batch is judged in bulk, as Arrow columns, never as an object per line. The load reads the
CSV block by block (`sandbox.fusion.fbdi_csv`), checks each block's numbers and the row checks
that read nothing but the row, and keeps only the columns posting and rejecting need. Under the
simulator's lock, the checks against the books (ledger, currency, chart, period) are made once
per distinct value and spread over the rows, journals are numbered and summed with hash
aggregations (amounts as decimal128, or Decimal when they have more than two decimals), and the
accepted lines post as one Arrow table (`sandbox.fusion.ledger`).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sandbox.fusion.catalog import Column, FbdiObject, fbdi_object
from sandbox.fusion.columns import (
    Problem,
    Problems,
    column_or_empty,
    encoded,
    few_values,
    first_problem,
    group_numbers,
    is_all_empty,
    is_empty,
    mapped,
    per_value,
    string_column,
    to_bools,
)
from sandbox.fusion.fbdi_csv import LoadError, Shape, load
from sandbox.fusion.ledger import CENT, MONEY, POSTED_COLUMNS, Books, Ledger, amounts, decimal

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
# Values these match (RE2, ASCII digits) are numbers; any other is judged by _is_number.
_SURE_NUMBERS = {"integer": r"^-?[0-9]+$", "amount": r"^-?[0-9]+(\.[0-9]+)?$"}
_SEGMENTS = 6
_USED_SEGMENTS = tuple(f"SEGMENT{i}" for i in range(1, _SEGMENTS + 1))
_UNUSED_SEGMENTS = tuple(f"SEGMENT{i}" for i in range(_SEGMENTS + 1, 31))
_JOURNAL_KEY = ("LEDGER_ID", "GROUP_ID", "REFERENCE1", "REFERENCE4")
_AMOUNTS = ("ENTERED_DR", "ENTERED_CR")
_NO_AMOUNT = ("ER01", "required column ENTERED_DR or ENTERED_CR is empty")
_WRONG_JOB = ("ES01", "journal source or group id does not match the job parameters")
_BAD_SEGMENTS = ("EF04", "segment combination must use SEGMENT1 to SEGMENT6 and only those")
_OTHER_LINE = ("EJ01", "journal rejected: another line of the journal has errors")


@cache
def spec() -> FbdiObject:
    """The GlInterface layout the simulator validates against (its own catalogue)."""
    return fbdi_object("GlInterface")


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


@dataclass
class Outcome:
    """What one import did: terminal status, the human log and the rejected rows (a table in
    REJECTED_HEADER's columns)."""

    status: str
    log: list[str] = field(default_factory=list)
    rejected: pa.Table | None = None


@dataclass
class Loaded:
    """A loaded GlInterface.csv: the columns posting and rejecting need, one row per line in
    file order, and what the checks that read only the row found."""

    lines: pa.Table
    problems: Problems
    early: np.ndarray  # per row: ER01 and ED01 problems (checks in column order), or -1
    wrong_job: np.ndarray  # per row: source or group id not the job's (ES01)
    bad_segments: np.ndarray  # per row: not exactly SEGMENT1..6 filled (EF04)


def load_lines(document: bytes, params: JobParameters) -> Loaded:
    """Load the zip's GlInterface.csv and check each row alone; LoadError if not loadable."""
    layout = spec()
    try:
        archive = zipfile.ZipFile(io.BytesIO(document))
    except zipfile.BadZipFile:
        raise LoadError("the document is not a zip file") from None
    names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == layout.csv_file]
    if not names:
        raise LoadError(f"the zip holds no {layout.csv_file}")
    shape = Shape(layout.csv_file, tuple(c.name for c in layout.columns), _needed_columns())
    try:
        blocks = load(
            lambda: archive.open(names[0]),
            shape,
            lambda: _Blocks(params),
            archive.getinfo(names[0]).file_size,
        )
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise LoadError(f"{layout.csv_file} cannot be read from the zip") from None
    if not sum(blocks.lengths):
        raise LoadError(f"{layout.csv_file} has no rows")
    return blocks.loaded()


class _Blocks:
    """The load stage's sink: each block's numbers and row checks, and the columns kept."""

    def __init__(self, params: JobParameters) -> None:
        self.params = params
        self.problems = Problems()
        self.parts: dict[str, list[pa.Array | None]] = {name: [] for name in _kept_columns()}
        self.encode: dict[str, bool] = {}  # kept dictionary-encoded: columns of few values
        self.lengths: list[int] = []
        self.early: list[np.ndarray] = []
        self.wrong_job: list[np.ndarray] = []
        self.bad_segments: list[np.ndarray] = []

    def add(self, first_line: int, batch: pa.RecordBatch) -> None:
        columns = dict(zip(batch.schema.names, batch.columns, strict=True))
        _check_numbers(first_line, columns)
        self.early.append(self._early(columns, batch.num_rows))
        wrong_job = pc.or_(
            pc.not_equal(columns["USER_JE_SOURCE_NAME"], self.params.source),
            pc.not_equal(columns["GROUP_ID"], self.params.group_id),
        )
        self.wrong_job.append(to_bools(wrong_job))
        self.bad_segments.append(_bad_segments(columns, batch.num_rows))
        segments = [columns[name] for name in _USED_SEGMENTS]
        columns["ACCOUNT_COMBINATION"] = pc.binary_join_element_wise(*segments, "-")
        for name, parts in self.parts.items():
            column = columns[name]
            if is_all_empty(column):
                parts.append(None)
                continue
            if name not in self.encode:  # decided on its first block
                self.encode[name] = name not in _AMOUNTS and few_values(column)
            parts.append(encoded(column) if self.encode[name] else column)
        self.lengths.append(batch.num_rows)

    def _early(self, columns: dict[str, pa.Array], rows: int) -> np.ndarray:
        """The first ER01 or ED01 problem of each row."""
        problems = self.problems
        problem = np.full(rows, -1, np.int32)
        constrained, dates = _checked_columns()
        for column in constrained:
            values = columns[column.name]
            empty = is_empty(values)
            if column.required:
                required = ("ER01", f"required column {column.name} is empty")
                first_problem(problem, problems.where(empty, required))
            if column.allowed:
                allowed = ("ER01", f"column {column.name} must be {' or '.join(column.allowed)}")
                other = ~empty & ~to_bools(pc.is_in(values, pa.array(column.allowed)))
                first_problem(problem, problems.where(other, allowed))
        no_amount = is_empty(columns["ENTERED_DR"]) & is_empty(columns["ENTERED_CR"])
        first_problem(problem, problems.where(no_amount, _NO_AMOUNT))
        for name in dates:
            if not is_all_empty(columns[name]):
                first_problem(problem, problems.per_value(columns[name], _date_problem(name)))
        return problem

    def loaded(self) -> Loaded:
        columns = {
            name: string_column(parts, self.lengths)
            for name, parts in self.parts.items()
            if any(part is not None for part in parts)
        }
        return Loaded(
            pa.table(columns) if columns else pa.table({"_": pa.nulls(sum(self.lengths))}),
            self.problems,
            np.concatenate(self.early),
            np.concatenate(self.wrong_job),
            np.concatenate(self.bad_segments),
        )


def import_journals(
    loaded: Loaded, params: JobParameters, books: Books, request_id: str
) -> Outcome:
    """Validate loaded lines and post every clean journal; the caller holds the books' lock."""
    outcome = Outcome(ERROR)
    lines, problems = loaded.lines, loaded.problems
    rows = lines.num_rows
    earlier = books.imported_by(params.source, params.group_id)
    if earlier is not None:
        message = f"batch already imported: source and group id posted by request {earlier}"
        every = np.full(rows, problems.number(("EB01", message)), np.int32)
        outcome.rejected = _rejected(lines, np.arange(rows), every, problems)
        outcome.log.append(f"Duplicate batch: {message}. Nothing was imported.")
        return outcome

    problem = loaded.early.copy()
    first_problem(
        problem,
        problems.per_value(
            column_or_empty(lines, "LEDGER_ID"), lambda v: _ledger_problem(v, params, books)
        ),
    )
    first_problem(problem, problems.where(loaded.wrong_job, _WRONG_JOB))
    ledger = books.ledgers.get(params.ledger_id)
    if ledger is not None:  # else every row has a problem already (EL01 at the latest)
        _books_problems(problem, loaded, ledger)

    numbers, firsts = group_numbers([column_or_empty(lines, k) for k in _JOURNAL_KEY], rows)
    journals = len(firsts)
    bad = np.zeros(journals, bool)
    bad[numbers[problem >= 0]] = True
    unbalanced = _unbalanced(lines, numbers, journals, bad, problems)
    journal_problem = np.full(journals, -1, np.int32)
    journal_problem[bad] = problems.number(_OTHER_LINE)
    journal_problem[unbalanced >= 0] = unbalanced[unbalanced >= 0]
    first_problem(problem, journal_problem[numbers])

    rejected = np.flatnonzero(problem >= 0)
    order = np.argsort(numbers, kind="stable")  # journal by journal, each in file order
    posted = order[problem[order] < 0]
    if ledger is not None and len(posted):
        books.post(request_id, _posted_lines(lines, posted, problem < 0, ledger))
    outcome.rejected = _rejected(lines, rejected, problem, problems)
    if len(posted):
        outcome.status = WARNING if len(rejected) else SUCCEEDED
    rejected_journals = int(np.count_nonzero(journal_problem >= 0))
    counts = problems.counts(problem[rejected])
    outcome.log.extend(
        [
            f"Journals: {journals - rejected_journals} posted, {rejected_journals} rejected.",
            f"Lines: {len(posted)} posted, {len(rejected)} rejected.",
            *(f"Rejected lines with {code}: {count}" for code, count in counts.items()),
        ]
    )
    return outcome


def _books_problems(problem: np.ndarray, loaded: Loaded, ledger: Ledger) -> None:
    """The checks against the job's ledger, in order: currency, segments, chart, period."""
    lines, problems = loaded.lines, loaded.problems

    def currency(value: str) -> Problem | None:
        if value == ledger.currency:
            return None
        return "EC01", f"currency {value} unknown for ledger {ledger.name}"

    def combination(value: str) -> Problem | None:
        found = ledger.combination_problem(value)
        return None if found is None else ("EF04", found)

    def period(value: str) -> Problem | None:
        found = ledger.period_for(_date(value) or date.min)
        if found is None:
            return "EP01", "no accounting period contains the accounting date"
        if not ledger.is_open(found.name):
            return "EP01", f"period {found.name} is not open"
        return None

    first_problem(problem, problems.per_value(column_or_empty(lines, "CURRENCY_CODE"), currency))
    first_problem(problem, problems.where(loaded.bad_segments, _BAD_SEGMENTS))
    combinations = column_or_empty(lines, "ACCOUNT_COMBINATION")
    first_problem(problem, problems.per_value(combinations, combination))
    first_problem(problem, problems.per_value(column_or_empty(lines, "ACCOUNTING_DATE"), period))


def _unbalanced(
    lines: pa.Table, numbers: np.ndarray, journals: int, bad: np.ndarray, problems: Problems
) -> np.ndarray:
    """Per journal, the number of its EU02 problem when it has no bad row and its debits and
    credits differ to the cent, else -1."""
    dr, dr_other = amounts(column_or_empty(lines, "ENTERED_DR"))
    cr, cr_other = amounts(column_or_empty(lines, "ENTERED_CR"))
    sums = (
        pa.table({"journal": numbers, "dr": dr, "cr": cr})
        .group_by("journal", use_threads=False)
        .aggregate([("dr", "sum"), ("cr", "sum")])
    )
    at = np.empty(journals, np.int64)
    at[sums.column("journal").to_numpy()] = np.arange(sums.num_rows)
    zero = pa.scalar(Decimal(0), MONEY)
    differ = to_bools(
        pc.not_equal(
            pc.fill_null(sums.column("dr_sum"), zero), pc.fill_null(sums.column("cr_sum"), zero)
        )
    )[at]
    others: dict[int, list[Decimal]] = {}  # journal -> amounts beyond two decimals
    for side, found in ((0, dr_other), (1, cr_other)):
        for row, amount in found.items():
            others.setdefault(int(numbers[row]), [Decimal(0), Decimal(0)])[side] += amount

    def totals(journal: int) -> tuple[Decimal, Decimal]:
        debits = decimal(sums.column("dr_sum")[int(at[journal])].as_py())
        credits = decimal(sums.column("cr_sum")[int(at[journal])].as_py())
        extra = others.get(journal, (Decimal(0), Decimal(0)))
        return debits + extra[0], credits + extra[1]

    for journal in others:
        debits, credits = totals(journal)
        differ[journal] = debits.quantize(CENT) != credits.quantize(CENT)
    unbalanced = np.full(journals, -1, np.int32)
    for journal in np.flatnonzero(differ & ~bad).tolist():
        debits, credits = totals(journal)
        message = f"journal does not balance: debits {debits:.2f}, credits {credits:.2f}"
        unbalanced[journal] = problems.number(("EU02", message))
    return unbalanced


def _posted_lines(
    lines: pa.Table, rows: np.ndarray, accepted: np.ndarray, ledger: Ledger
) -> pa.Table:
    """The accepted `rows`, in posting order, as the books keep posted lines."""
    if (np.diff(rows) > 0).all():  # journals one after the other: posting order is file order
        taken = lines.filter(pa.array(accepted))
    else:
        taken = lines.unify_dictionaries().combine_chunks().take(pa.array(rows))
    accounting_dates = column_or_empty(taken, "ACCOUNTING_DATE")
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "LINE_NUMBER": pa.array(rows + 1, pa.int64()),
        "ACCOUNTING_DATE": mapped(accounting_dates, _date, pa.date32()),
        "PERIOD_NAME": mapped(
            accounting_dates, lambda v: ledger.period_for(_date(v)).name, pa.string()
        ),
    }
    for name in POSTED_COLUMNS:
        if name not in columns:
            columns[name] = column_or_empty(taken, name)
    for name in _reference_columns():
        if name in taken.column_names:
            columns[name] = taken.column(name)
    return pa.table(columns)


def _rejected(
    lines: pa.Table, rows: np.ndarray, problem: np.ndarray, problems: Problems
) -> pa.Table:
    """The rejected rows (in line order) in REJECTED_HEADER's columns."""
    at = pa.array(rows, pa.int64())
    codes, messages = problems.columns(problem[rows])
    columns = [
        pa.array(rows + 1, pa.int64()),
        column_or_empty(lines, "GROUP_ID").take(at),
        column_or_empty(lines, "REFERENCE4").take(at),
        column_or_empty(lines, "REFERENCE23").take(at),
        codes,
        messages,
    ]
    return pa.table(columns, names=list(REJECTED_HEADER))


def _ledger_problem(value: str, params: JobParameters, books: Books) -> Problem | None:
    if value not in books.ledgers:
        return "EL01", f"unknown ledger {value}"
    if value != params.ledger_id:
        return "EL01", f"ledger {value} is not the job's ledger {params.ledger_id}"
    return None


def _date_problem(name: str):
    def judge(value: str) -> Problem | None:
        if value and _date(value) is None:
            return "ED01", f"column {name} is not a YYYY/MM/DD date"
        return None

    return judge


def _check_numbers(first_line: int, columns: dict[str, pa.Array]) -> None:
    """LoadError naming the first line (and its first column) whose integer or amount column
    is not a number."""
    found: tuple[int, Column] | None = None
    for column in _numeric_columns():
        values = columns[column.name]
        if is_all_empty(values):
            continue
        sure = to_bools(pc.match_substring_regex(values, _SURE_NUMBERS[column.type]))
        doubtful = np.flatnonzero(~sure & ~is_empty(values))
        if not len(doubtful):
            continue
        numbers = per_value(values.take(pa.array(doubtful)), _number_judge(column.type), bool)
        bad = doubtful[~numbers]
        if len(bad) and (found is None or bad[0] < found[0]):
            found = int(bad[0]), column
    if found is not None:
        row, column = found
        raise LoadError(
            f"line {first_line + row} column {column.position} {column.name} is not a number"
        )


def _number_judge(column_type: str):
    return lambda value: _is_number(value, column_type)


def _bad_segments(columns: dict[str, pa.Array], rows: int) -> np.ndarray:
    bad = np.zeros(rows, bool)
    for name in _USED_SEGMENTS:
        bad |= is_empty(columns[name])
    for name in _UNUSED_SEGMENTS:
        if not is_all_empty(columns[name]):
            bad |= ~is_empty(columns[name])
    return bad


@cache
def _reference_columns() -> tuple[str, ...]:
    return tuple(c.name for c in spec().columns if c.name.startswith("REFERENCE"))


@cache
def _kept_columns() -> tuple[str, ...]:
    """The columns kept after the load stage, in the layout's order."""
    wanted = {n for n in POSTED_COLUMNS if n != "ACCOUNT_COMBINATION"} | set(_JOURNAL_KEY)
    names = [c.name for c in spec().columns if c.name in wanted or c.name.startswith("REFERENCE")]
    return (*names, "ACCOUNT_COMBINATION")


@cache
def _needed_columns() -> frozenset[str]:
    """The columns a row's checks read or the import keeps."""
    constrained, dates = _checked_columns()
    return frozenset(
        {c.name for c in constrained}
        | set(dates)
        | {c.name for c in _numeric_columns()}
        | {*_USED_SEGMENTS, *_UNUSED_SEGMENTS, "ENTERED_DR", "ENTERED_CR"}
        | {"USER_JE_SOURCE_NAME", "GROUP_ID"}
        | set(_kept_columns()[:-1])
    )


@cache
def _checked_columns() -> tuple[tuple[Column, ...], tuple[str, ...]]:
    """Columns with required flags or allowed values, and the names of date columns."""
    columns = spec().columns
    constrained = tuple(c for c in columns if c.required or c.allowed)
    return constrained, tuple(c.name for c in columns if c.type == "date")


@cache
def _numeric_columns() -> tuple[Column, ...]:
    return tuple(c for c in spec().columns if c.type in ("integer", "amount"))


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
