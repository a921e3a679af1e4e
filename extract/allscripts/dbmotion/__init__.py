"""dlt source for Allscripts dbMotion's unified-patient-identity view: the patient records each
source system registered (with their demographics) and their links to enterprise ids over time,
read by a `last_modified` watermark. extract.shared.sql_changes builds the dlt source: one
merge resource per table declared in `settings`.

`patient_identities` holds local patient ids, names, birth dates and postal codes;
`patient_links` enterprise and local patient ids: both are PHI and never leave staging raw.
"""

from __future__ import annotations

from functools import partial

from extract.allscripts.dbmotion.settings import SETTINGS, SOURCE, TABLES
from extract.shared.sql_changes import extract_sql

__all__ = ["SOURCE", "TABLES", "extract_dbmotion"]

# Land dbMotion's identity changes in `<tenant>_raw_dbmotion` (by a watermark).
# (warehouse, pipeline_name, source_url, mechanism, dead_letter_dir, pipelines_dir, overlap=...,
# chunk_rows=..., tables=...): see extract.shared.sql_changes.extract_sql.
extract_dbmotion = partial(extract_sql, SETTINGS)
