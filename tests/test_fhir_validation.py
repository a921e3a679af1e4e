"""FHIR R4 (4.0.1) structural validation: R4 elements survive (including those R5 renamed or
removed), non-R4 ones are refused, and every error names the resource and the element, never
a value. The conformance corpus beside the repository is read in place."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from fhirclient.models.fhirelementfactory import FHIRElementFactory

from extract.shared.fhir.validation import FHIR_VERSION, InvalidResource, validate_r4

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "fhir"

# Elements that exist in R4 but were renamed or removed in R5: a model of another release
# would drop them or refuse them.
R4_ONLY = [
    {
        "resourceType": "Encounter",
        "id": "r4-only-enc",
        "meta": {"versionId": "2", "lastUpdated": "2026-11-02T06:00:00Z"},
        "status": "finished",
        "statusHistory": [{"status": "arrived", "period": {"start": "2026-11-01T08:00:00Z"}}],
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "classHistory": [{"class": {"code": "EMER"}, "period": {"start": "2026-11-01T08:00:00Z"}}],
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2026-11-01T08:00:00Z", "end": "2026-11-03T10:00:00Z"},
        "hospitalization": {
            "admitSource": {"text": "emergency department"},
            "dischargeDisposition": {"text": "home"},
        },
        "location": [{"location": {"reference": "Location/l1"}, "status": "completed"}],
    },
    {
        "resourceType": "Device",
        "id": "r4-only-dev",
        "status": "active",
        "statusReason": [{"text": "online"}],
        "deviceName": [{"name": "Infusion pump", "type": "user-friendly-name"}],
        "udiCarrier": [{"deviceIdentifier": "00844588003288", "carrierHRF": "(01)00844588003288"}],
        "version": [{"value": "4.2"}],
        "owner": {"reference": "Organization/o1"},
    },
    {
        "resourceType": "Practitioner",
        "id": "r4-only-prac",
        "name": [{"family": "CLINICIAN001", "given": ["ALPHA"]}],
        "communication": [{"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]}],
        "qualification": [{"code": {"text": "MD"}, "period": {"start": "2001-06-01"}}],
    },
    {
        "resourceType": "Patient",
        "id": "r4-only-pat",
        "name": [{"family": "ZZCANARYR4", "given": ["PATIENTALPHA", "B"]}],
        "_birthDate": {"extension": [{"url": "http://example.org/precision", "valueCode": "d"}]},
        "birthDate": "1970-01-01",
        "multipleBirthInteger": 2,
        "contact": [{"relationship": [{"text": "next of kin"}], "gender": "female"}],
    },
]


def test_the_models_are_fhir_r4():
    assert FHIR_VERSION == "4.0.1"
    assert FHIRElementFactory.instantiate("Encounter", None).__module__.endswith("encounter")


@pytest.mark.parametrize("resource", R4_ONLY, ids=lambda r: r["resourceType"])
def test_no_r4_element_is_lost(resource):
    original = copy.deepcopy(resource)
    assert validate_r4(resource) is resource  # the caller's dict, landed as received
    assert resource == original
    # and the R4 model itself holds every element: written back, nothing is missing (bar the
    # primitives' `_element` extensions, which the models leave to validate_r4's own check)
    written = FHIRElementFactory.instantiate(resource["resourceType"], resource).as_json()
    assert written == {k: v for k, v in original.items() if not k.startswith("_")}


def test_a_primitive_extension_is_checked_as_an_element():
    patient = copy.deepcopy(R4_ONLY[3])
    patient["_birthDate"] = {"extension": [{"valueCode": "d"}]}  # an extension needs its url
    with pytest.raises(InvalidResource, match=r'_birthDate\.extension\.0: .*"url" is missing'):
        validate_r4(patient)
    patient["_birthDate"] = {"extension": [{"url": "u", "valueCode": "d"}], "colour": "x"}
    with pytest.raises(InvalidResource, match='_birthDate: Superfluous entry "colour"'):
        validate_r4(patient)


def test_an_r5_element_is_not_r4():
    encounter = copy.deepcopy(R4_ONLY[0]) | {"actualPeriod": {"start": "2026-11-01T08:00:00Z"}}
    with pytest.raises(InvalidResource, match='Superfluous entry "actualPeriod"'):
        validate_r4(encounter)


INVALID = {
    "wrong type": ({"gender": 5}, "gender: Wrong type int"),
    "single where a list is due": ({"name": {"family": "ZZCANARYX"}}, "name: Wrong type"),
    "unknown element": ({"nickname": "ZZCANARYX"}, 'Superfluous entry "nickname"'),
    "bad date": ({"birthDate": "12/03/1961"}, "birthDate: does not match expected format"),
    "second list item mistyped": ({"name": [{"given": ["ZZCANARYX", 5]}]}, "given[1]"),
    "boolean as a number": ({"active": 1}, "active: Wrong type int"),
    "empty string": ({"gender": ""}, "gender: an empty string"),
    "null": ({"gender": None}, "gender: null"),
    "empty array": ({"identifier": []}, "identifier: an empty array"),
    "bad id": ({"id": "has spaces"}, "id: not a FHIR id"),
}


@pytest.mark.parametrize("case", INVALID, ids=str)
def test_an_invalid_resource_is_reported_with_its_error(case):
    changes, expected = INVALID[case]
    resource = {"resourceType": "Patient", "id": "p-1", "birthDate": "1961-03-12"} | changes
    with pytest.raises(InvalidResource) as invalid:
        validate_r4(resource)
    message = str(invalid.value)
    assert expected in message
    assert invalid.value.resource_type == "Patient"
    assert message.startswith(f"Patient/{invalid.value.resource_id} is not valid FHIR R4: ")
    assert "ZZCANARY" not in message and "1961" not in message and "12/03" not in message


def test_a_missing_required_element_and_an_unknown_type_are_reported():
    with pytest.raises(InvalidResource, match='Non-optional property "class" is missing'):
        validate_r4({"resourceType": "Encounter", "id": "e-1", "status": "finished"})
    for bad in ({"resourceType": "Patientt"}, {"resourceType": "HumanName"}, {"id": "x"}, []):
        with pytest.raises(InvalidResource, match=r"not an R4 resource|JSON object"):
            validate_r4(bad)


def _corpus_resources():
    for path in sorted(CORPUS.rglob("*.*json")):
        if path.name == "MANIFEST.json":
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines() if path.suffix == ".ndjson" else [text]
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield path.relative_to(CORPUS), number, json.loads(line)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="conformance corpus not beside the repository")
def test_the_conformance_corpus_validates_as_r4():
    accepted, rejected = 0, {}
    for path, line, resource in _corpus_resources():
        original = copy.deepcopy(resource)
        try:
            validate_r4(resource)
        except InvalidResource as exc:
            rejected[f"{path.name}:{line}"] = str(exc)
            continue
        accepted += 1
        model = FHIRElementFactory.instantiate(resource["resourceType"], resource)
        assert model.as_json() == original, f"{path}:{line} lost an element"
    assert accepted > 450
    # bulk-export logs are not resources
    logs = {k: v for k, v in rejected.items() if k.startswith("log.ndjson")}
    assert logs and all("not an R4 resource" in v for v in logs.values())
    # cumulus-etl's MedicationRequest fixture repeats groupIdentifier (0..1 in R4)
    others = {k: v for k, v in rejected.items() if k not in logs}
    assert set(others) == {"MedicationRequest.ndjson:1", "MedicationRequest.ndjson:2"}
    assert all("groupIdentifier: Wrong type list" in v for v in others.values())
