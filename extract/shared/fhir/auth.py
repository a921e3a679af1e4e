"""SMART Backend Services authorization: a session that gets its token with a signed JWT.

The client authenticates with a JWT client assertion (RFC 7523, as SMART Backend Services
profiles it): `iss` and `sub` the client id, `aud` the token URL, `exp` four minutes ahead
(servers accept at most five), a fresh `jti`, signed RS384 or ES384 with the client's private
key, the key's `kid` in the header so the server finds it in the client's registered JWKS.
A client may hold several keys while a rotation is under way (the JWKS publishes old and new):
it signs with the newest. The token is reused while more than a tenth of its lifetime (at most
`REFRESH_BEFORE` seconds) is left; a 401 fetches a new one once and repeats the request (the
server may end a token early). Every request, the token request included, goes through the
product's one retry policy and the caller's rate limiter. Errors name the status, never a key,
an assertion or a body.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from extract.shared.oauth import TokenError
from runtime.core.http import Observer, RetryPolicy, plain_http_on_loopback, retrying_session

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_SECONDS = 240
REFRESH_BEFORE = 60.0


@dataclass(frozen=True)
class SigningKey:
    """One private key of a backend client, with its `kid`; `created` orders a rotation
    (seconds since the epoch, or any increasing number)."""

    kid: str
    private_key: Any = field(repr=False)
    created: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError(f"key {self.kid}: an EC P-384 or RSA private key is required")
        if isinstance(self.private_key, ec.EllipticCurvePrivateKey) and not isinstance(
            self.private_key.curve, ec.SECP384R1
        ):
            raise ValueError(f"key {self.kid}: ES384 needs the P-384 curve")

    @property
    def algorithm(self) -> str:
        """RS384 for an RSA key, ES384 for a P-384 key (what SMART Backend Services allows)."""
        return "RS384" if isinstance(self.private_key, rsa.RSAPrivateKey) else "ES384"

    @classmethod
    def from_pem(cls, kid: str, pem: bytes | str, created: float = 0.0) -> SigningKey:
        """A key from its PEM text (PKCS#8 or traditional, unencrypted)."""
        data = pem.encode() if isinstance(pem, str) else pem
        return cls(kid, load_pem_private_key(data, password=None), created)


@dataclass(frozen=True)
class BackendClient:
    """A registered backend client: its id and its private keys (several during a rotation)."""

    client_id: str
    keys: tuple[SigningKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError(f"client {self.client_id} has no signing key")

    @property
    def signing_key(self) -> SigningKey:
        """The newest key (latest `created`; the later one listed on a tie)."""
        return max(reversed(self.keys), key=lambda k: k.created)

    def with_key(self, key: SigningKey) -> BackendClient:
        """The client after a rotation added `key` (old keys stay until the JWKS drops them)."""
        return BackendClient(self.client_id, (*self.keys, key))


def client_assertion(client: BackendClient, token_url: str, now: float) -> str:
    """A signed client assertion for one token request."""
    key = client.signing_key
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": token_url,
        "exp": int(now) + ASSERTION_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    headers = {"kid": key.kid, "typ": "JWT"}
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers=headers)


class SmartBackendSession(requests.Session):
    """A requests session authorized by SMART Backend Services; use `smart_backend_session`."""

    def __init__(
        self,
        token_url: str,
        client: BackendClient,
        scopes: Iterable[str],
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.token_url = token_url
        self.client = client
        self.scopes = " ".join(scopes)
        self.timeout = timeout
        self.clock = clock
        self.wall_clock = wall_clock
        self.tokens_fetched = 0
        self.granted_scopes = ""
        self._token = ""
        self._refresh_at = 0.0

    def rotate(self, key: SigningKey) -> None:
        """Sign every later token request with `key` (the current token stays valid)."""
        self.client = self.client.with_key(key)

    def request(self, method, url, *args, **kwargs) -> requests.Response:  # type: ignore[override]
        """Send with a fresh enough token; on a 401, fetch a new token once and send again."""
        if url == self.token_url:
            return super().request(method, url, *args, **kwargs)
        given = dict(kwargs.pop("headers", None) or {})

        def send() -> requests.Response:
            headers = given | {"Authorization": f"Bearer {self._token}"}
            return super(SmartBackendSession, self).request(
                method, url, *args, headers=headers, **kwargs
            )

        if not self._token or self.clock() >= self._refresh_at:
            self.fetch()
        response = send()
        if response.status_code == 401:
            response.close()
            self.fetch()
            response = send()
        return response

    def fetch(self) -> None:
        """Get a new access token with a newly signed client assertion."""
        started = self.clock()
        form = {
            "grant_type": "client_credentials",
            "scope": self.scopes,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(self.client, self.token_url, self.wall_clock()),
        }
        try:
            response = self.post(self.token_url, data=form, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TokenError(None, type(exc).__name__) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise TokenError(response.status_code, str(error or "no error code"))
        token, lifetime = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise TokenError(response.status_code, "the answer has no access_token or expires_in")
        self._token = token
        self.granted_scopes = str(body.get("scope") or "")
        self.tokens_fetched += 1
        self._refresh_at = started + lifetime - min(REFRESH_BEFORE, lifetime / 10)


def smart_backend_session(
    token_url: str,
    client: BackendClient,
    scopes: Iterable[str],
    policy: RetryPolicy | None = None,
    observer: Observer | None = None,
    limiter: Callable[[], object] | None = None,
    timeout: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    **adapter_options,
) -> SmartBackendSession:
    """A retrying, rate-limited SMART backend session (https, or plain http on loopback for
    the sandbox). `adapter_options` go to runtime.core.http's RetryAdapter (sleep, draw)."""
    plain_http_on_loopback(token_url, "SMART Backend Services")  # https off loopback
    session = SmartBackendSession(token_url, client, scopes, timeout, clock, wall_clock)
    retrying_session(
        session,
        policy,
        observer,
        safe_post=lambda request: request.url == token_url,
        limiter=limiter,
        clock=clock,
        **adapter_options,
    )
    return session
