"""dlt source for Allscripts dbMotion's unified-patient-identity view: the patient records each
source system registered (with their demographics) and their links to enterprise ids over time,
read by a `last_modified` watermark. extract.shared.sql_changes builds the dlt source: one
merge resource per table declared in `settings`.

`patient_identities` holds local patient ids, names, birth dates and postal codes;
`patient_links` enterprise and local patient ids: both are PHI and never leave staging raw.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from extract.allscripts.dbmotion.settings import DATASET_LAYER, MECHANISMS, SOURCE, TABLES
from extract.shared.sql_changes import (
    CHUNK_ROWS,
    DEFAULT_OVERLAP,
    SqlExtractReport,
    run_sql_source,
)
from runtime.core.warehouse import Warehouse

__all__ = ["SOURCE", "TABLES", "extract_dbmotion"]


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
