"""Veradigm Unity extraction against the stand-in on 127.0.0.1, into real DuckDB and Postgres
warehouses: changed-since polling row for row through faults and late commits, the security
token reused and renewed once after a logout, bad answers dead-lettered."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import requests

from extract.shared.rate_limit import LimiterRegistry
from extract.veradigm import unity
from runtime.core.http import RetryPolicy
from sandbox.canaries import canary_hits
from sandbox.unity import APP_USER, APPNAME, PASSWORD, USERNAME, UnityServer, organisation

FAST = RetryPolicy(base_delay=0.05, floor=0.05)
CREDENTIALS = unity.UnityCredentials(APPNAME, USERNAME, APP_USER, PASSWORD)
ENTITIES = {"GetChangedPatients": "patients", "GetChangedCharges": "charges"}


@pytest.fixture
def server():
    with UnityServer(organisation(9, 30)) as running:
        yield running


@pytest.fixture
def extract(server, warehouse, tmp_path):
    registry = LimiterRegistry()

    def run() -> unity.VeradigmReport:
        return unity.extract_unity(
            warehouse, "unity_test", server.url, CREDENTIALS, tmp_path / "dead_letter",
            tmp_path / "pipelines", registry, policy=FAST,
        )  # fmt: skip

    return run


def sandbox(server, route: str, payload: dict | None = None) -> dict:
    url = f"{server.url}/__sandbox__/{route}"
    if payload is None:
        return requests.get(url, timeout=10).json()
    return requests.post(url, json=payload, timeout=10).json()


def canon(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def differences(server, warehouse) -> dict[str, int]:
    """Per table, rows the server has and the warehouse does not, plus the reverse."""
    found = {}
    for action, spec in unity.ACTIONS.items():
        fields = [f for f in spec.fields if f.name != "deleted"]
        items = sandbox(server, f"rows/{ENTITIES[action]}")["items"]
        expected = {tuple(canon(f.parse(i[f.source])) for f in fields) for i in items}
        columns = ", ".join(f.name for f in fields)
        rows = warehouse.query(f"select {columns} from testhosp_raw_veradigm.{spec.name}")
        landed = [tuple(canon(v) for v in row) for row in rows]
        assert len(landed) == len(set(landed)), f"{spec.name} has duplicates"
        found[spec.name] = len(expected ^ set(landed))
    return found


def test_changed_since_polling_lands_every_change(server, warehouse, extract):
    first = extract()
    assert first.ok and first.rows > 0
    assert differences(server, warehouse) == {"unity_patients": 0, "unity_charges": 0}
    for batch in range(3):
        sandbox(server, "mutations", {"size": 4})
        sandbox(server, "knobs", {"drop_next": 1, "http_5xx_next": 1, "throttle_next": 1,
                                  "retry_after_seconds": 0})  # fmt: skip
        report = extract()
        assert report.ok, batch
        assert differences(server, warehouse) == {"unity_patients": 0, "unity_charges": 0}
        charges = report.streams[1]
        assert charges.cursor_from < charges.cursor_to and charges.deletes >= 1
    stats = sandbox(server, "stats")
    assert stats["token_requests"] == 4  # one per extract
    assert canary_hits(json.dumps(first.to_json()) + json.dumps(report.to_json())) == []


@pytest.mark.parametrize("warehouse_kind", ["duckdb"], indirect=True)
def test_without_the_overlap_late_commits_are_lost(server, warehouse, extract, monkeypatch):
    """The negative control for the overlap window: rows stamped before the watermark but
    visible only after it are missed by a poll that starts at the watermark."""
    extract()
    monkeypatch.setattr(unity, "OVERLAP", unity.OVERLAP * 0)
    sandbox(server, "mutations", {"size": 8})
    extract()
    assert differences(server, warehouse)["unity_charges"] == 2  # the batch's two late charges


def test_a_logged_out_token_is_renewed_once(server):
    client = unity.UnityClient(server.url, CREDENTIALS, policy=FAST)
    client.changed_since("GetChangedPatients", unity.BEGINNING)
    client.changed_since("GetChangedCharges", unity.BEGINNING)
    assert client.tokens_fetched == 1
    sandbox(server, "knobs", {"revoke_tokens": True})
    records = client.changed_since("GetChangedCharges", unity.BEGINNING)
    assert client.tokens_fetched == 2 and len(records) == 30


@pytest.mark.parametrize("warehouse_kind", ["duckdb"], indirect=True)
def test_bad_answers_go_to_the_dead_letter_store(server, warehouse, extract):
    sandbox(server, "knobs", {"malformed_next": 1})
    first = extract()
    assert not first.ok and first.streams[0].error and first.streams[1].error is None
    assert [d["reason_code"] for d in first.dead_letters] == ["malformed_response"]
    sandbox(server, "knobs", {"corrupt_records_next": 1})
    second = extract()
    assert second.ok and sum(s.rejected for s in second.streams) == 1
    letters = warehouse.query("select reason_code, reason from testhosp_raw_veradigm.dead_letter")
    assert sorted(code for code, _ in letters) == ["malformed_response", "record_contract"]
    assert canary_hits(json.dumps(letters)) == []
    third = extract()  # the rejected row is still inside the overlap window: polled again
    assert third.ok
    assert differences(server, warehouse) == {"unity_patients": 0, "unity_charges": 0}


def test_stand_in_generates_its_recipe_and_publishes_its_server(tmp_path):
    from sandbox.endpoints import endpoints_path, read_endpoints
    from sandbox.standin import GenerationRequest
    from sandbox.unity import STAND_IN

    STAND_IN.generate(GenerationRequest(tmp_path, 7, 2000, date(2026, 10, 1), 3))
    server = STAND_IN.start(tmp_path)
    try:
        entry = read_endpoints(endpoints_path(tmp_path))["endpoints"]["veradigm_unity"]
        assert entry == {"kind": "http", "url": server.url}
        assert len(sandbox(server, "rows/charges")["items"]) == 50
    finally:
        server.stop()
