"""Structural validation of FHIR R4 (4.0.1) resources in their JSON form.

The element models are fhirclient's (SMART Health IT), generated from the FHIR 4.0.1
StructureDefinitions: every element of every R4 resource with its type, cardinality (a list
or a single value), required elements and choice types. Read strictly, an element the R4
definition does not have is an error, so no R4 element can be silently dropped, nor a non-R4
one silently kept (ARCHITECTURE.md, "FHIR R4 validation"). On top of the models, the JSON
rules the models leave out: the resource's `id` syntax, every item of a list typed (the
models check the first), booleans apart from numbers, a primitive's `_element` (its id and
extensions, which the models accept unread) checked as an Element, and no null, empty
string, empty object or empty array anywhere (nulls only inside `_element` arrays, where they
keep positions).

The validated resource is the caller's own dict, unchanged: what lands is what was sent.
Errors name the resource type, its id and the element paths, never a value.
"""

from __future__ import annotations

import re
from typing import Any

from fhirclient.models.element import Element
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.fhirelementfactory import FHIRElementFactory
from fhirclient.models.resource import Resource

FHIR_VERSION = "4.0.1"
_ID = re.compile(r"[A-Za-z0-9\-\.]{1,64}")
_OWNER = re.compile(r" (on|in data for) <[^>]*>")
_CLASS = re.compile(r"<class '(?:\w+\.)*(\w+)'>")
_PRIMITIVES = (str, int, float, bool)


class InvalidResource(ValueError):
    """A resource that is not valid FHIR R4; `errors` are its problems, one line each."""

    def __init__(self, resource_type: str, resource_id: str, errors: list[str]) -> None:
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.errors = errors
        super().__init__(
            f"{resource_type}/{resource_id} is not valid FHIR R4: " + "; ".join(errors)
        )


def validate_r4(resource: Any) -> dict[str, Any]:
    """Return `resource` if it is a structurally valid FHIR R4 resource; else raise
    InvalidResource naming every problem found."""
    if not isinstance(resource, dict):
        raise InvalidResource("(not an object)", "-", ["a resource is a JSON object"])
    resource_type = resource.get("resourceType")
    raw_id = resource.get("id")
    resource_id = raw_id if isinstance(raw_id, str) and _ID.fullmatch(raw_id) else "-"
    if not isinstance(resource_type, str) or not _is_resource_type(resource_type):
        raise InvalidResource("(unknown)", resource_id, ["resourceType is not an R4 resource"])
    errors = []
    if raw_id is not None and resource_id == "-":
        errors.append("id: not a FHIR id (1-64 of A-Z a-z 0-9 - .)")
    errors.extend(_json_rule_errors(resource, ""))
    try:
        model = FHIRElementFactory.instantiate(resource_type, resource)
    except FHIRValidationError as exc:
        errors.extend(_flatten(exc, ""))
    else:
        errors.extend(_primitive_errors(model, ""))
    if errors:
        raise InvalidResource(resource_type, resource_id, errors)
    return resource


def _is_resource_type(name: str) -> bool:
    """Whether fhirclient's R4 models have a resource of that name."""
    if not name.isalpha():
        return False
    instance = FHIRElementFactory.instantiate(name, None)
    return isinstance(instance, Resource) and instance.resource_type == name


def _json_rule_errors(value: Any, path: str) -> list[str]:
    """FHIR JSON forbids null and empty values (R4 JSON representation, section 2.6.2)."""
    if isinstance(value, dict):
        if not value:
            return [f"{path or '(root)'}: an empty object"]
        found = []
        for key, item in value.items():
            inner = f"{path}.{key}" if path else key
            if key.startswith("_"):
                found.extend(_primitive_extension_errors(item, inner))
            else:
                found.extend(_json_rule_errors(item, inner))
        return found
    if isinstance(value, list):
        if not value:
            return [f"{path}: an empty array"]
        return [e for i, v in enumerate(value) for e in _json_rule_errors(v, f"{path}[{i}]")]
    if value is None:
        return [f"{path}: null"]
    if isinstance(value, str) and not value.strip():
        return [f"{path}: an empty string"]
    return []


def _primitive_extension_errors(value: Any, path: str) -> list[str]:
    """A primitive's `_element` (its id and extensions), which fhirclient's models accept
    without reading: checked as an R4 Element. In an array, null keeps a position."""
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    found = []
    for index, item in items:
        where = path if index is None else f"{path}[{index}]"
        if item is None and index is not None:
            continue
        found.extend(_json_rule_errors(item, where))
        if isinstance(item, dict):
            try:
                Element(item)
            except FHIRValidationError as exc:
                found.extend(_flatten(exc, where))
        elif item is not None:
            found.append(f"{where}: an object is due")
    return found


def _primitive_errors(model: Any, path: str) -> list[str]:
    """The checks fhirclient leaves out: every item of a list (it checks the first), and
    booleans apart from numbers (Python's True is an int)."""
    found = []
    for name, jsname, typ, is_list, _, _ in model.elementProperties():
        value = getattr(model, name, None)
        if value is None:
            continue
        items = value if is_list and isinstance(value, list) else [value]
        for index, item in enumerate(items):
            where = f"{path}.{jsname}" if path else jsname
            where = f"{where}[{index}]" if is_list else where
            if hasattr(item, "elementProperties"):
                found.extend(_primitive_errors(item, where))
            elif typ in _PRIMITIVES and not _primitive_matches(item, typ):
                found.append(f"{where}: expecting {typ.__name__}")
    return found


def _primitive_matches(value: Any, typ: type) -> bool:
    if typ is bool or isinstance(value, bool):
        return typ is bool and isinstance(value, bool)
    if typ in (int, float):
        return isinstance(value, int | float) and (typ is float or float(value).is_integer())
    return isinstance(value, typ)


def _flatten(error: Exception, path: str) -> list[str]:
    """fhirclient's nested validation errors as `path: problem` lines."""
    if isinstance(error, FHIRValidationError):
        here = f"{path}.{error.path}" if path and error.path else (error.path or path)
        return [line for inner in error.errors for line in _flatten(inner, here)]
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    message = _CLASS.sub(r"\1", _OWNER.sub("", text))
    return [f"{path or '(root)'}: {message}"]
