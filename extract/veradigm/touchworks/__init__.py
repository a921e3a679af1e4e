"""dlt source for Veradigm TouchWorks: ambulatory charges, patients and providers, read through
SQL Server change tracking. extract.shared.sql_changes builds the dlt source: one merge
resource per table declared in `settings`.

A table whose last synchronised version fell below CHANGE_TRACKING_MIN_VALID_VERSION (its
changes were cleaned up) is resynchronised in full and reported as such. `tw_patients.mrn`,
the names, `birth_date` and `postal_code` are PHI.
"""

from __future__ import annotations

from pathlib import Path

from extract.shared.sql_changes import (
    CHUNK_ROWS,
    SqlExtractReport,
    run_sql_source,
)
from extract.veradigm.touchworks.settings import DATASET_LAYER, MECHANISMS, SOURCE, TABLES
from runtime.core.warehouse import Warehouse

__all__ = ["SOURCE", "TABLES", "extract_touchworks"]


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
