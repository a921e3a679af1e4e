"""Import of the FBDI objects other than GL Journal Import, driven by the simulator's own
layouts of Oracle's templates (`sandbox.fusion.catalog`, never the product's writer specs).

Two stages, like Journal Import. The load reads every CSV of the object that the zip holds (the
primary one must be there); a row with more fields than the layout (beyond the literal `END`
field the template's macro may end it with), an empty line, or unparseable CSV fails the whole
job with nothing stored. A shorter row loads with its missing trailing fields empty, as
SQL*Loader's TRAILING NULLCOLS does. Then each row is checked against its columns: required
values (the template's `*`, except those the import defaults), allowed values, dates in
YYYY/MM/DD, numbers, sizes, columns bound to a job parameter (they must equal it), and in a
secondary CSV with a link the linking column must name an accepted or stored primary row.
Objects Fusion judges further (inventory transactions, mass additions:
`sandbox.fusion.object_rules`) then have the rows that passed checked against the simulated
Fusion's setup and what it already holds. Clean rows land in the object's store; rejected rows
go to `rejected_rows.csv` with a code and the column at fault, never the value.

The CSVs are read block by block (`sandbox.fusion.fbdi_csv`) and the column checks run on each
block as columns, in column order, so a row still carries its first problem; the rules see the
rows that passed as dicts of the columns the file fills.
"""

from __future__ import annotations

import io
import re
import threading
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sandbox.fusion.catalog import Column, CsvLayout, FbdiObject
from sandbox.fusion.columns import (
    Problem,
    Problems,
    column_or_empty,
    first_problem,
    is_all_empty,
    per_value,
    string_column,
    to_bools,
)
from sandbox.fusion.fbdi_csv import LoadError, Shape, load
from sandbox.fusion.jobs import ERROR, SUCCEEDED, WARNING, Result

REJECTED_HEADER = ("csv_file", "line_number", "error_code", "message")
_NUMBERS = {
    "integer": (re.compile(r"^-?\d+$"), "an integer"),
    "amount": (re.compile(r"^-?\d+(\.\d+)?$"), "an amount"),
    "number": (re.compile(r"^-?\d+(\.\d+)?$"), "a number"),
}
_SMALL_BLOCK = 256  # rows of a block judged one by one rather than per distinct value
_UNSET = ("", "#NULL")

__all__ = ["LoadError"]


@dataclass(frozen=True)
class StoredRow:
    """One accepted row: its documented, non-empty columns and where it came from."""

    object_name: str
    csv_file: str
    values: dict[str, str]
    request_id: str | None = None  # None for rows created through REST
    line_number: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The `/__sandbox__/objects/<object>` item."""
        return {
            "CsvFile": self.csv_file,
            "RequestId": self.request_id,
            "LineNumber": self.line_number,
            "Values": dict(self.values),
        }


class ObjectStore:
    """Accepted rows per FBDI object, in arrival order, and the keys a follow-up job posted.
    The simulator's lock guards it."""

    def __init__(self) -> None:
        self._rows: dict[str, list[StoredRow]] = defaultdict(list)
        self.posted: dict[str, set[str]] = defaultdict(set)

    def add(self, row: StoredRow) -> None:
        """Keep an accepted row."""
        self._rows[row.object_name].append(row)

    def rows(self, object_name: str, csv_file: str | None = None) -> list[StoredRow]:
        """The object's rows, optionally of one CSV only."""
        return [r for r in self._rows[object_name] if csv_file in (None, r.csv_file)]


class Row(dict):
    """A row's values by column name ("" when empty); a column of the layout that the whole
    file leaves empty is not held but reads ""."""

    def __init__(self, values: dict[str, str], names: frozenset[str]) -> None:
        super().__init__(values)
        self.names = names

    def __missing__(self, key: str) -> str:
        if key in self.names:
            return ""
        raise KeyError(key)


# (line number, the row's value per documented column, "" when empty)
Candidate = tuple[int, dict[str, str]]
# (CSV name, line number) -> (error code, message)
Rejections = dict[tuple[str, int], tuple[str, str]]


class ObjectRules(Protocol):
    """What Fusion checks of an object's rows beyond their columns, across rows and files."""

    def judge(self, candidates: dict[str, list[Candidate]], store: ObjectStore) -> Rejections:
        """The rows (of those that passed the column checks, per CSV) to reject, and why."""
        ...


def parse_parameters(spec: FbdiObject, parameter_list: str) -> tuple[str, ...]:
    """The ParameterList's values, checked against what the spec documents of the job."""
    values = tuple(parameter_list.split(",")) if parameter_list else ()
    job = spec.ess_job
    if job.parameter_count is not None and len(values) != job.parameter_count:
        raise ValueError(f"ParameterList needs {job.parameter_count} comma-separated values")
    for param, value in zip(job.parameters, values, strict=False):
        if param.allowed and value not in param.allowed:
            raise ValueError(f"ParameterList {param.name} must be one of {list(param.allowed)}")
    return values


class ObjectImport:
    """The job work of one importBulkData request for an FBDI object other than GL."""

    rejected_header = REJECTED_HEADER

    def __init__(
        self,
        spec: FbdiObject,
        file_name: str,
        parameters: tuple[str, ...],
        store: ObjectStore,
        rules: ObjectRules | None = None,
    ) -> None:
        self.spec = spec
        self.file_name = file_name
        self.store = store
        self.rules = rules
        self.bound = {
            param.column: value
            for param, value in zip(spec.ess_job.parameters, parameters, strict=False)
            if param.column and value not in _UNSET
        }

    def describe(self, request_id: str) -> list[str]:
        """The opening lines of the job's log."""
        return [
            f"{self.spec.description} request {request_id}",
            f"File: {self.file_name}",
            f"Job: {self.spec.ess_job.name}",
        ]

    def run(self, request_id: str, document: bytes, lock: threading.RLock) -> Result:
        """Load and check every row, then judge them against what the store holds (under the
        lock) and store the clean ones."""
        problems = Problems()
        try:
            files = _load(document, self.spec, self.bound, problems)
        except LoadError as exc:
            return Result(ERROR, [f"Load failed: {exc}. Nothing was imported."])
        spec = self.spec
        with lock:
            problem: dict[str, np.ndarray] = {}
            rows: dict[str, tuple[np.ndarray, list[Row]]] = {}  # those passing the columns
            for file in spec.files:
                checks = files.get(file.csv_file)
                if checks is None:
                    rows[file.csv_file] = (np.zeros(0, np.int64), [])
                    continue
                found = problem[file.csv_file] = checks.problem()
                if file is not spec.primary and file.link is not None:
                    first_problem(found, self._unlinked(file, checks, files, problem, problems))
                rows[file.csv_file] = checks.rows(found < 0)
            if self.rules is not None:
                candidates = {
                    csv_file: list(zip((numbers + 1).tolist(), found, strict=True))
                    for csv_file, (numbers, found) in rows.items()
                }
                for (csv_file, number), why in self.rules.judge(candidates, self.store).items():
                    problem[csv_file][number - 1] = problems.number(why)
            accepted = 0
            for csv_file, (numbers, found) in rows.items():
                for number, row in zip(numbers.tolist(), found, strict=True):
                    if problem[csv_file][number] < 0:
                        values = {name: value for name, value in row.items() if value}
                        self.store.add(
                            StoredRow(spec.object_name, csv_file, values, request_id, number + 1)
                        )
                        accepted += 1
        result = Result(ERROR, rejected=_rejected(spec, problem, problems))
        if accepted:
            result.status = WARNING if result.rejected.num_rows else SUCCEEDED
        rejected = [found[found >= 0] for found in problem.values()]
        codes = problems.counts(np.concatenate([np.zeros(0, np.int32), *rejected]))
        result.log = [
            f"Rows: {accepted} imported, {result.rejected.num_rows} rejected.",
            *(f"Rejected rows with {code}: {count}" for code, count in codes.items()),
        ]
        return result

    def _unlinked(
        self,
        file: CsvLayout,
        checks: _Checks,
        files: dict[str, _Checks],
        problem: dict[str, np.ndarray],
        problems: Problems,
    ) -> np.ndarray:
        """EK01 for the rows of a secondary CSV whose linking column names no primary row of
        this file that passed its checks, nor a stored one."""
        assert file.link is not None
        column, link = file.link
        primary = self.spec.primary
        stored = self.store.rows(self.spec.object_name, primary.csv_file)
        linked = {r.values.get(link, "") for r in stored}
        passed = pa.array(problem[primary.csv_file] < 0)
        linked.update(
            column_or_empty(files[primary.csv_file].table(), link)
            .filter(passed)
            .unique()
            .to_pylist()
        )
        values = column_or_empty(checks.table(), column)
        named = to_bools(pc.is_in(values, value_set=pa.array(sorted(linked), pa.string())))
        return problems.where(
            ~named, ("EK01", f"{column} names no accepted row of {primary.csv_file}")
        )


class _Checks:
    """The load stage's sink for one CSV: each block's column checks, and its columns."""

    def __init__(
        self, spec: FbdiObject, file: CsvLayout, bound: dict[str, str], problems: Problems
    ) -> None:
        self.spec = spec
        self.file = file
        self.bound = bound if file is spec.primary else {}
        self.problems = problems
        self.names = frozenset(c.name for c in file.columns)
        self.judges = {
            c.name: _judge(c, spec, self.bound.get(c.name), problems) for c in file.columns
        }
        self.parts: dict[str, list[pa.Array | None]] = {c.name: [] for c in file.columns}
        self.lengths: list[int] = []
        self.problems_per_block: list[np.ndarray] = []
        self._table: pa.Table | None = None

    def add(self, first_line: int, batch: pa.RecordBatch) -> None:
        columns = dict(zip(batch.schema.names, batch.columns, strict=True))
        self.problems_per_block.append(self._problems(columns, batch.num_rows))
        for name, parts in self.parts.items():
            parts.append(None if is_all_empty(columns[name]) else columns[name])
        self.lengths.append(batch.num_rows)

    def problem(self) -> np.ndarray:
        """Per row, its first column problem, or -1."""
        return np.concatenate(self.problems_per_block or [np.zeros(0, np.int32)])

    def table(self) -> pa.Table:
        """The CSV's columns that hold a value anywhere, one row per line."""
        if self._table is None:
            columns = {
                name: string_column(parts, self.lengths)
                for name, parts in self.parts.items()
                if any(part is not None for part in parts)
            }
            self._table = pa.table(columns) if columns else pa.table({})
        return self._table

    def rows(self, wanted: np.ndarray) -> tuple[np.ndarray, list[Row]]:
        """The wanted rows: their indexes, and each as a Row."""
        numbers = np.flatnonzero(wanted)
        table = self.table()
        if not table.num_columns:
            return numbers, [Row({}, self.names) for _ in numbers]
        found = table.filter(pa.array(wanted)).to_pylist()
        return numbers, [Row(values, self.names) for values in found]

    def _problems(self, columns: dict[str, pa.Array], rows: int) -> np.ndarray:
        """The first problem of each row, column by column in the layout's order. A column's
        values are judged once per distinct value (a small block's one by one)."""
        if rows <= _SMALL_BLOCK:
            return self._problems_one_by_one(columns, rows)
        problem = np.full(rows, -1, np.int32)
        for column in self.file.columns:
            values, judge = columns[column.name], self.judges[column.name]
            if is_all_empty(values):
                found = np.full(rows, judge(""), np.int32)
            else:
                found = per_value(values, judge, np.int32)
            first_problem(problem, found)
        return problem

    def _problems_one_by_one(self, columns: dict[str, pa.Array], rows: int) -> np.ndarray:
        """The first problem of each row of a small block, row by row (values seen before in
        a column are not judged again)."""
        names = [c.name for c in self.file.columns]
        judges = [self.judges[name] for name in names]
        memos: list[dict[str, int]] = [{} for _ in names]
        problem = [-1] * rows
        by_row = zip(*(columns[name].to_pylist() for name in names), strict=True)
        for row, values in enumerate(by_row):
            for value, judge, memo in zip(values, judges, memos, strict=True):
                found = memo.get(value)
                if found is None:
                    found = memo[value] = judge(value)
                if found >= 0:
                    problem[row] = found
                    break
        return np.array(problem, np.int32)


def _judge(
    column: Column, spec: FbdiObject, bound: str | None, problems: Problems
) -> Callable[[str], int]:
    """The number of the problem a value of the column has (-1 none)."""
    required = column.required and column.name not in spec.defaulted
    check = _check(column, required, (spec.date_format, spec.strftime_format), bound)
    return lambda value: problems.number(check(value))


@cache
def _check(
    column: Column, required: bool, date_format: tuple[str, str], bound: str | None
) -> Callable[[str], Problem | None]:
    """A value's problem in the column: required, allowed, date (`date_format` as written
    and as strftime's), number, size, then the job parameter the column is bound to."""
    name = column.name
    number = _NUMBERS.get(column.type)
    written, strftime_format = date_format

    def check(value: str) -> Problem | None:
        if not value:
            return ("ER01", f"required column {name} is empty") if required else None
        if column.allowed and value not in column.allowed:
            return "ER01", f"column {name} must be {' or '.join(column.allowed)}"
        if column.type == "date" and not _is_date(value, strftime_format):
            return "ED01", f"column {name} is not a {written} date"
        if number is not None and not number[0].match(value):
            return "EN01", f"column {name} is not {number[1]}"
        if column.max_size and len(value) > column.max_size:
            return "EZ01", f"column {name} is longer than {column.max_size}"
        if bound is not None and bound != value:
            return "ES01", f"column {name} does not match the job parameter"
        return None

    return check


def _rejected(spec: FbdiObject, problem: dict[str, np.ndarray], problems: Problems) -> pa.Table:
    """The rejected rows, CSV by CSV in the spec's order, each in line order."""
    parts = []
    for file in spec.files:
        found = problem.get(file.csv_file)
        if found is None:
            continue
        rows = np.flatnonzero(found >= 0)
        codes, messages = problems.columns(found[rows])
        parts.append(
            pa.table(
                [
                    pa.array([file.csv_file] * len(rows), pa.string()),
                    pa.array(rows + 1),
                    codes,
                    messages,
                ],
                names=list(REJECTED_HEADER),
            )
        )
    if not parts:
        return pa.table({name: pa.array([], pa.string()) for name in REJECTED_HEADER})
    return pa.concat_tables(parts)


def _load(
    document: bytes, spec: FbdiObject, bound: dict[str, str], problems: Problems
) -> dict[str, _Checks]:
    """Each spec CSV the zip holds, loaded and checked column by column; LoadError if any
    cannot be loaded."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(document))
    except zipfile.BadZipFile:
        raise LoadError("the document is not a zip file") from None
    by_name = {n.rsplit("/", 1)[-1]: n for n in archive.namelist()}
    if spec.csv_file not in by_name:
        raise LoadError(f"the zip holds no {spec.csv_file}")
    files = {}
    for file in spec.files:
        if file.csv_file not in by_name:
            continue
        names = tuple(c.name for c in file.columns)
        shape = Shape(
            file.csv_file,
            names,
            frozenset(names),
            trailing_nullcols=True,
            end_marker=file.end_marker,
            file_in_messages=True,
        )
        entry = by_name[file.csv_file]
        try:
            files[file.csv_file] = load(
                lambda entry=entry: archive.open(entry),
                shape,
                lambda file=file: _Checks(spec, file, bound, problems),
                archive.getinfo(entry).file_size,
            )
        except (zipfile.BadZipFile, zlib.error, EOFError):
            raise LoadError(f"{file.csv_file} cannot be read from the zip") from None
    if not sum(files[spec.csv_file].lengths):
        raise LoadError(f"{spec.csv_file} has no rows")
    return files


@lru_cache(maxsize=4096)  # a file carries few distinct dates
def _is_date(value: str, strftime_format: str) -> bool:
    """A real date written exactly in the format (strptime alone accepts `2026/1/5`)."""
    try:
        return datetime.strptime(value, strftime_format).strftime(strftime_format) == value
    except ValueError:
        return False
