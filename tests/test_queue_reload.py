"""`reload_batch`: once the cause of a rejection is fixed, the batch's open queue lines are
exported as a new batch with its own group id, posted once, and marked `reloaded`; lines the
mart still holds stay open."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from load.manifest import verify_chain
from runtime.pipeline.delivery.journal import JournalDelivery
from runtime.pipeline.posting import Posting
from runtime.pipeline.reload import ReloadRefused, reload_batch
from tests.conftest import TENANT, ledger_lines, set_knobs

COMBINATION = "101-7020-41000-000-000-0000"


def reload(world, batch_id: str):
    return reload_batch(world.config, TENANT, "epic", "gl_journal", batch_id, world.warehouse_arg)


def run_with_rejections(world, fusion) -> tuple[dict, Posting]:
    """Run with one segment combination disabled in Fusion, then re-enable it (the fix)."""
    set_knobs(fusion, disable_combinations=[COMBINATION])
    code, summary = world.run()
    assert code == 0, summary
    assert "warning" in {b["status"] for b in summary["submit"]["batches"]}
    set_knobs(fusion, disable_combinations=[])
    return summary, Posting(world.warehouse)


def test_reload_posts_every_rejected_line_once(world, fusion):
    summary, posting = run_with_rejections(world, fusion)
    batches = sorted({row["batch_id"] for row in posting.queue_summary()})
    batch = batches[0]
    queued = posting.queue_rows(batch, "open")
    assert {row["error_code"] for row in queued} <= {"EF04", "EJ01"}

    result = reload(world, batch)

    assert result.status == "reloaded", result.message
    assert result.reload_batch_id == f"{batch}-r1"
    assert result.group_id == int(posting.submission(batch)["group_id"]) * 100 + 1
    assert result.lines_exported == result.lines_posted == len(queued)
    assert result.still_held == [] and result.lines_still_open == 0
    assert {row["status"] for row in posting.queue_rows(batch)} == {"reloaded"}
    assert posting.queue_rows(result.reload_batch_id) == []
    manifest = json.loads(Path(result.manifest_path).read_text(encoding="utf-8"))
    assert manifest["scope"]["reload_of"] == batch and manifest["scope"]["reload_number"] == 1
    assert verify_chain(world.outbox).ok
    reloaded = [x for x in ledger_lines(fusion) if x["GroupId"] == str(result.group_id)]
    assert sorted(int(x["References"]["REFERENCE23"]) for x in reloaded) == sorted(
        row["source_line_id"] for row in queued
    )

    with pytest.raises(ReloadRefused, match="no open queue lines"):
        reload(world, batch)

    for other in batches[1:]:
        assert reload(world, other).status == "reloaded"
    references = Counter(x["References"]["REFERENCE23"] for x in ledger_lines(fusion))
    assert sum(references.values()) == summary["export"]["lines"]
    assert set(references.values()) == {1}
    code, again = world.run()
    assert code == 0 and again["submit"]["batches"] == []


def test_lines_the_mart_still_holds_stay_open_until_a_later_reload(world, fusion):
    _, posting = run_with_rejections(world, fusion)
    queues = {
        row["batch_id"]: posting.queue_rows(row["batch_id"], "open")
        for row in posting.queue_summary()
    }
    batch, queued = max(queues.items(), key=lambda kv: len({r["journal_name"] for r in kv[1]}))
    assert len({row["journal_name"] for row in queued}) > 1
    journal = queued[0]["journal_name"]
    held = sorted(row["source_line_id"] for row in queued if row["journal_name"] == journal)
    marts = world.warehouse.schema("marts")
    with world.warehouse.connect() as con:  # the journal is held again in the current mart
        ids = ", ".join(map(str, held))
        con.cursor().execute(
            f"insert into {marts}.exceptions__gl_journal_lines "
            "(stream_name, domain_name, source_line_id, batch_date, exception_reason) "
            "select stream_name, domain_name, source_line_id, batch_date, 'unmapped_account' "
            f"from {marts}.fusion__gl_interface where source_line_id in ({ids})"
        )
        con.cursor().execute(
            f"delete from {marts}.fusion__gl_interface where source_line_id in ({ids})"
        )

    result = reload(world, batch)

    assert result.status == "lines_still_open" and result.reload_batch_id == f"{batch}-r1"
    assert sorted(h.source_line_id for h in result.still_held) == held
    assert {h.reason for h in result.still_held} == {"unmapped_account"}
    assert result.lines_posted == len(queued) - len(held) == result.lines_exported
    open_rows = posting.queue_rows(batch, "open")
    assert sorted(row["source_line_id"] for row in open_rows) == held

    code, _ = world.run()  # dbt rebuilds the marts: the journal is postable again
    assert code == 0
    second = reload(world, batch)
    assert second.status == "reloaded" and second.reload_batch_id == f"{batch}-r2"
    assert second.lines_posted == len(held)
    references = Counter(x["References"]["REFERENCE23"] for x in ledger_lines(fusion))
    assert set(references.values()) == {1}


def test_a_reload_cut_short_after_its_export_is_finished_first(world, fusion, monkeypatch):
    _, posting = run_with_rejections(world, fusion)
    batch = posting.queue_summary()[0]["batch_id"]
    queued = posting.queue_rows(batch, "open")

    def dies(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(JournalDelivery, "submit", dies)  # the process dies after the export
        with pytest.raises(KeyboardInterrupt):
            reload(world, batch)

    result = reload(world, batch)

    assert result.resumed == [f"{batch}-r1"] and result.reload_batch_id is None
    assert result.status == "reloaded"
    assert {row["status"] for row in posting.queue_rows(batch)} == {"reloaded"}
    group_id = str(int(posting.submission(batch)["group_id"]) * 100 + 1)
    reloaded = [x for x in ledger_lines(fusion) if x["GroupId"] == group_id]
    assert len(reloaded) == len(queued)


def test_a_batch_without_a_finished_submission_is_refused(world, fusion):
    with pytest.raises(ReloadRefused, match="not in the outbox"):
        reload(world, "no-such-batch")
