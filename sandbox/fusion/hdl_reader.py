"""The simulator's own reader of HCM Data Loader `.dat` files: lines, `|`-separated fields with
their escapes undone, and the file-structure errors HDL reports before it looks at values.

Structure errors, per line: an unknown instruction, a MERGE or DELETE line before the METADATA
line of its discriminator, a repeated METADATA line, a data line whose value count differs from
its METADATA, a source key (SourceSystemOwner, SourceSystemId, and EffectiveStartDate when the
layout has it) repeated within a discriminator, and a parent line no line of a required child
component references (a WorkRelationship without WorkTerms). Values (required, dates, integers)
and the business object's components and attributes are judged by `sandbox.fusion.hdl_import`.

Independent of the product's HDL writer (`load.hdl`): the simulator must not share the code whose
output it judges.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.fusion.catalog import HdlObject

INSTRUCTIONS = ("METADATA", "MERGE", "DELETE", "SET", "COMMENT")
DATA_INSTRUCTIONS = ("MERGE", "DELETE")
SOURCE_KEY = ("SourceSystemOwner", "SourceSystemId")


@dataclass(frozen=True)
class StructureError:
    """One structure error on a line of a `.dat` file; `message` is HDL's sentence."""

    line: int
    kind: str
    message: str
    discriminator: str | None = None


def split_fields(line: str) -> list[str]:
    """Split a line on unescaped `|` and undo the escapes (`\\|`, `\\\\`, `\\n` a line break)."""
    if "\\" not in line:  # nothing escaped: every `|` separates
        return line.split("|")
    fields, current, escaped = [], [], False
    for char in line:
        if escaped:
            current.append("\n" if char == "n" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of a file with their 1-based numbers, line ends removed."""
    return [
        (number, raw.removesuffix("\r"))
        for number, raw in enumerate(text.split("\n"), start=1)
        if raw.strip()
    ]


def structure_errors(text: str, business_object: HdlObject) -> list[StructureError]:
    """Every structure error of the file, in line order."""
    checker = _Checker(business_object)
    for number, raw in numbered_lines(text):
        checker.line(number, split_fields(raw))
    checker.finish()
    return sorted(checker.errors, key=lambda e: e.line)


class _Checker:
    def __init__(self, business_object: HdlObject) -> None:
        self.components = {c.name: c for c in business_object.components}
        self.errors: list[StructureError] = []
        self.layouts: dict[str, list[str]] = {}
        self.keys: dict[tuple[str, tuple[str, ...]], int] = {}
        self.merged: dict[str, list[tuple[int, tuple[str, str]]]] = {}
        self.referenced: dict[str, set[tuple[str, str]]] = {}

    def add(self, line: int, kind: str, message: str, disc: str | None = None) -> None:
        self.errors.append(StructureError(line, kind, message, disc))

    def line(self, number: int, fields: list[str]) -> None:
        instruction = fields[0].split(" ", 1)[0]
        disc = fields[1] if len(fields) > 1 else ""
        if instruction not in INSTRUCTIONS:
            self.add(number, "unknown_instruction", f"unknown instruction {instruction!r}")
        elif instruction == "METADATA":
            if disc in self.layouts:
                self.add(number, "repeated_metadata", "METADATA repeated", disc)
            self.layouts[disc] = fields[2:]
        elif instruction in DATA_INSTRUCTIONS:
            self.data(number, instruction, disc, fields[2:])

    def data(self, number: int, instruction: str, disc: str, values: list[str]) -> None:
        layout = self.layouts.get(disc)
        if layout is None:
            self.add(
                number,
                "before_metadata",
                f"{instruction} line for {disc!r} before its METADATA line",
            )
            return
        if len(values) != len(layout):
            message = (
                f"{instruction} line has {len(values)} values but METADATA declares "
                f"{len(layout)} attributes"
            )
            self.add(number, "field_count", message, disc)
            return
        row = dict(zip(layout, values, strict=True))
        if all(k in row for k in SOURCE_KEY):
            names = (
                (*SOURCE_KEY, "EffectiveStartDate") if "EffectiveStartDate" in row else SOURCE_KEY
            )
            seen = self.keys.setdefault((disc, tuple(row[k] for k in names)), number)
            if seen != number:
                message = f"duplicate record key ({', '.join(names)}); first seen on line {seen}"
                self.add(number, "duplicate_key", message, disc)
        if instruction == "MERGE":
            owner = row.get("SourceSystemOwner", "")
            if "SourceSystemId" in row:
                self.merged.setdefault(disc, []).append((number, (owner, row["SourceSystemId"])))
            comp = self.components.get(disc)
            if comp is not None and comp.parent_reference in row:
                self.referenced.setdefault(disc, set()).add((owner, row[comp.parent_reference]))

    def finish(self) -> None:
        for comp in self.components.values():
            for child_name in comp.required_children:
                child = self.components[child_name]
                layout = self.layouts.get(child_name)
                if layout is not None and child.parent_reference not in layout:
                    continue  # the child names its parent by another key type
                found = self.referenced.get(child_name, set())
                reported: set[tuple[str, str]] = set()
                for number, key in self.merged.get(comp.name, []):
                    if key not in found and key not in reported:
                        reported.add(key)
                        message = f"no {child_name} line references this {comp.name}"
                        self.add(number, "missing_child", message, comp.name)
