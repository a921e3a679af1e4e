"""HCM Data Loader as the simulator runs a data set: read the zip, judge every line the way HDL
does, load each logical object whose lines are all clean.

The zip may hold `.dat` files at its root (one per business object the release's HDL specs
describe) and the BlobFiles/ and ClobFiles/ folders; anything else fails the whole data set.
File structure (known instructions, METADATA before its data lines, value counts, duplicate
source keys, required child components) is judged by the simulator's own reader
(`sandbox.fusion.hdl_reader`). The rest comes from the simulator's catalogue of business objects
(`sandbox/fusion/layouts/hdl.yml`): METADATA names a component of the business object and only
its attributes, and includes the required ones; MERGE lines carry the required values, dates
YYYY/MM/DD and integers (the import stage). A parent reference must name a line of the same
file or a record already loaded (the load stage). A logical object, a root record and every
line under it, loads only when all of its lines are clean. Messages name lines and attributes,
never values.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from sandbox.fusion.catalog import CLEAR, HdlComponent, HdlObject, hdl_objects
from sandbox.fusion.hcm_store import HcmStore
from sandbox.fusion.hdl_reader import StructureError, numbered_lines, split_fields, structure_errors
from sandbox.fusion.jobs import ERROR, SUCCEEDED, WARNING

IMPORT, LOAD = "IMPORT", "LOAD"
_FOLDERS = ("BlobFiles/", "ClobFiles/")
_DATA = ("MERGE", "DELETE")
_DATE = re.compile(r"^(\d{4})/(\d{2})/(\d{2})$")
_INTEGER = re.compile(r"^-?\d+$")

Key = tuple[str, str, str]  # component, SourceSystemOwner, SourceSystemId


@dataclass(frozen=True)
class Message:
    """One error of a data set, on a file line or (line None) on the whole file."""

    dat_file: str
    text: str
    stage: str = IMPORT
    line: int | None = None
    discriminator: str | None = None
    operation: str | None = None
    owner: str | None = None
    source_id: str | None = None


@dataclass
class Judgement:
    """What a data set did: its messages and how many lines loaded."""

    messages: list[Message] = field(default_factory=list)
    loaded_lines: int = 0

    @property
    def status(self) -> str:
        """SUCCEEDED when clean, WARNING when some lines loaded, ERROR when none did."""
        if not self.messages:
            return SUCCEEDED
        return WARNING if self.loaded_lines else ERROR

    def error_lines(self, stage: str) -> int:
        """File lines with at least one message of the stage."""
        return len({(m.dat_file, m.line) for m in self.messages if m.stage == stage})


@dataclass
class _Line:
    number: int
    instruction: str
    discriminator: str
    values: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (stage, text)

    @property
    def key(self) -> Key:
        owner = self.values.get("SourceSystemOwner", "")
        return self.discriminator, owner, self.values.get("SourceSystemId", "")


class _Unloadable(ValueError):
    """The zip cannot be read as a data set at all."""


def judge(document: bytes, store: HcmStore, load: bool) -> Judgement:
    """Judge every `.dat` of the zip; with `load`, merge clean logical objects into the store.

    The caller holds the simulator's lock.
    """
    try:
        files = _dat_files(document)
    except _Unloadable as exc:
        return Judgement([Message("", str(exc))])
    judgement = Judgement()
    for name, spec, text in files:
        _DatFile(name, spec, store).judge(text, judgement, load)
    return judgement


def _dat_files(document: bytes) -> list[tuple[str, HdlObject, str]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(document))
    except zipfile.BadZipFile:
        raise _Unloadable("The file isn't a zip file.") from None
    specs = {obj.dat_file: obj for obj in hdl_objects()}
    files = []
    for name in archive.namelist():
        if name.startswith(_FOLDERS):
            continue
        spec = specs.get(name)
        if spec is None:
            raise _Unloadable(
                f"{name} isn't allowed: the zip holds {', '.join(sorted(specs))} at its root "
                "and the BlobFiles and ClobFiles folders only."
            )
        try:
            files.append((name, spec, archive.read(name).decode("utf-8-sig")))
        except UnicodeDecodeError:
            raise _Unloadable(f"{name} isn't UTF-8 text.") from None
    if not files:
        raise _Unloadable("The zip holds no .dat file.")
    return files


class _DatFile:
    def __init__(self, name: str, spec: HdlObject, store: HcmStore) -> None:
        self.name = name
        self.spec = spec
        self.store = store
        self.components: dict[str, HdlComponent] = {c.name: c for c in spec.components}

    def judge(self, text: str, judgement: Judgement, load: bool) -> None:
        lines = self.import_stage(text)
        data = [line for line in lines if line.instruction == "MERGE" and line.values]
        in_file: dict[Key, _Line] = {}
        for line in data:
            in_file.setdefault(line.key, line)
        groups: dict[Key, list[_Line]] = defaultdict(list)
        for line in data:
            if not line.errors:
                self.check_parent(line, in_file)
            groups[self.root(line.key, line.values, in_file)].append(line)
        for root, members in groups.items():
            if any(m.errors for m in members):
                for member in members:
                    if not member.errors:
                        text = (
                            "The line wasn't loaded because another line of the same "
                            f"{root[0]} object has errors."
                        )
                        member.errors.append((LOAD, text))
            elif load:
                for member in members:
                    self.store.merge(member.discriminator, member.values)
                judgement.loaded_lines += len(members)
        for line in lines:
            judgement.messages.extend(
                self.message(line, stage, text) for stage, text in line.errors
            )

    def import_stage(self, text: str) -> list[_Line]:
        """Every non-blank line with its import errors; data lines with their values."""
        structure = defaultdict(list)
        for error in structure_errors(text, self.spec):
            structure[error.line].append(self.structure_text(error))
        layouts: dict[str, list[str]] = {}
        bad_layouts: set[str] = set()
        lines = []
        for number, raw in numbered_lines(text):
            fields = split_fields(raw)
            disc = fields[1] if len(fields) > 1 else ""
            line = _Line(number, fields[0], disc, errors=[(IMPORT, t) for t in structure[number]])
            lines.append(line)
            if line.instruction == "METADATA":
                line.errors.extend((IMPORT, t) for t in self.layout_errors(disc, fields[2:]))
                if line.errors:
                    bad_layouts.add(disc)
                layouts[disc] = fields[2:]
            elif line.instruction in _DATA and len(fields) - 2 == len(layouts.get(disc, [])):
                line.values = dict(zip(layouts[disc], fields[2:], strict=True))
                line.errors.extend((IMPORT, t) for t in self.value_errors(line, bad_layouts))
        return lines

    @staticmethod
    def structure_text(error: StructureError) -> str:
        if error.kind == "field_count":
            return (
                f"The number of values in line {error.line} doesn't equal the number of "
                f"attributes defined in the METADATA line for the {error.discriminator} "
                "business object."
            )
        return error.message[:1].upper() + error.message[1:] + "."

    def layout_errors(self, disc: str, attributes: list[str]) -> list[str]:
        comp = self.components.get(disc)
        if comp is None:
            return [f"{disc} isn't a component of the {self.spec.object_name} business object."]
        known = {a.name for a in comp.attributes}
        errors = [
            f"The {name} attribute isn't valid for the {disc} component."
            for name in attributes
            if name not in known
        ]
        for attr in comp.attributes:
            if attr.required and attr.name not in attributes:
                errors.append(
                    f"The METADATA line for {disc} must include the {attr.name} attribute."
                )
        return errors

    def value_errors(self, line: _Line, bad_layouts: set[str]) -> list[str]:
        if line.discriminator in bad_layouts:
            return [f"The METADATA line for {line.discriminator} has errors."]
        if line.instruction != "MERGE":
            return ["The simulator loads MERGE lines only."]
        errors = []
        comp = self.components[line.discriminator]
        for attr in comp.attributes:
            value = line.values.get(attr.name)
            if value is None:
                continue
            if value in ("", CLEAR):
                if attr.required:
                    errors.append(f"You must provide a value for the {attr.name} attribute.")
            elif attr.type == "date" and not _is_date(value):
                errors.append(
                    f"You must enter the date for the {attr.name} attribute in YYYY/MM/DD format."
                )
            elif attr.type == "integer" and not _INTEGER.match(value):
                errors.append(f"You must enter a whole number for the {attr.name} attribute.")
        return errors

    def check_parent(self, line: _Line, in_file: dict[Key, _Line]) -> None:
        parent = self.parent_key(line.key, line.values)
        if parent is not None and parent not in in_file and self.store.get(*parent) is None:
            reference = self.components[line.discriminator].parent_reference
            text = (
                f"The {reference} value doesn't match a {parent[0]} in this file or loaded before."
            )
            line.errors.append((LOAD, text))

    def root(self, key: Key, values: dict[str, str], in_file: dict[Key, _Line]) -> Key:
        """The top record of the logical object this line belongs to."""
        while (parent := self.parent_key(key, values)) is not None:
            if parent in in_file:
                values = in_file[parent].values
            elif (record := self.store.get(*parent)) is not None:
                values = record.values
            else:
                break
            key = parent
        return key

    def parent_key(self, key: Key, values: dict[str, str]) -> Key | None:
        comp = self.components.get(key[0])
        if comp is None or comp.parent is None or comp.parent_reference is None:
            return None
        return comp.parent, key[1], values.get(comp.parent_reference, "")

    def message(self, line: _Line, stage: str, text: str) -> Message:
        return Message(
            dat_file=self.name,
            text=text,
            stage=stage,
            line=line.number,
            discriminator=line.discriminator or None,
            operation=line.instruction if line.instruction in _DATA else None,
            owner=line.values.get("SourceSystemOwner"),
            source_id=line.values.get("SourceSystemId"),
        )


@lru_cache(maxsize=4096)  # a file carries few distinct dates
def _is_date(value: str) -> bool:
    match = _DATE.match(value)
    if match is None:
        return False
    try:
        dt.date(*map(int, match.groups()))
    except ValueError:
        return False
    return True
