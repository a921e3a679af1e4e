"""Streams are isolated: the Allscripts/Altera Sunrise stream and the Veradigm ambulatory stream
have their own credentials, state, locks and processes, so a failing Veradigm source does not
stop the Sunrise stream."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml

from runtime.core.config import load_config
from runtime.core.warehouse import Warehouse
from runtime.operations.tick import tick
from sandbox import practice_fusion
from sandbox.generate import generate
from tests.conftest import TENANT, write_config

PRACTICES = ["pf1001", "pf1002"]


@pytest.fixture
def two_streams(tmp_path, phi_key):
    """A tenant with the Sunrise stream (charges to GL; files handed over through the outbox)
    and the Veradigm stream's Practice Fusion domain, the sandbox generated and Practice Fusion
    serving on 127.0.0.1."""
    sandbox_dir = tmp_path / "sandbox"
    generate(sandbox_dir, seed=5, scale=2000)
    config_path = write_config(tmp_path, sandbox_dir)
    document = yaml.safe_load(config_path.read_text())
    landing = {"cadence": "15min", "phi_mode": "pseudonymized"}
    epic = document["tenants"][TENANT]["streams"]["epic"]["domains"]["gl_journal"]
    charges = epic | {"source": "allscripts_sunrise", "endpoint": "allscripts_sunrise"}
    document["tenants"][TENANT]["streams"] = {
        "sunrise": {"domains": {"charges": charges}},
        "veradigm": {
            "domains": {
                "practice_fusion": landing
                | {
                    "source": "practice_fusion",
                    "endpoint": "practice_fusion",
                    "practices": PRACTICES,
                }
            }
        },
    }
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))
    with practice_fusion.STAND_IN.start(sandbox_dir):
        yield config_path


def practice_secrets(monkeypatch, secret_of) -> None:
    for practice in PRACTICES:
        prefix = f"EHRFUSION__{TENANT.upper()}__PF_{practice.upper()}"
        monkeypatch.setenv(f"{prefix}_CLIENT_ID", practice_fusion.client_id(practice))
        monkeypatch.setenv(f"{prefix}_CLIENT_SECRET", secret_of(practice))


def test_both_streams_land_in_their_own_lanes(two_streams, pg_dsn, monkeypatch):
    practice_secrets(monkeypatch, practice_fusion.client_secret)

    result = tick(load_config(two_streams), two_streams, datetime.now(UTC), pg_dsn)

    by_stream = {o.stream: o for o in result.outcomes}
    assert {s: (o.status, o.exit_code) for s, o in by_stream.items()} == {
        "sunrise": ("ok", 0),
        "veradigm": ("ok", 0),
    }
    assert by_stream["sunrise"].summary["extract"]["rows"] > 0
    assert by_stream["veradigm"].summary["extract"]["rows"] > 0
    assert result.exit_code == 0


def test_a_failing_veradigm_source_does_not_stop_the_sunrise_stream(
    two_streams, pg_dsn, monkeypatch
):
    # One practice's credentials are wrong: Practice Fusion refuses its token.
    practice_secrets(
        monkeypatch, lambda p: "wrong" if p == "pf1001" else practice_fusion.client_secret(p)
    )

    result = tick(load_config(two_streams), two_streams, datetime.now(UTC), pg_dsn)

    by_stream = {o.stream: o for o in result.outcomes}
    assert (by_stream["sunrise"].status, by_stream["sunrise"].exit_code) == ("ok", 0)
    sunrise = by_stream["sunrise"].summary["extract"]
    assert sunrise["rows"] > 0 and sunrise["details"]["mechanism"] == "cdc"
    veradigm = by_stream["veradigm"]
    assert (veradigm.status, veradigm.exit_code) == ("extract_incomplete", 11)
    streams = veradigm.summary["extract"]["details"]["streams"]
    # The other practice still landed; the refused one moved no cursor.
    assert {s["tenant"] for s in streams if s["complete"]} == {"pf1002"}
    assert {s["tenant"] for s in streams if not s["complete"]} == {"pf1001"}
    assert result.exit_code == 11


def test_every_extract_leaves_its_manifest(two_streams, pg_dsn, monkeypatch):
    practice_secrets(monkeypatch, practice_fusion.client_secret)
    tick(load_config(two_streams), two_streams, datetime.now(UTC), pg_dsn)

    work = two_streams.parent / "work" / TENANT
    [sunrise] = [json.loads(line) for line in (work / "sunrise/charges/landings.jsonl").open()]
    assert sunrise["source"] == "allscripts_sunrise" and sunrise["complete"]
    charges = sunrise["details"]["tables"]["charge_detail"]
    assert charges["rows"] > 0 and charges["cursor_to"]
    [practices] = [
        json.loads(line) for line in (work / "veradigm/practice_fusion/landings.jsonl").open()
    ]
    assert {s["tenant"] for s in practices["details"]["streams"]} == set(PRACTICES)
    assert all(s["cursor_to"] for s in practices["details"]["streams"])


def test_the_patients_an_extract_read_are_in_the_disclosure_log(two_streams, pg_dsn, monkeypatch):
    practice_secrets(monkeypatch, practice_fusion.client_secret)
    config = load_config(two_streams)
    tick(config, two_streams, datetime.now(UTC), pg_dsn)

    warehouse = Warehouse.for_tenant(config.tenants[TENANT], pg_dsn)
    log = f"{warehouse.schema('audit')}.disclosures"
    reads = dict(
        warehouse.query(
            f"select split_part(scope, ':', 1), count(distinct patient_pseudonym) from {log} "
            "where action = 'read' group by 1"
        )
    )
    # Every patient the raw layer now holds was read by this first extract (counted, not shown).
    for domain, relation, patient in (
        ("charges", "raw_sunrise.encounters", "patient_id"),
        ("practice_fusion", "raw_veradigm.pf_patients", "practice_id || ':' || patient_id"),
    ):
        layer, table = relation.split(".")
        [(patients,)] = warehouse.query(
            f"select count(distinct {patient}) from {warehouse.schema(layer)}.{table}"
        )
        assert reads[domain] >= patients > 0
