"""The Epic Resolute journal feed -> Fusion GL Journal Import slice, end to end through the
sandbox, on DuckDB and on a real Postgres."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from extract.epic.resolute.helpers import (
    FeedContractError,
    feed_day,
    feed_files,
    unrecognised_files,
)
from load.formats import load_spec
from runtime.core.phi import pseudonymize
from sandbox.canaries import CANARY_ACCOUNTS, CANARY_MRNS, CANARY_NAMES
from sandbox.generate import generate
from tests.conftest import PG_PASSWORD, WORLD_SCALE

FIELDS = load_spec("25B", "GlInterface").field_count


def csv_rows(zip_path: str) -> list[list[str]]:
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.namelist() == ["GlInterface.csv"]
        text = archive.read("GlInterface.csv").decode("utf-8")
    return list(csv.reader(io.StringIO(text)))


def test_feed_files_become_balanced_journal_import_files(world):
    code, summary = world.run()

    assert code == 0, summary
    assert summary["status"] == "ok"
    assert summary["dbt"]["success"] and summary["dbt"]["checks_failed"] == []
    assert summary["dbt"]["checks_passed"] >= 30
    assert summary["extract"]["rows"] == summary["reconciliation"]["source_lines"]
    assert len(summary["extract"]["files_loaded"]) == 31
    batches = summary["export"]["batches"]
    assert len(batches) == 31
    exported_lines = 0
    for batch in batches:
        rows = csv_rows(batch["zip"])
        assert rows and {len(row) for row in rows} == {FIELDS}
        debit = sum(Decimal(r[38]) for r in rows if r[38])
        credit = sum(Decimal(r[39]) for r in rows if r[39])
        assert debit == credit
        assert {r[0] for r in rows} == {"NEW"}
        assert {r[42] for r in rows} == {"EPIC RESOLUTE " + batch["feed_date"].replace("-", "")}
        assert batch["control_totals"][0]["ENTERED_DR"] == str(debit)
        exported_lines += len(rows)
    assert exported_lines == summary["export"]["lines"]
    recon = summary["reconciliation"]
    assert recon["status"] == "reconciled"
    assert recon["source_lines"] == recon["exported_lines"] + recon["exception_lines"]
    assert Decimal(recon["source_debit"]) == Decimal(recon["exported_debit"]) + Decimal(
        recon["exception_debit"]
    )


def test_bad_lines_are_held_with_reasons_and_never_half_posted(world):
    code, summary = world.run()
    assert code == 0
    reasons = summary["exceptions"]["by_reason"]
    for reason in ("missing_amount", "non_numeric_amount", "unmapped_coa", "closed_period"):
        assert reasons.get(reason, 0) > 0, reason
    marts = world.warehouse.schema("marts")
    half_posted = world.warehouse.query(
        f"select count(*) from {marts}.fusion__gl_interface as posted "
        f"inner join {marts}.exceptions__gl_journal_lines as held "
        "on posted.reference4 = held.journal_id"
    )
    assert half_posted == [(0,)]


def test_pseudonyms_in_the_warehouse_equal_the_python_implementation(world, phi_key):
    assert world.run()[0] == 0
    raw, marts = world.warehouse.schema("raw_epic"), world.warehouse.schema("marts")
    rows = world.warehouse.query(
        f"select raw.pat_mrn_id, raw.hsp_account_id, posted.reference22, posted.reference21 "
        f"from {raw}.resolute_journal_lines as raw inner join {marts}.fusion__gl_interface "
        "as posted on raw.journal_line_id = posted.source_line_id "
        "order by raw.journal_line_id limit 50"
    )
    assert len(rows) == 50
    for mrn, account, mrn_pseudonym, account_pseudonym in rows:
        assert mrn_pseudonym == pseudonymize(mrn, "mrn", phi_key)
        assert account_pseudonym == pseudonymize(account, "hospital_account", phi_key)


def test_the_same_scope_twice_gives_the_same_bytes_and_no_duplicates(world):
    assert world.run()[0] == 0
    raw = world.warehouse.schema("raw_epic")
    lines_before = world.warehouse.query(f"select count(*) from {raw}.resolute_journal_lines")
    zip_bytes = {p.name: p.read_bytes() for p in world.outbox.glob("*.zip")}

    code, again = world.run()
    assert code == 0
    assert again["extract"]["rows"] == 0 and again["extract"]["files_skipped"] == 31
    assert again["export"]["batches"] == []

    code, reexport = world.run("--feed-date", "2026-10-07", "--feed-date", "2026-10-20")
    assert code == 0
    assert [b["reexport"] for b in reexport["export"]["batches"]] == [True, True]
    assert {p.name: p.read_bytes() for p in world.outbox.glob("*.zip")} == zip_bytes
    lines_after = world.warehouse.query(f"select count(*) from {raw}.resolute_journal_lines")
    assert lines_after == lines_before


def test_a_new_feed_day_is_the_only_thing_the_next_run_processes(world, tmp_path):
    assert world.run()[0] == 0
    generate(
        tmp_path / "next", seed=11, scale=WORLD_SCALE // 31, start_date=date(2026, 11, 1), days=1
    )
    new_file = "resolute_journal_20261101.parquet"
    shutil.copy(tmp_path / "next" / "epic" / "resolute" / new_file, world.drop / new_file)

    code, summary = world.run()
    assert code == 0
    assert summary["extract"]["files_loaded"] == [new_file]
    assert summary["extract"]["files_skipped"] == 31
    assert [b["feed_date"] for b in summary["export"]["batches"]] == ["2026-11-01"]


def test_unreadable_and_mismatched_files_are_dead_lettered_and_the_rest_reconciles(world):
    truncated = world.drop / "resolute_journal_20261003.parquet"
    truncated.write_bytes(truncated.read_bytes()[:500])
    mismatched = world.drop / "resolute_journal_20261004.parquet"
    pq.write_table(pq.read_table(mismatched).drop_columns(["GL_ACCOUNT"]), mismatched)

    code, summary = world.run()

    assert code == 0
    dead = {d["file"]: d["reason_code"] for d in summary["extract"]["dead_letters"]}
    assert dead == {truncated.name: "unreadable_file", mismatched.name: "schema_mismatch"}
    assert len(summary["extract"]["files_loaded"]) == 29
    assert summary["reconciliation"]["status"] == "reconciled"
    raw = world.warehouse.schema("raw_epic")
    stored = world.warehouse.query(
        f"select object_name, reason, quarantined_path from {raw}.dead_letter order by 1"
    )
    assert [row[0] for row in stored] == sorted(dead)
    assert "missing columns: GL_ACCOUNT" in stored[1][1]
    for _, _, quarantined in stored:
        assert Path(quarantined).is_file()


def test_no_phi_or_key_in_outbox_logs_target_or_output(world, phi_key):
    code, summary = world.run()
    assert code == 0
    canaries = [*CANARY_MRNS, *CANARY_NAMES, *CANARY_ACCOUNTS]
    assert canaries
    secrets = [phi_key, PG_PASSWORD]
    texts = {"cli output": json.dumps(summary)}
    for folder in (world.root / "outbox", world.root / "work"):
        for path in folder.rglob("*"):
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as archive:
                    for name in archive.namelist():
                        texts[f"{path}:{name}"] = archive.read(name).decode("utf-8", "replace")
            elif path.is_file():
                texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert any("target" in name for name in texts) and any("logs" in name for name in texts)
    for name, text in texts.items():
        for value in canaries + secrets:
            assert value not in text, f"{value!r} found in {name}"


def test_a_failing_dbt_test_stops_the_run_before_anything_is_exported(world):
    # The same journal lines delivered again under a new feed day: a valid file whose line ids
    # duplicate lines already landed.
    table = pq.read_table(world.drop / "resolute_journal_20261005.parquet")
    redelivered = date(2026, 11, 2)
    for name in ("POST_DATE", "GL_DATE"):
        index = table.schema.get_field_index(name)
        column = pa.array([redelivered] * table.num_rows, pa.date32())
        table = table.set_column(index, name, column)
    pq.write_table(table, world.drop / "resolute_journal_20261102.parquet")

    code, summary = world.run()

    assert code == 3
    assert summary["status"] == "quality_gate_failed"
    failed = {c["name"]: c for c in summary["dbt"]["checks_failed"]}
    duplicate = failed["resolute_daily_files_deliver_each_line_once"]
    assert duplicate["failures"] == table.num_rows
    assert duplicate["failures_relation"]
    assert summary["export"]["batches"] == []
    assert not list(world.outbox.glob("*.zip"))


def test_a_missing_drop_folder_stops_with_a_config_error(world):
    shutil.rmtree(world.drop)

    code, summary = world.run()

    assert code == 2
    assert "drop folder" in summary["error"] and "does not exist" in summary["error"]


def test_a_misnamed_file_is_dead_lettered_and_an_unrecognised_one_reported(world):
    # A day that is no calendar date, and a name that is not the feed's pattern at all.
    misnamed = world.drop / "resolute_journal_20261340.parquet"
    (world.drop / "resolute_journal_20261003.parquet").rename(misnamed)
    unrecognised = world.drop / "resolute_journal_2026-10-04.parquet"
    (world.drop / "resolute_journal_20261004.parquet").rename(unrecognised)

    code, summary = world.run()

    assert code == 0, summary["message"]
    dead = {d["file"]: d["reason_code"] for d in summary["extract"]["dead_letters"]}
    assert dead == {misnamed.name: "invalid_file_name"}
    assert summary["extract"]["files_unrecognised"] == [unrecognised.name]
    assert len(summary["extract"]["files_loaded"]) == 29
    assert summary["reconciliation"]["status"] == "reconciled"
    raw = world.warehouse.schema("raw_epic")
    [(name, reason, quarantined)] = world.warehouse.query(
        f"select object_name, reason, quarantined_path from {raw}.dead_letter"
    )
    assert name == misnamed.name and "20261340" in reason and "YYYYMMDD" in reason
    assert Path(quarantined).is_file()
    metrics = (world.root / "metrics" / "ehrfusion-testhosp-epic-gl_journal.prom").read_text()
    assert "ehrfusion_unrecognised_files" in metrics

    # The next run loads what arrives next; the quarantined file is not retried, the
    # unrecognised one is still reported until it is renamed or removed.
    code, again = world.run()
    assert code == 0
    assert again["extract"]["dead_letters"] == []
    assert again["extract"]["files_unrecognised"] == [unrecognised.name]
    unrecognised.rename(world.drop / "resolute_journal_20261004.parquet")
    code, renamed = world.run()
    assert code == 0
    assert renamed["extract"]["files_loaded"] == ["resolute_journal_20261004.parquet"]
    assert renamed["extract"]["files_unrecognised"] == []


def test_feed_names_are_ordered_by_day_checked_and_the_others_listed(tmp_path):
    names = [
        "resolute_restatement_20261001.parquet",
        "resolute_journal_20261001.parquet",
        "resolute_journal_20261340.parquet",  # no calendar day
        "resolute_journal_2026-10-04.parquet",  # not the feed's pattern
        "notes.txt",
        ".resolute_journal_20261002.parquet.part",  # an upload in progress
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")

    listed = [(path.name, day, kind) for path, day, kind in feed_files(tmp_path)]

    assert listed == [
        ("resolute_journal_20261340.parquet", None, "journal"),
        ("resolute_journal_20261001.parquet", date(2026, 10, 1), "journal"),
        ("resolute_restatement_20261001.parquet", date(2026, 10, 1), "restatement"),
    ]
    assert unrecognised_files(tmp_path) == ["notes.txt", "resolute_journal_2026-10-04.parquet"]
    with pytest.raises(FeedContractError) as refused:
        feed_day(tmp_path / "resolute_journal_20261340.parquet")
    assert refused.value.reason_code == "invalid_file_name"
    assert "20261340" in str(refused.value)
