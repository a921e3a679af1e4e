"""dlt source for Allscripts dbMotion's unified-patient-identity view: the patient records each
source system registered (with their demographics) and their links to enterprise ids over time,
read by a `last_modified` watermark (extract.shared.sql_changes).

`patient_identities` holds local patient ids, names, birth dates and postal codes;
`patient_links` enterprise and local patient ids: both are PHI and never leave staging raw.
"""

from __future__ import annotations

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

SOURCE = "dbmotion_identity"
DATASET_LAYER = "raw_dbmotion"
MECHANISMS = ("watermark",)

_TIME = pa.timestamp("us")

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "patient_identities",
        "identity_id",
        pa.schema(
            [
                ("identity_id", pa.int64()),
                ("source_system", pa.string()),
                ("local_patient_id", pa.string()),
                ("last_name", pa.string()),
                ("first_name", pa.string()),
                ("birth_date", pa.date32()),
                ("sex", pa.string()),
                ("postal_code", pa.string()),
                ("last_modified", _TIME),
            ]
        ),
    ),
    TableSpec(
        "patient_links",
        "link_id",
        pa.schema(
            [
                ("link_id", pa.int64()),
                ("enterprise_id", pa.string()),
                ("source_system", pa.string()),
                ("local_patient_id", pa.string()),
                ("linked_at", _TIME),
                ("unlinked_at", _TIME),
                ("last_modified", _TIME),
            ]
        ),
    ),
)


def extract_dbmotion(
    warehouse: Warehouse,
    pipeline_name: str,
    source_url: str,
    mechanism: str,
    dead_letter_dir: Path,
    pipelines_dir: Path,
    overlap: timedelta = DEFAULT_OVERLAP,
    chunk_rows: int = CHUNK_ROWS,
) -> SqlExtractReport:
    """Land dbMotion's identity changes in `<tenant>_raw_dbmotion` (mechanism `watermark`;
    `overlap` is its re-read window)."""
    if mechanism not in MECHANISMS:
        raise ValueError(f"dbMotion is read by {' or '.join(MECHANISMS)}, not {mechanism!r}")
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
        overlap=overlap,
        chunk_rows=chunk_rows,
    )
