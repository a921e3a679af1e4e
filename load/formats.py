"""Per-release format specs: load, validate and compare `load/formats/<release>/<Object>.yml`.

A spec is data. An FBDI spec gives the complete positional layout of each interface CSV of one
object's zip (every field of Oracle's template, in CSV order) plus the facts needed to package and
submit it; the writer in `load.fbdi` is driven entirely by it. A layout is always complete:
there is no partial spec, and a CSV whose template macro ends every line with a literal `END`
field says so (`end_marker`). An HDL spec (`format: hdl`) lists the components of one `.dat`
file in hierarchy order with their attributes; `load.hdl` writes and validates files from it.

Releases fall back: a release folder holds only the objects whose layout or submission changed
in that release. Looking up an object in a release that has no spec for it finds the newest
earlier release that has one (`resolve_release`), so `load_spec("26C", "GlInterface")` is the
25B spec while `load_spec("26C", "RaInterfaceLinesAll")` is 26C's own.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
    """The object's import job and the layout of its comma-separated ParameterList.

    `parameter_count` is the number of positions the job takes when the reference documents it;
    `None` means unknown. A ParameterList is only built when every position is documented.
    """

    name: str
    parameters: tuple[EssParameter, ...]
    parameter_count: int | None = None

    @property
    def complete(self) -> bool:
        """True when every position of the ParameterList is documented."""
        return bool(self.parameters) and self.parameter_count == len(self.parameters)

    def parameter_list(self, values: Mapping[str, str]) -> str:
        """Build the ParameterList from values keyed by parameter name; defaults fill gaps."""
        if not self.complete:
            known = self.parameter_count if self.parameter_count is not None else "unknown"
            raise ValueError(
                f"{self.name}: ParameterList layout is only partly documented "
                f"({len(self.parameters)} of {known} positions)"
            )
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
    """Which columns group the control totals and which amount columns are summed (maybe none)."""

    group_by: tuple[str, ...]
    sum: tuple[str, ...]


@dataclass(frozen=True)
class CsvFileSpec:
    """One CSV of the zip: an interface-table sheet and its complete positional layout.

    `columns` lists every field of the template, positions 1..N without gaps. `end_marker`: the
    template's macro ends every line with one more literal `END` field after the last column (to
    avoid line-feed trouble between Windows and Unix); the writer does the same. The END field
    is not a column and not counted in `field_count`.
    """

    sheet: str
    csv_file: str
    control_file: str
    columns: tuple[ColumnSpec, ...]
    end_marker: bool = False

    @property
    def field_count(self) -> int:
        """Fields of the layout (without the END marker)."""
        return len(self.columns)

    def column(self, name: str) -> ColumnSpec:
        """The column called `name` (upper-case spec name)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.csv_file} has no column {name}")


CONFIDENCE_LEVELS = ("high", "medium", "low")


@dataclass(frozen=True)
class FormatSpec:
    """The validated content of one FBDI `<release>/<Object>.yml`; `files[0]` is the primary CSV."""

    release: str
    object_name: str
    description: str
    template: str
    zip_name_pattern: str
    ucm_document_account: str
    date_format: str
    ess_job: EssJobSpec
    control_totals: ControlTotalsSpec
    sources: str
    files: tuple[CsvFileSpec, ...]
    path: Path
    confidence: str = "high"
    follow_up_jobs: tuple[EssJobSpec, ...] = ()

    @property
    def primary(self) -> CsvFileSpec:
        """The first CSV: the one the control totals are taken from."""
        return self.files[0]

    @property
    def sheet(self) -> str:
        """Sheet of the primary CSV."""
        return self.primary.sheet

    @property
    def csv_file(self) -> str:
        """Name of the primary CSV."""
        return self.primary.csv_file

    @property
    def control_file(self) -> str:
        """SQL*Loader control file of the primary CSV."""
        return self.primary.control_file

    @property
    def columns(self) -> tuple[ColumnSpec, ...]:
        """Documented columns of the primary CSV."""
        return self.primary.columns

    @property
    def field_count(self) -> int:
        """Number of fields on every row of the primary CSV."""
        return self.primary.field_count

    @property
    def strftime_format(self) -> str:
        """The spec's date format as a strftime pattern."""
        return DATE_FORMATS[self.date_format]

    def column(self, name: str) -> ColumnSpec:
        """The column called `name` in the primary CSV."""
        try:
            return self.primary.column(name)
        except KeyError:
            raise KeyError(f"{self.object_name} {self.release} has no column {name}") from None

    def file(self, csv_file: str) -> CsvFileSpec:
        """The CSV called `csv_file`."""
        for f in self.files:
            if f.csv_file == csv_file:
                return f
        raise KeyError(f"{self.object_name} {self.release} has no CSV {csv_file}")

    def zip_name(self, batch_id: str) -> str:
        """The zip file name for a batch, from the spec's `zip_name_pattern`."""
        return self.zip_name_pattern.format(batch_id=batch_id)


HdlType = Literal["text", "integer", "date"]
HDL_TYPES: tuple[str, ...] = ("text", "integer", "date")
_HDL_ATTRIBUTE_RE = re.compile(r"^[A-Z][A-Za-z0-9_]*(\([A-Za-z]+\))?$")
_DISCRIMINATOR_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True)
class HdlAttribute:
    """One attribute of an HDL component; `name` is exact and case-sensitive."""

    name: str
    type: HdlType = "text"
    required: bool = False
    description: str | None = None

    @property
    def input_name(self) -> str:
        """The snake_case column name also accepted in input batches (`PersonId(SourceSystemId)`
        -> `person_id_source_system_id`)."""
        spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", self.name)
        return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


@dataclass(frozen=True)
class HdlComponent:
    """One discriminator: its attributes, its parent and the attribute that references it."""

    name: str
    attributes: tuple[HdlAttribute, ...]
    parent: str | None = None
    parent_reference: str | None = None
    required_children: tuple[str, ...] = ()

    def attribute(self, name: str) -> HdlAttribute:
        """The attribute called `name`."""
        for attr in self.attributes:
            if attr.name == name:
                return attr
        raise KeyError(f"{self.name} has no attribute {name}")


@dataclass(frozen=True)
class HdlSpec:
    """The validated content of one HDL `<release>/<Object>.yml`; components in file order."""

    release: str
    object_name: str
    description: str
    dat_file: str
    zip_name_pattern: str
    sources: str
    components: tuple[HdlComponent, ...]
    path: Path
    confidence: str = "high"

    def component(self, name: str) -> HdlComponent:
        """The component whose discriminator is `name`."""
        for comp in self.components:
            if comp.name == name:
                return comp
        raise KeyError(f"{self.object_name} {self.release} has no component {name}")

    def zip_name(self, batch_id: str) -> str:
        """The zip name for a batch; HDL wants it alphanumeric, so other characters are dropped."""
        return self.zip_name_pattern.format(batch_id=re.sub(r"[^A-Za-z0-9]", "", batch_id))


AnySpec = FormatSpec | HdlSpec

_FBDI_KEYS = (
    "release",
    "object",
    "description",
    "template",
    "zip_name_pattern",
    "ucm_document_account",
    "date_format",
    "ess_job",
    "control_totals",
    "sources",
)
_FILE_KEYS = ("sheet", "csv_file", "control_file", "columns")
_FILE_OPTIONAL = ("end_marker",)
# Keys of the partial layouts specs once had; a spec still using one is told why it is refused.
_PARTIAL_KEYS = ("complete", "total_columns", "written_as_prefix", "prefix_reason", "optional_gaps")
_FBDI_OPTIONAL = ("format", "confidence", "follow_up_jobs", "files", *_FILE_KEYS, *_FILE_OPTIONAL)
_HDL_KEYS = ("format", "release", "object", "description", "dat_file", "zip_name_pattern")
_HDL_REQUIRED = (*_HDL_KEYS, "sources", "components")


def spec_path(release: str, object_name: str, formats_dir: Path = FORMATS_DIR) -> Path:
    """Where the spec for `object_name` in `release` lives."""
    return formats_dir / release / f"{object_name}.yml"


def available_releases(formats_dir: Path = FORMATS_DIR) -> list[str]:
    """Releases that have a spec directory, oldest first (`25B` < `25C` < `26A`)."""
    if not formats_dir.is_dir():
        return []
    found = [p.name for p in formats_dir.iterdir() if p.is_dir() and _RELEASE_RE.match(p.name)]
    return sorted(found, key=lambda r: (int(r[:2]), r[2]))


def _release_key(release: str) -> tuple[int, str]:
    return int(release[:2]), release[2]


def _releases_up_to(release: str, formats_dir: Path) -> list[str]:
    """Shipped releases not newer than `release`, newest first (`release` itself need not have a
    folder; a name that is no release, like `99Z`, has none)."""
    if not _RELEASE_RE.match(release):
        return []
    older = [r for r in available_releases(formats_dir) if _release_key(r) <= _release_key(release)]
    return sorted(older, key=_release_key, reverse=True)


def available_objects(release: str, formats_dir: Path = FORMATS_DIR) -> list[str]:
    """Object names with a spec in `release`, its own or one it falls back to from an earlier
    release."""
    releases = _releases_up_to(release, formats_dir)
    return sorted({p.stem for r in releases for p in (formats_dir / r).glob("*.yml")})


def resolve_release(release: str, object_name: str, formats_dir: Path = FORMATS_DIR) -> str:
    """The release whose folder holds the spec `object_name` has in `release`: `release` itself
    when its folder has the object, else the newest earlier release that has it."""
    for candidate in _releases_up_to(release, formats_dir):
        if spec_path(candidate, object_name, formats_dir).is_file():
            return candidate
    raise FormatSpecError(
        f"{spec_path(release, object_name, formats_dir)}: no such format spec "
        f"(nor in any earlier release)"
    )


def load_spec(release: str, object_name: str, formats_dir: Path = FORMATS_DIR) -> AnySpec:
    """Load and validate the spec of `object_name` in `release` (FBDI or HDL), falling back to
    the newest earlier release when `release` did not change it (see `resolve_release`); the
    shipped specs are read once per process (they are immutable)."""
    if formats_dir == FORMATS_DIR:
        return _shipped_spec(release, object_name)
    return load_spec_file(
        spec_path(resolve_release(release, object_name, formats_dir), object_name, formats_dir)
    )


@functools.cache
def _shipped_spec(release: str, object_name: str) -> AnySpec:
    found = resolve_release(release, object_name, FORMATS_DIR)
    return load_spec_file(spec_path(found, object_name, FORMATS_DIR))


def load_spec_file(path: Path) -> AnySpec:
    """Load and validate a spec file at any path (the release and object come from its content).

    `format: hdl` selects an HDL spec; without `format` (or `format: fbdi`) it is an FBDI spec.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormatSpecError(f"{path}: no such format spec") from None
    except yaml.YAMLError as exc:
        raise FormatSpecError(f"{path}: not valid YAML ({exc})") from None
    reader = _SpecReader(path)
    if isinstance(raw, dict) and raw.get("format") == "hdl":
        return reader.read_hdl(raw)
    return reader.read(raw)


class _SpecReader:
    """Turns parsed YAML into a spec, raising errors that name the file and the key."""

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

    def text_list(self, value: Any, key: str, allow_empty: bool = False) -> tuple[str, ...]:
        if not isinstance(value, list) or not (value or allow_empty):
            raise self.fail(key, "must be a non-empty list")
        return tuple(self.text(v, f"{key}[{i}]") for i, v in enumerate(value))

    def flag(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def count(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(key, "must be a positive integer")
        return value

    def header(self, doc: dict, kind: str) -> tuple[str, str]:
        """Release and object, checked against where the file lives."""
        if doc.get("format", kind) != kind:
            raise self.fail("format", "must be fbdi or hdl")
        release = self.text(doc["release"], "release")
        if not _RELEASE_RE.match(release):
            raise self.fail("release", "must look like 25B (two-digit year, A-D)")
        object_name = self.text(doc["object"], "object")
        if self.path.stem != object_name or self.path.parent.name != release:
            raise self.fail("object", f"file must be at {release}/{object_name}.yml")
        return release, object_name

    def confidence(self, doc: dict) -> str:
        level = doc.get("confidence", "high")
        if level not in CONFIDENCE_LEVELS:
            raise self.fail("confidence", f"must be one of {list(CONFIDENCE_LEVELS)}")
        return level

    def read(self, raw: Any) -> FormatSpec:
        if isinstance(raw, dict):
            self.no_partial_keys(raw, "")
        doc = self.mapping(raw, "", _FBDI_KEYS, _FBDI_OPTIONAL)
        release, object_name = self.header(doc, "fbdi")
        date_format = self.text(doc["date_format"], "date_format")
        if date_format not in DATE_FORMATS:
            raise self.fail("date_format", f"must be one of {sorted(DATE_FORMATS)}")
        pattern = self.text(doc["zip_name_pattern"], "zip_name_pattern")
        if "{batch_id}" not in pattern or not pattern.endswith(".zip"):
            raise self.fail("zip_name_pattern", "must contain {batch_id} and end with .zip")
        files = self.files(doc)
        names = {c.name for c in files[0].columns}
        follow_ups = doc.get("follow_up_jobs", [])
        if not isinstance(follow_ups, list):
            raise self.fail("follow_up_jobs", "must be a list")
        return FormatSpec(
            release=release,
            object_name=object_name,
            description=self.text(doc["description"], "description"),
            template=self.text(doc["template"], "template"),
            zip_name_pattern=pattern,
            ucm_document_account=self.text(doc["ucm_document_account"], "ucm_document_account"),
            date_format=date_format,
            ess_job=self.ess_job(doc["ess_job"], "ess_job", names),
            control_totals=self.control_totals(doc["control_totals"], files[0].columns),
            sources=self.text(doc["sources"], "sources"),
            files=files,
            path=self.path,
            confidence=self.confidence(doc),
            follow_up_jobs=tuple(
                self.ess_job(job, f"follow_up_jobs[{i}]", names) for i, job in enumerate(follow_ups)
            ),
        )

    def files(self, doc: dict) -> tuple[CsvFileSpec, ...]:
        """Either one CSV described at the top level, or a `files` list (primary first)."""
        self.no_partial_keys(doc, "")
        for i, item in enumerate(doc.get("files") or []):
            if isinstance(item, dict):
                self.no_partial_keys(item, f"files[{i}]")
        top_level = [k for k in (*_FILE_KEYS, *_FILE_OPTIONAL) if k in doc]
        if "files" not in doc:
            self.mapping({k: doc[k] for k in top_level}, "", _FILE_KEYS, _FILE_OPTIONAL)
            return (self.csv_file(doc, ""),)
        if top_level:
            raise self.fail(top_level[0], "not allowed next to files")
        items = doc["files"]
        if not isinstance(items, list) or not items:
            raise self.fail("files", "must be a non-empty list")
        out = tuple(
            self.csv_file(
                self.mapping(item, f"files[{i}]", _FILE_KEYS, _FILE_OPTIONAL), f"files[{i}]"
            )
            for i, item in enumerate(items)
        )
        seen: set[str] = set()
        for i, f in enumerate(out):
            if f.csv_file in seen:
                raise self.fail(f"files[{i}].csv_file", f"duplicate CSV {f.csv_file}")
            seen.add(f.csv_file)
        return out

    def no_partial_keys(self, doc: dict, prefix: str) -> None:
        for name in _PARTIAL_KEYS:
            if name in doc:
                key = f"{prefix}.{name}" if prefix else name
                raise self.fail(
                    key, "partial layouts are gone: list every column of the template instead"
                )

    def csv_file(self, doc: dict, prefix: str) -> CsvFileSpec:
        def key(name: str) -> str:
            return f"{prefix}.{name}" if prefix else name

        columns = self.columns(doc["columns"], key("columns"))
        if columns[-1].position != len(columns):
            raise self.fail(key("columns"), "a layout lists every position 1..N, no gaps")
        return CsvFileSpec(
            sheet=self.text(doc["sheet"], key("sheet")),
            csv_file=self.text(doc["csv_file"], key("csv_file")),
            control_file=self.text(doc["control_file"], key("control_file")),
            columns=columns,
            end_marker=self.flag(doc.get("end_marker", False), key("end_marker")),
        )

    def columns(self, value: Any, prefix: str) -> tuple[ColumnSpec, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(prefix, "must be a non-empty list")
        out: list[ColumnSpec] = []
        seen: set[str] = set()
        position = 0
        for i, item in enumerate(value):
            key = f"{prefix}[{i}]"
            col = self.mapping(
                item,
                key,
                ("name", "type"),
                ("position", "required", "max_size", "allowed", "description"),
            )
            name = self.text(col["name"], f"{key}.name")
            if not _COLUMN_NAME_RE.match(name):
                raise self.fail(f"{key}.name", "must be an upper-case column name")
            if name in seen:
                raise self.fail(f"{key}.name", f"duplicate column {name}")
            seen.add(name)
            # Without `position` a column follows the previous one; with it, gaps are explicit.
            explicit = col.get("position", position + 1)
            if self.count(explicit, f"{key}.position") <= position:
                raise self.fail(f"{key}.position", "positions must increase")
            position = explicit
            col_type = col["type"]
            if col_type not in COLUMN_TYPES:
                raise self.fail(f"{key}.type", f"must be one of {list(COLUMN_TYPES)}")
            required = self.flag(col.get("required", False), f"{key}.required")
            max_size = col.get("max_size")
            if max_size is not None:
                max_size = self.count(max_size, f"{key}.max_size")
            allowed: tuple[str, ...] = ()
            if "allowed" in col:
                allowed = self.text_list(col["allowed"], f"{key}.allowed")
                if col_type != "text":
                    raise self.fail(f"{key}.allowed", "only text columns can list allowed values")
            description = col.get("description")
            if description is not None:
                description = self.text(description, f"{key}.description")
            out.append(
                ColumnSpec(position, name, col_type, required, max_size, allowed, description)
            )
        return tuple(out)

    def ess_job(self, value: Any, prefix: str, names: set[str]) -> EssJobSpec:
        job = self.mapping(value, prefix, ("name", "parameters"), ("parameter_count",))
        params = job["parameters"]
        if not isinstance(params, list):
            raise self.fail(f"{prefix}.parameters", "must be a list (empty when undocumented)")
        out = []
        for i, item in enumerate(params):
            key = f"{prefix}.parameters[{i}]"
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
        count = job.get("parameter_count", len(out) or None)
        if count is not None and self.count(count, f"{prefix}.parameter_count") < len(out):
            raise self.fail(f"{prefix}.parameter_count", "is smaller than the parameters listed")
        return EssJobSpec(self.text(job["name"], f"{prefix}.name"), tuple(out), count)

    def control_totals(self, value: Any, columns: tuple[ColumnSpec, ...]) -> ControlTotalsSpec:
        totals = self.mapping(value, "control_totals", ("group_by", "sum"))
        by_name = {c.name: c for c in columns}
        group_by = self.text_list(totals["group_by"], "control_totals.group_by")
        summed = self.text_list(totals["sum"], "control_totals.sum", allow_empty=True)
        for key, names in (("group_by", group_by), ("sum", summed)):
            for i, name in enumerate(names):
                if name not in by_name:
                    raise self.fail(f"control_totals.{key}[{i}]", f"no column {name} in columns")
        for i, name in enumerate(summed):
            if by_name[name].type != "amount":
                raise self.fail(f"control_totals.sum[{i}]", f"{name} is not an amount column")
        return ControlTotalsSpec(group_by, summed)

    def read_hdl(self, raw: dict) -> HdlSpec:
        doc = self.mapping(raw, "", _HDL_REQUIRED, ("confidence",))
        release, object_name = self.header(doc, "hdl")
        dat_file = self.text(doc["dat_file"], "dat_file")
        if dat_file != f"{object_name}.dat":
            raise self.fail("dat_file", f"must be {object_name}.dat (HDL names files by object)")
        pattern = self.text(doc["zip_name_pattern"], "zip_name_pattern")
        if not re.fullmatch(r"[A-Za-z0-9]*\{batch_id\}[A-Za-z0-9]*\.zip", pattern):
            raise self.fail("zip_name_pattern", "must be alphanumeric around {batch_id}, .zip")
        items = doc["components"]
        if not isinstance(items, list) or not items:
            raise self.fail("components", "must be a non-empty list")
        components: list[HdlComponent] = []
        for i, item in enumerate(items):
            components.append(self.component(item, f"components[{i}]", components))
        components_by_name = {c.name: c for c in components}
        names = set(components_by_name)
        for i, comp in enumerate(components):
            for child in comp.required_children:
                if child not in names or components_by_name[child].parent != comp.name:
                    raise self.fail(f"components[{i}].required_children", f"{child} is no child")
        return HdlSpec(
            release=release,
            object_name=object_name,
            description=self.text(doc["description"], "description"),
            dat_file=dat_file,
            zip_name_pattern=pattern,
            sources=self.text(doc["sources"], "sources"),
            components=tuple(components),
            path=self.path,
            confidence=self.confidence(doc),
        )

    def component(self, value: Any, key: str, before: list[HdlComponent]) -> HdlComponent:
        comp = self.mapping(
            value,
            key,
            ("name", "attributes"),
            ("parent", "parent_reference", "required_children"),
        )
        name = self.text(comp["name"], f"{key}.name")
        if not _DISCRIMINATOR_RE.match(name) or name in {c.name for c in before}:
            raise self.fail(f"{key}.name", "must be a new CamelCase discriminator")
        parent = comp.get("parent")
        if parent is not None and parent not in {c.name for c in before}:
            raise self.fail(f"{key}.parent", "must name a component listed before this one")
        attrs = comp["attributes"]
        if not isinstance(attrs, list) or not attrs:
            raise self.fail(f"{key}.attributes", "must be a non-empty list")
        out: list[HdlAttribute] = []
        for j, item in enumerate(attrs):
            akey = f"{key}.attributes[{j}]"
            attr = self.mapping(item, akey, ("name",), ("type", "required", "description"))
            attr_name = self.text(attr["name"], f"{akey}.name")
            if not _HDL_ATTRIBUTE_RE.match(attr_name) or attr_name in {a.name for a in out}:
                raise self.fail(f"{akey}.name", "must be a new attribute name")
            attr_type = attr.get("type", "text")
            if attr_type not in HDL_TYPES:
                raise self.fail(f"{akey}.type", f"must be one of {list(HDL_TYPES)}")
            description = attr.get("description")
            if description is not None:
                description = self.text(description, f"{akey}.description")
            required = self.flag(attr.get("required", False), f"{akey}.required")
            out.append(HdlAttribute(attr_name, attr_type, required, description))
        reference = comp.get("parent_reference")
        if (reference is None) != (parent is None):
            raise self.fail(f"{key}.parent_reference", "is given exactly when parent is")
        if reference is not None and reference not in {a.name for a in out}:
            raise self.fail(f"{key}.parent_reference", f"no attribute {reference}")
        children = ()
        if "required_children" in comp:
            children = self.text_list(comp["required_children"], f"{key}.required_children")
        return HdlComponent(name, tuple(out), parent, reference, children)


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
class FileDiff:
    """What changed in one CSV (matched by sheet) from spec `a` to spec `b`."""

    sheet: str
    added: tuple[ColumnSpec, ...]
    removed: tuple[ColumnSpec, ...]
    moved: tuple[MovedColumn, ...]
    changed: tuple[ChangedAttribute, ...]
    header_changed: tuple[ChangedAttribute, ...]

    @property
    def empty(self) -> bool:
        """True when the CSV layout did not change."""
        return not (self.added or self.removed or self.moved or self.changed or self.header_changed)


@dataclass(frozen=True)
class SpecDiff:
    """What changed from spec `a` to spec `b`: the spec header, CSVs added or removed, and a
    FileDiff per shared CSV. `added`/`removed`/`moved`/`changed` gather the columns of all CSVs."""

    header_changed: tuple[ChangedAttribute, ...]
    files: tuple[FileDiff, ...] = ()
    files_added: tuple[str, ...] = ()
    files_removed: tuple[str, ...] = ()

    @property
    def added(self) -> tuple[ColumnSpec, ...]:
        """Columns only in `b`, as they are in `b`."""
        return tuple(c for f in self.files for c in f.added)

    @property
    def removed(self) -> tuple[ColumnSpec, ...]:
        """Columns only in `a`, as they are in `a`."""
        return tuple(c for f in self.files for c in f.removed)

    @property
    def moved(self) -> tuple[MovedColumn, ...]:
        """Shared columns whose relative order changed."""
        return tuple(m for f in self.files for m in f.moved)

    @property
    def changed(self) -> tuple[ChangedAttribute, ...]:
        """Attributes of shared columns that differ."""
        return tuple(c for f in self.files for c in f.changed)

    @property
    def empty(self) -> bool:
        """True when the two specs describe the same files and submission."""
        return not (
            self.header_changed
            or self.files_added
            or self.files_removed
            or any(not f.empty for f in self.files)
        )


_COMPARED_HEADER = (
    "object_name",
    "template",
    "zip_name_pattern",
    "ucm_document_account",
    "date_format",
    "ess_job",
    "control_totals",
    "confidence",
    "follow_up_jobs",
)
_COMPARED_FILE = ("csv_file", "control_file", "end_marker")
_COMPARED_COLUMN = ("type", "required", "max_size", "allowed", "description")


def diff_specs(a: FormatSpec, b: FormatSpec) -> SpecDiff:
    """Compare two FBDI specs: header, then each CSV matched by its sheet, column by column.

    `added`/`removed` carry the column as it is in `b`/`a`. `moved` lists shared columns whose
    order relative to the other shared columns changed; positions that only shift because columns
    were added or removed before them are not reported as moves.
    """
    header = tuple(
        ChangedAttribute(a.object_name, name, getattr(a, name), getattr(b, name))
        for name in _COMPARED_HEADER
        if getattr(a, name) != getattr(b, name)
    )
    a_files = {f.sheet: f for f in a.files}
    b_files = {f.sheet: f for f in b.files}
    return SpecDiff(
        header_changed=header,
        files=tuple(_diff_files(a_files[s], f) for s, f in b_files.items() if s in a_files),
        files_added=tuple(f.csv_file for s, f in b_files.items() if s not in a_files),
        files_removed=tuple(f.csv_file for s, f in a_files.items() if s not in b_files),
    )


def _diff_files(a: CsvFileSpec, b: CsvFileSpec) -> FileDiff:
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
        ChangedAttribute(a.sheet, name, getattr(a, name), getattr(b, name))
        for name in _COMPARED_FILE
        if getattr(a, name) != getattr(b, name)
    )
    return FileDiff(a.sheet, added, removed, moved, changed, header)


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
