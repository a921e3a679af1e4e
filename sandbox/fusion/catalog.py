"""The simulated Fusion's own knowledge of the files it imports: FBDI objects and HDL business
objects, read from the data files in `sandbox/fusion/layouts/`.

`layouts/objects.yml` names each FBDI import (UCM document account, ESS job, ParameterList,
follow-up jobs) and the CSVs its zip holds; `layouts/fbdi/<layout>.csv` gives each CSV's columns
(position, name, type, required, max_size) as Oracle's templates lay them out. `layouts/hdl.yml`
gives the components and attributes of each HDL `.dat` file. These were derived from Oracle's
reference lists (see the headers of the yml files), never from the product's writer specs in
`load/formats`: the simulator stands in for Fusion, so a writer spec that puts a column in the
wrong place must be rejected here, not agreed with. Nothing in this package imports `load`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

LAYOUTS_DIR = Path(__file__).with_name("layouts")
COLUMN_TYPES = ("text", "number", "integer", "amount", "date")
HDL_TYPES = ("text", "date", "integer")
CLEAR = "#NULL"  # the HDL and FBDI value that clears an attribute
_STRFTIME = {"YYYY/MM/DD": "%Y/%m/%d"}


class CatalogError(ValueError):
    """A layout data file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Column:
    """One CSV field at its 1-based position."""

    position: int
    name: str
    type: str
    required: bool = False
    max_size: int | None = None
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class CsvLayout:
    """One CSV of an import's zip: every column of the template in CSV order.

    `end_marker`: the template's macro ends each line with a literal `END` field after the last
    column. `link`: (this CSV's column, the primary CSV's column) a row must match.
    """

    csv_file: str
    columns: tuple[Column, ...]
    end_marker: bool = False
    link: tuple[str, str] | None = None

    @property
    def field_count(self) -> int:
        """Fields of the layout, without the END marker."""
        return len(self.columns)

    def column(self, name: str) -> Column:
        """The column called `name`."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.csv_file} has no column {name}")


@dataclass(frozen=True)
class JobParameter:
    """One position of a ParameterList; `column` is the primary CSV column it must equal."""

    name: str
    column: str | None = None
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """An ESS job (`package,definition`) and what the simulator knows of its ParameterList:
    `parameter_count` positions when known (None: any), the first `parameters` named."""

    name: str
    parameters: tuple[JobParameter, ...] = ()
    parameter_count: int | None = None


@dataclass(frozen=True)
class FbdiObject:
    """One FBDI import: how it is called and the CSVs of its zip (`files[0]` is the primary)."""

    object_name: str
    description: str
    ucm_document_account: str
    ess_job: Job
    files: tuple[CsvLayout, ...]
    date_format: str
    follow_up_jobs: tuple[Job, ...] = ()
    defaulted: tuple[str, ...] = ()

    @property
    def primary(self) -> CsvLayout:
        """The primary CSV (the zip must hold it)."""
        return self.files[0]

    @property
    def csv_file(self) -> str:
        """Name of the primary CSV."""
        return self.primary.csv_file

    @property
    def columns(self) -> tuple[Column, ...]:
        """Columns of the primary CSV."""
        return self.primary.columns

    @property
    def strftime_format(self) -> str:
        """The date format as a strftime pattern."""
        return _STRFTIME[self.date_format]

    def column(self, name: str) -> Column:
        """The column called `name` in the primary CSV."""
        return self.primary.column(name)

    def file(self, csv_file: str) -> CsvLayout:
        """The CSV called `csv_file`."""
        for f in self.files:
            if f.csv_file == csv_file:
                return f
        raise KeyError(f"{self.object_name} has no CSV {csv_file}")


@dataclass(frozen=True)
class HdlAttribute:
    """One attribute of an HDL component (exact, case-sensitive name)."""

    name: str
    type: str = "text"
    required: bool = False


@dataclass(frozen=True)
class HdlComponent:
    """One discriminator: its attributes, its parent and the attribute naming the parent."""

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
class HdlObject:
    """One HDL business object: its `.dat` file and components in hierarchy order."""

    object_name: str
    dat_file: str
    components: tuple[HdlComponent, ...]

    def component(self, name: str) -> HdlComponent:
        """The component whose discriminator is `name`."""
        for comp in self.components:
            if comp.name == name:
                return comp
        raise KeyError(f"{self.object_name} has no component {name}")


@cache
def fbdi_objects(layouts_dir: Path = LAYOUTS_DIR) -> tuple[FbdiObject, ...]:
    """Every FBDI import the simulator runs."""
    path = layouts_dir / "objects.yml"
    doc = _yaml(path)
    date_format = doc["date_format"]
    if date_format not in _STRFTIME:
        raise CatalogError(f"{path}: date_format {date_format} is not supported")
    return tuple(
        _fbdi_object(name, entry, date_format, layouts_dir)
        for name, entry in doc["objects"].items()
    )


def fbdi_object(name: str) -> FbdiObject:
    """The FBDI import called `name`; KeyError if the simulator has none."""
    for obj in fbdi_objects():
        if obj.object_name == name:
            return obj
    raise KeyError(name)


@cache
def hdl_objects(layouts_dir: Path = LAYOUTS_DIR) -> tuple[HdlObject, ...]:
    """Every HDL business object the simulator loads."""
    path = layouts_dir / "hdl.yml"
    out = []
    for name, entry in _yaml(path)["objects"].items():
        components = []
        for comp_name, comp in entry["components"].items():
            attributes = tuple(_hdl_attribute(text, path) for text in comp["attributes"])
            components.append(
                HdlComponent(
                    comp_name,
                    attributes,
                    comp.get("parent"),
                    comp.get("reference"),
                    tuple(comp.get("required_children", ())),
                )
            )
        out.append(HdlObject(name, entry["dat_file"], tuple(components)))
    return tuple(out)


def read_layout(path: Path) -> tuple[Column, ...]:
    """The columns of one `layouts/fbdi/<layout>.csv`, checked to run 1..N without gaps."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise CatalogError(f"{path}: no such layout") from None
    columns = []
    for expected, row in enumerate(rows, start=1):
        if int(row["position"]) != expected:
            raise CatalogError(f"{path}: line {expected + 1} is not position {expected}")
        if row["type"] not in COLUMN_TYPES:
            raise CatalogError(f"{path}: {row['name']} has an unknown type {row['type']}")
        columns.append(
            Column(
                position=expected,
                name=row["name"],
                type=row["type"],
                required=row["required"] == "Y",
                max_size=int(row["max_size"]) if row["max_size"] else None,
            )
        )
    if not columns:
        raise CatalogError(f"{path}: no columns")
    return tuple(columns)


def _yaml(path: Path) -> dict[str, Any]:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: {exc}") from None


def _fbdi_object(name: str, entry: dict, date_format: str, layouts_dir: Path) -> FbdiObject:
    allowed = {k: tuple(v) for k, v in entry.get("allowed", {}).items()}
    files = []
    for item in entry["files"]:
        layout = item["layout"]
        columns = tuple(
            Column(c.position, c.name, c.type, c.required, c.max_size, allowed.get(c.name, ()))
            for c in read_layout(layouts_dir / "fbdi" / f"{layout}.csv")
        )
        link = item.get("link")
        files.append(
            CsvLayout(
                csv_file=f"{layout}.csv",
                columns=columns,
                end_marker=bool(item.get("end_marker", False)),
                link=(link["column"], link["primary"]) if link else None,
            )
        )
    return FbdiObject(
        object_name=name,
        description=entry["description"],
        ucm_document_account=entry["document_account"],
        ess_job=_job(entry["job"]),
        files=tuple(files),
        date_format=date_format,
        follow_up_jobs=tuple(_job(job) for job in entry.get("follow_up_jobs", ())),
        defaulted=tuple(entry.get("defaulted", ())),
    )


def _job(entry: dict) -> Job:
    parameters = tuple(
        JobParameter(p["name"], p.get("column"), tuple(p.get("allowed", ())))
        for p in entry.get("parameters", ())
    )
    return Job(entry["name"], parameters, entry.get("parameter_count"))


def _hdl_attribute(text: str, path: Path) -> HdlAttribute:
    """`Name [type] [required]`."""
    name, *rest = text.split()
    required = "required" in rest
    types = [word for word in rest if word != "required"]
    if len(types) > 1 or (types and types[0] not in HDL_TYPES):
        raise CatalogError(f"{path}: attribute {text!r} is not `Name [type] [required]`")
    return HdlAttribute(name, types[0] if types else "text", required)
