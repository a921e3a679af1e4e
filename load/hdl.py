"""HCM Data Loader files: write a `.dat` from per-component rows, and validate any `.dat` text.

The writer takes, per component of an HDL spec, Arrow batches or row mappings whose keys are the
exact attribute names (`PersonId(SourceSystemId)`) or their snake_case form
(`person_id_source_system_id`). It writes one `METADATA` line per component, then its `MERGE`
lines, components in the spec's hierarchy order and rows in input order, so the same input always
gives the same bytes. Dates are `YYYY/MM/DD`; `#NULL` passes through (it clears a value in
Fusion); an empty value leaves the Fusion value unchanged; `\\`, `|` and newlines are escaped.

The writer validates its own output with `validate_hdl` and refuses to write a file with any
problem. Messages name the line, component and attribute, never the value (it may be PHI).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from load.formats import (
    AnySpec,
    HdlAttribute,
    HdlComponent,
    HdlSpec,
    available_objects,
    available_releases,
    load_spec,
)
from load.zipfile_deterministic import AtomicZip

END_OF_TIME = dt.date(4712, 12, 31)
CLEAR = "#NULL"
INSTRUCTIONS = ("METADATA", "MERGE", "DELETE", "SET", "COMMENT")
_DATA_INSTRUCTIONS = ("MERGE", "DELETE")
_HDL_DATE = re.compile(r"^(\d{4})/(\d{2})/(\d{2})$")
_INPUT_DATE = re.compile(r"^(\d{4})[-/](\d{2})[-/](\d{2})$")
_INTEGER = re.compile(r"^-?\d+$")
_ZIP_NAME = re.compile(r"^[A-Za-z0-9]+\.zip$")
_KEY = ("SourceSystemOwner", "SourceSystemId")

Severity = Literal["error", "warning"]
Rows = Iterable[pa.RecordBatch] | Iterable[Mapping[str, Any]]


class HdlError(ValueError):
    """The rows cannot be written as this HDL file."""


@dataclass(frozen=True)
class Problem:
    """One finding of `validate_hdl`. `kind` is stable for programs; `message` is for people."""

    line: int
    severity: Severity
    kind: str
    message: str
    discriminator: str | None = None

    def __str__(self) -> str:
        where = f" [{self.discriminator}]" if self.discriminator else ""
        return f"{self.severity.upper():<7} line {self.line}{where}: {self.message}"


@dataclass(frozen=True)
class WrittenHdl:
    """What write_hdl_zip produced: the zip, the `.dat` inside it, and data lines per component."""

    zip_path: Path
    zip_sha256: str
    zip_bytes: int
    dat_file: str
    dat_sha256: str
    dat_bytes: int
    lines: dict[str, int]


def render_hdl(components: Mapping[str, Rows], spec: HdlSpec) -> bytes:
    """The `.dat` content (UTF-8) for `components`, keyed by discriminator.

    Raises HdlError for an unknown component or attribute, a missing required value, a value
    that is not a date/integer where the spec says so, or any problem `validate_hdl` finds.
    """
    unknown = sorted(set(components) - {c.name for c in spec.components})
    if unknown:
        raise HdlError(f"{spec.object_name} {spec.release}: no component {unknown} in the spec")
    lines: list[str] = []
    for comp in spec.components:
        rows = list(_rows(components.get(comp.name, ())))
        if rows:
            lines.extend(_component_lines(comp, rows))
    text = "".join(f"{line}\n" for line in lines)
    problems = validate_hdl(text, spec)
    if problems:
        raise HdlError(
            f"{spec.dat_file}: {len(problems)} problem(s): " + "; ".join(map(str, problems[:5]))
        )
    return text.encode("utf-8")


def write_hdl_zip(components: Mapping[str, Rows], spec: HdlSpec, zip_path: Path) -> WrittenHdl:
    """Write the spec's `.dat` at the root of a deterministic zip at `zip_path`.

    HDL wants an alphanumeric zip name (see `HdlSpec.zip_name`). On any error nothing is left at
    `zip_path`.
    """
    zip_path = Path(zip_path)
    if not _ZIP_NAME.match(zip_path.name):
        raise HdlError(f"{zip_path.name}: an HDL zip name must be alphanumeric")
    data = render_hdl(components, spec)
    published = AtomicZip(zip_path)
    with published as archive:
        archive.write_entry(spec.dat_file, data)
    counts: dict[str, int] = {}
    for line in data.decode("utf-8").splitlines():
        instruction, _, rest = line.partition("|")
        if instruction in _DATA_INSTRUCTIONS:
            disc = rest.partition("|")[0]
            counts[disc] = counts.get(disc, 0) + 1
    return WrittenHdl(
        zip_path=zip_path,
        zip_sha256=published.sha256,
        zip_bytes=published.bytes,
        dat_file=spec.dat_file,
        dat_sha256=hashlib.sha256(data).hexdigest(),
        dat_bytes=len(data),
        lines=counts,
    )


def _rows(source: Rows) -> Iterable[Mapping[str, Any]]:
    for item in source:
        if isinstance(item, pa.RecordBatch | pa.Table):
            yield from item.to_pylist()
        else:
            yield item


def _component_lines(comp: HdlComponent, rows: list[Mapping[str, Any]]) -> list[str]:
    """The METADATA line and one MERGE line per row, attributes in spec order."""
    by_input = {a.name: a for a in comp.attributes} | {a.input_name: a for a in comp.attributes}
    present: dict[str, str] = {}  # attribute name -> input key
    for row in rows:
        for key in row:
            attr = by_input.get(key)
            if attr is None:
                raise HdlError(f"{comp.name}: input column {key!r} is not an attribute in the spec")
            if present.setdefault(attr.name, key) != key:
                raise HdlError(f"{comp.name}: input has attribute {attr.name} twice")
    attrs = [a for a in comp.attributes if a.name in present]
    for attr in comp.attributes:
        if attr.required and attr.name not in present:
            raise HdlError(f"{comp.name}: required attribute {attr.name} is not in the input")
    lines = ["|".join(["METADATA", comp.name, *(a.name for a in attrs)])]
    for n, row in enumerate(rows, start=1):
        values = [_render(row.get(present[a.name]), a, comp, n) for a in attrs]
        lines.append("|".join(["MERGE", comp.name, *values]))
    return lines


def _render(value: Any, attr: HdlAttribute, comp: HdlComponent, row: int) -> str:
    """One value as HDL text; errors say where, not what."""

    def fail(reason: str) -> HdlError:
        return HdlError(f"{comp.name} row {row}: {attr.name}: {reason}")

    if value is None or value == "":
        if attr.required:
            raise fail("required value is missing")
        return ""
    if value == CLEAR:
        if attr.required:
            raise fail("a required value cannot be cleared")
        return CLEAR
    if attr.type == "date":
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, str) and (m := _INPUT_DATE.match(value)):
            try:
                value = dt.date(*map(int, m.groups()))
            except ValueError:
                raise fail("not a real date") from None
        if not isinstance(value, dt.date):
            raise fail("not a date")
        return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"
    if attr.type == "integer":
        if isinstance(value, bool) or not _INTEGER.match(str(value)):
            raise fail("not an integer")
        return str(value)
    return _escape(str(value))


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def _split(line: str) -> list[str]:
    """Split on unescaped `|`, keeping escapes in the values."""
    fields, current, escaped = [], [], False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
    fields.append("".join(current))
    return fields


def validate_hdl(text: str, spec: HdlSpec | None = None) -> list[Problem]:
    """Line-numbered problems of a `.dat` file, in line order.

    Errors: unknown instruction, MERGE/DELETE before its METADATA, a repeated METADATA, a value
    count that differs from its METADATA, an impossible date, a duplicate source key within a
    discriminator (owner, id, and EffectiveStartDate when the layout has it), and a parent
    without its required child (a WorkRelationship without WorkTerms). Warnings: a date not
    written YYYY/MM/DD. Note that Fusion rejects such lines too. Without `spec`, the spec is
    looked up by the first METADATA discriminator in the newest release that has it; dates are
    the attributes the spec types as dates, or whose names contain `Date` when it has none.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    spec = spec or _spec_for(lines)
    checker = _Checker(spec)
    for number, raw in enumerate(lines, start=1):
        checker.line(number, raw.removesuffix("\r"))
    checker.finish()
    return sorted(checker.problems, key=lambda p: p.line)


class _Checker:
    def __init__(self, spec: HdlSpec | None) -> None:
        self.spec = spec
        self.problems: list[Problem] = []
        self.layouts: dict[str, list[str]] = {}
        self.keys: dict[tuple[str, tuple[str, ...]], int] = {}
        self.merged: dict[str, list[tuple[int, tuple[str, str]]]] = {}
        self.referenced: dict[str, set[tuple[str, str]]] = {}

    def add(
        self, line: int, severity: Severity, kind: str, message: str, disc: str | None = None
    ) -> None:
        self.problems.append(Problem(line, severity, kind, message, disc))

    def line(self, number: int, raw: str) -> None:
        if not raw.strip():
            return
        fields = _split(raw)
        instruction = fields[0].split(" ", 1)[0]
        if instruction not in INSTRUCTIONS:
            self.add(number, "error", "unknown_instruction", f"unknown instruction {instruction!r}")
        elif instruction == "METADATA":
            self.metadata(number, fields)
        elif instruction in _DATA_INSTRUCTIONS:
            self.data(number, instruction, fields)

    def metadata(self, number: int, fields: list[str]) -> None:
        disc = fields[1] if len(fields) > 1 else ""
        if disc in self.layouts:
            self.add(number, "error", "repeated_metadata", "METADATA repeated", disc)
        self.layouts[disc] = fields[2:]

    def data(self, number: int, instruction: str, fields: list[str]) -> None:
        disc = fields[1] if len(fields) > 1 else ""
        layout = self.layouts.get(disc)
        if layout is None:
            message = f"{instruction} line for {disc!r} before its METADATA line"
            self.add(number, "error", "before_metadata", message)
            return
        values = fields[2:]
        if len(values) != len(layout):
            message = (
                f"{instruction} line has {len(values)} values but METADATA declares "
                f"{len(layout)} attributes"
            )
            self.add(number, "error", "field_count", message, disc)
            return
        row = dict(zip(layout, values, strict=True))
        self.key(number, disc, row)
        self.dates(number, disc, layout, row)
        if instruction == "MERGE":
            self.links(number, disc, row)

    def key(self, number: int, disc: str, row: dict[str, str]) -> None:
        if not all(k in row for k in _KEY):
            return
        names = (*_KEY, "EffectiveStartDate") if "EffectiveStartDate" in row else _KEY
        seen = self.keys.setdefault((disc, tuple(row[k] for k in names)), number)
        if seen != number:
            message = f"duplicate record key ({', '.join(names)}); first seen on line {seen}"
            self.add(number, "error", "duplicate_key", message, disc)

    def dates(self, number: int, disc: str, layout: list[str], row: dict[str, str]) -> None:
        for name in layout:
            value = row[name]
            if not value or value == CLEAR or not self.is_date(disc, name):
                continue
            match = _HDL_DATE.match(value)
            if match is None:
                message = f"{name} is not in YYYY/MM/DD format"
                self.add(number, "warning", "date_format", message, disc)
                continue
            try:
                dt.date(*map(int, match.groups()))
            except ValueError:
                self.add(number, "error", "invalid_date", f"{name} is not a real date", disc)

    def is_date(self, disc: str, name: str) -> bool:
        comp = self.component(disc)
        if comp is not None:
            for attr in comp.attributes:
                if attr.name == name:
                    return attr.type == "date"
        return "Date" in name and "(" not in name

    def component(self, disc: str) -> HdlComponent | None:
        if self.spec is None:
            return None
        return next((c for c in self.spec.components if c.name == disc), None)

    def links(self, number: int, disc: str, row: dict[str, str]) -> None:
        owner = row.get("SourceSystemOwner", "")
        if "SourceSystemId" in row:
            self.merged.setdefault(disc, []).append((number, (owner, row["SourceSystemId"])))
        comp = self.component(disc)
        if comp is not None and comp.parent_reference in row:
            parent_key = (owner, row[comp.parent_reference])
            self.referenced.setdefault(disc, set()).add(parent_key)

    def finish(self) -> None:
        if self.spec is None:
            return
        for comp in self.spec.components:
            for child_name in comp.required_children:
                child = self.spec.component(child_name)
                layout = self.layouts.get(child_name)
                if layout is not None and child.parent_reference not in layout:
                    continue  # the child points at its parent by another key type
                found = self.referenced.get(child_name, set())
                reported: set[tuple[str, str]] = set()
                for number, key in self.merged.get(comp.name, []):
                    if key not in found and key not in reported:
                        reported.add(key)
                        message = f"no {child_name} line references this {comp.name}"
                        self.add(number, "error", "missing_child", message, comp.name)


def _spec_for(lines: list[str]) -> HdlSpec | None:
    """The newest HDL spec whose components include the file's first METADATA discriminator."""
    first = next((_split(x)[1:2] for x in lines if x.startswith("METADATA|")), [])
    if not first:
        return None
    for release in reversed(available_releases()):
        for name in available_objects(release):
            spec: AnySpec = load_spec(release, name)
            if isinstance(spec, HdlSpec) and any(c.name == first[0] for c in spec.components):
                return spec
    return None
