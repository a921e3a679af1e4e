"""Per-release FBDI format specs: load, validate and compare `load/formats/<release>/<Object>.yml`.

A spec is data: the positional column layout of one Fusion interface CSV plus the facts needed to
package and submit it. The writer in `load.fbdi` is driven entirely by it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import yaml

FORMATS_DIR = Path(__file__).with_name("formats")

ColumnType = Literal["text", "integer", "amount", "date"]
COLUMN_TYPES: tuple[str, ...] = ("text", "integer", "amount", "date")

# Spec notation -> strftime pattern. Only what Fusion templates use.
DATE_FORMATS: dict[str, str] = {"YYYY/MM/DD": "%Y/%m/%d", "YYYY-MM-DD": "%Y-%m-%d"}

_RELEASE_RE = re.compile(r"^(\d{2})([A-D])$")
_COLUMN_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class FormatSpecError(ValueError):
    """A spec file is missing, malformed, or inconsistent. The message names the file and key."""


@dataclass(frozen=True)
class ColumnSpec:
    """One CSV field. `position` is 1-based and equals the column's place in the file."""

    position: int
    name: str
    type: ColumnType
    required: bool = False
    max_size: int | None = None
    allowed: tuple[str, ...] = ()
    description: str | None = None

    @property
    def input_name(self) -> str:
        """The lower-case column name the writer looks for in input batches."""
        return self.name.lower()


@dataclass(frozen=True)
class EssParameter:
    """One position of the ESS ParameterList."""

    name: str
    column: str | None = None
    default: str | None = None
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class EssJobSpec:
    """The object's import job and the layout of its comma-separated ParameterList."""

    name: str
    parameters: tuple[EssParameter, ...]

    def parameter_list(self, values: Mapping[str, str]) -> str:
        """Build the ParameterList from values keyed by parameter name; defaults fill gaps."""
        unknown = set(values) - {p.name for p in self.parameters}
        if unknown:
            raise ValueError(f"unknown ESS parameters: {sorted(unknown)}")
        out = []
        for param in self.parameters:
            value = values.get(param.name, param.default)
            if value is None:
                raise ValueError(f"ESS parameter {param.name} has no value and no default")
            if param.allowed and value not in param.allowed:
                raise ValueError(f"ESS parameter {param.name} must be one of {list(param.allowed)}")
            if "," in value:
                raise ValueError(f"ESS parameter {param.name} must not contain a comma")
            out.append(value)
        return ",".join(out)


@dataclass(frozen=True)
class ControlTotalsSpec:
    """Which columns group the control totals and which amount columns are summed."""

    group_by: tuple[str, ...]
    sum: tuple[str, ...]


@dataclass(frozen=True)
class FormatSpec:
    """The validated content of one `<release>/<Object>.yml`."""

    release: str
    object_name: str
    description: str
    template: str
    sheet: str
    csv_file: str
    control_file: str
    zip_name_pattern: str
    ucm_document_account: str
    date_format: str
    ess_job: EssJobSpec
    control_totals: ControlTotalsSpec
    sources: str
    columns: tuple[ColumnSpec, ...]
    path: Path

    @property
    def field_count(self) -> int:
        """Number of fields on every CSV row."""
        return len(self.columns)

    @property
    def strftime_format(self) -> str:
        """The spec's date format as a strftime pattern."""
        return DATE_FORMATS[self.date_format]

    def column(self, name: str) -> ColumnSpec:
        """The column called `name` (upper-case spec name)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.object_name} {self.release} has no column {name}")

    def zip_name(self, batch_id: str) -> str:
        """The zip file name for a batch, from the spec's `zip_name_pattern`."""
        return self.zip_name_pattern.format(batch_id=batch_id)


_HEADER_KEYS = (
    "release",
    "object",
    "description",
    "template",
    "sheet",
    "csv_file",
    "control_file",
    "zip_name_pattern",
    "ucm_document_account",
    "date_format",
    "ess_job",
    "control_totals",
    "sources",
    "columns",
)


def spec_path(release: str, object_name: str) -> Path:
    """Where the spec for `object_name` in `release` lives."""
    return FORMATS_DIR / release / f"{object_name}.yml"


def available_releases() -> list[str]:
    """Releases that have a spec directory, oldest first (`25B` < `25C` < `26A`)."""
    if not FORMATS_DIR.is_dir():
        return []
    found = [p.name for p in FORMATS_DIR.iterdir() if p.is_dir() and _RELEASE_RE.match(p.name)]
    return sorted(found, key=lambda r: (int(r[:2]), r[2]))


def available_objects(release: str) -> list[str]:
    """Object names with a spec in `release`."""
    return sorted(p.stem for p in (FORMATS_DIR / release).glob("*.yml"))


def load_spec(release: str, object_name: str) -> FormatSpec:
    """Load and validate `load/formats/<release>/<object_name>.yml`."""
    return load_spec_file(spec_path(release, object_name))


def load_spec_file(path: Path) -> FormatSpec:
    """Load and validate a spec file at any path (the release and object come from its content)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormatSpecError(f"{path}: no such format spec") from None
    except yaml.YAMLError as exc:
        raise FormatSpecError(f"{path}: not valid YAML ({exc})") from None
    return _SpecReader(path).read(raw)


class _SpecReader:
    """Turns parsed YAML into a FormatSpec, raising errors that name the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> FormatSpecError:
        return FormatSpecError(f"{self.path}: {key}: {message}")

    def mapping(self, value: Any, key: str, required: Iterable[str], optional: Iterable[str] = ()):
        if not isinstance(value, dict):
            raise self.fail(key, "must be a mapping")
        required = tuple(required)
        allowed = set(required) | set(optional)
        for name in value:
            if name not in allowed:
                raise self.fail(f"{key}.{name}" if key else name, "unknown key")
        for name in required:
            if name not in value:
                raise self.fail(f"{key}.{name}" if key else name, "missing")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value

    def text_list(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list")
        return tuple(self.text(v, f"{key}[{i}]") for i, v in enumerate(value))

    def read(self, raw: Any) -> FormatSpec:
        doc = self.mapping(raw, "", _HEADER_KEYS)
        release = self.text(doc["release"], "release")
        if not _RELEASE_RE.match(release):
            raise self.fail("release", "must look like 25B (two-digit year, A-D)")
        object_name = self.text(doc["object"], "object")
        if self.path.stem != object_name or self.path.parent.name != release:
            raise self.fail("object", f"file must be at {release}/{object_name}.yml")
        date_format = self.text(doc["date_format"], "date_format")
        if date_format not in DATE_FORMATS:
            raise self.fail("date_format", f"must be one of {sorted(DATE_FORMATS)}")
        pattern = self.text(doc["zip_name_pattern"], "zip_name_pattern")
        if "{batch_id}" not in pattern or not pattern.endswith(".zip"):
            raise self.fail("zip_name_pattern", "must contain {batch_id} and end with .zip")
        columns = self.columns(doc["columns"])
        names = {c.name for c in columns}
        return FormatSpec(
            release=release,
            object_name=object_name,
            description=self.text(doc["description"], "description"),
            template=self.text(doc["template"], "template"),
            sheet=self.text(doc["sheet"], "sheet"),
            csv_file=self.text(doc["csv_file"], "csv_file"),
            control_file=self.text(doc["control_file"], "control_file"),
            zip_name_pattern=pattern,
            ucm_document_account=self.text(doc["ucm_document_account"], "ucm_document_account"),
            date_format=date_format,
            ess_job=self.ess_job(doc["ess_job"], names),
            control_totals=self.control_totals(doc["control_totals"], columns),
            sources=self.text(doc["sources"], "sources"),
            columns=columns,
            path=self.path,
        )

    def columns(self, value: Any) -> tuple[ColumnSpec, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("columns", "must be a non-empty list")
        out: list[ColumnSpec] = []
        seen: set[str] = set()
        for i, item in enumerate(value):
            key = f"columns[{i}]"
            col = self.mapping(
                item, key, ("name", "type"), ("required", "max_size", "allowed", "description")
            )
            name = self.text(col["name"], f"{key}.name")
            if not _COLUMN_NAME_RE.match(name):
                raise self.fail(f"{key}.name", "must be an upper-case column name")
            if name in seen:
                raise self.fail(f"{key}.name", f"duplicate column {name}")
            seen.add(name)
            col_type = col["type"]
            if col_type not in COLUMN_TYPES:
                raise self.fail(f"{key}.type", f"must be one of {list(COLUMN_TYPES)}")
            required = col.get("required", False)
            if not isinstance(required, bool):
                raise self.fail(f"{key}.required", "must be true or false")
            max_size = col.get("max_size")
            if max_size is not None and (
                isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1
            ):
                raise self.fail(f"{key}.max_size", "must be a positive integer")
            allowed: tuple[str, ...] = ()
            if "allowed" in col:
                allowed = self.text_list(col["allowed"], f"{key}.allowed")
                if col_type != "text":
                    raise self.fail(f"{key}.allowed", "only text columns can list allowed values")
            description = col.get("description")
            if description is not None:
                description = self.text(description, f"{key}.description")
            out.append(ColumnSpec(i + 1, name, col_type, required, max_size, allowed, description))
        return tuple(out)

    def ess_job(self, value: Any, names: set[str]) -> EssJobSpec:
        job = self.mapping(value, "ess_job", ("name", "parameters"))
        params = job["parameters"]
        if not isinstance(params, list) or not params:
            raise self.fail("ess_job.parameters", "must be a non-empty list")
        out = []
        for i, item in enumerate(params):
            key = f"ess_job.parameters[{i}]"
            param = self.mapping(item, key, ("name",), ("column", "default", "allowed"))
            column = param.get("column")
            if column is not None and self.text(column, f"{key}.column") not in names:
                raise self.fail(f"{key}.column", f"no column {column} in columns")
            default = param.get("default")
            if default is not None:
                default = self.text(default, f"{key}.default")
            allowed = ()
            if "allowed" in param:
                allowed = self.text_list(param["allowed"], f"{key}.allowed")
            name = self.text(param["name"], f"{key}.name")
            out.append(EssParameter(name, column, default, allowed))
        return EssJobSpec(self.text(job["name"], "ess_job.name"), tuple(out))

    def control_totals(self, value: Any, columns: tuple[ColumnSpec, ...]) -> ControlTotalsSpec:
        totals = self.mapping(value, "control_totals", ("group_by", "sum"))
        by_name = {c.name: c for c in columns}
        group_by = self.text_list(totals["group_by"], "control_totals.group_by")
        summed = self.text_list(totals["sum"], "control_totals.sum")
        for key, names in (("group_by", group_by), ("sum", summed)):
            for i, name in enumerate(names):
                if name not in by_name:
                    raise self.fail(f"control_totals.{key}[{i}]", f"no column {name} in columns")
        for i, name in enumerate(summed):
            if by_name[name].type != "amount":
                raise self.fail(f"control_totals.sum[{i}]", f"{name} is not an amount column")
        return ControlTotalsSpec(group_by, summed)


@dataclass(frozen=True)
class MovedColumn:
    """A column whose order relative to the other shared columns changed."""

    name: str
    old_position: int
    new_position: int


@dataclass(frozen=True)
class ChangedAttribute:
    """One attribute of a shared column (or of the spec header) that differs."""

    name: str
    attribute: str
    old: Any
    new: Any


@dataclass(frozen=True)
class SpecDiff:
    """What changed from spec `a` to spec `b`."""

    added: tuple[ColumnSpec, ...]
    removed: tuple[ColumnSpec, ...]
    moved: tuple[MovedColumn, ...]
    changed: tuple[ChangedAttribute, ...]
    header_changed: tuple[ChangedAttribute, ...]

    @property
    def empty(self) -> bool:
        """True when the two specs describe the same file and submission."""
        return not (self.added or self.removed or self.moved or self.changed or self.header_changed)


_COMPARED_HEADER = (
    "object_name",
    "template",
    "sheet",
    "csv_file",
    "control_file",
    "zip_name_pattern",
    "ucm_document_account",
    "date_format",
    "ess_job",
    "control_totals",
)
_COMPARED_COLUMN = ("type", "required", "max_size", "allowed", "description")


def diff_specs(a: FormatSpec, b: FormatSpec) -> SpecDiff:
    """Compare two specs column by column.

    `added`/`removed` carry the column as it is in `b`/`a`. `moved` lists shared columns whose
    order relative to the other shared columns changed; positions that only shift because columns
    were added or removed before them are not reported as moves.
    """
    a_cols = {c.name: c for c in a.columns}
    b_cols = {c.name: c for c in b.columns}
    added = tuple(c for c in b.columns if c.name not in a_cols)
    removed = tuple(c for c in a.columns if c.name not in b_cols)
    shared_a = [c.name for c in a.columns if c.name in b_cols]
    shared_b = [c.name for c in b.columns if c.name in a_cols]
    in_order = _longest_common_subsequence(shared_a, shared_b)
    moved = tuple(
        MovedColumn(n, a_cols[n].position, b_cols[n].position)
        for n in shared_b
        if n not in in_order
    )
    changed = tuple(
        ChangedAttribute(n, attr, getattr(a_cols[n], attr), getattr(b_cols[n], attr))
        for n in shared_b
        for attr in _COMPARED_COLUMN
        if getattr(a_cols[n], attr) != getattr(b_cols[n], attr)
    )
    header = tuple(
        ChangedAttribute(a.object_name, f.name, getattr(a, f.name), getattr(b, f.name))
        for f in fields(FormatSpec)
        if f.name in _COMPARED_HEADER and getattr(a, f.name) != getattr(b, f.name)
    )
    return SpecDiff(added, removed, moved, changed, header)


def _longest_common_subsequence(a: list[str], b: list[str]) -> set[str]:
    """Names on one longest common subsequence of `a` and `b` (classic O(n*m) table)."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if a[i] == b[j]:
                table[i][j] = table[i + 1][j + 1] + 1
            else:
                table[i][j] = max(table[i + 1][j], table[i][j + 1])
    keep: set[str] = set()
    i = j = 0
    while i < n and j < m:
        if a[i] == b[j]:
            keep.add(a[i])
            i += 1
            j += 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return keep
