"""The one FHIR client against the FHIR stand-in on 127.0.0.1: SMART backend tokens (issue,
reuse, expiry, key rotation, refused assertions), tenants kept apart, paging, a foreign next
link, the retry policy and rate limiter, and incremental reads with late updates."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from extract.shared.fhir.auth import BackendClient, SigningKey
from extract.shared.fhir.client import FhirClient, FhirError, ForeignNextLink
from extract.shared.oauth import TokenError
from extract.shared.rate_limit import Budget, TokenBucket
from runtime.core.http import RetryPolicy
from sandbox.fhir.server import ASSERTION_TYPE, FhirServer, client_id, client_key, public_jwk
from sandbox.fhir.world import RESOURCE_TYPES

SEED, SIZE = 7, 25
SCOPES = [f"system/{t}.read" for t in RESOURCE_TYPES]
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, floor=0.01)


@pytest.fixture
def server():
    with FhirServer(seed=SEED, size=SIZE) as running:
        yield running


def backend(tenant: str = "northvale", *keys: SigningKey) -> BackendClient:
    return BackendClient(client_id(tenant), keys or (SigningKey("k1", client_key(SEED, tenant)),))


def make_client(server: FhirServer, tenant: str = "northvale", **options) -> FhirClient:
    options = {"policy": FAST, "page_size": 10} | options
    client = options.pop("client", None) or backend(tenant)
    return FhirClient(server.base_url(tenant), server.token_url, client, SCOPES, **options)


def test_a_token_is_issued_once_and_reused(server):
    client = make_client(server)
    client.read_changes("Patient")
    client.read_changes("Encounter")
    assert client.session.tokens_fetched == 1
    assert server.stats["tokens_issued"] == 1
    assert "system/Patient.read" in client.session.granted_scopes.split()


def test_a_token_is_fetched_again_shortly_before_it_expires(server):
    now = [1000.0]
    server.knobs.token_seconds = 100
    client = make_client(server, clock=lambda: now[0])
    client.read_changes("Patient")
    now[0] += 89  # 11 s left: more than a tenth of the lifetime, still reused
    client.read_changes("Patient")
    assert client.session.tokens_fetched == 1
    now[0] += 2  # 9 s left: fetched again before the server would refuse it
    client.read_changes("Patient")
    assert client.session.tokens_fetched == 2


def test_an_expired_token_is_replaced_once_on_401(server):
    client = make_client(server)
    client.read_changes("Patient")
    server.revoke_tokens()
    changes = client.read_changes("Location")
    assert changes.complete and len(changes.resources) == SIZE
    assert client.session.tokens_fetched == 2


def test_the_client_signs_with_its_newest_key_during_a_rotation(server):
    old = SigningKey("k1", client_key(SEED, "northvale"), created=1)
    new = SigningKey("k2", rsa.generate_private_key(public_exponent=65537, key_size=2048), 2)
    assert new.algorithm == "RS384" and old.algorithm == "ES384"
    # The JWKS publishes both keys while the rotation is under way; then only the new one.
    jwks = {"keys": [public_jwk(old.private_key, "k1"), public_jwk(new.private_key, "k2")]}
    server.register_client(client_id("northvale"), "northvale", jwks)
    client = make_client(server, client=backend("northvale", old))
    client.read_changes("Patient")
    client.session.rotate(new)
    assert client.session.client.signing_key.kid == "k2"
    server.register_client(client_id("northvale"), "northvale", {"keys": [jwks["keys"][1]]})
    server.revoke_tokens()
    assert client.read_changes("Practitioner").complete
    assert client.session.tokens_fetched == 2

    stale = make_client(server, client=backend("northvale", old))
    with pytest.raises(TokenError) as refused:
        stale.read_changes("Patient")
    assert refused.value.status == 401


def test_a_key_the_client_did_not_register_is_refused(server):
    forged = SigningKey("k1", ec.generate_private_key(ec.SECP384R1()))
    client = make_client(server, client=backend("northvale", forged))
    with pytest.raises(TokenError) as refused:
        client.read_changes("Patient")
    assert refused.value.status == 401
    assert server.stats["tokens_issued"] == 0


def test_a_signing_key_is_read_from_pem_and_must_suit_rs384_or_es384(server):
    private = client_key(SEED, "northvale")
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    key = SigningKey.from_pem("k1", pem.decode())
    assert key.algorithm == "ES384"
    assert public_jwk(key.private_key, "k1") == public_jwk(private, "k1")
    assert make_client(server, client=backend("northvale", key)).read_changes("Patient").complete
    with pytest.raises(ValueError, match="P-384"):
        SigningKey("k9", ec.generate_private_key(ec.SECP256R1()))
    assert "private_key" not in repr(key)


def _assertion(server: FhirServer, **changes) -> str:
    claims = {
        "iss": client_id("northvale"),
        "sub": client_id("northvale"),
        "aud": server.token_url,
        "exp": int(time.time()) + 240,
        "jti": uuid.uuid4().hex,
    } | changes
    key = client_key(SEED, "northvale")
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": "k1"})


def _ask_token(server: FhirServer, assertion: str) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "scope": "system/Patient.read",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    return requests.post(server.token_url, data=form, timeout=10)


def test_the_token_endpoint_checks_every_claim_of_the_assertion(server):
    assert _ask_token(server, _assertion(server)).status_code == 200
    refused = {
        "wrong audience": _assertion(server, aud=server.url + "/other"),
        "sub is not the client": _assertion(server, sub="someone-else"),
        "expires in an hour": _assertion(server, exp=int(time.time()) + 3600),
        "expired": _assertion(server, exp=int(time.time()) - 60),
        "unknown client": _assertion(server, iss="nobody", sub="nobody"),
    }
    for why, assertion in refused.items():
        answer = _ask_token(server, assertion)
        assert answer.status_code == 401, why
        assert answer.json()["error"] == "invalid_client", why
    replayed = _assertion(server)
    assert _ask_token(server, replayed).status_code == 200
    assert _ask_token(server, replayed).json()["error_description"] == "jti was used before"


def test_a_client_reads_only_its_own_tenant(server):
    northvale = make_client(server)
    assert northvale.read_changes("Patient").complete
    intruder = FhirClient(
        server.base_url("lakeshore"), server.token_url, backend("northvale"), SCOPES, policy=FAST
    )
    changes = intruder.read_changes("Patient")
    assert isinstance(changes.error, FhirError) and changes.error.status == 403
    assert changes.resources == []
    assert "ZZCANARY" not in str(changes.error)
    lakeshore = make_client(server, "lakeshore")
    ids = {r["id"] for r in lakeshore.read_changes("Patient").resources}
    assert ids and all(i.startswith("lak-") for i in ids)


def test_a_token_reads_only_the_resource_types_of_its_scopes(server):
    client = FhirClient(
        server.base_url("northvale"), server.token_url, backend(), ["system/Patient.read"]
    )
    assert client.read_changes("Patient").complete
    assert client.session.granted_scopes == "system/Patient.read"
    assert client.read_changes("Encounter").error.status == 403
    nothing = FhirClient(
        server.base_url("northvale"), server.token_url, backend(), ["system/Claim.write"]
    )
    with pytest.raises(TokenError, match="invalid_scope"):
        nothing.read_changes("Patient")


def test_a_search_is_paged_through_next_links(server):
    client = make_client(server, page_size=10)
    pages = list(client.pages("Encounter"))
    assert [len(p.resources) for p in pages] == [10, 10, 5]
    ids = [r["id"] for p in pages for r in p.resources]
    assert len(set(ids)) == SIZE
    assert client.requests == 1 + 3  # the token, then three pages


def test_a_next_link_to_another_host_is_refused_and_the_pages_read_are_kept(server):
    server.knobs.foreign_next_host = "http://127.0.0.2:9"
    client = make_client(server, page_size=10)
    pages = []
    with pytest.raises(ForeignNextLink, match="another host"):
        pages.extend(client.pages("Patient"))
    assert [len(p.resources) for p in pages] == [10]

    changes = client.read_changes("Patient")
    assert isinstance(changes.error, ForeignNextLink) and not changes.complete
    assert len(changes.resources) == 10
    assert changes.cursor.last_updated is None  # the read stopped early: its cursor stays


def test_429_and_5xx_are_retried_per_the_policy(server):
    waits, events = [], []
    client = make_client(server, observer=events.append, sleep=waits.append)
    client.read_changes("Patient")  # the token first
    knobs = {"throttle_next": 2, "http_5xx_next": 1, "retry_after_seconds": 3}
    assert requests.post(f"{server.url}/__sandbox__/knobs", json=knobs, timeout=5).ok
    changes = client.read_changes("Organization")
    assert changes.complete and len(changes.resources) == SIZE
    assert sorted(e.status for e in events) == [429, 429, 503]
    assert waits.count(3.0) == 2  # Retry-After honoured for each 429

    server.knobs.throttle_next = 10  # more than the policy's four attempts
    changes = client.read_changes("Device")
    assert changes.error.status == 429 and changes.resources == []


def test_slow_pages_are_waited_for(server):
    server.knobs.latency_seconds = 0.05
    started = time.monotonic()
    assert make_client(server, page_size=10).read_changes("Device").complete
    assert time.monotonic() - started >= 0.15  # three pages


def test_every_attempt_takes_a_token_from_the_rate_limiter(server):
    slept = []
    bucket = TokenBucket(Budget(5, 1.0), clock=lambda: 0.0, sleep=slept.append)
    client = make_client(server, limiter=bucket, sleep=lambda _: None)
    server.knobs.http_5xx_next = 1
    client.read_changes("Patient")
    assert client.requests == 1 + 1 + 3  # the token, a 503 and its retry, two more pages
    assert len(slept) == client.requests - 1  # the clock stands still: each waits its turn
    assert client.waited == pytest.approx(sum(slept))


def test_incremental_reads_catch_late_updates_and_collapse_duplicates(server):
    client = make_client(server, page_size=7)
    first = client.read_changes("Patient")
    assert len(first.resources) == SIZE and first.complete
    cursor = first.cursor
    assert cursor.last_updated == "2026-11-02T06:24:00Z"

    again = client.read_changes("Patient", cursor)
    assert again.resources == [] and again.cursor == cursor  # the overlap is read, no change

    edge = datetime.fromisoformat(cursor.last_updated)
    server.update("northvale", "Patient", "nor-pat-00003", edge - timedelta(minutes=2))  # late
    server.update("northvale", "Patient", "nor-pat-00010", edge + timedelta(minutes=1))
    server.update("northvale", "Patient", "nor-pat-00010", edge + timedelta(minutes=3))
    changes = client.read_changes("Patient", cursor)
    found = sorted((r["id"], r["meta"]["versionId"]) for r in changes.resources)
    assert found == [("nor-pat-00003", "2"), ("nor-pat-00010", "3")]
    assert changes.cursor.last_updated == "2026-11-02T06:27:00Z"
    assert client.read_changes("Patient", changes.cursor).resources == []


def test_an_invalid_resource_is_rejected_with_its_error_and_the_rest_goes_on(server):
    patient = server.data["northvale"].versions["Patient"]["nor-pat-00004"][-1]
    patient["gender"] = 5
    patient["nickname"] = patient["name"][0]["family"]
    client = make_client(server, page_size=10)
    changes = client.read_changes("Patient")
    assert changes.complete and len(changes.resources) == SIZE - 1
    [rejected] = changes.rejected
    message = str(rejected.error)
    assert message.startswith("Patient/nor-pat-00004 is not valid FHIR R4")
    assert "gender" in message and "nickname" in message
    assert "ZZCANARY" not in message and "PATIENT" not in message
    assert rejected.resource == patient  # the entry as received, for the dead-letter store
    assert changes.cursor.last_updated == "2026-11-02T06:24:00Z"
    assert client.read_changes("Patient", changes.cursor).rejected == []


def test_plain_http_is_refused_off_loopback():
    with pytest.raises(ValueError, match="https"):
        FhirClient("http://fhir.example.org/r4/x", "http://fhir.example.org/token", backend(), [])
