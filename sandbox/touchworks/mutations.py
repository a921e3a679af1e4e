"""The TouchWorks mutation stream and change-tracking retention.

A batch commits up to three transactions, each taking the next change-tracking version:
inserts (charges, and a patient per ten charges), updates (charges re-priced or voided,
patients moved to another postal code, providers' active flag flipped) and deletes (charges).
Updated and deleted charges are distinct rows that existed before the batch.
Every change updates the key's row in `change_tracking_<table>` as SQL Server does: the
version of its last change, the version that created it, and I/U/D.

`advance_min_valid_version` is auto-cleanup: it moves each table's minimum valid version and
drops the tracking rows older than it, so a consumer that synchronised before must resync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from sandbox import rand
from sandbox.sunrise import database
from sandbox.sunrise.rows import epoch_day
from sandbox.touchworks import generator, schema
from sandbox.touchworks.schema import key_of, tw_charges, tw_patients, tw_providers


@dataclass(frozen=True)
class Mutation:
    """How many charges batch `batch` inserts, updates and deletes (batch numbers start at 1
    and are never reused: they key the random draws)."""

    batch: int
    inserts: int = 0
    updates: int = 0
    deletes: int = 0


def _share(n: int, divisor: int) -> int:
    return -(-n // divisor)


def current_version(conn: sa.Connection) -> int:
    return conn.execute(sa.select(schema.database_version.c.current_version)).scalar_one()


class _Batch:
    def __init__(self, conn: sa.Connection, seed: int, mutation: Mutation):
        self.conn, self.seed, self.mutation = conn, seed, mutation
        self.version = current_version(conn)
        self.counts: dict[str, dict[str, int]] = {}

    def ranked(self, table: sa.Table, n: int) -> list:
        """`n` keys of `table` drawn for this batch."""
        keys = database.column_values(self.conn, table.c[key_of(table)])
        keys = pc.take(keys, pc.sort_indices(keys))
        label = ("mutate", self.mutation.batch, table.name)
        draws = rand.bits(generator.key(self.seed, *label), rand.arange(len(keys)))
        return pc.take(keys, pc.sort_indices(draws))[:n].to_pylist()

    def track(self, table: sa.Table, keys: list, operation: str) -> None:
        """Record the keys' change at the batch's current version."""
        changes = schema.CHANGES[table.name]
        key = key_of(table)
        created = dict(
            self.conn.execute(
                sa.select(changes.c[key], changes.c.SYS_CHANGE_CREATION_VERSION).where(
                    changes.c[key].in_(keys)
                )
            ).all()
        )
        database.delete(self.conn, changes, key, keys)
        self.conn.execute(
            changes.insert(),
            [
                {
                    key: k,
                    "SYS_CHANGE_VERSION": self.version,
                    "SYS_CHANGE_CREATION_VERSION": (
                        self.version if operation == "I" else created.get(k)
                    ),
                    "SYS_CHANGE_OPERATION": operation,
                }
                for k in keys
            ],
        )
        kind = {"I": "inserted", "U": "updated", "D": "deleted"}[operation]
        counts = self.counts.setdefault(kind, {})
        counts[table.name] = counts.get(table.name, 0) + len(keys)


def mutate(url: str, seed: int, mutation: Mutation) -> dict[str, Any]:
    """Apply one batch to the TouchWorks database at `url`; return counts per kind and table
    and the current version after it (no row values)."""
    engine = database.engine_for(url)
    try:
        with engine.begin() as conn:
            batch = _Batch(conn, seed, mutation)
            # Updated and deleted charges: different rows, all older than the batch.
            charges = batch.ranked(tw_charges, mutation.updates + mutation.deletes)
            if mutation.inserts:
                batch.version += 1
                _inserts(batch)
            if mutation.updates:
                batch.version += 1
                _updates(batch, charges[: mutation.updates])
            if mutation.deletes:
                batch.version += 1
                deleted = charges[mutation.updates :]
                database.delete(conn, tw_charges, "charge_id", deleted)
                batch.track(tw_charges, deleted, "D")
            conn.execute(schema.database_version.update().values(current_version=batch.version))
    finally:
        engine.dispose()
    return {"batch": mutation.batch, "current_version": batch.version, **batch.counts}


def _next_numbers(conn: sa.Connection, column: sa.Column, base: int, n: int) -> pa.Array:
    latest = conn.execute(sa.select(sa.func.max(column))).scalar()
    return pc.add(rand.arange(n), pa.scalar(latest - base + 1, pa.uint64()))


def _inserts(batch: _Batch) -> None:
    conn, seed, n = batch.conn, batch.seed, batch.mutation.inserts
    providers = len(database.column_values(conn, tw_providers.c.provider_id))
    numbers = _next_numbers(
        conn, tw_patients.c.patient_id, generator.PATIENT_ID_BASE, _share(n, 10)
    )
    patients = database.arrow_table(tw_patients, generator.patient_rows(seed, numbers, providers))
    database.insert(conn, tw_patients, patients)
    batch.track(tw_patients, patients.column("patient_id").to_pylist(), "I")

    known = int(pc.max(numbers).as_py()) + 1
    numbers = _next_numbers(conn, tw_charges.c.charge_id, generator.CHARGE_ID_BASE, n)
    latest = conn.execute(sa.select(sa.func.max(tw_charges.c.service_date))).scalar()
    service = pa.repeat(pa.scalar(epoch_day(latest), pa.int64()), n)
    charges = database.arrow_table(
        tw_charges, generator.charge_rows(seed, numbers, known, providers, service)
    )
    database.insert(conn, tw_charges, charges)
    batch.track(tw_charges, charges.column("charge_id").to_pylist(), "I")


def _updates(batch: _Batch, charges: list) -> None:
    conn, n = batch.conn, batch.mutation.updates
    before = database.select(conn, tw_charges, "charge_id", charges)
    void = pc.equal(pc.bit_wise_and(before["charge_id"], 3), 0)
    units = pc.add(before["units"], 1)
    repriced = pc.divide(
        pc.multiply(pc.cast(before["amount"], pa.float64()), pc.cast(units, pa.float64())),
        before["units"],
    )
    after = database.with_columns(
        before,
        units=pc.if_else(void, before["units"], units),
        amount=pc.if_else(
            void, before["amount"], pc.cast(pc.round(repriced, 2), pa.decimal128(12, 2))
        ),
        charge_status=pc.if_else(void, "V", before["charge_status"]),
    )
    _update(batch, tw_charges, after)

    patients = database.select(
        conn, tw_patients, "patient_id", batch.ranked(tw_patients, _share(n, 4))
    )
    moved = pc.utf8_replace_slice(patients["postal_code"], 4, 5, str(batch.mutation.batch % 10))
    _update(batch, tw_patients, database.with_columns(patients, postal_code=moved))

    providers = database.select(
        conn, tw_providers, "provider_id", batch.ranked(tw_providers, _share(n, 10))
    )
    flipped = pc.if_else(pc.equal(providers["active"], "Y"), "N", "Y")
    _update(batch, tw_providers, database.with_columns(providers, active=flipped))


def _update(batch: _Batch, table: sa.Table, rows: pa.Table) -> None:
    key = key_of(table)
    database.update(batch.conn, table, rows, key)
    batch.track(table, rows.column(key).to_pylist(), "U")


def advance_min_valid_version(url: str, version: int | None = None) -> int:
    """Move every table's minimum valid version to `version` (default: the current version)
    and clean up the tracking rows older than it; return the new minimum valid version."""
    engine = database.engine_for(url)
    try:
        with engine.begin() as conn:
            current = current_version(conn)
            floor = current if version is None else min(version, current)
            conn.execute(schema.tracked_tables.update().values(min_valid_version=floor))
            for changes in schema.CHANGES.values():
                conn.execute(changes.delete().where(changes.c["SYS_CHANGE_VERSION"] < floor))
    finally:
        engine.dispose()
    return floor
