"""Veradigm TouchWorks: the source's name, raw dataset, change mechanism and the contracts
of its tables."""

from __future__ import annotations

import pyarrow as pa

from extract.shared.sql_changes import SqlSourceSettings, TableSpec

SOURCE = "veradigm_touchworks"
DATASET_LAYER = "raw_touchworks"
MECHANISMS = ("change_tracking",)

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "tw_patients",
        "patient_id",
        pa.schema(
            [
                ("patient_id", pa.int64()),
                ("mrn", pa.string()),
                ("last_name", pa.string()),
                ("first_name", pa.string()),
                ("birth_date", pa.date32()),
                ("sex", pa.string()),
                ("postal_code", pa.string()),
                ("primary_provider_id", pa.int64()),
            ]
        ),
    ),
    TableSpec(
        "tw_providers",
        "provider_id",
        pa.schema(
            [
                ("provider_id", pa.int64()),
                ("npi", pa.string()),
                ("last_name", pa.string()),
                ("first_name", pa.string()),
                ("specialty", pa.string()),
                ("department_code", pa.string()),
                ("active", pa.string()),
            ]
        ),
    ),
    TableSpec(
        "tw_charges",
        "charge_id",
        pa.schema(
            [
                ("charge_id", pa.int64()),
                ("patient_id", pa.int64()),
                ("provider_id", pa.int64()),
                ("facility_code", pa.string()),
                ("department_code", pa.string()),
                ("gl_account", pa.string()),
                ("cpt_code", pa.string()),
                ("service_date", pa.date32()),
                ("post_date", pa.date32()),
                ("units", pa.int32()),
                ("amount", pa.decimal128(12, 2)),
                ("charge_status", pa.string()),
            ]
        ),
        control_columns=("amount", "units"),
    ),
)

SETTINGS = SqlSourceSettings(SOURCE, "TouchWorks", DATASET_LAYER, TABLES, MECHANISMS)
