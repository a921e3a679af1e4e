"""The dialect seam: every statement the change reader sends, as SQL Server itself runs it.

`SqlServer` holds the documented CDC functions (`sys.fn_cdc_get_max_lsn`,
`sys.fn_cdc_get_min_lsn`, `cdc.fn_cdc_get_net_changes_<instance>`), the change-tracking ones
(`CHANGE_TRACKING_CURRENT_VERSION`, `CHANGE_TRACKING_MIN_VALID_VERSION`, `CHANGETABLE`) and
plain reads of the tables in `dbo`. A database that keeps the same objects as plain tables
subclasses it (`plain_tables.PlainTables`); the mechanisms only ever call these methods.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from extract.shared.sql_changes.tables import DELETED, TableSpec


class SqlServer:
    """SQL Server itself: the documented CDC and change-tracking functions, tables in `dbo`."""

    schema: str | None = "dbo"

    def table(self, name: str, columns: Sequence[str] = ()) -> sa.TableClause:
        """A source table (with the columns a statement names)."""
        return sa.table(name, *(sa.column(c) for c in columns), schema=self.schema)

    def select_all(self, spec: TableSpec) -> sa.Select:
        """Every row of the table, none deleted: a snapshot or a watermark read."""
        columns = (sa.column(c) for c in spec.columns)
        return sa.select(*columns, sa.literal(0).label(DELETED)).select_from(self.table(spec.name))

    def required(self, mechanism: str, spec: TableSpec) -> list[str]:
        """Objects that must exist besides the table itself."""
        return []  # min_lsn and min_valid_version return NULL when the feature is off

    def max_lsn(self) -> sa.Executable:
        return sa.text("SELECT sys.fn_cdc_get_max_lsn()")

    def min_lsn(self, spec: TableSpec) -> sa.Executable:
        return sa.text(
            "SELECT NULLIF(sys.fn_cdc_get_min_lsn(:instance), 0x00000000000000000000)"
        ).bindparams(instance=spec.capture_instance)

    def net_changes(self, spec: TableSpec, since: bytes, to: bytes) -> sa.Executable:
        """Per key its last image after `since` up to `to`; `_deleted` for a delete."""
        columns = ", ".join(f"[{c}]" for c in spec.columns)
        return sa.text(
            f"SELECT {columns}, CASE WHEN [__$operation] = 1 THEN 1 ELSE 0 END AS {DELETED} "
            f"FROM cdc.fn_cdc_get_net_changes_{spec.capture_instance}"
            "(sys.fn_cdc_increment_lsn(:since), :to, N'all')"
        ).bindparams(
            sa.bindparam("since", since, type_=sa.LargeBinary),
            sa.bindparam("to", to, type_=sa.LargeBinary),
        )

    def current_version(self) -> sa.Executable:
        return sa.text("SELECT CHANGE_TRACKING_CURRENT_VERSION()")

    def min_valid_version(self, spec: TableSpec) -> sa.Executable:
        return sa.text("SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(:table))").bindparams(
            table=f"dbo.{spec.name}"
        )

    def tracked_changes(self, spec: TableSpec, since: int) -> sa.Executable:
        """The keys changed after version `since`, joined to the table's current rows."""
        key = spec.primary_key
        columns = ", ".join(f"ct.[{c}]" if c == key else f"t.[{c}]" for c in spec.columns)
        return sa.text(
            f"SELECT {columns}, CASE WHEN ct.SYS_CHANGE_OPERATION = 'D' THEN 1 ELSE 0 END "
            f"AS {DELETED} FROM CHANGETABLE(CHANGES dbo.[{spec.name}], :since) AS ct "
            f"LEFT JOIN dbo.[{spec.name}] AS t ON t.[{key}] = ct.[{key}]"
        ).bindparams(since=since)
