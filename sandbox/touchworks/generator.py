"""Generate the TouchWorks database at any scale, with change tracking enabled.

`scale` is the number of tw_charges rows (ambulatory professional charges); a patient per ten
charges (at least 100; the first three are the canary patients) and a provider per five hundred
(at least 20). Change tracking is enabled after the load, as on a real database: version 0,
nothing tracked yet.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sandbox import rand, world
from sandbox.canaries import CANARY_MRNS, CANARY_NAMES
from sandbox.sunrise import database
from sandbox.sunrise.rows import DEPARTMENTS, dates, digits, epoch_day, money
from sandbox.touchworks import schema

PATIENT_ID_BASE = 20_000_001
PROVIDER_ID_BASE = 700_001
CHARGE_ID_BASE = 6_000_000_001
# CPT code and its base price in cents
CPT_CODES = (
    ("99213", 9_500),
    ("99214", 14_000),
    ("99203", 11_500),
    ("93000", 2_500),
    ("36415", 1_000),
    ("80053", 4_000),
    ("85025", 2_000),
    ("71046", 6_500),
    ("90471", 3_000),
    ("99395", 18_000),
)
SPECIALTIES = ("FAMILY MEDICINE", "INTERNAL MEDICINE", "PEDIATRICS", "CARDIOLOGY", "DERMATOLOGY")


def key(seed: int, *labels: object) -> int:
    return rand.stream_key(seed, "touchworks", *labels)


def patient_count(scale: int) -> int:
    return max(100, scale // 10)


def provider_count(scale: int) -> int:
    return max(20, scale // 500)


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _pick(values: tuple[str, ...], index: pa.Array) -> pa.Array:
    return pc.take(pa.array(values), index)


def patient_rows(seed: int, numbers: pa.Array, providers: int) -> dict[str, pa.Array]:
    """Patients; patient numbers 0..2 are the canary patients."""
    canary = pc.less(numbers, len(CANARY_MRNS))
    which = pc.cast(pc.min_element_wise(numbers, len(CANARY_MRNS) - 1), pa.int64())
    last, first = zip(*(name.split(",") for name in CANARY_NAMES), strict=True)
    surname = _pick(world.SURNAMES, rand.below(key(seed, "last"), numbers, len(world.SURNAMES)))
    given = _pick(
        world.GIVEN_NAMES, rand.below(key(seed, "first"), numbers, len(world.GIVEN_NAMES))
    )
    born = pc.add(rand.below(key(seed, "born"), numbers, 29_000), epoch_day(date(1940, 1, 1)))
    return {
        "patient_id": pc.add(pc.cast(numbers, pa.int64()), PATIENT_ID_BASE),
        "mrn": pc.if_else(
            canary,
            pc.take(pa.array(CANARY_MRNS), which),
            _join("TW", digits(pc.add(numbers, 10_000_000), 8)),
        ),
        "last_name": pc.if_else(canary, pc.take(pa.array(last), which), surname),
        "first_name": pc.if_else(canary, pc.take(pa.array(first), which), given),
        "birth_date": dates(born),
        "sex": _pick(("F", "M"), rand.below(key(seed, "sex"), numbers, 2)),
        "postal_code": _join("1", digits(rand.below(key(seed, "zip"), numbers, 10_000), 4)),
        "primary_provider_id": pc.add(
            rand.below(key(seed, "pcp"), numbers, providers), PROVIDER_ID_BASE
        ),
    }


def provider_rows(seed: int, numbers: pa.Array) -> dict[str, pa.Array]:
    departments = DEPARTMENTS.department
    inactive = pc.less(rand.uniform(key(seed, "inactive"), numbers), 0.1)
    return {
        "provider_id": pc.add(pc.cast(numbers, pa.int64()), PROVIDER_ID_BASE),
        "npi": _join("1", digits(rand.below(key(seed, "npi"), numbers, 10**9), 9)),
        "last_name": _pick(
            world.SURNAMES, rand.below(key(seed, "prov_last"), numbers, len(world.SURNAMES))
        ),
        "first_name": _pick(
            world.GIVEN_NAMES,
            rand.below(key(seed, "prov_first"), numbers, len(world.GIVEN_NAMES)),
        ),
        "specialty": _pick(
            SPECIALTIES, rand.below(key(seed, "specialty"), numbers, len(SPECIALTIES))
        ),
        "department_code": pc.take(
            departments, rand.below(key(seed, "prov_dept"), numbers, len(departments))
        ),
        "active": pc.if_else(inactive, "N", "Y"),
    }


def charge_rows(
    seed: int, numbers: pa.Array, patients: int, providers: int, service_days: pa.Array
) -> dict[str, pa.Array]:
    facility = rand.below(key(seed, "facility"), numbers, len(world.FACILITIES))
    line = DEPARTMENTS.pick(seed, "tw_revenue", numbers, facility, "revenue")
    cpt = rand.below(key(seed, "cpt"), numbers, len(CPT_CODES))
    units = pc.add(rand.below(key(seed, "units"), numbers, 3), 1)
    price = pc.take(pa.array([p for _, p in CPT_CODES], pa.int64()), cpt)
    factor = pc.add(pc.multiply(rand.uniform(key(seed, "price"), numbers), 0.2), 0.9)
    cents = pc.cast(pc.round(pc.multiply(pc.multiply(price, units), factor)), pa.int64())
    return {
        "charge_id": pc.add(pc.cast(numbers, pa.int64()), CHARGE_ID_BASE),
        "patient_id": pc.add(rand.below(key(seed, "patient"), numbers, patients), PATIENT_ID_BASE),
        "provider_id": pc.add(
            rand.below(key(seed, "provider"), numbers, providers), PROVIDER_ID_BASE
        ),
        "facility_code": pc.take(DEPARTMENTS.facility, facility),
        "department_code": pc.take(DEPARTMENTS.revenue_department, line),
        "gl_account": pc.take(DEPARTMENTS.revenue_account, line),
        "cpt_code": _pick(tuple(c for c, _ in CPT_CODES), cpt),
        "service_date": dates(service_days),
        "post_date": dates(pc.add(service_days, rand.below(key(seed, "lag"), numbers, 3))),
        "units": units,
        "amount": money(cents, pa.decimal128(12, 2)),
        "charge_status": pa.repeat(pa.scalar("A"), len(numbers)),
    }


def base_tables(seed: int, scale: int, start: date, days: int) -> dict[str, pa.Table]:
    patients, providers = patient_count(scale), provider_count(scale)
    charges = rand.arange(scale)
    service = pc.add(rand.below(key(seed, "service"), charges, days), epoch_day(start))
    return {
        "tw_patients": database.arrow_table(
            schema.tw_patients, patient_rows(seed, rand.arange(patients), providers)
        ),
        "tw_providers": database.arrow_table(
            schema.tw_providers, provider_rows(seed, rand.arange(providers))
        ),
        "tw_charges": database.arrow_table(
            schema.tw_charges, charge_rows(seed, charges, patients, providers, service)
        ),
    }


def generate(url: str, seed: int, scale: int, start: date, days: int) -> dict[str, Any]:
    """Create the TouchWorks database at `url` (replacing its tables) with change tracking
    enabled; return the row count per table."""
    if scale < 1 or days < 1:
        raise ValueError("scale and days must be at least 1")
    tables = base_tables(seed, scale, start, days)
    engine = database.engine_for(url)
    try:
        everything = [*schema.BASE_TABLES, *schema.TRACKING_TABLES]
        database.recreate(engine, schema.metadata, everything)
        with engine.begin() as conn:
            for table in schema.BASE_TABLES:
                database.insert(conn, table, tables[table.name])
            conn.execute(schema.database_version.insert(), {"current_version": 0})
            conn.execute(
                schema.tracked_tables.insert(),
                [{"table_name": t.name, "min_valid_version": 0} for t in schema.BASE_TABLES],
            )
    finally:
        engine.dispose()
    return {"mechanism": "change_tracking", "rows": {n: t.num_rows for n, t in tables.items()}}
