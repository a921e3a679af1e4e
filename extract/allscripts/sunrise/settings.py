"""dlt source for Allscripts/Altera Sunrise: charges, encounters, SFM overlays, supply
consumption, clinicians and device assets, read through SQL Server CDC or, where CDC is off, a
`last_modified` watermark (extract.shared.sql_changes).

Sunrise Financial Manager adjustments land as their own table (`sfm_charge_overlay`); the
staging models apply them ("the SFM-adjusted value wins"). `encounters.patient_id` (the local
MRN) and `encounters.patient_name` are PHI.

Every table keeps tombstones: a row deleted in Sunrise stays in the raw layer with its last
values and `_deleted` / `_deleted_at` set, so the models can take back what it caused in Fusion
(a deleted charge is reversed like a credited one, a deleted consumption received back).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from extract.shared.sql_changes import (
    CHUNK_ROWS,
    DEFAULT_OVERLAP,
    SqlExtractReport,
    TableSpec,
    run_sql_source,
)
from runtime.warehouse import Warehouse

SOURCE = "allscripts_sunrise"
DATASET_LAYER = "raw_sunrise"
MECHANISMS = ("cdc", "watermark")

_MONEY = pa.decimal128(12, 2)
_TIME = pa.timestamp("us")

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "charge_detail",
        "charge_id",
        pa.schema(
            [
                ("charge_id", pa.int64()),
                ("encounter_id", pa.int64()),
                ("facility_code", pa.string()),
                ("department_code", pa.string()),
                ("gl_account", pa.string()),
                ("revenue_code", pa.string()),
                ("service_date", pa.date32()),
                ("post_date", pa.date32()),
                ("quantity", pa.int32()),
                ("amount", _MONEY),
                ("charge_status", pa.string()),
                ("last_modified", _TIME),
            ]
        ),
        control_columns=("amount", "quantity"),
        tombstones=True,
    ),
    TableSpec(
        "encounters",
        "encounter_id",
        pa.schema(
            [
                ("encounter_id", pa.int64()),
                ("patient_id", pa.string()),
                ("patient_name", pa.string()),
                ("facility_code", pa.string()),
                ("admit_date", pa.date32()),
                ("discharge_date", pa.date32()),
                ("last_modified", _TIME),
            ]
        ),
        tombstones=True,
    ),
    TableSpec(
        "sfm_charge_overlay",
        "charge_id",
        pa.schema(
            [
                ("charge_id", pa.int64()),
                ("adjusted_amount", _MONEY),
                ("adjusted_gl_account", pa.string()),
                ("overlay_reason", pa.string()),
                ("last_modified", _TIME),
            ]
        ),
        control_columns=("adjusted_amount",),
        tombstones=True,
    ),
    TableSpec(
        "supply_consumption",
        "consumption_id",
        pa.schema(
            [
                ("consumption_id", pa.int64()),
                ("encounter_id", pa.int64()),
                ("item_number", pa.string()),
                ("location_code", pa.string()),
                ("quantity", pa.int32()),
                ("unit_cost", pa.decimal128(12, 4)),
                ("consumed_at", _TIME),
                ("last_modified", _TIME),
            ]
        ),
        control_columns=("quantity",),
        tombstones=True,
    ),
    TableSpec(
        "clinicians",
        "clinician_id",
        pa.schema(
            [
                ("clinician_id", pa.int64()),
                ("npi", pa.string()),
                ("first_name", pa.string()),
                ("last_name", pa.string()),
                ("email", pa.string()),
                ("license_number", pa.string()),
                ("license_state", pa.string()),
                ("license_expiry", pa.date32()),
                ("credentialing_status", pa.string()),
                ("department_code", pa.string()),
                ("start_date", pa.date32()),
                ("last_modified", _TIME),
            ]
        ),
        tombstones=True,
    ),
    TableSpec(
        "device_assets",
        "asset_tag",
        pa.schema(
            [
                ("asset_tag", pa.string()),
                ("description", pa.string()),
                ("facility_code", pa.string()),
                ("department_code", pa.string()),
                ("acquisition_date", pa.date32()),
                ("acquisition_cost", pa.decimal128(14, 2)),
                ("manufacturer", pa.string()),
                ("serial_number", pa.string()),
                ("last_modified", _TIME),
            ]
        ),
        control_columns=("acquisition_cost",),
        tombstones=True,
    ),
)


def extract_sunrise(
    warehouse: Warehouse,
    pipeline_name: str,
    source_url: str,
    mechanism: str,
    dead_letter_dir: Path,
    pipelines_dir: Path,
    overlap: timedelta = DEFAULT_OVERLAP,
    chunk_rows: int = CHUNK_ROWS,
    tables: Sequence[str] | None = None,
) -> SqlExtractReport:
    """Land Sunrise's changes in `<tenant>_raw_sunrise` by `mechanism` (`cdc` or `watermark`;
    `overlap` is the watermark's re-read window); `tables` limits it to those tables (a domain
    lands the tables its Fusion object needs)."""
    if mechanism not in MECHANISMS:
        raise ValueError(f"Sunrise is read by {' or '.join(MECHANISMS)}, not {mechanism!r}")
    unknown = sorted(set(tables or ()) - {spec.name for spec in TABLES})
    if unknown:
        raise ValueError(f"Sunrise has no table {', '.join(unknown)}")
    return run_sql_source(
        warehouse,
        pipeline_name,
        SOURCE,
        DATASET_LAYER,
        source_url,
        mechanism,
        [spec for spec in TABLES if tables is None or spec.name in tables],
        dead_letter_dir,
        pipelines_dir,
        overlap=overlap,
        chunk_rows=chunk_rows,
    )
