"""Stand-in for the Veradigm TouchWorks database: SQL Server with change tracking.

`generate(url, ...)` builds the database at any SQLAlchemy URL (a SQLite file for the demo,
Postgres in the tests); `mutate(url, seed, Mutation(...))` applies one batch of changes and
`advance_min_valid_version(url)` plays change tracking's retention cleanup. The registered
stand-in writes `veradigm/touchworks/touchworks.db`.
"""

from __future__ import annotations

from sandbox.sunrise.database import sqlite_stand_in
from sandbox.touchworks.generator import generate
from sandbox.touchworks.mutations import Mutation, advance_min_valid_version, mutate

NAME = "veradigm_touchworks"
DATABASE_DIR = "veradigm/touchworks"
DATABASE_FILE = "touchworks.db"


STAND_IN = sqlite_stand_in(NAME, DATABASE_DIR, DATABASE_FILE, "change_tracking", generate)

__all__ = [
    "STAND_IN",
    "Mutation",
    "advance_min_valid_version",
    "generate",
    "mutate",
]
