"""SQL Server CDC: the net changes per key between the last processed LSN and the maximum LSN.

The cursor is the LSN as upper-case hex; the floor is the capture instance's minimum LSN
(a cursor below it fell out of CDC retention and the table is resynchronised). Deletes arrive
as changes, so the landed keys are not compared with the source's.
"""

from __future__ import annotations

import sqlalchemy as sa

from extract.shared.sql_changes.sqlserver import SqlServer
from extract.shared.sql_changes.tables import SourceError, TableSpec, scalar


class Cdc:
    """Net changes between two LSNs through the dialect's CDC statements."""

    name = "cdc"
    compares_keys = False  # deletes arrive as changes

    def position(self, conn: sa.Connection, dialect: SqlServer, spec: TableSpec) -> str:
        """The maximum LSN: where this read ends."""
        lsn = scalar(conn, dialect.max_lsn(), spec, "reading the maximum LSN")
        if lsn is None:
            raise SourceError(fix(spec, "CDC is not enabled for the database"))
        return bytes(lsn).hex().upper()

    def floor(self, conn: sa.Connection, dialect: SqlServer, spec: TableSpec) -> str:
        """The capture instance's minimum LSN: the oldest change CDC still holds."""
        lsn = scalar(conn, dialect.min_lsn(spec), spec, "reading its capture instance")
        if lsn is None:
            raise SourceError(fix(spec, f"no capture instance {spec.capture_instance}"))
        return bytes(lsn).hex().upper()

    def changes(self, dialect: SqlServer, spec: TableSpec, since: str, to: str) -> sa.Executable:
        return dialect.net_changes(spec, bytes.fromhex(since), bytes.fromhex(to))


def fix(spec: TableSpec, problem: str) -> str:
    """The operator's message: the problem, and how to enable CDC for the table."""
    return (
        f"table {spec.name}: {problem}; enable it with EXEC sys.sp_cdc_enable_db, then "
        f"EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'{spec.name}', "
        "@role_name = NULL, @supports_net_changes = 1 (or extract with mechanism 'watermark')"
    )
