"""SQL Server change tracking: the rows changed since the last synchronised version.

The cursor is the database's change-tracking version; the floor is the table's
CHANGE_TRACKING_MIN_VALID_VERSION (a cursor below it lost changes to cleanup and the table is
resynchronised). Changed keys are joined to their current values; deleted keys come back as
deletes, so the landed keys are not compared with the source's.
"""

from __future__ import annotations

import sqlalchemy as sa

from extract.shared.sql_changes.sqlserver import SqlServer
from extract.shared.sql_changes.tables import SourceError, TableSpec, scalar


class ChangeTracking:
    """Changes after a version through the dialect's change-tracking statements."""

    name = "change_tracking"
    compares_keys = False  # deletes arrive as changes

    def position(self, conn: sa.Connection, dialect: SqlServer, spec: TableSpec) -> int:
        """The database's current version: where this read ends."""
        version = scalar(conn, dialect.current_version(), spec, "reading the current version")
        if version is None:
            raise SourceError(fix(spec, "change tracking is not enabled for the database"))
        return int(version)

    def floor(self, conn: sa.Connection, dialect: SqlServer, spec: TableSpec) -> int:
        """The table's minimum valid version: the oldest cursor its changes still serve."""
        version = scalar(conn, dialect.min_valid_version(spec), spec, "reading its versions")
        if version is None:
            raise SourceError(fix(spec, "change tracking is not enabled for the table"))
        return int(version)

    def changes(self, dialect: SqlServer, spec: TableSpec, since: int, to: int) -> sa.Executable:
        return dialect.tracked_changes(spec, since)


def fix(spec: TableSpec, problem: str) -> str:
    """The operator's message: the problem, and how to enable change tracking."""
    return (
        f"table {spec.name}: {problem}; enable it with ALTER DATABASE <db> SET CHANGE_TRACKING "
        f"= ON (CHANGE_RETENTION = 7 DAYS, AUTO_CLEANUP = ON), then ALTER TABLE dbo.{spec.name} "
        "ENABLE CHANGE_TRACKING"
    )
