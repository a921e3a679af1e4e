"""Manifests and the outbox hash chain: append, idempotent re-export, conflicts, tampering."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from decimal import Decimal

import pyarrow as pa
import pytest

from load.formats import load_spec
from load.manifest import (
    CHAIN_FILE,
    BatchConflictError,
    canonical_json,
    export_batch,
    make_batch_id,
    read_chain,
    verify_chain,
)

SPEC = load_spec("25B", "GlInterface")


def journal(day: int, amount: str = "25.00") -> pa.RecordBatch:
    n = 2
    return pa.record_batch(
        {
            "status": ["NEW"] * n,
            "ledger_id": pa.array([1] * n, pa.int64()),
            "accounting_date": pa.array([dt.date(2026, 10, day)] * n),
            "user_je_source_name": ["Epic Resolute"] * n,
            "user_je_category_name": ["Revenue"] * n,
            "currency_code": ["USD"] * n,
            "date_created": pa.array([dt.date(2026, 10, day)] * n),
            "actual_flag": ["A"] * n,
            "entered_dr": pa.array([Decimal(amount), None], pa.decimal128(18, 2)),
            "entered_cr": pa.array([None, Decimal(amount)], pa.decimal128(18, 2)),
        }
    )


def export(outbox, day: int, amount: str = "25.00", **scope_extra):
    scope = {"tenant": "t1", "stream": "epic_resolute_gl", "feed_date": dt.date(2026, 10, day)}
    scope.update(scope_extra)
    batch_id = make_batch_id("epic_resolute_gl", "t1", dt.date(2026, 10, day))
    return export_batch([journal(day, amount)], SPEC, outbox, batch_id, scope)


def test_batch_ids_are_stable_and_safe():
    assert make_batch_id("epic_resolute_gl", "tenant", dt.date(2026, 10, 5)) == (
        "epic_resolute_gl-tenant-2026-10-05"
    )
    odd = make_batch_id("epic", "St. Mary's/North", "2026-10-05")
    assert odd == make_batch_id("epic", "St. Mary's/North", "2026-10-05")
    assert "/" not in odd and "'" not in odd and " " not in odd
    assert odd != make_batch_id("epic", "St. Mary's_North", "2026-10-05")
    assert len(make_batch_id("x" * 500)) <= 120
    with pytest.raises(ValueError):
        make_batch_id()


def test_manifest_content_is_canonical_and_has_no_clock(tmp_path):
    result = export(tmp_path, 5)
    data = result.manifest_path.read_bytes()
    doc = json.loads(data)
    assert data == canonical_json(doc) and data.endswith(b"}\n")
    assert result.manifest_path.name == "GlInterface_epic_resolute_gl-t1-2026-10-05.manifest.json"
    assert doc["batch_id"] == "epic_resolute_gl-t1-2026-10-05"
    assert doc["scope"] == {
        "feed_date": "2026-10-05",
        "stream": "epic_resolute_gl",
        "tenant": "t1",
    }
    assert (doc["release"], doc["object"]) == ("25B", "GlInterface")
    zip_bytes = result.zip_path.read_bytes()
    assert doc["zip"] == {
        "name": "GlInterface_epic_resolute_gl-t1-2026-10-05.zip",
        "sha256": hashlib.sha256(zip_bytes).hexdigest(),
        "bytes": len(zip_bytes),
    }
    (entry,) = doc["files"]
    assert (entry["name"], entry["rows"]) == ("GlInterface.csv", 2)
    assert doc["control_totals"]["groups"] == [
        {
            "CURRENCY_CODE": "USD",
            "ENTERED_CR": "25.00",
            "ENTERED_DR": "25.00",
            "LEDGER_ID": "1",
            "rows": 2,
        }
    ]
    assert doc["previous_manifest_sha256"] is None
    assert "2026-10-05T" not in data.decode() and str(dt.date.today().year + 1) not in data.decode()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "GlInterface_epic_resolute_gl-t1-2026-10-05.manifest.json",
        "GlInterface_epic_resolute_gl-t1-2026-10-05.zip",
        CHAIN_FILE,
    ]


def test_chain_links_each_manifest_to_the_previous_one(tmp_path):
    first = export(tmp_path, 5)
    second = export(tmp_path, 6)
    third = export(tmp_path, 7)
    assert second.manifest["previous_manifest_sha256"] == first.manifest_sha256
    assert third.manifest["previous_manifest_sha256"] == second.manifest_sha256
    chain = read_chain(tmp_path)
    assert [e.batch_id for e in chain] == [first.batch_id, second.batch_id, third.batch_id]
    assert chain[1].manifest_sha256 == hashlib.sha256(second.manifest_path.read_bytes()).hexdigest()
    report = verify_chain(tmp_path)
    assert report.ok and report.batches == 3


def test_a_crashed_exports_staging_is_cleaned_by_the_next_export(tmp_path):
    dead = tmp_path / ".staged-999999999"  # no process has this pid
    dead.mkdir()
    (dead / "GlInterface_half.zip").write_bytes(b"half-written")
    live = tmp_path / f".staged-{os.getppid()}"  # a live process's export is left alone
    live.mkdir()

    export(tmp_path, 5)

    assert not dead.exists()
    assert live.exists()
    assert verify_chain(tmp_path).ok


def test_reexporting_a_batch_reproduces_its_bytes(tmp_path):
    first = export(tmp_path, 5)
    second = export(tmp_path, 6)
    export(tmp_path, 7)
    zip_before = second.zip_path.read_bytes()
    manifest_before = second.manifest_path.read_bytes()
    chain_before = (tmp_path / CHAIN_FILE).read_bytes()

    again = export(tmp_path, 6)

    assert again.reexport
    assert again.manifest["previous_manifest_sha256"] == first.manifest_sha256
    assert again.manifest_sha256 == second.manifest_sha256
    assert second.zip_path.read_bytes() == zip_before
    assert second.manifest_path.read_bytes() == manifest_before
    assert (tmp_path / CHAIN_FILE).read_bytes() == chain_before
    assert verify_chain(tmp_path).ok


def test_reexport_restores_a_deleted_zip(tmp_path):
    result = export(tmp_path, 5)
    original = result.zip_path.read_bytes()
    result.zip_path.unlink()
    assert not verify_chain(tmp_path).ok
    export(tmp_path, 5)
    assert result.zip_path.read_bytes() == original
    assert verify_chain(tmp_path).ok


def test_reexport_with_different_content_is_refused(tmp_path):
    result = export(tmp_path, 5)
    zip_before = result.zip_path.read_bytes()
    with pytest.raises(BatchConflictError, match="never replaced"):
        export(tmp_path, 5, amount="26.00")
    assert result.zip_path.read_bytes() == zip_before
    assert len(read_chain(tmp_path)) == 1
    assert [p.name for p in tmp_path.glob(".staged-*")] == []
    assert verify_chain(tmp_path).ok


def test_reexport_with_a_different_scope_is_refused(tmp_path):
    export(tmp_path, 5)
    with pytest.raises(BatchConflictError, match="different manifest"):
        export(tmp_path, 5, domain="gl")


def test_verify_chain_detects_an_edited_manifest(tmp_path):
    export(tmp_path, 5)
    second = export(tmp_path, 6)
    doc = json.loads(second.manifest_path.read_bytes())
    doc["control_totals"]["groups"][0]["ENTERED_DR"] = "2500.00"
    second.manifest_path.write_bytes(canonical_json(doc))
    report = verify_chain(tmp_path)
    assert not report.ok
    assert any("was modified" in p and second.batch_id in p for p in report.problems)


def test_verify_chain_detects_a_removed_manifest_and_a_broken_link(tmp_path):
    export(tmp_path, 5)
    second = export(tmp_path, 6)
    export(tmp_path, 7)
    second.manifest_path.unlink()
    assert any("missing" in p for p in verify_chain(tmp_path).problems)

    lines = (tmp_path / CHAIN_FILE).read_text().splitlines()
    (tmp_path / CHAIN_FILE).write_text(lines[0] + "\n" + lines[2] + "\n")
    problems = verify_chain(tmp_path).problems
    assert any("link to the previous manifest is broken" in p for p in problems)


def test_verify_chain_detects_a_dropped_last_entry_and_a_replaced_zip(tmp_path):
    export(tmp_path, 5)
    last = export(tmp_path, 6)
    lines = (tmp_path / CHAIN_FILE).read_text().splitlines()
    (tmp_path / CHAIN_FILE).write_text(lines[0] + "\n")
    assert any("not in the chain" in p for p in verify_chain(tmp_path).problems)

    (tmp_path / CHAIN_FILE).write_text("\n".join(lines) + "\n")
    last.zip_path.write_bytes(b"PK not the original")
    assert any("does not match its manifest" in p for p in verify_chain(tmp_path).problems)


def test_zip_name_owned_by_another_batch_is_refused(tmp_path):
    export(tmp_path, 5)
    with pytest.raises(BatchConflictError, match="already belongs"):
        export_batch(
            [journal(6)],
            SPEC,
            tmp_path,
            "other-batch",
            {"tenant": "t1"},
            zip_name="GlInterface_epic_resolute_gl-t1-2026-10-05.zip",
        )
