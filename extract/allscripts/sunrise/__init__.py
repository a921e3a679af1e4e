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

from functools import partial

from extract.allscripts.sunrise.settings import SETTINGS, SOURCE, TABLES
from extract.shared.sql_changes import extract_sql

__all__ = ["SOURCE", "TABLES", "extract_sunrise"]

# Land Sunrise's changes in `<tenant>_raw_sunrise` (by CDC or a watermark).
# (warehouse, pipeline_name, source_url, mechanism, dead_letter_dir, pipelines_dir, overlap=...,
# chunk_rows=..., tables=...): see extract.shared.sql_changes.extract_sql.
extract_sunrise = partial(extract_sql, SETTINGS)
