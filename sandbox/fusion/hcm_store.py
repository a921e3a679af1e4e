"""The simulated HCM records: every component line HCM Data Loader loaded or REST created, keyed
by component and source key (SourceSystemOwner, SourceSystemId), each with a surrogate id.

The components are those of the simulator's HDL catalogue (Worker, PersonName, ...,
ElementEntry; `sandbox/fusion/layouts/hdl.yml`); children find their parent through the
component's `parent_reference` attribute, whose value is the
parent's SourceSystemId under the same owner. The store starts with the simulator's own
workforce, derived from sandbox.world: two workers per clinical department of every facility,
each with a name, a work email and an assignment named after the department.

Not thread-safe on its own: the simulator holds one lock around every use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from sandbox import world
from sandbox.fusion import chart
from sandbox.fusion.catalog import CLEAR, HdlComponent, HdlObject, hdl_objects

WORLD_OWNER = "EHF"
FIRST_SURROGATE_ID = 300000100000001
HIRE_DATE = "2024/01/08"
OPEN_END = "4712/12/31"
_WORKERS_PER_DEPARTMENT = 2


def hdl_specs() -> tuple[HdlObject, ...]:
    """Every HDL business object the simulator loads (its own catalogue)."""
    return hdl_objects()


@cache
def component(name: str) -> HdlComponent:
    """The component (of any HDL spec) whose discriminator is `name`; KeyError if none."""
    for spec in hdl_specs():
        for comp in spec.components:
            if comp.name == name:
                return comp
    raise KeyError(name)


@dataclass
class Record:
    """One component record: its source key, surrogate id and current attribute values."""

    surrogate_id: int
    component: str
    owner: str
    source_id: str
    values: dict[str, str]


class HcmStore:
    """HCM records by component and source key."""

    def __init__(self) -> None:
        self._records: dict[str, dict[tuple[str, str], Record]] = {
            comp.name: {} for spec in hdl_specs() for comp in spec.components
        }
        self._next_id = FIRST_SURROGATE_ID
        for name, values in world_workforce():
            self.merge(name, values)

    def merge(self, name: str, values: Mapping[str, str]) -> Record:
        """Create the record or update it: a blank value leaves, `#NULL` clears an attribute."""
        key = (values["SourceSystemOwner"], values["SourceSystemId"])
        record = self._records[name].get(key)
        if record is None:
            record = Record(self._next_id, name, *key, {})
            self._next_id += 1
            self._records[name][key] = record
        for attribute, value in values.items():
            if value == CLEAR:
                record.values.pop(attribute, None)
            elif value:
                record.values[attribute] = value
        return record

    def create(self, name: str, owner: str, values: Mapping[str, str]) -> Record:
        """A new record without a source id of its own: Fusion uses the surrogate id."""
        source = {"SourceSystemOwner": owner, "SourceSystemId": str(self._next_id)}
        return self.merge(name, {**values, **source})

    def get(self, name: str, owner: str, source_id: str) -> Record | None:
        """The record with this source key."""
        return self._records[name].get((owner, source_id))

    def by_id(self, name: str, surrogate_id: str) -> Record | None:
        """The record with this surrogate id (as text, the way it arrives in a URL)."""
        return next((r for r in self.records(name) if str(r.surrogate_id) == surrogate_id), None)

    def records(self, name: str) -> list[Record]:
        """Every record of the component, in creation order."""
        return list(self._records[name].values())

    def children(self, record: Record, name: str) -> list[Record]:
        """The records of child component `name` that reference `record`."""
        reference = component(name).parent_reference
        return [
            r
            for r in self._records[name].values()
            if r.owner == record.owner and r.values.get(reference or "") == record.source_id
        ]

    def parent(self, record: Record) -> Record | None:
        """The record this one references as its parent, if any is loaded."""
        comp = component(record.component)
        if comp.parent is None or comp.parent_reference is None:
            return None
        return self.get(comp.parent, record.owner, record.values.get(comp.parent_reference, ""))


def world_workforce() -> Iterator[tuple[str, dict[str, str]]]:
    """(component, values) of the simulator's own workers, parents before children."""
    number = 1000
    for facility in world.FACILITIES:
        for department in facility.clinical:
            for _ in range(_WORKERS_PER_DEPARTMENT):
                number += 1
                yield from _worker(number, facility, department)


def _worker(
    number: int, facility: world.Facility, department: world.Department
) -> Iterator[tuple[str, dict[str, str]]]:
    given = world.GIVEN_NAMES[number % len(world.GIVEN_NAMES)].title()
    family = world.SURNAMES[(7 * number) % len(world.SURNAMES)].title()
    person = f"EHF{number}"

    def line(suffix: str, **values: str) -> dict[str, str]:
        return {"SourceSystemOwner": WORLD_OWNER, "SourceSystemId": person + suffix, **values}

    hired = {"EffectiveStartDate": HIRE_DATE}
    yield (
        "Worker",
        line(
            "",
            **hired,
            EffectiveEndDate=OPEN_END,
            PersonNumber=str(number),
            StartDate=HIRE_DATE,
            ActionCode="HIRE",
        ),
    )
    parent = {"PersonId(SourceSystemId)": person}
    yield (
        "PersonName",
        line(
            "_NAME",
            **hired,
            **parent,
            NameType="GLOBAL",
            LegislationCode="US",
            FirstName=given,
            LastName=family,
        ),
    )
    yield (
        "PersonEmail",
        line(
            "_EMAIL",
            **parent,
            DateFrom=HIRE_DATE,
            EmailType="W1",
            EmailAddress=f"{given}.{family}@ehf.example".lower(),
            PrimaryFlag="Y",
        ),
    )
    yield (
        "WorkRelationship",
        line(
            "_REL",
            **parent,
            LegalEmployerName=facility.name.title(),
            DateStart=HIRE_DATE,
            WorkerType="E",
            PrimaryFlag="Y",
        ),
    )
    yield (
        "WorkTerms",
        line(
            "_TERMS",
            **hired,
            ActionCode="HIRE",
            PrimaryWorkTermsFlag="Y",
            **{"PeriodOfServiceId(SourceSystemId)": person + "_REL"},
        ),
    )
    yield (
        "Assignment",
        line(
            "_ASG",
            **hired,
            ActionCode="HIRE",
            AssignmentName=department.name.title(),
            AssignmentNumber=f"E{number}",
            AssignmentStatusTypeCode="ACTIVE_PROCESS",
            PersonTypeCode="Employee",
            BusinessUnitShortCode=chart.BUSINESS_UNIT,
            PrimaryAssignmentFlag="Y",
            **{"WorkTermsAssignmentId(SourceSystemId)": person + "_TERMS"},
        ),
    )
