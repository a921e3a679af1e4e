"""Allscripts dbMotion's identity view: the source's name, raw dataset, change mechanism and
the contracts of its tables."""

from __future__ import annotations

import pyarrow as pa

from extract.shared.sql_changes import SqlSourceSettings, TableSpec

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

SETTINGS = SqlSourceSettings(SOURCE, "dbMotion", DATASET_LAYER, TABLES, MECHANISMS)
