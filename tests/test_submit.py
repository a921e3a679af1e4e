"""Submission end to end: the domain's exported batches go to the Fusion simulator over real
HTTP on 127.0.0.1; posted lines, queue rows and crash recovery are checked against its books."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from load.formats import load_spec
from load.fusion_client import client_for_tenant, fusion_url
from load.outbox import Outbox
from runtime.pipeline.delivery.journal import JournalDelivery
from runtime.pipeline.domain import DomainContext
from runtime.pipeline.posting import Posting
from tests.conftest import TENANT, ledger_lines, set_knobs


@pytest.fixture
def exported(world) -> dict:
    """The domain run before Fusion is reachable: batches wait in the outbox."""
    code, summary = world.run()
    assert code == 0 and summary["submit"] is None
    return summary


@pytest.fixture
def fusion(exported, fusion):
    """Here Fusion becomes reachable only after the run exported its batches."""
    return fusion


def submit(world, events=None, **options):
    """The domain's journal delivery submitting its outbox (`options`: JournalDelivery's)."""
    tenant = world.config.tenants[TENANT]
    ctx = DomainContext.open(world.config, TENANT, "epic", "gl_journal", world.warehouse_arg)
    observer = events.append if events is not None else None
    client = client_for_tenant(TENANT, fusion_url(tenant), observer=observer)
    return JournalDelivery(**options).submit(ctx, Outbox(ctx.paths.outbox), client)


def exported_line_ids(world) -> set[int]:
    spec = load_spec("25B", "GlInterface")
    position = next(c.position for c in spec.columns if c.name == "REFERENCE23") - 1
    ids = set()
    for path in world.outbox.glob("GlInterface_*.zip"):
        with zipfile.ZipFile(path) as archive:
            text = archive.read(spec.csv_file).decode("utf-8")
        ids.update(int(row[position]) for row in csv.reader(io.StringIO(text)))
    return ids


def posted_line_ids(world) -> list[int]:
    schema = world.warehouse.schema("ops")
    rows = world.warehouse.query(f"select source_line_id from {schema}.fusion_posted")
    return sorted(int(r[0]) for r in rows)


def test_every_batch_posts_once_and_retries_are_counted(world, exported, fusion):
    run = exported
    set_knobs(fusion, http_5xx_next=3)
    events = []
    result = submit(world, events)
    batches = result.to_json()["batches"]
    assert len(batches) == len(run["export"]["batches"]) > 1
    assert {b["status"] for b in batches} == {"succeeded"}
    assert [e.status for e in events] == [503, 503, 503]

    exported = exported_line_ids(world)
    assert posted_line_ids(world) == sorted(exported)
    assert sorted(int(line["References"]["REFERENCE23"]) for line in ledger_lines(fusion)) == (
        sorted(exported)
    )
    assert submit(world).batches == []  # terminal batches are never submitted again

    tenant = world.config.tenants[TENANT]
    client = client_for_tenant(TENANT, fusion_url(tenant))
    first = Posting(world.warehouse).submissions("epic", "gl_journal")[0]
    name = ledger_lines(fusion)[0]["JournalBatchName"]
    found = client.journal_batches(name, 300000046975971)
    assert found and found[0]["Status"] == "Posted"
    period = ledger_lines(fusion)[0]["PeriodName"]
    balances = client.ledger_balances("EHF US Primary Ledger", period, "USD")
    assert balances and first["request_id"]
    assert sum(b["PeriodActivityDebit"] for b in balances) == pytest.approx(
        sum(b["PeriodActivityCredit"] for b in balances)
    )


def test_disabled_combination_is_rejected_and_queued(world, fusion):
    spec = load_spec("25B", "GlInterface")
    first_zip = sorted(world.outbox.glob("GlInterface_*.zip"))[0]
    with zipfile.ZipFile(first_zip) as archive:
        row = next(csv.reader(io.StringIO(archive.read(spec.csv_file).decode("utf-8"))))
    combination = "-".join(row[8:14])  # SEGMENT1..SEGMENT6
    set_knobs(fusion, disable_combinations=[combination])

    result = submit(world)
    statuses = {b.status for b in result.batches}
    assert "warning" in statuses and statuses <= {"warning", "succeeded"}
    posting = Posting(world.warehouse)
    summary = posting.queue_summary()
    assert {s["error_code"] for s in summary} == {"EF04", "EJ01"}
    warned = next(b for b in result.batches if b.status == "warning")
    queued = posting.queue_rows(warned.batch_id)
    assert len(queued) == warned.lines_rejected > 0
    assert {q["status"] for q in queued} == {"open"}
    assert warned.lines_posted + warned.lines_rejected == warned.lines

    # every exported line is either posted or waiting in the queue, never both
    schema = world.warehouse.schema("ops")
    queue_ids = [
        int(r[0])
        for r in world.warehouse.query(f"select source_line_id from {schema}.operator_queue")
    ]
    assert sorted(posted_line_ids(world) + queue_ids) == sorted(exported_line_ids(world))
    assert (
        world.warehouse.query(
            f"select count(*) from {schema}.operator_queue where status = 'open'"
        )[0][0]
        == result.lines_rejected
    )


class Died(Exception):
    """Stands for the process dying right after Fusion accepted an upload."""


def test_crash_between_upload_and_record_posts_once(world, fusion):

    def die(batch_id: str, request_id: str) -> None:
        raise Died(batch_id)

    with pytest.raises(Died) as died:
        submit(world, after_upload=die)
    crashed = str(died.value)
    row = Posting(world.warehouse).submission(crashed)
    assert row["status"] == "submitting" and row["request_id"] is None

    result = submit(world)
    outcome = {b.batch_id: b for b in result.batches}
    assert outcome[crashed].status == "already_posted"
    assert {b.status for b in result.batches if b.batch_id != crashed} == {"succeeded"}

    references = [int(line["References"]["REFERENCE23"]) for line in ledger_lines(fusion)]
    assert len(references) == len(set(references))  # nothing posted twice
    assert sorted(references) == sorted(exported_line_ids(world)) == posted_line_ids(world)
