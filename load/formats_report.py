"""Compare every spec of two releases, and say how each FBDI CSV of a release gets written:
JSON-able dicts, and the same as printable rows."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from load.formats import (
    FORMATS_DIR,
    AnySpec,
    ChangedAttribute,
    FormatSpec,
    FormatSpecError,
    HdlSpec,
    available_objects,
    diff_specs,
    load_spec,
)

_HDL_HEADER = ("dat_file", "zip_name_pattern", "confidence")


def formats_diff(release_a: str, release_b: str, formats_dir: Path = FORMATS_DIR) -> dict:
    """What changed from `release_a` to `release_b`, for every object spec in either.

    Shape: `{"release_a", "release_b", "only_in_a": [objects], "only_in_b": [objects],
    "objects": {name: {...}}}`, one entry per object in both releases. An FBDI entry has
    `format: "fbdi"`, `identical`, `header` (`[{attribute, old, new}]`), `files_added`,
    `files_removed` and `files` (per sheet: `csv_file`, `added`/`removed` `[{name, position}]`,
    `moved` `[{name, old_position, new_position}]`, `changed` `[{column, attribute, old, new}]`,
    `header`: the CSV's own attributes, `csv_file`, `control_file` and `end_marker`). An object
    a release folder does not hold is compared as the earlier release it falls back to. An HDL
    entry has `format: "hdl"`, `identical`, `header`, `components_added`, `components_removed`
    and `components` (per discriminator: `added`/`removed` attribute names, `changed`
    `[{attribute, field, old, new}]`, `header`). Values are JSON-able.
    """
    for release in (release_a, release_b):
        if not (formats_dir / release).is_dir():
            raise FormatSpecError(f"{formats_dir / release}: no such release")
    a_names = set(available_objects(release_a, formats_dir))
    b_names = set(available_objects(release_b, formats_dir))
    objects = {}
    for name in sorted(a_names & b_names):
        a = load_spec(release_a, name, formats_dir)
        b = load_spec(release_b, name, formats_dir)
        objects[name] = _diff_objects(a, b)
    return {
        "release_a": release_a,
        "release_b": release_b,
        "only_in_a": sorted(a_names - b_names),
        "only_in_b": sorted(b_names - a_names),
        "objects": objects,
    }


def diff_rows(diff: dict) -> list[dict[str, str]]:
    """One printable row per change: `object`, `part` (CSV or component), `change`, `name`,
    `detail`. Objects without changes get one `identical` row, so every object is listed."""
    rows: list[dict[str, str]] = []

    def add(obj: str, part: str, change: str, name: str = "", detail: str = "") -> None:
        rows.append({"object": obj, "part": part, "change": change, "name": name, "detail": detail})

    for obj in diff["only_in_a"]:
        add(obj, "", f"only in {diff['release_a']}")
    for obj in diff["only_in_b"]:
        add(obj, "", f"only in {diff['release_b']}")
    for obj, entry in diff["objects"].items():
        if entry["identical"]:
            add(obj, "", "identical")
            continue
        for h in entry["header"]:
            add(obj, "", "header", h["attribute"], f"{h['old']} -> {h['new']}")
        parts_key = "files" if entry["format"] == "fbdi" else "components"
        for kind in ("added", "removed"):
            for part in entry[f"{parts_key}_{kind}"]:
                add(obj, part, f"{parts_key[:-1]} {kind}")
        for part, change in entry[parts_key].items():
            label = change.get("csv_file", part)
            for h in change["header"]:
                old, new = _shown(h["attribute"], h["old"]), _shown(h["attribute"], h["new"])
                add(obj, label, "header", h["attribute"], f"{old} -> {new}")
            for kind in ("added", "removed"):
                for item in change[kind]:
                    if isinstance(item, dict):
                        add(obj, label, kind, item["name"], f"position {item['position']}")
                    else:
                        add(obj, label, kind, item)
            for m in change.get("moved", []):
                detail = f"position {m['old_position']} -> {m['new_position']}"
                add(obj, label, "moved", m["name"], detail)
            for c in change["changed"]:
                name = c.get("column") or c.get("attribute")
                field = c.get("field") or c.get("attribute")
                add(obj, label, "changed", name, f"{field}: {c['old']} -> {c['new']}")
    return rows


def formats_writing(release: str, formats_dir: Path = FORMATS_DIR) -> list[dict[str, Any]]:
    """How the writer writes each FBDI CSV of `release`: one dict per CSV with `object`,
    `release` (the release whose folder holds the spec: `release`, or the earlier one it falls
    back to), `csv_file`, `fields` (every column of the layout) and `end_marker` (each line ends
    with a literal END field)."""
    if not (formats_dir / release).is_dir():
        raise FormatSpecError(f"{formats_dir / release}: no such release")
    rows = []
    for name in available_objects(release, formats_dir):
        spec = load_spec(release, name, formats_dir)
        if not isinstance(spec, FormatSpec):
            continue
        for f in spec.files:
            rows.append(
                {
                    "object": name,
                    "release": spec.release,
                    "csv_file": f.csv_file,
                    "fields": f.field_count,
                    "end_marker": f.end_marker,
                }
            )
    return rows


def _shown(attribute: str, value: Any) -> Any:
    """A header value as a printable row shows it."""
    del attribute
    return value


def _diff_objects(a: AnySpec, b: AnySpec) -> dict[str, Any]:
    if isinstance(a, FormatSpec) and isinstance(b, FormatSpec):
        return _fbdi(a, b)
    if isinstance(a, HdlSpec) and isinstance(b, HdlSpec):
        return _hdl(a, b)
    kinds = ["hdl" if isinstance(s, HdlSpec) else "fbdi" for s in (a, b)]
    return {
        "format": f"{kinds[0]} -> {kinds[1]}",
        "identical": False,
        "header": [{"attribute": "format", "old": kinds[0], "new": kinds[1]}],
        "files_added": [],
        "files_removed": [],
        "files": {},
    }


def _fbdi(a: FormatSpec, b: FormatSpec) -> dict[str, Any]:
    diff = diff_specs(a, b)
    return {
        "format": "fbdi",
        "identical": diff.empty,
        "header": [_attribute(h) for h in diff.header_changed],
        "files_added": list(diff.files_added),
        "files_removed": list(diff.files_removed),
        "files": {
            f.sheet: {
                "csv_file": b.files[[x.sheet for x in b.files].index(f.sheet)].csv_file,
                "added": [{"name": c.name, "position": c.position} for c in f.added],
                "removed": [{"name": c.name, "position": c.position} for c in f.removed],
                "moved": [
                    {"name": m.name, "old_position": m.old_position, "new_position": m.new_position}
                    for m in f.moved
                ],
                "changed": [
                    {
                        "column": c.name,
                        "attribute": c.attribute,
                        "old": _json(c.old),
                        "new": _json(c.new),
                    }
                    for c in f.changed
                ],
                "header": [_attribute(h) for h in f.header_changed],
            }
            for f in diff.files
            if not f.empty
        },
    }


def _hdl(a: HdlSpec, b: HdlSpec) -> dict[str, Any]:
    header = [
        {"attribute": name, "old": getattr(a, name), "new": getattr(b, name)}
        for name in _HDL_HEADER
        if getattr(a, name) != getattr(b, name)
    ]
    a_comps = {c.name: c for c in a.components}
    b_comps = {c.name: c for c in b.components}
    if [c for c in a_comps if c in b_comps] != [c for c in b_comps if c in a_comps]:
        header.append({"attribute": "component order", "old": list(a_comps), "new": list(b_comps)})
    components = {}
    for name in (n for n in b_comps if n in a_comps):
        ca, cb = a_comps[name], b_comps[name]
        attrs_a = {x.name: x for x in ca.attributes}
        attrs_b = {x.name: x for x in cb.attributes}
        changed = [
            {"attribute": n, "field": f, "old": _json(getattr(x, f)), "new": _json(getattr(y, f))}
            for n, y in attrs_b.items()
            if (x := attrs_a.get(n)) is not None
            for f in ("type", "required", "description")
            if getattr(x, f) != getattr(y, f)
        ]
        comp_header = [
            {"attribute": f, "old": _json(getattr(ca, f)), "new": _json(getattr(cb, f))}
            for f in ("parent", "parent_reference", "required_children")
            if getattr(ca, f) != getattr(cb, f)
        ]
        entry = {
            "added": [n for n in attrs_b if n not in attrs_a],
            "removed": [n for n in attrs_a if n not in attrs_b],
            "changed": changed,
            "header": comp_header,
        }
        if any(entry.values()):
            components[name] = entry
    added = [n for n in b_comps if n not in a_comps]
    removed = [n for n in a_comps if n not in b_comps]
    return {
        "format": "hdl",
        "identical": not (header or components or added or removed),
        "header": header,
        "components_added": added,
        "components_removed": removed,
        "components": components,
    }


def _attribute(change: ChangedAttribute) -> dict[str, Any]:
    return {"attribute": change.attribute, "old": _json(change.old), "new": _json(change.new)}


def _json(value: Any) -> Any:
    """Dataclasses and tuples as plain dicts and lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return _json(asdict(value))
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value
