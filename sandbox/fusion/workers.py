"""The `workers` resource: reads of the HCM store's workers and the worker changes the real-time
path makes through child resources (a name change, a new email address), per
docs/fusion_contract.md. A worker item flattens its primary name, primary email and first
assignment; REST dates are YYYY-MM-DD while the store keeps HDL's YYYY/MM/DD.
"""

from __future__ import annotations

import re
import threading
from datetime import date
from typing import Any

from sandbox.fusion.catalog import CLEAR
from sandbox.fusion.data_loader import HCM_API
from sandbox.fusion.hcm_store import HcmStore, Record
from sandbox.fusion.rest import (
    Route,
    bad_request,
    filters,
    json_object,
    not_found,
    page,
    route,
    select,
)
from sandbox.server import Request, Response, json_response

WORKERS = f"{HCM_API}/workers"
WORKER_ATTRIBUTES = (
    "PersonId",
    "PersonNumber",
    "SourceSystemOwner",
    "SourceSystemId",
    "FirstName",
    "LastName",
    "DisplayName",
    "WorkEmail",
    "StartDate",
    "LegalEmployerName",
    "AssignmentNumber",
    "AssignmentName",
    "BusinessUnitShortCode",
)
NAME_CHANGES = ("FirstName", "LastName", "MiddleNames", "Title")
EMAIL_FIELDS = ("EmailType", "EmailAddress", "DateFrom", "PrimaryFlag")
_EMAIL_REQUIRED = ("EmailType", "EmailAddress", "DateFrom")
_EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Workers:
    """Workers and their names and emails."""

    def __init__(self, store: HcmStore, lock: threading.RLock) -> None:
        self.store = store
        self.lock = lock

    def routes(self) -> list[Route]:
        """The resource's routes."""
        return [
            route(WORKERS, GET=self.list_workers),
            route(f"{WORKERS}/{{person_id}}", GET=self.get_worker),
            route(f"{WORKERS}/{{person_id}}/child/names", GET=self.names),
            route(f"{WORKERS}/{{person_id}}/child/names/{{name_id}}", PATCH=self.change_name),
            route(f"{WORKERS}/{{person_id}}/child/emails", GET=self.emails, POST=self.add_email),
        ]

    def list_workers(self, request: Request) -> Response:
        """Workers, filtered by `q=` and paged."""
        terms = filters(request, WORKER_ATTRIBUTES)
        with self.lock:
            items = [self._worker_item(w) for w in self.store.records("Worker")]
        return page(request, select(items, terms))

    def get_worker(self, request: Request, person_id: str) -> Response:
        """One worker by PersonId."""
        with self.lock:
            return json_response(self._worker_item(self._worker(person_id)))

    def names(self, request: Request, person_id: str) -> Response:
        """The worker's names."""
        with self.lock:
            found = self.store.children(self._worker(person_id), "PersonName")
            return page(request, [_name_item(n) for n in found])

    def change_name(self, request: Request, person_id: str, name_id: str) -> Response:
        """Change parts of one of the worker's names."""
        body = json_object(request)
        unknown = sorted(set(body) - set(NAME_CHANGES))
        if unknown or not body:
            raise bad_request(f"send one or more of {', '.join(NAME_CHANGES)}; not {unknown}")
        if any(v is not None and not isinstance(v, str) for v in body.values()):
            raise bad_request("name parts must be strings or null")
        if "LastName" in body and not body["LastName"]:
            raise bad_request("LastName cannot be empty")
        with self.lock:
            worker = self._worker(person_id)
            name = self.store.by_id("PersonName", name_id)
            if name is None or self.store.parent(name) is not worker:
                raise not_found(f"worker {person_id} has no name {name_id}")
            changes = {k: v or CLEAR for k, v in body.items()}
            self.store.merge("PersonName", _source_key(name) | changes)
            return json_response(_name_item(name))

    def emails(self, request: Request, person_id: str) -> Response:
        """The worker's email addresses."""
        with self.lock:
            found = self.store.children(self._worker(person_id), "PersonEmail")
            return page(request, [_email_item(e) for e in found])

    def add_email(self, request: Request, person_id: str) -> Response:
        """Add an email address; a primary one makes the others non-primary."""
        body = json_object(request)
        unknown = sorted(set(body) - set(EMAIL_FIELDS))
        if unknown:
            raise bad_request(f"unknown fields {unknown}; allowed: {', '.join(EMAIL_FIELDS)}")
        missing = [k for k in _EMAIL_REQUIRED if not body.get(k)]
        if missing:
            raise bad_request(f"required: {', '.join(missing)}")
        if not _EMAIL_ADDRESS.match(str(body["EmailAddress"])):
            raise bad_request("EmailAddress is not an email address")
        flag = body.get("PrimaryFlag", "N")
        if flag not in ("Y", "N"):
            raise bad_request("PrimaryFlag must be Y or N")
        with self.lock:
            worker = self._worker(person_id)
            reference = {"PersonId(SourceSystemId)": worker.source_id}
            if flag == "Y":
                for other in self.store.children(worker, "PersonEmail"):
                    self.store.merge("PersonEmail", _source_key(other) | {"PrimaryFlag": "N"})
            values = {
                "DateFrom": _hdl_date(body["DateFrom"], "DateFrom"),
                "EmailType": str(body["EmailType"]),
                "EmailAddress": str(body["EmailAddress"]),
                "PrimaryFlag": flag,
                **reference,
            }
            email = self.store.create("PersonEmail", worker.owner, values)
            return json_response(_email_item(email), 201)

    def _worker(self, person_id: str) -> Record:
        worker = self.store.by_id("Worker", person_id)
        if worker is None:
            raise not_found(f"no worker with PersonId {person_id}")
        return worker

    def _worker_item(self, worker: Record) -> dict[str, Any]:
        store = self.store
        name = _first(store.children(worker, "PersonName"))
        emails = store.children(worker, "PersonEmail")
        email = next((e for e in emails if e.values.get("PrimaryFlag") == "Y"), _first(emails))
        relationship = _first(store.children(worker, "WorkRelationship"))
        terms = _first(store.children(relationship, "WorkTerms")) if relationship else None
        assignment = _first(store.children(terms, "Assignment")) if terms else None
        first, last = _value(name, "FirstName"), _value(name, "LastName")
        return {
            "PersonId": worker.surrogate_id,
            "PersonNumber": worker.values.get("PersonNumber"),
            "SourceSystemOwner": worker.owner,
            "SourceSystemId": worker.source_id,
            "FirstName": first,
            "LastName": last,
            "DisplayName": " ".join(p for p in (first, last) if p) or None,
            "WorkEmail": _value(email, "EmailAddress"),
            "StartDate": _iso_date(worker.values.get("StartDate")),
            "LegalEmployerName": _value(relationship, "LegalEmployerName"),
            "AssignmentNumber": _value(assignment, "AssignmentNumber"),
            "AssignmentName": _value(assignment, "AssignmentName"),
            "BusinessUnitShortCode": _value(assignment, "BusinessUnitShortCode"),
        }


def _name_item(name: Record) -> dict[str, Any]:
    values = name.values
    return {
        "PersonNameId": name.surrogate_id,
        "NameType": values.get("NameType"),
        "FirstName": values.get("FirstName"),
        "LastName": values.get("LastName"),
        "MiddleNames": values.get("MiddleNames"),
        "Title": values.get("Title"),
        "LegislationCode": values.get("LegislationCode"),
        "EffectiveStartDate": _iso_date(values.get("EffectiveStartDate")),
    }


def _email_item(email: Record) -> dict[str, Any]:
    values = email.values
    return {
        "EmailAddressId": email.surrogate_id,
        "EmailType": values.get("EmailType"),
        "EmailAddress": values.get("EmailAddress"),
        "DateFrom": _iso_date(values.get("DateFrom")),
        "PrimaryFlag": values.get("PrimaryFlag"),
    }


def _source_key(record: Record) -> dict[str, str]:
    return {"SourceSystemOwner": record.owner, "SourceSystemId": record.source_id}


def _first(records: list[Record]) -> Record | None:
    return records[0] if records else None


def _value(record: Record | None, attribute: str) -> str | None:
    return record.values.get(attribute) if record else None


def _iso_date(hdl_date: str | None) -> str | None:
    return hdl_date.replace("/", "-") if hdl_date else None


def _hdl_date(value: Any, name: str) -> str:
    """A REST date (YYYY-MM-DD) as the store keeps it; a 400 otherwise."""
    text = str(value)
    try:
        if not _ISO_DATE.match(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise bad_request(f"{name} must be a YYYY-MM-DD date") from None
    return text.replace("-", "/")
