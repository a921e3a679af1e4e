"""Stand-in for the Allscripts/Altera Sunrise database: SQL Server with CDC, or CDC off.

`generate(url, ...)` builds the database at any SQLAlchemy URL (a SQLite file for the demo,
Postgres in the tests); `mutate(url, seed, Mutation(...))` applies one batch of the mutation
stream; `clean_up_changes(url, lsn)` plays CDC's cleanup job. The registered stand-in writes
`allscripts/sunrise/sunrise.db` with CDC enabled.
"""

from __future__ import annotations

from typing import Any

from sandbox.standin import GenerationRequest
from sandbox.sunrise import capture
from sandbox.sunrise.database import SqlStandIn, engine_for, sqlite_url
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


def generate_stand_in(request: GenerationRequest) -> dict[str, Any]:
    path = request.out_dir / DATABASE_DIR / DATABASE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    summary = generate(
        sqlite_url(path), request.seed, request.scale, request.start_date, request.days
    )
    return {"path": str(path.resolve()), **summary}


STAND_IN = SqlStandIn(
    name=NAME,
    kind="files",
    generate=generate_stand_in,
    files_dir=DATABASE_DIR,
    file_pattern=DATABASE_FILE,
    mechanism="cdc",
)

__all__ = [
    "STAND_IN",
    "Mutation",
    "clean_up_changes",
    "generate",
    "generate_stand_in",
    "mutate",
]
