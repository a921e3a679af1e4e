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
"""

from __future__ import annotations

import csv
import io
import re
import threading
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sandbox.fusion.catalog import CsvLayout, FbdiObject
from sandbox.fusion.jobs import ERROR, SUCCEEDED, WARNING, Result

REJECTED_HEADER = ("csv_file", "line_number", "error_code", "message")
_NUMBERS = {
    "integer": (re.compile(r"^-?\d+$"), "an integer"),
    "amount": (re.compile(r"^-?\d+(\.\d+)?$"), "an amount"),
    "number": (re.compile(r"^-?\d+(\.\d+)?$"), "a number"),
}
END_MARKER = "END"
_UNSET = ("", "#NULL")


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


class LoadError(ValueError):
    """The file cannot be loaded at all; the message says why and where."""


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
        """Load, check every row, store the clean ones."""
        try:
            files = _load(document, self.spec)
        except LoadError as exc:
            return Result(ERROR, [f"Load failed: {exc}. Nothing was imported."])
        result = Result(ERROR)
        rejections: Rejections = {}
        candidates: dict[str, list[Candidate]] = {}
        with lock:
            for file in self.spec.files:
                linked = self._linked_keys(file, candidates.get(self.spec.csv_file, []))
                passed = candidates.setdefault(file.csv_file, [])
                for number, fields in enumerate(files.get(file.csv_file, []), start=1):
                    row = {c.name: fields[c.position - 1] for c in file.columns}
                    problem = self._problem(row, file, linked)
                    if problem:
                        rejections[(file.csv_file, number)] = problem
                    else:
                        passed.append((number, row))
            if self.rules is not None:
                rejections.update(self.rules.judge(candidates, self.store))
            accepted = [
                StoredRow(
                    self.spec.object_name,
                    csv_file,
                    {name: value for name, value in row.items() if value},
                    request_id,
                    number,
                )
                for csv_file, rows in candidates.items()
                for number, row in rows
                if (csv_file, number) not in rejections
            ]
            for row in accepted:
                self.store.add(row)
        order = {f.csv_file: i for i, f in enumerate(self.spec.files)}
        result.rejected = [
            (csv_file, str(number), *problem)
            for (csv_file, number), problem in sorted(
                rejections.items(), key=lambda item: (order[item[0][0]], item[0][1])
            )
        ]
        if accepted:
            result.status = WARNING if result.rejected else SUCCEEDED
        codes = Counter(r[2] for r in result.rejected)
        result.log = [
            f"Rows: {len(accepted)} imported, {len(result.rejected)} rejected.",
            *(f"Rejected rows with {code}: {count}" for code, count in sorted(codes.items())),
        ]
        return result

    def _linked_keys(self, file: CsvLayout, primary_rows: list[Candidate]) -> set[str] | None:
        """For a secondary CSV with a link: the values its linking column may take (those of
        the primary rows of this file that passed their checks, and of the stored ones)."""
        primary = self.spec.primary
        if file is primary or file.link is None:
            return None
        link = file.link[1]
        stored = self.store.rows(self.spec.object_name, primary.csv_file)
        return {r.values.get(link, "") for r in stored} | {row[link] for _, row in primary_rows}

    def _problem(
        self, row: dict[str, str], file: CsvLayout, linked: set[str] | None
    ) -> tuple[str, str] | None:
        """The first reason the row cannot be imported, as (code, message)."""
        spec = self.spec
        for column in file.columns:
            value = row[column.name]
            if not value:
                if column.required and column.name not in spec.defaulted:
                    return "ER01", f"required column {column.name} is empty"
                continue
            if column.allowed and value not in column.allowed:
                return "ER01", f"column {column.name} must be {' or '.join(column.allowed)}"
            if column.type == "date" and not _is_date(value, spec.strftime_format):
                return "ED01", f"column {column.name} is not a {spec.date_format} date"
            if column.type in _NUMBERS:
                pattern, kind = _NUMBERS[column.type]
                if not pattern.match(value):
                    return "EN01", f"column {column.name} is not {kind}"
            if column.max_size and len(value) > column.max_size:
                return "EZ01", f"column {column.name} is longer than {column.max_size}"
            if file is spec.primary and self.bound.get(column.name, value) != value:
                return "ES01", f"column {column.name} does not match the job parameter"
        if linked is not None and file.link is not None and row[file.link[0]] not in linked:
            return "EK01", f"{file.link[0]} names no accepted row of {spec.primary.csv_file}"
        return None


def _load(document: bytes, spec: FbdiObject) -> dict[str, list[list[str]]]:
    """The rows (as field lists) of each spec CSV the zip holds; LoadError if not loadable."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(document))
    except zipfile.BadZipFile:
        raise LoadError("the document is not a zip file") from None
    by_name = {n.rsplit("/", 1)[-1]: n for n in archive.namelist()}
    if spec.csv_file not in by_name:
        raise LoadError(f"the zip holds no {spec.csv_file}")
    files = {}
    for file in spec.files:
        if file.csv_file in by_name:
            files[file.csv_file] = _rows(archive.read(by_name[file.csv_file]), file)
    if not files[spec.csv_file]:
        raise LoadError(f"{spec.csv_file} has no rows")
    return files


def _rows(data: bytes, file: CsvLayout) -> list[list[str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LoadError(f"{file.csv_file} is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for number, fields in enumerate(reader, start=1):
            if not fields:
                raise LoadError(f"line {number} of {file.csv_file} is empty")
            if file.end_marker and len(fields) == file.field_count + 1 and fields[-1] == END_MARKER:
                fields = fields[:-1]  # the template macro's line end, not a value
            if len(fields) > file.field_count:
                raise LoadError(
                    f"line {number} of {file.csv_file} has {len(fields)} fields; "
                    f"the template has {file.field_count}"
                )
            # TRAILING NULLCOLS: the fields a line stops before are null.
            rows.append(fields + [""] * (file.field_count - len(fields)))
    except csv.Error:
        raise LoadError(f"line {reader.line_num} of {file.csv_file}: unparseable CSV") from None
    return rows


def _is_date(value: str, strftime_format: str) -> bool:
    """A real date written exactly in the format (strptime alone accepts `2026/1/5`)."""
    try:
        return datetime.strptime(value, strftime_format).strftime(strftime_format) == value
    except ValueError:
        return False
