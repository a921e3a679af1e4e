"""The stand-in's CDC capture: what SQL Server's capture job writes for each transaction.

Each transaction gets the next LSN and a row in `cdc_lsn_time_mapping`; every row it touched
goes to the table's change table with that `__$start_lsn`, a `__$seqval` giving its order in the
transaction and the operation: inserts (2) and deletes (1) carry the row, updates a before
image (3) and an after image (4) sharing one `__$seqval`.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from sandbox.sunrise import database, schema

DELETE, INSERT, UPDATE_BEFORE, UPDATE_AFTER = 1, 2, 3, 4
_FIRST_LSN = 0x0000002A_00000100_0001  # a realistic-looking first LSN (VLF, block, slot)
_SEQ_BITS = 24  # __$seqval = LSN << 24 | position in the transaction


def lsn_bytes(value: int) -> bytes:
    return value.to_bytes(schema.LSN_BYTES, "big")


def enabled(conn: sa.Connection) -> bool:
    return sa.inspect(conn).has_table(schema.change_tables.name)


def enable(conn: sa.Connection, at: datetime) -> bytes:
    """Create the CDC objects with empty change tables (SQL Server does not capture the rows a
    table holds when CDC is enabled on it); return the start LSN."""
    schema.metadata.create_all(conn, tables=list(schema.CDC_TABLES))
    start = lsn_bytes(_FIRST_LSN)
    conn.execute(
        schema.lsn_time_mapping.insert(),
        {"start_lsn": start, "tran_begin_time": at, "tran_end_time": at, "tran_id": start,
         "tran_begin_lsn": start},
    )  # fmt: skip
    conn.execute(
        schema.change_tables.insert(),
        [
            {"capture_instance": schema.capture_instance(t), "source_schema": "dbo",
             "source_table": t.name, "start_lsn": start, "supports_net_changes": 1}
            for t in schema.BASE_TABLES
        ],
    )  # fmt: skip
    return start


def clean_up(conn: sa.Connection, through: bytes) -> None:
    """What SQL Server's CDC cleanup job does: drop the changes of every capture instance up to
    and including LSN `through`; the lowest LSN still held becomes the next one."""
    for change_table in schema.CHANGE_TABLES.values():
        conn.execute(change_table.delete().where(change_table.c["__$start_lsn"] <= through))
    following = lsn_bytes(int.from_bytes(through, "big") + 1)
    conn.execute(schema.change_tables.update().values(start_lsn=following))


class Transaction:
    """One captured transaction: collect its changes, then `commit` it."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        lsn = schema.lsn_time_mapping.c.start_lsn  # no max() over bytea in Postgres
        latest = conn.execute(sa.select(lsn).order_by(lsn.desc()).limit(1)).scalar()
        self.lsn = int.from_bytes(bytes(latest), "big") + 1
        self.position = 0

    def _seqvals(self, n: int) -> pa.Array:
        first = (self.lsn << _SEQ_BITS) + self.position
        self.position += n
        return pa.array([lsn_bytes(first + i) for i in range(n)], pa.binary())

    def _write(self, table: str, operation: int, rows: pa.Table, seqval, mask) -> None:
        n = rows.num_rows
        meta = {
            "__$start_lsn": pa.array([lsn_bytes(self.lsn)] * n, pa.binary()),
            "__$seqval": seqval,
            "__$operation": pa.array([operation] * n, pa.int64()),
            "__$update_mask": mask,
            "__$command_id": pa.array([1] * n, pa.int64()),
        }
        change_rows = pa.table(meta | {name: rows.column(name) for name in rows.column_names})
        database.insert(self.conn, schema.CHANGE_TABLES[table], change_rows)

    def rows(self, table: str, operation: int, rows: pa.Table) -> None:
        """Inserted (2) or deleted (1) rows; every column counts as changed."""
        if rows.num_rows:
            mask = _mask_bytes([(1 << rows.num_columns) - 1] * rows.num_rows, rows.num_columns)
            self._write(table, operation, rows, self._seqvals(rows.num_rows), mask)

    def updates(self, table: str, before: pa.Table, after: pa.Table) -> None:
        """Updated rows: `before` and `after` hold the same keys in the same order."""
        if not before.num_rows:
            return
        bits = [0] * before.num_rows
        for ordinal, name in enumerate(before.column_names):
            changed = _changed(before.column(name), after.column(name)).to_pylist()
            bits = [b | (c << ordinal) for b, c in zip(bits, changed, strict=True)]
        mask = _mask_bytes(bits, before.num_columns)
        seqval = self._seqvals(before.num_rows)
        self._write(table, UPDATE_BEFORE, before, seqval, mask)
        self._write(table, UPDATE_AFTER, after, seqval, mask)

    def commit(self, began: datetime, ended: datetime) -> bytes:
        lsn = lsn_bytes(self.lsn)
        self.conn.execute(
            schema.lsn_time_mapping.insert(),
            {"start_lsn": lsn, "tran_begin_time": began, "tran_end_time": ended, "tran_id": lsn,
             "tran_begin_lsn": lsn},
        )  # fmt: skip
        return lsn


def _changed(before: pa.ChunkedArray, after: pa.ChunkedArray) -> pa.Array:
    both_null = pc.and_(pc.is_null(before), pc.is_null(after))
    return pc.invert(pc.fill_null(pc.equal(before, after), both_null))


def _mask_bytes(bits: list[int], columns: int) -> pa.Array:
    width = (columns + 7) // 8
    return pa.array([b.to_bytes(width, "big") for b in bits], pa.binary())
