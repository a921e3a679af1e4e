"""Generate the dbMotion identity database for the patients of the sandbox's other stand-ins.

dbMotion knows every patient the Sunrise, TouchWorks and Practice Fusion stand-ins generate for
the same seed and scale, under the local ids those sources use: Sunrise
`encounters.patient_id` (the local MRN), TouchWorks `tw_patients.patient_id`, Practice Fusion
`<practice_id>:<patient_id>` (the Practice Fusion stand-in's `PRACTICES` practices, sized as it
sizes them). The canary patients are linked across all of them: each canary has one enterprise
id (`CANARY_ENTERPRISE_IDS`, carrying the canary marker) and the same demographics in every
source record, its TouchWorks record's (the source stand-ins draw the canaries' birth dates
independently; dbMotion linked the records because they agree). Every other record starts with
an enterprise id of its own (`E000000001`, ...) and its source's demographics; Sunrise keeps no
birth date, sex or postal code in its stand-in, so dbMotion's are drawn here. Merges, unmerges
and corrections come from the mutation API (`sandbox.dbmotion.mutations`).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sandbox import rand
from sandbox.canaries import CANARY_MRNS
from sandbox.dbmotion import schema
from sandbox.practice_fusion import PRACTICES, build_practices
from sandbox.sunrise import database
from sandbox.sunrise import generator as sunrise_generator
from sandbox.sunrise.rows import dates, epoch_day
from sandbox.touchworks import generator as touchworks_generator

SOURCE_SYSTEMS = ("sunrise", "touchworks", "practice_fusion")
CANARY_ENTERPRISE_IDS: tuple[str, ...] = tuple(
    f"CANARYEMPI{number:04d}" for number in range(1, len(CANARY_MRNS) + 1)
)
DEMOGRAPHICS = ("last_name", "first_name", "birth_date", "sex", "postal_code")

Record = dict[str, Any]


def key(seed: int, *labels: object) -> int:
    return rand.stream_key(seed, "dbmotion", *labels)


def enterprise_id(number: int) -> str:
    return f"E{number:09d}"


def practice_charges(scale: int) -> int:
    """Charges per practice, as the Practice Fusion stand-in sizes its practices for `scale`."""
    return max(20, scale // 40)


def _sunrise(seed: int, scale: int, start: date, days: int) -> list[tuple[str, Record]]:
    encounters = sunrise_generator.base_tables(seed, scale, start, days)["encounters"]
    patients = encounters.group_by(["patient_id", "patient_name"]).aggregate([])
    patients = patients.sort_by("patient_id")
    numbers = rand.arange(patients.num_rows)
    born = pc.add(rand.below(key(seed, "born"), numbers, 29_000), epoch_day(date(1940, 1, 1)))
    sex = rand.below(key(seed, "sex"), numbers, 2).to_pylist()
    postal = rand.below(key(seed, "postal"), numbers, 90_000).to_pylist()
    found = []
    for n, (local_id, name, birth_date) in enumerate(
        zip(
            patients.column("patient_id").to_pylist(),
            patients.column("patient_name").to_pylist(),
            dates(born).to_pylist(),
            strict=True,
        )
    ):
        last_name, first_name = name.split(",")
        record = {
            "source_system": "sunrise",
            "local_patient_id": local_id,
            "last_name": last_name,
            "first_name": first_name,
            "birth_date": birth_date,
            "sex": "FM"[sex[n]],
            "postal_code": str(10_000 + postal[n]),
        }
        found.append((local_id, record))
    return found


def _touchworks(seed: int, scale: int, start: date, days: int) -> list[tuple[str, Record]]:
    patients = touchworks_generator.base_tables(seed, scale, start, days)["tw_patients"]
    return [
        (
            row["mrn"],
            {
                "source_system": "touchworks",
                "local_patient_id": str(row["patient_id"]),
                **{name: row[name] for name in DEMOGRAPHICS},
            },
        )
        for row in patients.to_pylist()
    ]


def _practice_fusion(seed: int, scale: int) -> list[tuple[str, Record]]:
    found = []
    for practice in build_practices(seed, PRACTICES, practice_charges(scale)):
        for row in practice.logs["patients"].rows():
            record = {
                "source_system": "practice_fusion",
                "local_patient_id": f"{practice.practice_id}:{row['patient_id']}",
                **{name: row[name] for name in DEMOGRAPHICS},
                "birth_date": date.fromisoformat(row["birth_date"]),
            }
            found.append((row["mrn"], record))
    return found


def base_tables(seed: int, scale: int, start: date, days: int) -> dict[str, pa.Table]:
    """The identities and their links as generated, keyed by table name."""
    records = [
        *_sunrise(seed, scale, start, days),
        *_touchworks(seed, scale, start, days),
        *_practice_fusion(seed, scale),
    ]
    canaries = {
        mrn: {name: record[name] for name in DEMOGRAPHICS}
        for mrn, record in records
        if record["source_system"] == "touchworks" and mrn in CANARY_MRNS
    }
    moment = datetime.combine(start, time())
    identities, links, others = [], [], 0
    for number, (mrn, record) in enumerate(records, start=1):
        if mrn in canaries:
            linked_to = CANARY_ENTERPRISE_IDS[CANARY_MRNS.index(mrn)]
            record = record | canaries[mrn]
        else:
            others += 1
            linked_to = enterprise_id(others)
        identities.append({"identity_id": number, **record, "last_modified": moment})
        links.append(
            {
                "link_id": number,
                "enterprise_id": linked_to,
                "source_system": record["source_system"],
                "local_patient_id": record["local_patient_id"],
                "linked_at": moment,
                "unlinked_at": None,
                "last_modified": moment,
            }
        )
    return {
        table.name: pa.Table.from_pylist(rows, schema=database.arrow_schema(table))
        for table, rows in ((schema.patient_identities, identities), (schema.patient_links, links))
    }


def generate(url: str, seed: int, scale: int, start: date, days: int) -> dict[str, Any]:
    """Create the dbMotion database at `url` (replacing its tables) for the patients the other
    SQL and Practice Fusion stand-ins generate with the same seed and scale; return the row
    count per table."""
    if scale < 1 or days < 1:
        raise ValueError("scale and days must be at least 1")
    tables = base_tables(seed, scale, start, days)
    engine = database.engine_for(url)
    try:
        database.recreate(engine, schema.metadata, schema.TABLES)
        with engine.begin() as conn:
            for table in schema.TABLES:
                database.insert(conn, table, tables[table.name])
    finally:
        engine.dispose()
    return {"mechanism": "watermark", "rows": {n: t.num_rows for n, t in tables.items()}}
