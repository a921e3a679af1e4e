"""The FHIR dlt resources land what the client reads from the FHIR stand-in into DuckDB: one
table per resource type, resources as received, cursors with their rows, invalid resources in
the dead-letter store with their error, a repeated read landing nothing new."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import dlt
import duckdb
import pytest

from extract.dead_letter import DeadLetterStore
from extract.shared.fhir.auth import BackendClient, SigningKey
from extract.shared.fhir.client import FhirClient
from extract.shared.fhir.source import FhirReport, fhir_resources
from runtime.core.http import RetryPolicy
from sandbox.fhir.server import FhirServer, client_id, client_key
from sandbox.fhir.world import RESOURCE_TYPES

SEED, SIZE = 11, 8
TYPES = ("Patient", "PractitionerRole")


@pytest.fixture
def server():
    with FhirServer(seed=SEED, size=SIZE) as running:
        yield running


def land(server: FhirServer, tmp_path) -> tuple[FhirReport, duckdb.DuckDBPyConnection]:
    keys = (SigningKey("k1", client_key(SEED, "northvale")),)
    client = FhirClient(
        server.base_url("northvale"),
        server.token_url,
        BackendClient(client_id("northvale"), keys),
        [f"system/{t}.read" for t in RESOURCE_TYPES],
        policy=RetryPolicy(base_delay=0.01, floor=0.01),
        page_size=5,
    )
    report = FhirReport()
    store = DeadLetterStore(tmp_path / "dead_letter")
    resources = fhir_resources(client, TYPES, store, "fhir_northvale", report)
    pipeline = dlt.pipeline(
        pipeline_name="fhir_northvale",
        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
        dataset_name="northvale_raw_fhir",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    pipeline.run(dlt.source(lambda: resources, name="fhir")(), loader_file_format="parquet")
    return report, duckdb.connect(str(tmp_path / "warehouse.duckdb"))


def test_resources_land_per_type_with_cursor_and_dead_letters(server, tmp_path):
    patient = server.data["northvale"].versions["Patient"]["nor-pat-00002"][-1]
    patient["birthDate"] = "02/31/1980"
    report, db = land(server, tmp_path)
    assert report.landed == {"Patient": SIZE - 1, "PractitionerRole": SIZE}
    assert report.dead_lettered == {"Patient": 1, "PractitionerRole": 0}
    landed = db.sql("select resource from northvale_raw_fhir.patient order by id").fetchall()
    first = json.loads(landed[0][0])
    assert first == server.data["northvale"].versions["Patient"]["nor-pat-00000"][-1]
    roles = db.sql("select count(*) from northvale_raw_fhir.practitioner_role").fetchall()
    assert roles == [(SIZE,)]
    [(reason_code, reason)] = db.sql(
        "select reason_code, reason from northvale_raw_fhir.dead_letter"
    ).fetchall()
    assert reason_code == "fhir_r4_invalid"
    assert reason.startswith("Patient/nor-pat-00002 is not valid FHIR R4: birthDate")
    assert "1980" not in reason and "ZZCANARY" not in reason
    db.close()

    # a late update and a new version land; what landed before does not land again
    edge = datetime.fromisoformat("2026-11-02T06:07:00Z")
    server.update("northvale", "Patient", "nor-pat-00005", edge - timedelta(minutes=1))
    report, db = land(server, tmp_path)
    assert report.landed == {"Patient": 1, "PractitionerRole": 0}
    versions = db.sql(
        "select id, version_id from northvale_raw_fhir.patient where id = 'nor-pat-00005'"
    ).fetchall()
    assert sorted(versions) == [("nor-pat-00005", "1"), ("nor-pat-00005", "2")]
    db.close()
