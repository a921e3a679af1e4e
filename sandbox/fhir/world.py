"""Deterministic FHIR R4 resources for the stand-in's tenants (two health systems).

Every resource of a tenant is a pure function of (seed, tenant, resource type, number): the
same seed gives the same resources, versions and `meta.lastUpdated` stamps on every run. Each
tenant holds `size` resources of every served type, stamped one minute apart per type from
`START`. `update` adds a resource's next version, stamped by the caller (a late commit is a
stamp earlier than what was already served). Patients carry canary-like names
(`ZZCANARY...`), so a test finds them if they ever reach a log or an error message.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.rand import stream_key

TENANTS = ("northvale", "lakeshore")
RESOURCE_TYPES = (
    "Patient",
    "Encounter",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "Organization",
    "Device",
)
START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
STAMP = "%Y-%m-%dT%H:%M:%SZ"
PREFIX = {
    "Patient": "pat",
    "Encounter": "enc",
    "Practitioner": "prac",
    "PractitionerRole": "role",
    "Location": "loc",
    "Organization": "org",
    "Device": "dev",
}
GIVEN = ("ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT", "GOLF", "HOTEL")
SPECIALTIES = (
    ("207Q00000X", "Family Medicine"),
    ("207R00000X", "Internal Medicine"),
    ("208000000X", "Pediatrics"),
    ("207P00000X", "Emergency Medicine"),
)
DEVICE_KINDS = ("Infusion pump", "Patient monitor", "Ventilator", "Portable X-ray")

Resource = dict[str, Any]


def stamp(moment: datetime) -> str:
    """A FHIR instant in UTC, to the second."""
    return moment.astimezone(UTC).strftime(STAMP)


def resource_id(tenant: str, resource_type: str, number: int) -> str:
    """The id of a tenant's resource (ids never repeat across tenants)."""
    return f"{tenant[:3]}-{PREFIX[resource_type]}-{number:05d}"


def _ref(tenant: str, resource_type: str, number: int) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id(tenant, resource_type, number)}"}


def build(tenant: str, resource_type: str, number: int, rng: random.Random, size: int) -> Resource:
    """The body of one resource (no id or meta)."""
    other = rng.randrange(size)
    if resource_type == "Patient":
        return {
            "identifier": [{"system": f"urn:{tenant}:mrn", "value": f"CANARYFHIR{number:05d}"}],
            "active": True,
            "name": [
                {
                    "use": "official",
                    "family": f"ZZCANARY{tenant.upper()}",
                    "given": [f"PATIENT{GIVEN[number % len(GIVEN)]}"],
                }
            ],
            "gender": rng.choice(("female", "male", "other", "unknown")),
            "birthDate": f"{1940 + rng.randrange(80)}-{1 + rng.randrange(12):02d}-"
            f"{1 + rng.randrange(28):02d}",
            "managingOrganization": _ref(tenant, "Organization", other),
        }
    if resource_type == "Encounter":
        start = START - timedelta(days=1 + rng.randrange(20), minutes=rng.randrange(600))
        return {
            "status": rng.choice(("finished", "in-progress", "cancelled")),
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": rng.choice(("IMP", "AMB", "EMER")),
            },
            "subject": _ref(tenant, "Patient", number % size),
            "participant": [{"individual": _ref(tenant, "Practitioner", other)}],
            "period": {"start": stamp(start), "end": stamp(start + timedelta(hours=3))},
            "location": [{"location": _ref(tenant, "Location", rng.randrange(size))}],
            "serviceProvider": _ref(tenant, "Organization", rng.randrange(size)),
        }
    if resource_type == "Practitioner":
        return {
            "identifier": [
                {
                    "system": "http://hl7.org/fhir/sid/us-npi",
                    "value": f"{1000000000 + rng.randrange(10**9)}",
                }
            ],
            "active": True,
            "name": [{"family": f"CLINICIAN{number:03d}", "given": [GIVEN[other % len(GIVEN)]]}],
        }
    if resource_type == "PractitionerRole":
        code, display = SPECIALTIES[number % len(SPECIALTIES)]
        return {
            "active": True,
            "practitioner": _ref(tenant, "Practitioner", number % size),
            "organization": _ref(tenant, "Organization", other),
            "location": [_ref(tenant, "Location", rng.randrange(size))],
            "specialty": [
                {
                    "coding": [
                        {
                            "system": "http://nucc.org/provider-taxonomy",
                            "code": code,
                            "display": display,
                        }
                    ]
                }
            ],
        }
    if resource_type == "Location":
        return {
            "status": "active",
            "name": f"{tenant.title()} ward {number:03d}",
            "mode": "instance",
            "managingOrganization": _ref(tenant, "Organization", other),
        }
    if resource_type == "Organization":
        return {
            "identifier": [{"system": f"urn:{tenant}:cost-centre", "value": f"CC{number:04d}"}],
            "active": True,
            "name": f"{tenant.title()} department {number:03d}",
        }
    kind = DEVICE_KINDS[number % len(DEVICE_KINDS)]
    return {
        "identifier": [{"system": f"urn:{tenant}:asset-tag", "value": f"AT{number:06d}"}],
        "status": "active",
        "deviceName": [{"name": kind, "type": "user-friendly-name"}],
        "manufacturer": "Sandbox Medical",
        "owner": _ref(tenant, "Organization", other),
        "location": _ref(tenant, "Location", rng.randrange(size)),
    }


@dataclass
class TenantData:
    """Every version of every resource of one tenant: `versions[type][id]`, oldest first."""

    tenant: str
    versions: dict[str, dict[str, list[Resource]]] = field(default_factory=dict)

    def latest(self, resource_type: str) -> list[Resource]:
        """The current version of each resource of a type, by id."""
        found = self.versions[resource_type]
        return [found[key][-1] for key in sorted(found)]

    def update(self, resource_type: str, key: str, last_updated: datetime) -> Resource:
        """Add the next version of a resource, stamped `last_updated`; returns it."""
        history = self.versions[resource_type][key]
        current = copy.deepcopy(history[-1])
        version = int(current["meta"]["versionId"]) + 1
        current["meta"] = {"versionId": str(version), "lastUpdated": stamp(last_updated)}
        if resource_type == "Patient":
            current["active"] = version % 2 == 1
        elif resource_type == "Encounter":
            current["status"] = "finished"
        div = f'<div xmlns="http://www.w3.org/1999/xhtml">version {version}</div>'
        current["text"] = {"status": "generated", "div": div}
        history.append(current)
        return current


def generate(seed: int, tenant: str, size: int) -> TenantData:
    """`size` resources of every served type for one tenant, version 1 each."""
    data = TenantData(tenant)
    for resource_type in RESOURCE_TYPES:
        found: dict[str, list[Resource]] = {}
        for number in range(size):
            rng = random.Random(stream_key(seed, tenant, resource_type, number))
            key = resource_id(tenant, resource_type, number)
            meta = {"versionId": "1", "lastUpdated": stamp(START + timedelta(minutes=number))}
            body = build(tenant, resource_type, number, rng, size)
            found[key] = [{"resourceType": resource_type, "id": key, "meta": meta} | body]
        data.versions[resource_type] = found
    return data
