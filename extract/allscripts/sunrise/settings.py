"""Allscripts/Altera Sunrise: the source's name, raw dataset, change mechanisms and the
contracts of its tables."""

from __future__ import annotations

import pyarrow as pa

from extract.shared.sql_changes import SqlSourceSettings, TableSpec

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

SETTINGS = SqlSourceSettings(SOURCE, "Sunrise", DATASET_LAYER, TABLES, MECHANISMS)
