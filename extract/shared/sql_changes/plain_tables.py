"""SQL Server's change objects kept as plain tables, for a database that is not SQL Server.

The same seam as `sqlserver.SqlServer`, in portable SQL: `cdc.x` is the table `cdc_x`,
CHANGETABLE's rows are `change_tracking_<table>`, the database and table versions are
`change_tracking_database` / `change_tracking_tables`, the tables sit in the default schema.
The sandbox's SQLite and Postgres stand-ins keep their change objects this way.
"""

from __future__ import annotations

import sqlalchemy as sa

from extract.shared.sql_changes.sqlserver import SqlServer
from extract.shared.sql_changes.tables import DELETED, TableSpec


class PlainTables(SqlServer):
    """CDC and change-tracking objects as plain tables in the default schema."""

    schema = None

    def required(self, mechanism: str, spec: TableSpec) -> list[str]:
        """Objects that must exist besides the table itself."""
        if mechanism == "cdc":
            return ["cdc_lsn_time_mapping", "cdc_change_tables", f"cdc_{spec.capture_instance}_CT"]
        if mechanism == "change_tracking":
            return ["change_tracking_database", "change_tracking_tables", tracked(spec)]
        return []

    def max_lsn(self) -> sa.Executable:
        lsn = sa.column("start_lsn")  # no max() over bytea in Postgres
        return (
            sa.select(lsn)
            .select_from(sa.table("cdc_lsn_time_mapping"))
            .order_by(lsn.desc())
            .limit(1)
        )

    def min_lsn(self, spec: TableSpec) -> sa.Executable:
        instances = sa.table(
            "cdc_change_tables", sa.column("start_lsn"), sa.column("capture_instance")
        )
        return sa.select(instances.c.start_lsn).where(
            instances.c.capture_instance == spec.capture_instance
        )

    def net_changes(self, spec: TableSpec, since: bytes, to: bytes) -> sa.Executable:
        """fn_cdc_get_net_changes_<instance>(since + 1, to, 'all') in plain SQL: per key its last
        image in the range, nothing for a key inserted and deleted within it."""
        meta = ("__$start_lsn", "__$seqval", "__$operation")
        change = sa.table(
            f"cdc_{spec.capture_instance}_CT", *(sa.column(c) for c in (*meta, *spec.columns))
        )
        lsn, seqval, operation = (change.c[c] for c in meta)
        key = change.c[spec.primary_key]
        ranged = (
            sa.select(
                *(change.c[c] for c in spec.columns),
                operation.label("last_op"),
                sa.func.first_value(operation)
                .over(partition_by=key, order_by=(lsn, seqval))
                .label("first_op"),
                sa.func.row_number()
                .over(partition_by=key, order_by=(lsn.desc(), seqval.desc()))
                .label("newest"),
            )
            .where(lsn > since, lsn <= to, operation != 3)  # 3: an update's before image
            .subquery()
        )
        deleted = ranged.c.last_op == 1
        return sa.select(
            *(ranged.c[c] for c in spec.columns), sa.case((deleted, 1), else_=0).label(DELETED)
        ).where(ranged.c.newest == 1, sa.not_(sa.and_(deleted, ranged.c.first_op == 2)))

    def current_version(self) -> sa.Executable:
        return sa.select(sa.column("current_version")).select_from(
            sa.table("change_tracking_database")
        )

    def min_valid_version(self, spec: TableSpec) -> sa.Executable:
        tables = sa.table(
            "change_tracking_tables", sa.column("min_valid_version"), sa.column("table_name")
        )
        return sa.select(tables.c.min_valid_version).where(tables.c.table_name == spec.name)

    def tracked_changes(self, spec: TableSpec, since: int) -> sa.Executable:
        """CHANGETABLE(CHANGES table, since) joined to the table's current rows."""
        key = spec.primary_key
        columns = (key, "SYS_CHANGE_VERSION", "SYS_CHANGE_OPERATION")
        changed = sa.table(tracked(spec), *(sa.column(c) for c in columns))
        current = self.table(spec.name, spec.columns)
        columns = [changed.c[key] if c == key else current.c[c] for c in spec.columns]
        deleted = sa.case((changed.c["SYS_CHANGE_OPERATION"] == "D", 1), else_=0).label(DELETED)
        return (
            sa.select(*columns, deleted)
            .select_from(changed.outerjoin(current, current.c[key] == changed.c[key]))
            .where(changed.c["SYS_CHANGE_VERSION"] > since)
        )


def tracked(spec: TableSpec) -> str:
    """The plain table holding CHANGETABLE's rows for a table."""
    return f"change_tracking_{spec.name}"


def dialect_for(engine: sa.Engine) -> SqlServer:
    """SQL Server's own statements on SQL Server, plain tables anywhere else."""
    return SqlServer() if engine.dialect.name == "mssql" else PlainTables()
