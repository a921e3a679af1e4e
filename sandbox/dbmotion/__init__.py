"""Stand-in for Allscripts dbMotion's unified-patient-identity view: a SQL database (a SQLite
file for the demo, Postgres in the tests) mapping enterprise ids to the local patient ids of
Sunrise, TouchWorks and Practice Fusion, with each source's demographics, and the merges and
unmerges over time (docs/identity.md).

`generate(url, seed, scale, start, days)` builds it for the patients the other stand-ins
generate with the same seed and scale (the canaries linked across every source); `merge`,
`unmerge`, `add_link` and `correct_demographics` change it. The registered stand-in writes
`allscripts/dbmotion/dbmotion.db`, read by `last_modified` watermark.
"""

from __future__ import annotations

from sandbox.dbmotion.generator import CANARY_ENTERPRISE_IDS, SOURCE_SYSTEMS, generate
from sandbox.dbmotion.mutations import (
    add_link,
    correct_demographics,
    current_enterprise_ids,
    merge,
    unmerge,
)
from sandbox.sunrise.database import sqlite_stand_in

NAME = "dbmotion_identity"
DATABASE_DIR = "allscripts/dbmotion"
DATABASE_FILE = "dbmotion.db"


STAND_IN = sqlite_stand_in(NAME, DATABASE_DIR, DATABASE_FILE, "watermark", generate)

__all__ = [
    "CANARY_ENTERPRISE_IDS",
    "SOURCE_SYSTEMS",
    "STAND_IN",
    "add_link",
    "correct_demographics",
    "current_enterprise_ids",
    "generate",
    "merge",
    "unmerge",
]
