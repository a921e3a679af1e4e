"""The accounting of disclosures: a hash-chained log in the warehouse and a mirror file, on both
engines. Tampering in either store, a rebuilt warehouse and purges are all caught by verify."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import stat
import threading
from datetime import UTC, datetime, timedelta

import pytest

from runtime.compliance.audit import AuditError, DisclosureLog, DisclosureRecord
from runtime.compliance.audit_chain import GENESIS_HASH, canonical_json, entry_hash
from runtime.core.config import AuditSettings
from runtime.core.warehouse import Warehouse
from tests.conftest import TENANT

NOW = datetime(2032, 6, 15, 12, 0, tzinfo=UTC)
SCOPE = "gl_journal:fusion__gl_interface:testhosp-epic-gl_journal-20260105"
RECIPIENT = "Oracle Fusion Cloud (EHF US Primary Ledger)"
PURPOSE = "payment and health care operations"


def pseudonym(i: int) -> str:
    return hashlib.sha256(f"patient-{i}".encode()).hexdigest()


def records(n: int, start: int = 0, at: datetime | None = None, action: str = "disclose"):
    return [
        DisclosureRecord(
            patient_pseudonym=pseudonym(start + i),
            scope=SCOPE,
            purpose=PURPOSE,
            recipient=RECIPIENT,
            action=action,
            recorded_at=at,
        )
        for i in range(n)
    ]


@pytest.fixture
def settings(tmp_path) -> AuditSettings:
    mirror = tmp_path / "audit" / f"{TENANT}.disclosures.jsonl"
    return AuditSettings(principal="svc-ehrfusion", mirror_file=mirror, syslog=None)


@pytest.fixture
def log(warehouse, settings) -> DisclosureLog:
    return DisclosureLog(warehouse, TENANT, settings)


def mirror_lines(log: DisclosureLog) -> list[str]:
    return log.mirror.read_text().splitlines(keepends=True)


def everything(log: DisclosureLog) -> list[dict]:
    return list(log.export(datetime(1970, 1, 1, tzinfo=UTC)))


def test_appended_entries_chain_in_both_stores_and_verify(log):
    assert log.append(records(3)) == 3
    assert log.append(records(2, start=3)) == 2

    entries = everything(log)
    assert [e["sequence"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["previous_hash"] == GENESIS_HASH
    for prev, entry in itertools.pairwise(entries):
        assert entry["previous_hash"] == prev["entry_hash"]
    for entry in entries:
        body = {k: v for k, v in entry.items() if k != "entry_hash"}
        expected = hashlib.sha256(canonical_json(body).encode()).hexdigest()
        assert entry["entry_hash"] == expected == entry_hash(entry)
    assert [json.loads(line) for line in mirror_lines(log)] == entries

    report = log.verify()
    assert report.ok, report.problems
    assert (report.warehouse_entries, report.mirror_entries) == (5, 5)


def test_entry_fields(log):
    log.append([*records(1), *records(1, start=1, at=NOW, action="write")])
    first, second = everything(log)
    assert first["tenant"] == TENANT
    assert first["principal"] == "svc-ehrfusion"
    assert first["action"] == "disclose"
    assert (first["scope"], first["purpose"], first["recipient"]) == (SCOPE, PURPOSE, RECIPIENT)
    assert first["patient_pseudonym"] == pseudonym(0)
    assert first["recorded_at"].endswith("Z")
    assert datetime.fromisoformat(first["recorded_at"]).tzinfo is not None
    assert second["recorded_at"] == "2032-06-15T12:00:00.000000Z"
    assert second["action"] == "write"


def test_mirror_is_private_to_its_owner(log):
    log.append(records(1))
    assert stat.S_IMODE(log.mirror.stat().st_mode) == 0o600


def test_raw_identifiers_are_refused_without_echoing_them(log):
    raw = DisclosureRecord("MRN-0048213", SCOPE, PURPOSE, RECIPIENT)
    with pytest.raises(ValueError) as caught:
        log.append([*records(2), raw])
    assert "MRN-0048213" not in str(caught.value)
    assert "record 2" in str(caught.value)
    assert not log.mirror.exists()


def test_only_disclose_and_write_are_appended_by_callers(log):
    with pytest.raises(ValueError, match="action"):
        log.append(records(1, action="purge"))


def test_an_empty_log_verifies(log):
    report = log.verify()
    assert report.ok
    assert (report.warehouse_entries, report.mirror_entries) == (0, 0)


# tampering in the warehouse ------------------------------------------------------------------
def _problems_after(log: DisclosureLog, *statements: str) -> list[str]:
    log.append(records(10))
    table = log.table
    for sql in statements:
        log.warehouse.query(sql.format(table=table))
    report = log.verify()
    assert not report.ok
    return report.problems


def test_edit_in_the_warehouse_is_detected(log):
    problems = _problems_after(
        log, "update {table} set recipient = 'someone else' where sequence = 5"
    )
    assert problems == ["warehouse: entry 5 edited", "mirror and warehouse disagree at 5"]


def test_edit_with_a_recomputed_hash_breaks_the_chain(log):
    log.append(records(10))
    entry = everything(log)[4]
    entry["purpose"] = "marketing"
    forged = entry_hash(entry)
    log.warehouse.query(
        f"update {log.table} set purpose = 'marketing', entry_hash = %s where sequence = 5",
        (forged,),
    )
    assert log.verify().problems == [
        "warehouse: entry 6 does not chain to entry 5",
        "mirror and warehouse disagree at 5",
    ]


def test_deletion_in_the_warehouse_is_detected(log):
    problems = _problems_after(log, "delete from {table} where sequence between 4 and 6")
    assert problems == ["warehouse: entries 4-6 missing", "entries 4-6 only in the mirror"]


def test_deleting_the_oldest_entries_is_detected(log):
    problems = _problems_after(log, "delete from {table} where sequence <= 2")
    assert problems == ["warehouse: entries 1-2 missing", "entries 1-2 only in the mirror"]


def test_reordering_in_the_warehouse_is_detected(log):
    # Swap the contents of entries 3 and 4 and keep their sequence numbers.
    problems = _problems_after(
        log,
        "create table {table}_swap as select * from {table} where sequence in (3, 4)",
        "delete from {table} where sequence in (3, 4)",
        "insert into {table} select 7 - sequence, recorded_at, tenant, principal, action, "
        "patient_pseudonym, scope, purpose, recipient, detail, previous_hash, entry_hash "
        "from {table}_swap",
    )
    assert "warehouse: entry 3 edited" in problems
    assert "warehouse: entry 4 edited" in problems
    assert "mirror and warehouse disagree at 3-4" in problems


def test_an_entry_inserted_in_the_warehouse_is_detected(log):
    log.append(records(10))
    last = everything(log)[-1]
    forged = dict(last, sequence=11, previous_hash=last["entry_hash"])
    forged["entry_hash"] = entry_hash(forged)
    columns = ", ".join(forged)
    log.warehouse.query(
        f"insert into {log.table} ({columns}) values ({', '.join(['%s'] * len(forged))})",
        tuple(forged.values()),
    )
    assert log.verify().problems == ["entry 11 only in the warehouse"]


# tampering in the mirror ---------------------------------------------------------------------
def _rewrite_mirror(log: DisclosureLog, change) -> list[str]:
    log.append(records(10))
    lines = mirror_lines(log)
    log.mirror.write_text("".join(change(lines)))
    report = log.verify()
    assert not report.ok
    return report.problems


def test_edit_in_the_mirror_is_detected(log):
    def edit(lines):
        entry = json.loads(lines[6])
        entry["purpose"] = "research"
        lines[6] = canonical_json(entry) + "\n"
        return lines

    assert _rewrite_mirror(log, edit) == [
        "mirror: entry 7 edited",
        "mirror and warehouse disagree at 7",
    ]


def test_deletion_in_the_mirror_is_detected(log):
    problems = _rewrite_mirror(log, lambda lines: lines[:2] + lines[5:])
    assert problems == ["mirror: entries 3-5 missing", "entries 3-5 only in the warehouse"]


def test_reordering_in_the_mirror_is_detected(log):
    problems = _rewrite_mirror(log, lambda lines: [*lines[:4], lines[5], lines[4], *lines[6:]])
    assert "mirror: entry 5 out of order (after entry 6)" in problems
    assert "entry 5 only in the warehouse" in problems


def test_a_duplicated_line_in_the_mirror_is_detected(log):
    problems = _rewrite_mirror(log, lambda lines: [*lines[:3], lines[2], *lines[3:]])
    assert problems == ["mirror: entry 3 out of order (after entry 3)"]


def test_an_unreadable_mirror_line_is_named_by_number(log):
    problems = _rewrite_mirror(log, lambda lines: [*lines[:1], "not json\n", *lines[1:]])
    assert problems == ["mirror: line 2 unreadable"]


def test_problems_name_sequences_never_contents(log):
    problems = _problems_after(log, "update {table} set scope = 'x' where sequence = 2")
    text = " ".join(problems)
    assert pseudonym(1) not in text and SCOPE not in text and RECIPIENT not in text


# rebuilds ------------------------------------------------------------------------------------
def test_a_rebuilt_warehouse_is_detected_and_restored_from_the_mirror(log):
    log.append(records(10))
    log.warehouse.query(f"drop table {log.table}")

    assert log.verify().problems == [
        f"warehouse: table {TENANT}_audit.disclosures is missing",
        "entries 1-10 only in the mirror",
    ]
    with pytest.raises(AuditError, match="disagree at 10"):
        log.append(records(1, start=10))
    assert len(mirror_lines(log)) == 10

    assert log.restore_from_mirror() == 10
    assert log.verify().ok
    log.append(records(1, start=10))
    assert log.verify().ok
    assert [e["sequence"] for e in everything(log)][-1] == 11


def test_restore_refuses_a_broken_mirror(log):
    log.append(records(5))
    lines = mirror_lines(log)
    log.mirror.write_text("".join(lines[:2] + lines[3:]))
    with pytest.raises(AuditError, match="entry 3 missing"):
        log.restore_from_mirror()
    assert len(everything(log)) == 5


def test_a_lost_mirror_stops_appends(log):
    log.append(records(3))
    log.mirror.unlink()
    assert log.verify().problems == ["mirror: file is missing", "entries 1-3 only in the warehouse"]
    with pytest.raises(AuditError, match="disagree at 3"):
        log.append(records(1))


# volume and concurrency ----------------------------------------------------------------------
@contextlib.contextmanager
def counting_statements(monkeypatch):
    """Counts statements (execute, COPY) sent through Warehouse.connect."""
    counter = {"statements": 0}
    original = Warehouse.connect

    class Counting:
        def __init__(self, target):
            self._target = target

        def __getattr__(self, name):
            attr = getattr(self._target, name)
            if name in ("execute", "executemany", "copy_expert", "copy_from"):

                def call(*args, **kwargs):
                    counter["statements"] += 1
                    return attr(*args, **kwargs)

                return call
            if name == "cursor":
                return lambda *args, **kwargs: Counting(attr(*args, **kwargs))
            return attr

    @contextlib.contextmanager
    def connect(self):
        with original(self) as con:
            yield Counting(con)

    with monkeypatch.context() as patch:
        patch.setattr(Warehouse, "connect", connect)
        yield counter


def test_bulk_append_takes_as_many_statements_as_a_single_entry(log, monkeypatch):
    log.append(records(1))
    with counting_statements(monkeypatch) as one:
        log.append(records(1, start=1))
    with counting_statements(monkeypatch) as bulk:
        assert log.append(records(50_000, start=2)) == 50_000
    assert bulk["statements"] == one["statements"] <= 6
    report = log.verify()
    assert report.ok, report.problems[:5]
    assert (report.warehouse_entries, report.mirror_entries) == (50_002, 50_002)


def test_concurrent_appenders_never_fork_the_chain(log):
    errors: list[BaseException] = []

    def appender(worker: int) -> None:
        try:
            for batch in range(5):
                log.append(records(20, start=worker * 1000 + batch * 20))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=appender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = log.verify()
    assert report.ok, report.problems
    assert [e["sequence"] for e in everything(log)] == list(range(1, 401))


# retention -----------------------------------------------------------------------------------
def test_purge_removes_only_entries_older_than_six_years(log):
    log.append(records(2, at=NOW - timedelta(days=7 * 365)))
    log.append(records(1, start=2, at=datetime(2026, 6, 15, 11, 59, tzinfo=UTC)))
    log.append(records(1, start=3, at=datetime(2026, 6, 15, 12, 1, tzinfo=UTC)))
    log.append(records(2, start=4, at=NOW - timedelta(days=1)))

    assert log.purge(NOW) == 3

    entries = everything(log)
    assert [e["sequence"] for e in entries] == [4, 5, 6, 7]
    assert all(e["recorded_at"] >= "2026-06-15T12:00:00.000000Z" for e in entries)
    purge = entries[-1]
    assert purge["action"] == "purge"
    assert purge["patient_pseudonym"] is None
    assert purge["detail"]["removed"] == 3
    assert (purge["detail"]["first_sequence"], purge["detail"]["last_sequence"]) == (1, 3)
    assert purge["detail"]["anchor_hash"] == entries[0]["previous_hash"]
    assert [json.loads(line) for line in mirror_lines(log)] == entries
    assert stat.S_IMODE(log.mirror.stat().st_mode) == 0o600
    report = log.verify()
    assert report.ok, report.problems

    assert log.purge(NOW) == 0
    assert log.purge(NOW + timedelta(days=366)) == 1
    report = log.verify()
    assert report.ok, report.problems
    assert [e["sequence"] for e in everything(log)] == [5, 6, 7, 8]


def test_purge_never_removes_a_younger_entry_that_precedes_an_older_one(log):
    old, young = NOW - timedelta(days=8 * 365), NOW - timedelta(days=365)
    log.append(records(1, at=old))
    log.append(records(1, start=1, at=young))
    log.append(records(1, start=2, at=old))
    assert log.purge(NOW) == 1
    assert [e["sequence"] for e in everything(log)] == [2, 3, 4]
    assert log.verify().ok


def test_deleting_past_a_purge_is_still_detected(log):
    log.append(records(2, at=NOW - timedelta(days=7 * 365)))
    log.append(records(3, start=2, at=NOW))
    log.purge(NOW)
    log.warehouse.query(f"delete from {log.table} where sequence = 3")
    lines = mirror_lines(log)
    log.mirror.write_text("".join(lines[1:]))
    assert log.verify().problems == ["mirror: entry 3 missing", "warehouse: entry 3 missing"]


# the accounting for one patient --------------------------------------------------------------
def test_report_lists_one_patients_disclosures_newest_first(log):
    patient = pseudonym(7)
    log.append(records(1, start=7, at=NOW - timedelta(days=30)))
    log.append(records(5, start=100))
    log.append(
        [
            DisclosureRecord(
                patient, "worker_sync:sunrise_helios:picklist", "operations", "Sunrise", "write"
            ),
            DisclosureRecord(patient, SCOPE, PURPOSE, RECIPIENT, recorded_at=NOW),
        ]
    )
    rows = log.report(patient)
    assert [r["sequence"] for r in rows] == [8, 7, 1]
    assert [r["action"] for r in rows] == ["disclose", "write", "disclose"]
    assert rows[1]["recipient"] == "Sunrise"
    assert rows[0]["purpose"] == PURPOSE and rows[0]["scope"] == SCOPE
    assert all(r["patient_pseudonym"] == patient for r in rows)
    assert log.report(pseudonym(999)) == []


def test_export_since(log):
    log.append(records(2, at=NOW - timedelta(days=10)))
    log.append(records(3, start=2, at=NOW))
    exported = list(log.export(NOW - timedelta(days=1)))
    assert [e["sequence"] for e in exported] == [3, 4, 5]
    assert list(log.export(NOW.replace(tzinfo=None) + timedelta(seconds=1))) == []


def test_another_tenants_warehouse_is_refused(tmp_path, settings):
    other = Warehouse("duckdb", "otherhosp", duckdb_path=tmp_path / "o.duckdb")
    with pytest.raises(ValueError, match="another tenant"):
        DisclosureLog(other, TENANT, settings)
