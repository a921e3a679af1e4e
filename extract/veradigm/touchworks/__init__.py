"""dlt source for Veradigm TouchWorks: ambulatory charges, patients and providers, read through
SQL Server change tracking. extract.shared.sql_changes builds the dlt source: one merge
resource per table declared in `settings`.

A table whose last synchronised version fell below CHANGE_TRACKING_MIN_VALID_VERSION (its
changes were cleaned up) is resynchronised in full and reported as such. `tw_patients.mrn`,
the names, `birth_date` and `postal_code` are PHI.
"""

from __future__ import annotations

from functools import partial

from extract.shared.sql_changes import extract_sql
from extract.veradigm.touchworks.settings import SETTINGS, SOURCE, TABLES

__all__ = ["SOURCE", "TABLES", "extract_touchworks"]

# Land TouchWorks' changes in `<tenant>_raw_touchworks` (by change tracking).
# (warehouse, pipeline_name, source_url, mechanism, dead_letter_dir, pipelines_dir, overlap=...,
# chunk_rows=..., tables=...): see extract.shared.sql_changes.extract_sql.
extract_touchworks = partial(extract_sql, SETTINGS)
