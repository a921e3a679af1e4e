"""The Sunrise stream's record domains, end to end through the sandbox: supply consumption ->
inventory transactions, device assets -> Fixed Assets mass additions, clinicians -> HCM Data
Loader workers. Each domain lands only its own tables, sends the records Fusion does not hold
yet to the Fusion simulator on 127.0.0.1, and records what Fusion accepted record by record, so
the next run sends only what changed since."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner

from cli import main
from runtime.core.config import load_config
from runtime.core.warehouse import Warehouse
from sandbox import sunrise
from sandbox.fusion.server import CLIENT_ID, CLIENT_SECRET, FusionSimulator
from sandbox.generate import generate
from sandbox.sunrise.database import sqlite_url
from tests.conftest import TENANT, set_knobs, write_config

SETTINGS = {
    "supplies": {"object": "InvTransactionsInterface", "source_code": "SUNRISE"},
    "devices": {
        "object": "FaMassAdditions",
        "book_type_code": "US CORP",
        "feeder_system_name": "SUNRISE",
    },
    "clinicians": {
        "object": "Worker",
        "source_system_owner": "SUNRISE",
        "legal_employer_name": "EHF US Legal Employer",
        "business_unit": "EHF US Business Unit",
    },
}


def sunrise_domains(config_path) -> None:
    document = yaml.safe_load(config_path.read_text())
    base = {
        "enabled": True,
        "source": "allscripts_sunrise",
        "endpoint": "allscripts_sunrise",
        "cadence": "hourly",
        "phi_mode": "pseudonymized",
    }
    domains = {
        name: base | {"fusion": {"release": "25B"} | settings}
        for name, settings in SETTINGS.items()
    }
    document["tenants"][TENANT]["streams"] = {"sunrise": {"domains": domains}}
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture
def offline_stream(tmp_path, phi_key, warehouse_arg):
    """A tenant whose Sunrise stream feeds the three record domains; no Fusion endpoint."""
    sandbox_dir = tmp_path / "sandbox"
    generate(sandbox_dir, seed=5, scale=300)
    config_path = write_config(tmp_path, sandbox_dir)
    sunrise_domains(config_path)
    return config_path, sandbox_dir


@pytest.fixture
def stream(offline_stream, monkeypatch):
    """The same tenant with Fusion reachable."""
    config_path, sandbox_dir = offline_stream
    for name, value in (("CLIENT_ID", CLIENT_ID), ("CLIENT_SECRET", CLIENT_SECRET)):
        monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__FUSION_{name}", value)
    with FusionSimulator(sandbox_dir / "endpoints.json") as simulator:
        set_knobs(simulator, job_seconds=0)
        yield config_path, sandbox_dir, simulator


def run(config_path, warehouse_arg, domain: str) -> tuple[int, dict]:
    scope = ["--tenant", TENANT, "--stream", "sunrise", "--domain", domain]
    common = ["--config", str(config_path), "--warehouse", warehouse_arg, "--json"]
    result = CliRunner().invoke(main, ["run", *scope, *common])
    return result.exit_code, json.loads(result.stdout)


def warehouse_of(config_path, warehouse_arg) -> Warehouse:
    tenant = load_config(config_path).tenant(TENANT)
    return Warehouse.for_tenant(tenant, warehouse_arg)


def accepted(config_path, warehouse_arg, domain: str) -> dict[str, tuple[str, Decimal | None]]:
    """record key -> (latest hash, summed measure) of what Fusion accepted for the domain."""
    warehouse = warehouse_of(config_path, warehouse_arg)
    rows = warehouse.query(
        f"select record_key, record_hash, measure from {TENANT}_ops.fusion_records "
        "where domain = %s order by accepted_at, batch_id",
        (domain,),
    )
    found: dict[str, tuple[str, Decimal | None]] = {}
    for key, record_hash, measure in rows:
        total = found.get(key, (None, None))[1]
        if measure is not None:
            total = (total or Decimal(0)) + measure
        found[key] = (record_hash, total)
    return found


def objects(simulator, name: str) -> list[dict]:
    answer = requests.get(f"{simulator.url}/__sandbox__/objects/{name}", timeout=30)
    answer.raise_for_status()
    return answer.json()["items"]


def hcm(simulator, component: str) -> list[dict]:
    """The values of the component's records the simulator holds under owner SUNRISE."""
    answer = requests.get(f"{simulator.url}/__sandbox__/hcm/{component}", timeout=30)
    answer.raise_for_status()
    values = [item["Values"] for item in answer.json()["items"]]
    return [v for v in values if v.get("SourceSystemOwner") == "SUNRISE"]


def mutate(sandbox_dir, batch: int, **kinds: int) -> None:
    database = sqlite_url(sandbox_dir / sunrise.DATABASE_DIR / sunrise.DATABASE_FILE)
    sunrise.mutate(database, 5, sunrise.Mutation(batch=batch, **kinds))


def test_supply_consumption_posts_as_inventory_transactions_then_only_quantity_changes(
    stream, warehouse_arg
):
    config_path, sandbox_dir, simulator = stream

    code, summary = run(config_path, warehouse_arg, "supplies")

    assert code == 0, summary
    assert set(summary["extract"]["details"]["tables"]) == {"supply_consumption"}
    [batch] = summary["export"]["batches"]
    totals = summary["submit"]["totals"]
    assert totals["lines_posted"] == batch["lines"] > 0 and totals["lines_rejected"] == 0
    sent = accepted(config_path, warehouse_arg, "supplies")
    assert len(sent) == batch["lines"]
    stored = objects(simulator, "InvTransactionsInterface")
    assert len(stored) == batch["lines"]
    issued = {row["Values"]["SOURCE_LINE_ID"]: row["Values"] for row in stored}
    assert {v["TRANSACTION_TYPE_NAME"] for v in issued.values()} == {"Miscellaneous Issue"}
    assert all(Decimal(v["TRANSACTION_QUANTITY"]) < 0 for v in issued.values())

    mutate(sandbox_dir, 1, updates=40)
    code, again = run(config_path, warehouse_arg, "supplies")

    assert code == 0, again
    [second] = again["export"]["batches"]
    assert 0 < second["lines"] < batch["lines"]
    after = accepted(config_path, warehouse_arg, "supplies")
    changed = [key for key in after if after[key][1] != sent.get(key, (None, None))[1]]
    assert len(changed) == second["lines"]
    assert len(objects(simulator, "InvTransactionsInterface")) == batch["lines"] + second["lines"]

    code, idle = run(config_path, warehouse_arg, "supplies")
    assert code == 0 and idle["export"]["batches"] == []


def test_device_assets_become_mass_additions_once(stream, warehouse_arg):
    config_path, sandbox_dir, simulator = stream

    code, summary = run(config_path, warehouse_arg, "devices")

    assert code == 0, summary
    [batch] = summary["export"]["batches"]
    added = summary["submit"]["totals"]["lines_posted"]
    assert batch["lines"] == 2 * added > 0  # one addition and one distribution each
    stored = objects(simulator, "FaMassAdditions")
    additions = [row for row in stored if row["CsvFile"] == "FaMassAdditions.csv"]
    assert len(additions) == added == len(accepted(config_path, warehouse_arg, "devices"))
    assert {row["Values"]["BOOK_TYPE_CODE"] for row in additions} == {"US CORP"}
    [message] = [b["message"] for b in summary["submit"]["batches"]]
    assert "PostMassAdditions" in message

    mutate(sandbox_dir, 1, updates=40)  # moves some assets to another department
    code, again = run(config_path, warehouse_arg, "devices")

    assert code == 0, again
    assert again["export"]["batches"] == []
    assert again["exceptions"]["by_reason"].get("changed after addition", 0) > 0


def test_clinicians_load_as_workers_and_credential_changes_follow(stream, warehouse_arg):
    config_path, sandbox_dir, simulator = stream

    code, summary = run(config_path, warehouse_arg, "clinicians")

    assert code == 0, summary
    [batch] = summary["export"]["batches"]
    assert batch["zip"].endswith(".zip") and "Worker" in batch["zip"]
    workers = hcm(simulator, "Worker")
    sent = accepted(config_path, warehouse_arg, "clinicians")
    assert len(sent) == summary["submit"]["totals"]["lines_posted"] > 0
    assert len(workers) == len(sent)
    statuses = {a["AssignmentStatusTypeCode"] for a in hcm(simulator, "Assignment")}
    assert "ACTIVE_PROCESS" in statuses and statuses - {"ACTIVE_PROCESS"}

    mutate(sandbox_dir, 1, updates=40)  # credentialing status and licence expiry change
    code, again = run(config_path, warehouse_arg, "clinicians")

    assert code == 0, again
    assert len(again["export"]["batches"]) == 1
    after = accepted(config_path, warehouse_arg, "clinicians")
    changed = {key for key in after if after[key][0] != sent.get(key, (None,))[0]}
    assert 0 < len(changed) < len(after)
    assert again["submit"]["totals"]["lines_posted"] == len(changed)


def test_a_record_fusion_rejects_is_queued_with_its_reason_and_sent_again(stream, warehouse_arg):
    config_path, _, simulator = stream
    # make one department's supplies expense account unusable in Fusion
    set_knobs(simulator, disable_combinations=[disabled_combination()])

    code, summary = run(config_path, warehouse_arg, "supplies")

    assert code == 0, summary
    rejected = summary["submit"]["totals"]["lines_rejected"]
    assert rejected > 0
    warehouse = warehouse_of(config_path, warehouse_arg)
    queued = warehouse.query(
        f"select record_key, error_code from {TENANT}_ops.operator_queue where status = 'open'"
    )
    assert len(queued) == rejected and all(key for key, _ in queued)
    assert not {key for key, _ in queued} & set(accepted(config_path, warehouse_arg, "supplies"))

    batch_id = summary["export"]["batches"][0]["batch_id"]
    reload = ["queue", "reload", "--tenant", TENANT, "--stream", "sunrise", "--domain"]
    reload += ["supplies", batch_id, "--config", str(config_path)]
    refused = CliRunner().invoke(main, [*reload, "--warehouse", warehouse_arg])
    assert refused.exit_code == 9 and "next run" in refused.output.replace("\n", " ")

    set_knobs(simulator, disable_combinations=[])
    code, again = run(config_path, warehouse_arg, "supplies")

    assert code == 0, again
    assert again["submit"]["totals"]["lines_posted"] == rejected
    still_open = warehouse.query(
        f"select count(*) from {TENANT}_ops.operator_queue where status = 'open'"
    )
    assert still_open == [(0,)]


def disabled_combination() -> str:
    """The supplies expense account of the first department in the inventory crosswalk."""
    seed = Path(__file__).parent.parent / "seeds" / "inventory_location_crosswalk.csv"
    first = next(csv.DictReader(seed.open(encoding="utf-8")))
    return "-".join(first[f"dst_segment{n}"] for n in range(1, 7))


def test_without_a_fusion_endpoint_the_outbox_is_the_hand_over(offline_stream, warehouse_arg):
    config_path, _ = offline_stream

    code, summary = run(config_path, warehouse_arg, "clinicians")

    assert code == 0, summary
    [batch] = summary["export"]["batches"]
    assert summary["submit"] is None
    handed_over = accepted(config_path, warehouse_arg, "clinicians")
    assert batch["lines"] == 6 * len(handed_over) > 0  # six HDL components per clinician
    code, again = run(config_path, warehouse_arg, "clinicians")
    assert code == 0 and again["export"]["batches"] == []


def test_an_upload_whose_answer_was_lost_is_not_posted_twice(stream, warehouse_arg):
    config_path, _, simulator = stream
    code, summary = run(config_path, warehouse_arg, "supplies")
    assert code == 0, summary
    sent = accepted(config_path, warehouse_arg, "supplies")
    stored = len(objects(simulator, "InvTransactionsInterface"))
    # the process died after Fusion took the upload, before the answer was recorded
    warehouse = warehouse_of(config_path, warehouse_arg)
    with warehouse.connect() as con:
        cur = con.cursor()
        cur.execute(f"delete from {TENANT}_ops.fusion_records")
        cur.execute(
            f"update {TENANT}_ops.fusion_submissions set status = 'submitting', "
            "request_id = null, finished_at = null"
        )

    code, again = run(config_path, warehouse_arg, "supplies")

    assert code == 0, again
    [resolved] = again["submit"]["batches"]
    assert resolved["lines_posted"] == len(sent) and resolved["lines_rejected"] == 0
    assert accepted(config_path, warehouse_arg, "supplies") == sent
    assert again["export"]["batches"] == []
    assert len(objects(simulator, "InvTransactionsInterface")) == stored
