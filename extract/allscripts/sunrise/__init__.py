"""dlt source for Allscripts/Altera Sunrise: charges, encounters, SFM overlays, supply
consumption, clinicians and device assets, read through SQL Server CDC or, where CDC is off, a
`last_modified` watermark. extract.shared.sql_changes builds the dlt source: one merge
resource per table declared in `settings`.

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

from extract.allscripts.sunrise.settings import DATASET_LAYER, MECHANISMS, SOURCE, TABLES
from extract.shared.sql_changes import (
    CHUNK_ROWS,
    DEFAULT_OVERLAP,
    SqlExtractReport,
    TableSpec,
    run_sql_source,
)
from runtime.core.warehouse import Warehouse

__all__ = ["SOURCE", "TABLES", "extract_sunrise"]


def _specs(tables: Sequence[str] | None) -> list[TableSpec]:
    unknown = sorted(set(tables or ()) - {spec.name for spec in TABLES})
    if unknown:
        raise ValueError(f"Sunrise has no table {', '.join(unknown)}")
    return [spec for spec in TABLES if tables is None or spec.name in tables]


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
    return run_sql_source(
        warehouse,
        pipeline_name,
        SOURCE,
        DATASET_LAYER,
        source_url,
        mechanism,
        _specs(tables),
        dead_letter_dir,
        pipelines_dir,
        overlap=overlap,
        chunk_rows=chunk_rows,
    )
