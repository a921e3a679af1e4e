"""Stand-in for the Allscripts/Altera Sunrise database: SQL Server with CDC, or CDC off.

`generate(url, ...)` builds the database at any SQLAlchemy URL (a SQLite file for the demo,
Postgres in the tests); `mutate(url, seed, Mutation(...))` applies one batch of the mutation
stream; `clean_up_changes(url, lsn)` plays CDC's cleanup job. The registered stand-in writes
`allscripts/sunrise/sunrise.db` with CDC enabled.
"""

from __future__ import annotations

from sandbox.sunrise import capture
from sandbox.sunrise.database import engine_for, sqlite_stand_in
from sandbox.sunrise.generator import generate
from sandbox.sunrise.mutations import Mutation, mutate

NAME = "allscripts_sunrise"
DATABASE_DIR = "allscripts/sunrise"
DATABASE_FILE = "sunrise.db"


def clean_up_changes(url: str, through_lsn: str) -> None:
    """Play the CDC cleanup job: drop every change up to LSN `through_lsn` (hex)."""
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            capture.clean_up(conn, bytes.fromhex(through_lsn))
    finally:
        engine.dispose()


STAND_IN = sqlite_stand_in(NAME, DATABASE_DIR, DATABASE_FILE, "cdc", generate)

__all__ = [
    "STAND_IN",
    "Mutation",
    "clean_up_changes",
    "generate",
    "mutate",
]
