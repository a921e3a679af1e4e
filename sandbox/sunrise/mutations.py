"""The Sunrise mutation stream: one batch of changes applied to the stand-in database.

A batch happens one minute after the latest `last_modified` in the database (its clock);
changed rows get increasing `last_modified` times from there, a millisecond apart. Kinds:

* inserts: new charges (with new encounters and supply consumptions);
* updates: charges (quantity and amount up, or credited), encounters (discharged), supply
  (quantity), clinicians (credentialing status and licence expiry), device assets (moved to
  another department of their facility);
* deletes: charges (and their SFM overlays), supply consumptions;
* overlays: SFM adjusted amounts, new on charges that had none and changed on charges that had;
* late: charge updates whose transaction committed late: their `last_modified` is `late_by`
  before the watermark (the latest charge `last_modified` before the batch) and they commit
  last, after everything else in the batch.

Which rows are touched is a pure function of (seed, batch number, database state); a row is
touched by at most one kind of change per batch. With CDC enabled every kind is its own
captured transaction (`sandbox.sunrise.capture`), in the order above.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from sandbox import rand
from sandbox.sunrise import capture, database, generator, rows, schema
from sandbox.sunrise.schema import (
    charge_detail,
    clinicians,
    device_assets,
    encounters,
    key_of,
    sfm_charge_overlay,
    supply_consumption,
)

_STEP_US = 1_000


@dataclass(frozen=True)
class Mutation:
    """How many changes of each kind batch `batch` makes (batch numbers start at 1 and are
    never reused: they key the random draws). Updates, inserts and deletes also touch the
    other tables, a quarter to a half as many rows as charges."""

    batch: int
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    overlays: int = 0
    late: int = 0
    late_by: timedelta = timedelta(minutes=5)


def _share(n: int, divisor: int) -> int:
    return -(-n // divisor)


class _Batch:
    """The state of one batch being applied: clock, draws, and the capture transaction."""

    def __init__(self, conn: sa.Connection, seed: int, mutation: Mutation):
        self.conn, self.seed, self.mutation = conn, seed, mutation
        self.cdc = capture.enabled(conn)
        latest = [_max(conn, t.c.last_modified) for t in schema.BASE_TABLES]
        self.watermark = _max(conn, charge_detail.c.last_modified)
        clock = max(m for m in latest if m is not None) + timedelta(minutes=1)
        self.clock_us = rows.epoch_us(clock.replace(microsecond=0))
        self.stamps = 0
        self.counts: dict[str, dict[str, int]] = {}
        self.lsns: list[str] = []

    def ranked(self, label: str, values: pa.Array) -> pa.Array:
        """`values` in an order drawn for this batch."""
        values = pc.take(values, pc.sort_indices(values))
        draws = rand.bits(
            rows.key(self.seed, "mutate", self.mutation.batch, label), rand.arange(len(values))
        )
        return pc.take(values, pc.sort_indices(draws))

    def now(self) -> int:
        """The next change time, in microseconds."""
        return self.clock_us + self.stamps * _STEP_US

    def times(self, n: int) -> pa.Array:
        """The next `n` change times, in microseconds."""
        first = self.now()
        self.stamps += n
        return pc.add(pc.multiply(rand.arange(n), _STEP_US), first)

    def count(self, kind: str, table: str, n: int) -> None:
        if n:
            kinds = self.counts.setdefault(kind, {})
            kinds[table] = kinds.get(table, 0) + n

    def transaction(self) -> capture.Transaction | None:
        return capture.Transaction(self.conn) if self.cdc else None

    def commit(self, tx: capture.Transaction | None, began_us: int, ended_us: int) -> None:
        if tx is not None and tx.position:
            lsn = tx.commit(_moment(began_us), _moment(ended_us))
            self.lsns.append(lsn.hex().upper())

    def insert(self, tx, table: sa.Table, new_rows: pa.Table) -> None:
        database.insert(self.conn, table, new_rows)
        if tx is not None:
            tx.rows(table.name, capture.INSERT, new_rows)
        self.count("inserted", table.name, new_rows.num_rows)

    def update(self, tx, table: sa.Table, before: pa.Table, after: pa.Table, kind="updated"):
        database.update(self.conn, table, after, key_of(table))
        if tx is not None:
            tx.updates(table.name, before, after)
        self.count(kind, table.name, after.num_rows)

    def delete(self, tx, table: sa.Table, keys: pa.Array) -> None:
        before = database.select(self.conn, table, key_of(table), keys.to_pylist())
        database.delete(self.conn, table, key_of(table), keys.to_pylist())
        if tx is not None:
            tx.rows(table.name, capture.DELETE, before)
        self.count("deleted", table.name, before.num_rows)


def _max(conn: sa.Connection, column: sa.Column) -> Any:
    return conn.execute(sa.select(sa.func.max(column, type_=column.type))).scalar()


def _moment(us: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(microseconds=us)


def _numbers_after(conn: sa.Connection, column: sa.Column, base: int, n: int) -> pa.Array:
    """Row numbers for `n` new rows after the highest id of `column`."""
    latest = _max(conn, column)
    first = 0 if latest is None else latest - base + 1
    return pc.add(rand.arange(n), pa.scalar(first, pa.uint64()))


def mutate(url: str, seed: int, mutation: Mutation) -> dict[str, Any]:
    """Apply one batch to the Sunrise database at `url`; return counts per kind and table,
    and the LSNs of its transactions when CDC is enabled (no row values)."""
    engine = database.engine_for(url)
    try:
        with engine.begin() as conn:
            batch = _Batch(conn, seed, mutation)
            ids = database.column_values(conn, charge_detail.c.charge_id)
            charges = batch.ranked("charges", ids)
            m = mutation
            updated = charges[: m.updates]
            deleted = charges[m.updates : m.updates + m.deletes]
            late = charges[m.updates + m.deletes : m.updates + m.deletes + m.late]
            untouched = charges[m.updates + m.deletes + m.late :]
            _inserts(batch)
            _updates(batch, updated)
            _deletes(batch, deleted)
            _overlays(batch, untouched)
            _late(batch, late)
    finally:
        engine.dispose()
    summary: dict[str, Any] = {"batch": mutation.batch, **batch.counts}
    if batch.cdc:
        summary["lsns"] = batch.lsns
    return summary


def _inserts(batch: _Batch) -> None:
    n = batch.mutation.inserts
    if not n:
        return
    conn, seed = batch.conn, batch.seed
    tx = batch.transaction()
    began = batch.now()
    today = batch.clock_us // rows.US_PER_DAY

    encounter_numbers = _numbers_after(
        conn, encounters.c.encounter_id, rows.ENCOUNTER_ID_BASE, _share(n, 4)
    )
    known = int(pc.max(encounter_numbers).as_py()) + 1
    admitted = pc.subtract(
        pa.scalar(today, pa.int64()),
        rand.below(rows.key(seed, "admit_lag"), encounter_numbers, 3),
    )
    new_encounters = rows.encounter_rows(
        seed, encounter_numbers, generator.patient_count(known), admitted,
        rows.timestamps(batch.times(len(encounter_numbers))),
    )  # fmt: skip
    batch.insert(tx, encounters, database.arrow_table(encounters, new_encounters))

    numbers = _numbers_after(conn, charge_detail.c.charge_id, rows.CHARGE_ID_BASE, n)
    encounter_of = rand.below(rows.key(seed, "charge_encounter"), numbers, known)
    service = pc.subtract(
        pa.scalar(today, pa.int64()), rand.below(rows.key(seed, "service_lag"), numbers, 3)
    )
    new_charges = rows.charge_rows(
        seed, numbers, encounter_of, service, rows.timestamps(batch.times(n))
    )
    batch.insert(tx, charge_detail, database.arrow_table(charge_detail, new_charges))

    supply_numbers = _numbers_after(
        conn, supply_consumption.c.consumption_id, rows.CONSUMPTION_ID_BASE, _share(n, 2)
    )
    supply_encounter = rand.below(rows.key(seed, "supply_encounter"), supply_numbers, known)
    consumed = pc.subtract(batch.times(len(supply_numbers)), 3_600_000_000)
    new_supply = rows.supply_rows(seed, supply_numbers, supply_encounter, consumed)
    new_supply["last_modified"] = rows.timestamps(pc.add(consumed, 3_600_000_000))
    batch.insert(tx, supply_consumption, database.arrow_table(supply_consumption, new_supply))
    batch.commit(tx, began, batch.now())


def _updates(batch: _Batch, charge_ids: pa.Array) -> None:
    n = batch.mutation.updates
    if not n:
        return
    conn = batch.conn
    tx = batch.transaction()
    began = batch.now()

    before = database.select(conn, charge_detail, "charge_id", charge_ids.to_pylist())
    quantity = before.column("quantity")
    more = pc.add(quantity, 1)
    amount = pc.cast(before.column("amount"), pa.float64())
    scaled = pc.cast(
        pc.round(pc.divide(pc.multiply(amount, pc.cast(more, pa.float64())), quantity), 2),
        pa.decimal128(12, 2),
    )
    credit = pc.equal(pc.bit_wise_and(before.column("charge_id"), 3), 0)
    after = database.with_columns(
        before,
        quantity=pc.if_else(credit, quantity, more),
        amount=pc.if_else(credit, before.column("amount"), scaled),
        charge_status=pc.if_else(credit, "C", before.column("charge_status")),
        last_modified=rows.timestamps(batch.times(before.num_rows)),
    )
    batch.update(tx, charge_detail, before, after)

    before = _pick(batch, encounters, _share(n, 4))
    stay = pc.add(pc.cast(before.column("admit_date").cast(pa.int32()), pa.int64()), 2)
    after = database.with_columns(
        before,
        discharge_date=rows.dates(stay),
        last_modified=rows.timestamps(batch.times(before.num_rows)),
    )
    batch.update(tx, encounters, before, after)

    before = _pick(batch, supply_consumption, _share(n, 4))
    after = database.with_columns(
        before,
        quantity=pc.add(before.column("quantity"), 1),
        last_modified=rows.timestamps(batch.times(before.num_rows)),
    )
    batch.update(tx, supply_consumption, before, after)

    before = _pick(batch, clinicians, _share(n, 10))
    status = pc.index_in(before.column("credentialing_status"), pa.array(rows.CREDENTIALING))
    expiry = pc.add(pc.cast(before.column("license_expiry").cast(pa.int32()), pa.int64()), 365)
    after = database.with_columns(
        before,
        credentialing_status=pc.take(
            pa.array(rows.CREDENTIALING), pc.bit_wise_and(pc.add(status, 1), 3)
        ),
        license_expiry=rows.dates(expiry),
        last_modified=rows.timestamps(batch.times(before.num_rows)),
    )
    batch.update(tx, clinicians, before, after)

    before = _pick(batch, device_assets, _share(n, 10))
    facility = pc.index_in(
        before.column("facility_code").combine_chunks(), rows.DEPARTMENTS.facility
    )
    numbers = pc.cast(pc.add(rand.arange(before.num_rows), batch.mutation.batch << 32), pa.uint64())
    moved = rows.DEPARTMENTS.pick(batch.seed, "asset_move", numbers, facility, "department")
    after = database.with_columns(
        before,
        department_code=pc.take(rows.DEPARTMENTS.department, moved),
        last_modified=rows.timestamps(batch.times(before.num_rows)),
    )
    batch.update(tx, device_assets, before, after)
    batch.commit(tx, began, batch.now())


def _pick(batch: _Batch, table: sa.Table, n: int) -> pa.Table:
    """`n` rows of `table` drawn for this batch (current values)."""
    key = key_of(table)
    keys = batch.ranked(table.name, database.column_values(batch.conn, table.c[key]))[:n]
    return database.select(batch.conn, table, key, keys.to_pylist())


def _deletes(batch: _Batch, charge_ids: pa.Array) -> None:
    n = batch.mutation.deletes
    if not n:
        return
    tx = batch.transaction()
    began = batch.now()
    batch.delete(tx, sfm_charge_overlay, charge_ids)
    batch.delete(tx, charge_detail, charge_ids)
    supply = database.column_values(batch.conn, supply_consumption.c.consumption_id)
    batch.delete(tx, supply_consumption, batch.ranked("supply_delete", supply)[: _share(n, 2)])
    batch.commit(tx, began, began)


def _overlays(batch: _Batch, candidates: pa.Array) -> None:
    n = batch.mutation.overlays
    if not n:
        return
    conn = batch.conn
    tx = batch.transaction()
    began = batch.now()
    existing = database.column_values(conn, sfm_charge_overlay.c.charge_id)
    has_overlay = pc.is_in(candidates, existing)
    changed = pc.filter(candidates, has_overlay)[: n // 2]
    new = pc.filter(candidates, pc.invert(has_overlay))[: n - len(changed)]

    charges = database.select(conn, charge_detail, "charge_id", new.to_pylist())
    overlays = rows.overlay_rows(
        batch.seed, charges, batch.mutation.batch, rows.timestamps(batch.times(len(new)))
    )
    batch.insert(tx, sfm_charge_overlay, database.arrow_table(sfm_charge_overlay, overlays))

    before = database.select(conn, sfm_charge_overlay, "charge_id", changed.to_pylist())
    charges = database.select(conn, charge_detail, "charge_id", changed.to_pylist())
    overlays = rows.overlay_rows(
        batch.seed, charges, batch.mutation.batch, rows.timestamps(batch.times(len(changed)))
    )
    batch.update(tx, sfm_charge_overlay, before, database.arrow_table(sfm_charge_overlay, overlays))
    batch.commit(tx, began, batch.now())


def _late(batch: _Batch, charge_ids: pa.Array) -> None:
    if not len(charge_ids):
        return
    tx = batch.transaction()
    committed = batch.now()
    written = rows.epoch_us(batch.watermark - batch.mutation.late_by)
    before = database.select(batch.conn, charge_detail, "charge_id", charge_ids.to_pylist())
    stamps = pc.add(pc.multiply(rand.arange(before.num_rows), _STEP_US), written)
    after = database.with_columns(
        before,
        amount=pc.cast(
            pc.add(pc.cast(before.column("amount"), pa.float64()), 1.0), pa.decimal128(12, 2)
        ),
        last_modified=rows.timestamps(stamps),
    )
    batch.update(tx, charge_detail, before, after, kind="late")
    batch.commit(tx, written, committed)
