"""The Sunrise database's tables, and the SQL Server CDC objects as the stand-in keeps them.

SQL Server keeps CDC in the `cdc` schema: `cdc.change_tables` (one row per capture instance,
with the lowest LSN still held), `cdc.lsn_time_mapping` (one row per committed transaction)
and `cdc.<capture_instance>_CT` per tracked table. SQLite has no schemas, so the stand-in
writes `cdc.` as the prefix `cdc_`; capture instances are named `dbo_<table>` as SQL Server
names them by default. Change-table columns are SQL Server's: `__$start_lsn` (the
transaction's 10-byte LSN), `__$end_lsn`, `__$seqval` (order within the transaction),
`__$operation` (1 delete, 2 insert, 3 update before image, 4 update after image),
`__$update_mask` (a bit per changed column, column 1 in the last byte), `__$command_id`, then
the tracked table's columns.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# INTEGER PRIMARY KEY makes SQLite use the key as the rowid: much faster bulk loads.
_BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _key(name: str, kind=_BIGINT_KEY) -> sa.Column:
    return sa.Column(name, kind, primary_key=True, autoincrement=False)


charge_detail = sa.Table(
    "charge_detail",
    metadata,
    _key("charge_id"),
    sa.Column("encounter_id", sa.BigInteger),
    sa.Column("facility_code", sa.Text),
    sa.Column("department_code", sa.Text),
    sa.Column("gl_account", sa.Text),
    sa.Column("revenue_code", sa.Text),
    sa.Column("service_date", sa.Date),
    sa.Column("post_date", sa.Date),
    sa.Column("quantity", sa.Integer),
    sa.Column("amount", sa.Numeric(12, 2)),
    sa.Column("charge_status", sa.Text),
    sa.Column("last_modified", sa.DateTime),
)

encounters = sa.Table(
    "encounters",
    metadata,
    _key("encounter_id"),
    sa.Column("patient_id", sa.Text),
    sa.Column("patient_name", sa.Text),
    sa.Column("facility_code", sa.Text),
    sa.Column("admit_date", sa.Date),
    sa.Column("discharge_date", sa.Date, nullable=True),
    sa.Column("last_modified", sa.DateTime),
)

sfm_charge_overlay = sa.Table(
    "sfm_charge_overlay",
    metadata,
    _key("charge_id"),
    sa.Column("adjusted_amount", sa.Numeric(12, 2)),
    sa.Column("adjusted_gl_account", sa.Text, nullable=True),
    sa.Column("overlay_reason", sa.Text),
    sa.Column("last_modified", sa.DateTime),
)

supply_consumption = sa.Table(
    "supply_consumption",
    metadata,
    _key("consumption_id"),
    sa.Column("encounter_id", sa.BigInteger),
    sa.Column("item_number", sa.Text),
    sa.Column("location_code", sa.Text),
    sa.Column("quantity", sa.Integer),
    sa.Column("unit_cost", sa.Numeric(12, 4)),
    sa.Column("consumed_at", sa.DateTime),
    sa.Column("last_modified", sa.DateTime),
)

clinicians = sa.Table(
    "clinicians",
    metadata,
    _key("clinician_id"),
    sa.Column("npi", sa.Text),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("license_number", sa.Text),
    sa.Column("license_state", sa.Text),
    sa.Column("license_expiry", sa.Date),
    sa.Column("credentialing_status", sa.Text),
    sa.Column("department_code", sa.Text),
    sa.Column("start_date", sa.Date),
    sa.Column("last_modified", sa.DateTime),
)

device_assets = sa.Table(
    "device_assets",
    metadata,
    _key("asset_tag", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("facility_code", sa.Text),
    sa.Column("department_code", sa.Text),
    sa.Column("acquisition_date", sa.Date),
    sa.Column("acquisition_cost", sa.Numeric(14, 2)),
    sa.Column("manufacturer", sa.Text),
    sa.Column("serial_number", sa.Text),
    sa.Column("last_modified", sa.DateTime),
)

BASE_TABLES: tuple[sa.Table, ...] = (
    charge_detail,
    encounters,
    sfm_charge_overlay,
    supply_consumption,
    clinicians,
    device_assets,
)


def key_of(table: sa.Table) -> str:
    return table.primary_key.columns.values()[0].name


# CDC -----------------------------------------------------------------------------------------
LSN_BYTES = 10

change_tables = sa.Table(
    "cdc_change_tables",
    metadata,
    sa.Column("capture_instance", sa.Text, primary_key=True),
    sa.Column("source_schema", sa.Text),
    sa.Column("source_table", sa.Text),
    sa.Column("start_lsn", sa.LargeBinary),
    sa.Column("supports_net_changes", sa.Integer),
)

lsn_time_mapping = sa.Table(
    "cdc_lsn_time_mapping",
    metadata,
    sa.Column("start_lsn", sa.LargeBinary, primary_key=True),
    sa.Column("tran_begin_time", sa.DateTime),
    sa.Column("tran_end_time", sa.DateTime),
    sa.Column("tran_id", sa.LargeBinary),
    sa.Column("tran_begin_lsn", sa.LargeBinary),
)


def capture_instance(table: sa.Table) -> str:
    return f"dbo_{table.name}"


def _change_table(base: sa.Table) -> sa.Table:
    name = f"cdc_{capture_instance(base)}_CT"
    return sa.Table(
        name,
        metadata,
        sa.Column("__$start_lsn", sa.LargeBinary, nullable=False),
        sa.Column("__$end_lsn", sa.LargeBinary),
        sa.Column("__$seqval", sa.LargeBinary, nullable=False),
        sa.Column("__$operation", sa.Integer, nullable=False),
        sa.Column("__$update_mask", sa.LargeBinary),
        sa.Column("__$command_id", sa.Integer),
        *(sa.Column(c.name, c.type) for c in base.columns),
        sa.Index(f"ix_{name}_lsn", "__$start_lsn", "__$seqval"),
    )


CHANGE_TABLES: dict[str, sa.Table] = {t.name: _change_table(t) for t in BASE_TABLES}
CDC_TABLES: tuple[sa.Table, ...] = (change_tables, lsn_time_mapping, *CHANGE_TABLES.values())
