"""The Fusion client against the simulator on 127.0.0.1: auth, secrets, job following, logs,
HCM Data Loader data sets, reference reads, real-time creates and worker changes."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from decimal import Decimal

import pytest
import requests

from load import fusion_client
from load.fusion_client import (
    BasicCredentials,
    ClientCredentials,
    FusionClient,
    FusionError,
    client_for_tenant,
)
from runtime.core.config import ConfigError
from sandbox.fusion.server import CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME, FusionSimulator

JOB = "/oracle/apps/ess/financials/generalLedger/programs/common,JournalImportLauncher"
ACCOUNT = "fin$/generalLedger$/import$"


@pytest.fixture
def simulator():
    with FusionSimulator() as server:
        yield server


def test_oauth_and_basic_both_authenticate(simulator):
    for auth in (ClientCredentials(CLIENT_ID, CLIENT_SECRET), BasicCredentials(USERNAME, PASSWORD)):
        client = FusionClient(simulator.url, auth)
        assert client.journal_batches("nothing", 300000046975971) == []


def test_bad_client_names_the_operation_not_the_secret(simulator):
    client = FusionClient(simulator.url, ClientCredentials(CLIENT_ID, "wrong-secret"))
    with pytest.raises(FusionError) as error:
        client.journal_batches("nothing", 300000046975971)
    assert error.value.status == 401 and "journalBatches" in str(error.value)
    assert "wrong-secret" not in str(error.value)


def test_a_rejected_token_is_fetched_again(simulator):
    client = FusionClient(simulator.url, ClientCredentials(CLIENT_ID, CLIENT_SECRET))
    client.journal_batches("nothing", 300000046975971)
    client._session.token = {"access_token": "revoked", "token_type": "Bearer"}
    assert client.journal_batches("nothing", 300000046975971) == []


def test_secrets_choose_the_auth(monkeypatch, simulator):
    with pytest.raises(ConfigError) as error:
        client_for_tenant("nohosp", simulator.url)
    assert "EHRFUSION__NOHOSP__FUSION_CLIENT_ID" in str(error.value)
    assert "EHRFUSION__NOHOSP__FUSION_PASSWORD" in str(error.value)
    monkeypatch.setenv("EHRFUSION__NOHOSP__FUSION_USERNAME", USERNAME)
    monkeypatch.setenv("EHRFUSION__NOHOSP__FUSION_PASSWORD", PASSWORD)
    assert client_for_tenant("nohosp", simulator.url).journal_batches("x", 1) == []


def test_load_failure_ends_in_error_with_a_log(simulator):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Other.csv", "a,b\n")
    client = FusionClient(simulator.url, BasicCredentials(USERNAME, PASSWORD))
    request_id = client.import_bulk_data(
        buffer.getvalue(), "x.zip", ACCOUNT, JOB, "#NULL,Epic Resolute,300000046975971,1,N,N,N"
    )
    assert client.wait_for_job(request_id, timeout=60) == "ERROR"
    log = client.job_log(request_id)
    assert log.request_id == request_id and log.text and log.rejected == ()


def test_wrong_document_account_is_a_400(simulator):
    client = FusionClient(simulator.url, BasicCredentials(USERNAME, PASSWORD))
    with pytest.raises(FusionError) as error:
        client.import_bulk_data(b"zip", "x.zip", "fin$/wrong$", JOB, "#NULL,S,1,1,N,N,N")
    assert error.value.status == 400 and error.value.operation == "importBulkData"


@pytest.fixture(scope="module")
def fusion():
    """One simulator whose jobs finish at once, shared by the tests below (each works on workers,
    accounts and assets of its own)."""
    with FusionSimulator() as server:
        requests.post(f"{server.url}/__sandbox__/knobs", json={"job_seconds": 0}, timeout=10)
        yield server


def fast_client(simulator: FusionSimulator, **options) -> FusionClient:
    """A client whose waits (polling, retry back-off) are short."""
    auth = BasicCredentials(USERNAME, PASSWORD)
    return FusionClient(simulator.url, auth, sleep=_short_sleep, **options)


def _short_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.01))


def worker_zip(person_number: str, start_date: str = "2026/10/01") -> bytes:
    lines = [
        "METADATA|Worker|SourceSystemOwner|SourceSystemId|EffectiveStartDate|PersonNumber",
        f"MERGE|Worker|EHR|W{person_number}|{start_date}|{person_number}",
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Worker.dat", "\n".join(lines) + "\n")
    return buffer.getvalue()


def test_hdl_is_uploaded_submitted_and_followed_to_its_messages(fusion):
    client = fast_client(fusion)
    request_id = client.submit_hdl(worker_zip("8001"), "Workers8001.zip", "workers-8001")
    data_set = client.wait_for_data_set(request_id, timeout=60)
    assert (data_set["DataSetStatusCode"], data_set["LoadSuccessCount"]) == ("ORA_SUCCESS", 1)
    assert client.data_set_messages(request_id) == []
    assert [d["RequestId"] for d in client.data_sets_named("workers-8001")] == [int(request_id)]
    assert client.workers(PersonNumber="8001")[0]["SourceSystemId"] == "W8001"

    failed = client.submit_hdl(worker_zip("8002", "2026-10-01"), "Workers8002.zip", "w-8002")
    assert client.wait_for_data_set(failed, timeout=60)["DataSetStatusCode"] == "ORA_IN_ERROR"
    (message,) = client.data_set_messages(failed)
    assert message["FileLine"] == 2 and "YYYY/MM/DD" in message["MessageText"]


def test_reference_reads_follow_has_more_through_every_page(fusion, monkeypatch):
    monkeypatch.setattr(fusion_client, "PAGE", 10)
    client = fast_client(fusion)
    assert len(client.workers(SourceSystemOwner="EHF")) == 66  # the world's, 7 pages
    assert [v["Value"] for v in client.value_set_values("EHF_COST_CENTER")][:2] == ["0000", "7010"]
    assert len(client.suppliers()) == 30
    (abbott,) = client.suppliers(Supplier="Abbott Medical Supply")
    assert abbott["SupplierNumber"] == "10001"
    assert client.suppliers(Supplier="O'Brien Surgical") == []  # quotes are doubled in q


def test_reads_and_the_upload_are_retried_but_creates_are_not(fusion):
    events = []
    client = fast_client(fusion, observer=events.append)
    requests.post(f"{fusion.url}/__sandbox__/knobs", json={"http_5xx_next": 2}, timeout=10)
    assert len(client.suppliers()) == 30
    requests.post(f"{fusion.url}/__sandbox__/knobs", json={"http_5xx_next": 1}, timeout=10)
    assert client.upload_hdl(worker_zip("8003"), "Workers8003.zip").startswith("UCMFA")
    assert [(e.method, e.status) for e in events] == [("GET", 503), ("GET", 503), ("POST", 503)]

    requests.post(f"{fusion.url}/__sandbox__/knobs", json={"http_5xx_next": 1}, timeout=10)
    account = {"OrganizationName": "Aetna Example", "SourceSystem": "EPIC"}
    with pytest.raises(FusionError) as error:
        client.create_customer_account(account | {"SourceSystemReferenceValue": "PAYER-7"})
    assert (error.value.status, error.value.operation) == (503, "accounts")
    assert client.customer_accounts(SourceSystemReferenceValue="PAYER-7") == []


def test_real_time_creates_and_worker_changes_read_back(fusion):
    client = fast_client(fusion)
    fields = {
        "OrganizationName": "Medicare Part A",
        "SourceSystem": "EPIC",
        "SourceSystemReferenceValue": "PAYER-1",
    }
    account = client.create_customer_account(fields)
    assert client.customer_accounts(SourceSystemReferenceValue="PAYER-1") == [account]
    with pytest.raises(FusionError) as duplicate:
        client.create_customer_account(fields)
    assert duplicate.value.status == 409

    columns = {
        "BOOK_TYPE_CODE": "EHF US CORP",
        "DESCRIPTION": "Infusion pumps",
        "FIXED_ASSETS_COST": Decimal("48000.00"),
        "FIXED_ASSETS_UNITS": 12,
        "DATE_PLACED_IN_SERVICE": dt.date(2026, 10, 5),
    }
    mass_addition_id = client.create_mass_addition(columns)
    assert client.mass_addition(mass_addition_id) == {
        "MASS_ADDITION_ID": mass_addition_id,
        "BOOK_TYPE_CODE": "EHF US CORP",
        "DESCRIPTION": "Infusion pumps",
        "FIXED_ASSETS_COST": "48000.00",
        "FIXED_ASSETS_UNITS": "12",
        "DATE_PLACED_IN_SERVICE": "2026-10-05",
    }
    with pytest.raises(FusionError) as missing:
        client.mass_addition("1")
    assert missing.value.status == 404

    (worker,) = client.workers(PersonNumber="1003")
    (name,) = client.worker_names(worker["PersonId"])
    changed = client.change_worker_name(worker["PersonId"], name["PersonNameId"], {"Title": "Dr"})
    assert changed["Title"] == "Dr"
    email = {
        "EmailType": "W1",
        "EmailAddress": "a@stmary.example",
        "DateFrom": dt.date(2026, 10, 5),
    }
    client.add_worker_email(worker["PersonId"], email)
    emails = client.worker_emails(worker["PersonId"])
    assert [e["DateFrom"] for e in emails] == ["2024-01-08", "2026-10-05"]
