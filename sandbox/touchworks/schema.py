"""The TouchWorks database's tables, and SQL Server change tracking as the stand-in keeps it.

SQL Server keeps one internal row per changed key (its last change's version and operation)
and serves them through CHANGETABLE(CHANGES <table>, <last version>); the database's current
version comes from CHANGE_TRACKING_CURRENT_VERSION() and each table's oldest usable version
from CHANGE_TRACKING_MIN_VALID_VERSION(), which auto-cleanup advances with the retention
period. The stand-in keeps these as plain tables: `change_tracking_<table>` shaped like
CHANGETABLE's rows (SYS_CHANGE_VERSION, SYS_CHANGE_CREATION_VERSION, SYS_CHANGE_OPERATION
I/U/D, SYS_CHANGE_COLUMNS, SYS_CHANGE_CONTEXT, then the key), `change_tracking_database`
(current_version) and `change_tracking_tables` (min_valid_version per table).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

_BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _key(name: str) -> sa.Column:
    return sa.Column(name, _BIGINT_KEY, primary_key=True, autoincrement=False)


tw_patients = sa.Table(
    "tw_patients",
    metadata,
    _key("patient_id"),
    sa.Column("mrn", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("first_name", sa.Text),
    sa.Column("birth_date", sa.Date),
    sa.Column("sex", sa.Text),
    sa.Column("postal_code", sa.Text),
    sa.Column("primary_provider_id", sa.BigInteger),
)

tw_providers = sa.Table(
    "tw_providers",
    metadata,
    _key("provider_id"),
    sa.Column("npi", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("first_name", sa.Text),
    sa.Column("specialty", sa.Text),
    sa.Column("department_code", sa.Text),
    sa.Column("active", sa.Text),
)

tw_charges = sa.Table(
    "tw_charges",
    metadata,
    _key("charge_id"),
    sa.Column("patient_id", sa.BigInteger),
    sa.Column("provider_id", sa.BigInteger),
    sa.Column("facility_code", sa.Text),
    sa.Column("department_code", sa.Text),
    sa.Column("gl_account", sa.Text),
    sa.Column("cpt_code", sa.Text),
    sa.Column("service_date", sa.Date),
    sa.Column("post_date", sa.Date),
    sa.Column("units", sa.Integer),
    sa.Column("amount", sa.Numeric(12, 2)),
    sa.Column("charge_status", sa.Text),
)

BASE_TABLES: tuple[sa.Table, ...] = (tw_patients, tw_providers, tw_charges)

database_version = sa.Table(
    "change_tracking_database", metadata, sa.Column("current_version", sa.BigInteger)
)

tracked_tables = sa.Table(
    "change_tracking_tables",
    metadata,
    sa.Column("table_name", sa.Text, primary_key=True),
    sa.Column("min_valid_version", sa.BigInteger),
)


def key_of(table: sa.Table) -> str:
    return table.primary_key.columns.values()[0].name


def _changes(base: sa.Table) -> sa.Table:
    return sa.Table(
        f"change_tracking_{base.name}",
        metadata,
        sa.Column(key_of(base), sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("SYS_CHANGE_VERSION", sa.BigInteger, nullable=False, index=True),
        sa.Column("SYS_CHANGE_CREATION_VERSION", sa.BigInteger),
        sa.Column("SYS_CHANGE_OPERATION", sa.Text, nullable=False),
        sa.Column("SYS_CHANGE_COLUMNS", sa.LargeBinary),
        sa.Column("SYS_CHANGE_CONTEXT", sa.LargeBinary),
    )


CHANGES: dict[str, sa.Table] = {t.name: _changes(t) for t in BASE_TABLES}
TRACKING_TABLES: tuple[sa.Table, ...] = (database_version, tracked_tables, *CHANGES.values())
