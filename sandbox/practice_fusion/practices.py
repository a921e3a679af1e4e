"""Synthetic ambulatory practices: providers, patients and charges, and their mutation stream.

Each practice's rows are a pure function of (seed, practice, size); mutation batch k (inserts,
updates, deletes) is a pure function of (seed, practice, k) applied to the rows as they stand,
so the same batches in the same order give the same rows on every run. The first patients of
every practice are the canaries (`sandbox.canaries`). Every change gets the practice's next
change sequence number and a timestamp on the practice's logical clock: batch k happens at
`START + k hours`, one second per change. Some new charges of a batch are "late": stamped
`LATE_SECONDS / 2` before the newest change of the previous batch (a transaction that began
then and committed only now), so a changed-since poll without an overlap window misses them.

The Practice Fusion and Unity stand-ins both serve these practices.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.canaries import CANARY_MRNS, CANARY_NAMES
from sandbox.world import GIVEN_NAMES, SURNAMES

ENTITIES = ("providers", "patients", "charges")
KEYS = {"providers": "provider_id", "patients": "patient_id", "charges": "charge_id"}
START = datetime(2026, 10, 1, tzinfo=UTC)
LATE_SECONDS = 300
PROVIDERS_PER_PRACTICE = 4
SPECIALTIES = ("Family Medicine", "Internal Medicine", "Pediatrics", "Dermatology")
CPT_FEES = {"99213": 92.0, "99214": 131.0, "99203": 110.0, "36415": 3.0, "90471": 25.0}
ICD10 = ("E11.9", "I10", "J06.9", "M54.5", "Z00.00", "K21.9")

Row = dict[str, Any]


@dataclass
class Change:
    """One entity's latest change: its row, or None once deleted."""

    seq: int
    changed_at: datetime
    row: Row | None


@dataclass
class ChangeLog:
    """The current state of one entity of one practice, in the order rows last changed."""

    latest: dict[str, Change] = field(default_factory=dict)
    _order: list[tuple[int, str]] = field(default_factory=list)

    def put(self, key: str, change: Change) -> None:
        self.latest[key] = change
        self._order.append((change.seq, key))

    def rows(self) -> list[Row]:
        """Live rows, by key."""
        return [c.row for _, c in sorted(self.latest.items()) if c.row is not None]

    def after(self, seq: int, limit: int) -> tuple[list[tuple[str, Change]], bool]:
        """Up to `limit` latest changes with a sequence number above `seq`, oldest first, and
        whether more follow."""
        found: list[tuple[str, Change]] = []
        start = bisect_right(self._order, (seq, "\uffff"))
        for change_seq, key in self._order[start:]:
            change = self.latest[key]
            if change.seq != change_seq:
                continue  # superseded by a later change of the same key
            if len(found) == limit:
                return found, True
            found.append((key, change))
        return found, False

    def changed_since(self, moment: datetime) -> list[tuple[str, Change]]:
        """Latest changes stamped at or after `moment`, in stamp order."""
        hits = [(k, c) for k, c in self.latest.items() if c.changed_at >= moment]
        return sorted(hits, key=lambda kc: (kc[1].changed_at, kc[1].seq))


@dataclass
class Practice:
    """One practice's entities, its change counter and its logical clock."""

    practice_id: str
    seed: int
    logs: dict[str, ChangeLog] = field(default_factory=lambda: {e: ChangeLog() for e in ENTITIES})
    seq: int = 0
    batches: int = 0
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENTITIES, 0))
    clock: datetime = START
    late_stamp: datetime = START

    def record(self, entity: str, key: str, row: Row | None, late: bool = False) -> None:
        self.seq += 1
        self.clock += timedelta(seconds=1)
        stamp = self.late_stamp if late else self.clock
        if row is not None:
            row = {**row, "updated_at": stamp}
        self.logs[entity].put(key, Change(self.seq, stamp, row))

    def next_id(self, entity: str) -> str:
        self.counters[entity] += 1
        prefix = {"providers": "D", "patients": "P", "charges": "C"}[entity]
        return f"{self.practice_id}-{prefix}{self.counters[entity]:06d}"

    def live_keys(self, entity: str) -> list[str]:
        return sorted(k for k, c in self.logs[entity].latest.items() if c.row is not None)


def build_practice(seed: int, practice_id: str, charges: int) -> Practice:
    """A practice with its providers, patients (canaries first) and `charges` charges."""
    practice = Practice(practice_id, seed)
    rng = random.Random(f"{seed}:{practice_id}:initial")
    for _ in range(PROVIDERS_PER_PRACTICE):
        key = practice.next_id("providers")
        practice.record("providers", key, _provider(rng, key))
    for n in range(max(len(CANARY_MRNS), charges // 4)):
        key = practice.next_id("patients")
        practice.record("patients", key, _patient(rng, key, n))
    for _ in range(charges):
        practice.record("charges", key := practice.next_id("charges"), _charge(rng, practice, key))
    return practice


def mutate(practice: Practice, size: int) -> dict[str, int]:
    """Apply the practice's next mutation batch: `size` new charges, `size` updated ones,
    `size // 2` (at least one) deleted ones, one patient moved and one provider re-titled.
    Every fourth new charge is late. Returns the counts."""
    practice.batches += 1
    practice.late_stamp = practice.clock - timedelta(seconds=LATE_SECONDS // 2)
    practice.clock = max(practice.clock, START + timedelta(hours=practice.batches))
    rng = random.Random(f"{practice.seed}:{practice.practice_id}:batch:{practice.batches}")
    counts = {"inserts": 0, "updates": 0, "deletes": 0}
    for n in range(size):
        key = practice.next_id("charges")
        practice.record("charges", key, _charge(rng, practice, key), late=n % 4 == 3)
        counts["inserts"] += 1
    live = practice.live_keys("charges")
    for key in rng.sample(live, min(size, len(live))):
        row = dict(practice.logs["charges"].latest[key].row or {})
        row["units"] += 1
        row["amount"] = _money(rng.uniform(5, 400))
        row["status"] = "corrected"
        practice.record("charges", key, row)
        counts["updates"] += 1
    live = practice.live_keys("charges")
    for key in rng.sample(live, min(max(1, size // 2), len(live))):
        practice.record("charges", key, None)
        counts["deletes"] += 1
    patient = rng.choice(practice.live_keys("patients"))
    moved = dict(practice.logs["patients"].latest[patient].row or {})
    moved["postal_code"] = f"{rng.randrange(10000, 99999)}"
    practice.record("patients", patient, moved)
    provider = rng.choice(practice.live_keys("providers"))
    retitled = dict(practice.logs["providers"].latest[provider].row or {})
    retitled["specialty"] = rng.choice(SPECIALTIES)
    practice.record("providers", provider, retitled)
    counts["updates"] += 2
    return counts


def _provider(rng: random.Random, key: str) -> Row:
    return {
        "provider_id": key,
        "npi": f"1{rng.randrange(10**8, 10**9)}",
        "last_name": rng.choice(SURNAMES),
        "first_name": rng.choice(GIVEN_NAMES),
        "specialty": rng.choice(SPECIALTIES),
    }


def _patient(rng: random.Random, key: str, n: int) -> Row:
    if n < len(CANARY_MRNS):
        last, first = CANARY_NAMES[n].split(",")
        mrn = CANARY_MRNS[n]
    else:
        last, first = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
        mrn = f"PF{rng.randrange(10**7, 10**8)}"
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 80))
    return {
        "patient_id": key,
        "mrn": mrn,
        "last_name": last,
        "first_name": first,
        "birth_date": born.isoformat(),
        "sex": rng.choice("FMU"),
        "postal_code": f"{rng.randrange(10000, 99999)}",
    }


def _charge(rng: random.Random, practice: Practice, key: str) -> Row:
    cpt = rng.choice(sorted(CPT_FEES))
    units = rng.randint(1, 3)
    return {
        "charge_id": key,
        "patient_id": rng.choice(practice.live_keys("patients")),
        "provider_id": rng.choice(practice.live_keys("providers")),
        "service_date": (START.date() - timedelta(days=rng.randrange(0, 60))).isoformat(),
        "cpt_code": cpt,
        "icd10_code": rng.choice(ICD10),
        "units": units,
        "amount": _money(CPT_FEES[cpt] * units),
        "status": "posted",
    }


def _money(value: float) -> str:
    return f"{value:.2f}"
