"""Stand-in for the Veradigm TouchWorks database: SQL Server with change tracking.

`generate(url, ...)` builds the database at any SQLAlchemy URL (a SQLite file for the demo,
Postgres in the tests); `mutate(url, seed, Mutation(...))` applies one batch of changes and
`advance_min_valid_version(url)` plays change tracking's retention cleanup. The registered
stand-in writes `veradigm/touchworks/touchworks.db`.
"""

from __future__ import annotations

from typing import Any

from sandbox.standin import GenerationRequest
from sandbox.sunrise.database import SqlStandIn, sqlite_url
from sandbox.touchworks.generator import generate
from sandbox.touchworks.mutations import Mutation, advance_min_valid_version, mutate

NAME = "veradigm_touchworks"
DATABASE_DIR = "veradigm/touchworks"
DATABASE_FILE = "touchworks.db"


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
    mechanism="change_tracking",
)

__all__ = [
    "STAND_IN",
    "Mutation",
    "advance_min_valid_version",
    "generate",
    "generate_stand_in",
    "mutate",
]
