"""The Fusion client against the simulator on 127.0.0.1: auth, secrets, job following, logs."""

from __future__ import annotations

import io
import zipfile

import pytest

from load.fusion_client import (
    BasicCredentials,
    ClientCredentials,
    FusionClient,
    FusionError,
    client_for_tenant,
)
from runtime.config import ConfigError
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
