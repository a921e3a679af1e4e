"""dlt source for Veradigm TouchWorks: ambulatory charges, patients and providers, read through
SQL Server change tracking (extract.shared.sql_changes).

A table whose last synchronised version fell below CHANGE_TRACKING_MIN_VALID_VERSION (its
changes were cleaned up) is resynchronised in full and reported as such. `tw_patients.mrn`,
the names, `birth_date` and `postal_code` are PHI.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from extract.shared.sql_changes import CHUNK_ROWS, SqlExtractReport, TableSpec, run_sql_source
from runtime.warehouse import Warehouse

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


def extract_touchworks(
    warehouse: Warehouse,
    pipeline_name: str,
    source_url: str,
    mechanism: str,
    dead_letter_dir: Path,
    pipelines_dir: Path,
    chunk_rows: int = CHUNK_ROWS,
) -> SqlExtractReport:
    """Land TouchWorks' changes in `<tenant>_raw_touchworks` (mechanism `change_tracking`)."""
    if mechanism not in MECHANISMS:
        raise ValueError(f"TouchWorks is read by change_tracking, not {mechanism!r}")
    return run_sql_source(
        warehouse,
        pipeline_name,
        SOURCE,
        DATASET_LAYER,
        source_url,
        mechanism,
        TABLES,
        dead_letter_dir,
        pipelines_dir,
        chunk_rows=chunk_rows,
    )
