"""Generate the Sunrise database at any scale, with SQL Server CDC enabled or off.

`scale` is the number of charge_detail rows; the other tables follow it: an encounter per four
charges (the first three are the canary patients, each with a charge), an SFM overlay on about
one charge in twenty, a supply consumption per two charges, a clinician per thousand charges
and a device asset per five hundred (at least 20 of each). Activity is spread over the days
from `start`; `last_modified` is when the row last changed within them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sandbox import rand
from sandbox.canaries import CANARY_MRNS
from sandbox.sunrise import capture, database, rows, schema

OVERLAY_SHARE = 0.05
_MIN_REFERENCE_ROWS = 20


def encounter_count(scale: int) -> int:
    return max(len(CANARY_MRNS), scale // 4)


def patient_count(encounters: int) -> int:
    return max(100, encounters // 2)


def admit_days(seed: int, encounter_numbers: pa.Array, start: date, days: int) -> pa.Array:
    offset = rand.below(rows.key(seed, "admit_day"), encounter_numbers, days)
    return pc.add(offset, rows.epoch_day(start))


def _spread(seed: int, label: str, numbers: pa.Array, start: date, days: int) -> pa.Array:
    """A time within the `days` from `start`, per row."""
    offset = rand.below(rows.key(seed, label), numbers, days * rows.US_PER_DAY)
    return pc.add(offset, rows.epoch_day(start) * rows.US_PER_DAY)


def base_tables(seed: int, scale: int, start: date, days: int) -> dict[str, pa.Table]:
    """Every base table's rows, keyed by table name."""
    n_encounters = encounter_count(scale)
    encounter_numbers = rand.arange(n_encounters)
    admitted = admit_days(seed, encounter_numbers, start, days)
    admit_us = pc.multiply(admitted, rows.US_PER_DAY)
    encounter_modified = pc.add(
        admit_us, rand.below(rows.key(seed, "enc_mod"), encounter_numbers, rows.US_PER_DAY)
    )

    charge_numbers = rand.arange(scale)
    charge_encounter = pc.if_else(
        pc.less(charge_numbers, len(CANARY_MRNS)),
        pc.cast(charge_numbers, pa.int64()),
        rand.below(rows.key(seed, "charge_encounter"), charge_numbers, n_encounters),
    )
    service = pc.add(
        pc.take(admitted, charge_encounter),
        rand.below(rows.key(seed, "service_lag"), charge_numbers, 3),
    )
    charge_modified = pc.add(
        pc.multiply(pc.add(service, 2), rows.US_PER_DAY),
        rand.below(rows.key(seed, "charge_mod"), charge_numbers, rows.US_PER_DAY),
    )
    charges = database.arrow_table(
        schema.charge_detail,
        rows.charge_rows(
            seed, charge_numbers, charge_encounter, service, rows.timestamps(charge_modified)
        ),
    )

    overlaid = pc.less(rand.uniform(rows.key(seed, "overlaid"), charge_numbers), OVERLAY_SHARE)
    overlay_modified = pc.add(
        pc.filter(charge_modified, overlaid),
        rand.below(
            rows.key(seed, "overlay_lag"), pc.filter(charge_numbers, overlaid), 7_200_000_000
        ),
    )
    overlays = rows.overlay_rows(
        seed, charges.filter(overlaid), 0, rows.timestamps(overlay_modified)
    )

    supply_numbers = rand.arange(scale // 2)
    supply_encounter = rand.below(rows.key(seed, "supply_encounter"), supply_numbers, n_encounters)
    consumed = pc.add(
        pc.take(admit_us, supply_encounter),
        rand.below(rows.key(seed, "consumed"), supply_numbers, 2 * rows.US_PER_DAY),
    )

    reference = max(_MIN_REFERENCE_ROWS, scale // 1000)
    clinician_numbers = rand.arange(reference)
    asset_numbers = rand.arange(max(_MIN_REFERENCE_ROWS, scale // 500))
    return {
        "charge_detail": charges,
        "encounters": database.arrow_table(
            schema.encounters,
            rows.encounter_rows(
                seed,
                encounter_numbers,
                patient_count(n_encounters),
                admitted,
                rows.timestamps(encounter_modified),
            ),
        ),
        "sfm_charge_overlay": database.arrow_table(schema.sfm_charge_overlay, overlays),
        "supply_consumption": database.arrow_table(
            schema.supply_consumption,
            rows.supply_rows(seed, supply_numbers, supply_encounter, consumed),
        ),
        "clinicians": database.arrow_table(
            schema.clinicians,
            rows.clinician_rows(
                seed,
                clinician_numbers,
                rows.timestamps(_spread(seed, "clin_mod", clinician_numbers, start, days)),
            ),
        ),
        "device_assets": database.arrow_table(
            schema.device_assets,
            rows.asset_rows(
                seed,
                asset_numbers,
                rows.timestamps(_spread(seed, "asset_mod", asset_numbers, start, days)),
            ),
        ),
    }


def generate(
    url: str, seed: int, scale: int, start: date, days: int, cdc: bool = True
) -> dict[str, Any]:
    """Create the Sunrise database at `url` (any existing Sunrise tables are replaced) and
    return the row count per table; with `cdc`, CDC is enabled after the load."""
    if scale < 1 or days < 1:
        raise ValueError("scale and days must be at least 1")
    tables = base_tables(seed, scale, start, days)
    engine = database.engine_for(url)
    try:
        schema.metadata.drop_all(engine, tables=list(schema.CDC_TABLES))
        database.recreate(engine, schema.metadata, schema.BASE_TABLES)
        with engine.begin() as conn:
            for table in schema.BASE_TABLES:
                database.insert(conn, table, tables[table.name])
            if cdc:
                latest = max(pc.max(t.column("last_modified")).as_py() for t in tables.values())
                capture.enable(conn, latest)
    finally:
        engine.dispose()
    return {
        "mechanism": "cdc" if cdc else "watermark",
        "rows": {name: table.num_rows for name, table in tables.items()},
    }
