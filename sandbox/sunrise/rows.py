"""Vectorised row builders for the Sunrise tables, shared by generation and the mutation stream.

Every value is a pure function of (seed, table, row number) through `sandbox.rand`, so a row
number gives the same row whenever it is built. Callers choose the row numbers, the activity
days and the `last_modified` times.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from sandbox import rand, world
from sandbox.canaries import CANARY_MRNS, CANARY_NAMES

CHARGE_ID_BASE = 5_000_000_001
ENCOUNTER_ID_BASE = 3_000_000_001
CONSUMPTION_ID_BASE = 8_000_000_001
CLINICIAN_ID_BASE = 10_001
ITEMS = 500

OVERLAY_REASONS = ("CONTRACT_RATE", "BUNDLED", "PRICE_CORRECTION", "WRITE_DOWN")
CREDENTIALING = ("ACTIVE", "PENDING", "EXPIRED", "SUSPENDED")
LICENSE_STATES = ("NY", "NJ", "CT", "PA")
DEVICES = ("INFUSION PUMP", "PATIENT MONITOR", "VENTILATOR", "ULTRASOUND", "DEFIBRILLATOR")
MANUFACTURERS = ("MEDTRONIC", "PHILIPS", "GE HEALTHCARE", "BAXTER", "DRAEGER")

_EPOCH = date(1970, 1, 1)
US_PER_DAY = 86_400_000_000


def key(seed: int, *labels: object) -> int:
    return rand.stream_key(seed, "sunrise", *labels)


def epoch_day(day: date) -> int:
    return (day - _EPOCH).days


def epoch_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def dates(days: pa.Array) -> pa.Array:
    return pc.cast(pc.cast(days, pa.int32()), pa.date32())


def timestamps(us: pa.Array) -> pa.Array:
    return pc.cast(pc.cast(us, pa.int64()), pa.timestamp("us"))


def money(cents: pa.Array, kind: pa.DataType, per_unit: int = 100) -> pa.Array:
    """Integer minor units as a decimal; exact because the cast rounds to the type's scale."""
    return pc.cast(pc.divide(pc.cast(cents, pa.float64()), float(per_unit)), kind)


def digits(numbers: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(numbers, pa.string()), width, "0")


def skewed(seed: int, label: str, counters: pa.Array, low: int, span: int) -> pa.Array:
    """Integers from `low` to `low + span`, skewed towards small values (u squared)."""
    u = rand.uniform(key(seed, label), counters)
    return pc.add(pc.cast(pc.floor(pc.multiply(pc.multiply(u, u), span)), pa.int64()), low)


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _pick(values: tuple[str, ...], index: pa.Array) -> pa.Array:
    return pc.take(pa.array(values), index)


class _Departments:
    """The world's clinical departments and their revenue lines, as Arrow lookup arrays."""

    def __init__(self) -> None:
        revenue, departments = [], []
        self.revenue_start, self.revenue_count = [], []
        self.department_start, self.department_count = [], []
        for facility in world.FACILITIES:
            self.revenue_start.append(len(revenue))
            self.department_start.append(len(departments))
            for dept in facility.clinical:
                departments.append(dept.department_id)
                revenue += [(dept.department_id, a, rc) for a, rc in dept.revenue]
            self.revenue_count.append(len(revenue) - self.revenue_start[-1])
            self.department_count.append(len(departments) - self.department_start[-1])
        self.revenue_department = pa.array([r[0] for r in revenue])
        self.revenue_account = pa.array([r[1] for r in revenue])
        self.revenue_code = pa.array([r[2] for r in revenue])
        self.department = pa.array(departments)
        self.facility = pa.array([f.facility_id for f in world.FACILITIES])

    def pick(self, seed: int, label: str, counters: pa.Array, facility: pa.Array, which: str):
        start = pa.array(getattr(self, f"{which}_start"), pa.int64())
        count = pa.array(getattr(self, f"{which}_count"), pa.int64())
        n = pc.take(count, facility)
        return pc.add(pc.take(start, facility), rand.below(key(seed, label), counters, n))


DEPARTMENTS = _Departments()


def encounter_facility(seed: int, encounter_numbers: pa.Array) -> pa.Array:
    return rand.below(key(seed, "encounter_facility"), encounter_numbers, len(world.FACILITIES))


def encounter_rows(
    seed: int, numbers: pa.Array, patients: int, admit_days: pa.Array, last_modified: pa.Array
) -> dict[str, pa.Array]:
    """Encounters; encounter numbers 0..2 are the canary patients."""
    patient = rand.below(key(seed, "patient"), numbers, patients)
    surname = _pick(world.SURNAMES, rand.below(key(seed, "surname"), patient, len(world.SURNAMES)))
    given = _pick(
        world.GIVEN_NAMES, rand.below(key(seed, "given"), patient, len(world.GIVEN_NAMES))
    )
    canary = pc.less(numbers, len(CANARY_MRNS))
    which = pc.cast(pc.min_element_wise(numbers, len(CANARY_MRNS) - 1), pa.int64())
    stay = rand.below(key(seed, "stay"), numbers, 7)
    admitted = pc.less(rand.uniform(key(seed, "still_admitted"), numbers), 0.1)
    discharge = pc.if_else(admitted, pa.scalar(None, pa.int64()), pc.add(admit_days, stay))
    return {
        "encounter_id": pc.add(pc.cast(numbers, pa.int64()), ENCOUNTER_ID_BASE),
        "patient_id": pc.if_else(
            canary,
            pc.take(pa.array(CANARY_MRNS), which),
            _join("S", digits(pc.add(patient, 1_000_000), 7)),
        ),
        "patient_name": pc.if_else(
            canary, pc.take(pa.array(CANARY_NAMES), which), _join(surname, ",", given)
        ),
        "facility_code": pc.take(DEPARTMENTS.facility, encounter_facility(seed, numbers)),
        "admit_date": dates(admit_days),
        "discharge_date": dates(discharge),
        "last_modified": last_modified,
    }


def charge_rows(
    seed: int,
    numbers: pa.Array,
    encounter_numbers: pa.Array,
    service_days: pa.Array,
    last_modified: pa.Array,
) -> dict[str, pa.Array]:
    facility = encounter_facility(seed, encounter_numbers)
    line = DEPARTMENTS.pick(seed, "charge_revenue", numbers, facility, "revenue")
    quantity = pc.add(rand.below(key(seed, "charge_quantity"), numbers, 4), 1)
    unit_cents = skewed(seed, "charge_price", numbers, 500, 150_000)
    credited = pc.less(rand.uniform(key(seed, "charge_credited"), numbers), 0.03)
    return {
        "charge_id": pc.add(pc.cast(numbers, pa.int64()), CHARGE_ID_BASE),
        "encounter_id": pc.add(pc.cast(encounter_numbers, pa.int64()), ENCOUNTER_ID_BASE),
        "facility_code": pc.take(DEPARTMENTS.facility, facility),
        "department_code": pc.take(DEPARTMENTS.revenue_department, line),
        "gl_account": pc.take(DEPARTMENTS.revenue_account, line),
        "revenue_code": pc.take(DEPARTMENTS.revenue_code, line),
        "service_date": dates(service_days),
        "post_date": dates(pc.add(service_days, rand.below(key(seed, "post_lag"), numbers, 3))),
        "quantity": quantity,
        "amount": money(pc.multiply(unit_cents, quantity), pa.decimal128(12, 2)),
        "charge_status": pc.if_else(credited, "C", "A"),
        "last_modified": last_modified,
    }


def overlay_rows(
    seed: int, charges: pa.Table, generation: int, last_modified: pa.Array
) -> dict[str, pa.Array]:
    """SFM overlays of `charges`: the adjusted amount is 80-100 % of the charge's amount; a
    later `generation` of the same charge's overlay draws a different adjustment."""
    ids = pc.cast(charges.column("charge_id"), pa.uint64())
    counters = pc.add(ids, pa.scalar(generation << 40, pa.uint64()))
    share = pc.add(pc.multiply(rand.uniform(key(seed, "overlay_share"), counters), 0.2), 0.8)
    amount = pc.cast(charges.column("amount"), pa.float64())
    adjusted = pc.cast(pc.round(pc.multiply(amount, share), 2), pa.decimal128(12, 2))
    recoded = pc.less(rand.uniform(key(seed, "overlay_recoded"), counters), 0.2)
    reason = rand.below(key(seed, "overlay_reason"), counters, len(OVERLAY_REASONS))
    return {
        "charge_id": charges.column("charge_id"),
        "adjusted_amount": adjusted,
        "adjusted_gl_account": pc.if_else(
            recoded, world.CONTRACTUAL_ACCOUNT, pa.scalar(None, pa.string())
        ),
        "overlay_reason": _pick(OVERLAY_REASONS, reason),
        "last_modified": last_modified,
    }


def supply_rows(
    seed: int, numbers: pa.Array, encounter_numbers: pa.Array, consumed_us: pa.Array
) -> dict[str, pa.Array]:
    facility = encounter_facility(seed, encounter_numbers)
    location = DEPARTMENTS.pick(seed, "supply_location", numbers, facility, "department")
    item = rand.below(key(seed, "supply_item"), numbers, ITEMS)
    cost = skewed(seed, "item_cost", item, 1_000, 5_000_000)
    lag = rand.below(key(seed, "supply_lag"), numbers, 3_600_000_000)
    return {
        "consumption_id": pc.add(pc.cast(numbers, pa.int64()), CONSUMPTION_ID_BASE),
        "encounter_id": pc.add(pc.cast(encounter_numbers, pa.int64()), ENCOUNTER_ID_BASE),
        "item_number": _join("ITM", digits(pc.add(item, 100_000), 6)),
        "location_code": pc.take(DEPARTMENTS.department, location),
        "quantity": pc.add(rand.below(key(seed, "supply_quantity"), numbers, 10), 1),
        "unit_cost": money(cost, pa.decimal128(12, 4), per_unit=10_000),
        "consumed_at": timestamps(consumed_us),
        "last_modified": timestamps(pc.add(consumed_us, lag)),
    }


def clinician_rows(seed: int, numbers: pa.Array, last_modified: pa.Array) -> dict[str, pa.Array]:
    first = _pick(
        world.GIVEN_NAMES, rand.below(key(seed, "clin_first"), numbers, len(world.GIVEN_NAMES))
    )
    last = _pick(world.SURNAMES, rand.below(key(seed, "clin_last"), numbers, len(world.SURNAMES)))
    ids = pc.add(pc.cast(numbers, pa.int64()), CLINICIAN_ID_BASE)
    status = pc.if_else(
        pc.less(rand.uniform(key(seed, "clin_status"), numbers), 0.15),
        pc.add(rand.below(key(seed, "clin_standing"), numbers, len(CREDENTIALING) - 1), 1),
        pa.scalar(0, pa.int64()),
    )
    expiry = pc.add(
        rand.below(key(seed, "clin_expiry"), numbers, 1095), epoch_day(date(2027, 1, 1))
    )
    # started two to eight years before the row's last change
    modified_day = pc.divide(pc.cast(last_modified, pa.int64()), US_PER_DAY)
    tenure = pc.add(rand.below(key(seed, "clin_start"), numbers, 6 * 365), 2 * 365)
    return {
        "clinician_id": ids,
        "npi": _join("1", digits(rand.below(key(seed, "npi"), numbers, 10**9), 9)),
        "first_name": first,
        "last_name": last,
        "email": _join(
            pc.utf8_lower(first),
            ".",
            pc.utf8_lower(last),
            pc.cast(ids, pa.string()),
            "@stmary.example.org",
        ),
        "license_number": _join("L", digits(rand.below(key(seed, "license"), numbers, 10**7), 7)),
        "license_state": _pick(
            LICENSE_STATES, rand.below(key(seed, "state"), numbers, len(LICENSE_STATES))
        ),
        "license_expiry": dates(expiry),
        "credentialing_status": _pick(CREDENTIALING, status),
        "department_code": pc.take(
            DEPARTMENTS.department,
            rand.below(key(seed, "clin_dept"), numbers, len(DEPARTMENTS.department)),
        ),
        "start_date": dates(pc.subtract(modified_day, tenure)),
        "last_modified": last_modified,
    }


def asset_rows(seed: int, numbers: pa.Array, last_modified: pa.Array) -> dict[str, pa.Array]:
    facility = rand.below(key(seed, "asset_facility"), numbers, len(world.FACILITIES))
    department = DEPARTMENTS.pick(seed, "asset_dept", numbers, facility, "department")
    cents = skewed(seed, "asset_cost", numbers, 50_000, 25_000_000)
    acquired = pc.add(
        rand.below(key(seed, "asset_acquired"), numbers, 3650), epoch_day(date(2015, 1, 1))
    )
    return {
        "asset_tag": _join("AST", digits(pc.add(numbers, 1), 6)),
        "description": _pick(DEVICES, rand.below(key(seed, "device"), numbers, len(DEVICES))),
        "facility_code": pc.take(DEPARTMENTS.facility, facility),
        "department_code": pc.take(DEPARTMENTS.department, department),
        "acquisition_date": dates(acquired),
        "acquisition_cost": money(cents, pa.decimal128(14, 2)),
        "manufacturer": _pick(
            MANUFACTURERS, rand.below(key(seed, "maker"), numbers, len(MANUFACTURERS))
        ),
        "serial_number": _join("SN", digits(rand.below(key(seed, "serial"), numbers, 10**10), 10)),
        "last_modified": last_modified,
    }
