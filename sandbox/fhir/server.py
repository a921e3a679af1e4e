"""The FHIR R4 stand-in: SMART Backend Services tokens and tenant-scoped search, on 127.0.0.1.

- `POST /oauth2/token`: client credentials with a JWT client assertion (RFC 7523), as SMART
  Backend Services asks: signed RS384 or ES384 with a key of the client's registered JWKS
  (found by the header's `kid`), `iss` and `sub` the client id, `aud` the token URL, `exp` at
  most five minutes ahead, a `jti` never seen before. Scopes are `system/<Resource>.read`
  (or `system/*.read`); the token carries the granted ones and the client's tenant.
- `GET /r4/<tenant>/<Resource>?_lastUpdated=ge|gt<instant>&_count=<n>`: a searchset Bundle of
  the current version of each matching resource, oldest `meta.lastUpdated` first (then id),
  paged through `link[next]` (`?_getpages=<snapshot>&_offset=<n>`: later pages read the
  snapshot the first page took, as HAPI does). A token reads only its own tenant (403).
- Knobs (`POST /__sandbox__/knobs` or `server.knobs`): `throttle_next` (429 with
  Retry-After), `http_5xx_next` (503), `latency_seconds` (slow pages), `token_seconds`,
  `retry_after_seconds`, `foreign_next_host` (next links on another host), `revoke_tokens`
  (every issued token expires now). Faults apply to searches, not to the token endpoint.

Errors are OperationOutcomes naming what is wrong, never a resource's content.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox.fhir.world import RESOURCE_TYPES, TENANTS, TenantData, generate
from sandbox.server import LoopbackServer, Request, Response, json_response

NAME = "fhir"
TOKEN_PATH = "/oauth2/token"
ALGORITHMS = ("RS384", "ES384")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_SECONDS = 300
TOKEN_SECONDS = 300.0
DEFAULT_COUNT, MAX_COUNT = 50, 200
MAX_SNAPSHOTS = 256
KINDS = {"bool": "true or false", "str": "text", "int": "a non-negative integer",
         "float": "a non-negative number"}  # fmt: skip


@dataclass
class Knobs:
    """`*_next` knobs count down, one per search request they affect."""

    throttle_next: int = 0
    http_5xx_next: int = 0
    latency_seconds: float = 0.0
    token_seconds: float = TOKEN_SECONDS
    retry_after_seconds: int = 1
    foreign_next_host: str = ""

    def take(self, name: str) -> bool:
        left = getattr(self, name)
        if left <= 0:
            return False
        setattr(self, name, left - 1)
        return True


@dataclass
class Client:
    """A registered backend client: its tenant, its public keys (a JWKS) and allowed scopes."""

    client_id: str
    tenant: str
    jwks: dict[str, Any]
    scopes: frozenset[str] = field(
        default_factory=lambda: frozenset(f"system/{t}.read" for t in RESOURCE_TYPES)
    )


@dataclass(frozen=True)
class Token:
    client_id: str
    tenant: str
    scopes: frozenset[str]
    expires: float


def client_id(tenant: str) -> str:
    """The sandbox's published backend client id of a tenant."""
    return f"{tenant}-backend"


def client_key(seed: int, tenant: str, kid: str = "k1") -> ec.EllipticCurvePrivateKey:
    """A tenant client's ES384 private key, derived from the seed (the sandbox publishes it)."""
    order = int(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
        "581a0db248b0a77aecec196accc52973",
        16,
    )
    digest = hashlib.sha512(f"{seed}:fhir-client-key:{tenant}:{kid}".encode()).digest()
    value = 1 + int.from_bytes(digest, "big") % (order - 1)
    return ec.derive_private_key(value, ec.SECP384R1())


def public_jwk(private_key: Any, kid: str) -> dict[str, Any]:
    """The public JWK of a private key (EC P-384 -> ES384, RSA -> RS384)."""
    public = private_key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
        return jwk | {"kid": kid, "alg": "ES384", "use": "sig"}
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
    return jwk | {"kid": kid, "alg": "RS384", "use": "sig"}


def outcome(status: int, code: str, diagnostics: str) -> Response:
    issue = {"severity": "error", "code": code, "diagnostics": diagnostics}
    return json_response({"resourceType": "OperationOutcome", "issue": [issue]}, status)


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def _same_kind(value: Any, current: Any) -> bool:
    """Whether a knob value has the knob's kind (numbers non-negative; a float takes an int)."""
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, str):
        return isinstance(value, str)
    allowed = (int, float) if isinstance(current, float) else (int,)
    return isinstance(value, allowed) and value >= 0


class AssertionRefused(ValueError):
    """A client assertion the token endpoint refuses; the message says why."""


class FhirServer(LoopbackServer):
    """Tenants' FHIR R4 APIs behind one SMART Backend Services authorization server."""

    def __init__(
        self,
        seed: int = 7,
        size: int = 12,
        tenants: tuple[str, ...] = TENANTS,
        endpoints_file: Path | None = None,
    ) -> None:
        super().__init__(NAME, endpoints_file)
        self.seed = seed
        self.lock = threading.RLock()
        self.knobs = Knobs()
        self.data: dict[str, TenantData] = {t: generate(seed, t, size) for t in tenants}
        self.clients: dict[str, Client] = {}
        for tenant in tenants:
            jwks = {"keys": [public_jwk(client_key(seed, tenant), "k1")]}
            self.register_client(client_id(tenant), tenant, jwks)
        self.stats = {"token_requests": 0, "tokens_issued": 0, "searches": 0, "throttled": 0}
        self._tokens: dict[str, Token] = {}
        self._jtis: dict[str, float] = {}
        self._snapshots: dict[str, tuple[str, str, list[dict[str, Any]]]] = {}

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    def base_url(self, tenant: str) -> str:
        """A tenant's FHIR base URL."""
        return f"{self.url}/r4/{tenant}"

    def register_client(self, client: str, tenant: str, jwks: dict[str, Any]) -> None:
        """Register a client, or replace its JWKS (a key rotation publishes a new set)."""
        with self.lock:
            self.clients[client] = Client(client, tenant, jwks)

    def update(self, tenant: str, resource_type: str, key: str, last_updated: datetime) -> dict:
        """A resource's next version, stamped `last_updated` (earlier than served: late)."""
        with self.lock:
            return self.data[tenant].update(resource_type, key, last_updated)

    def route(self, request: Request) -> Response | None:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        if request.path == "/__sandbox__/knobs":
            return self._knobs(request)
        parts = request.path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "r4" and request.method == "GET":
            return self._search(request, parts[1], parts[2])
        if len(parts) == 2 and parts[0] == "r4" and request.method == "GET":
            return self._search(request, parts[1], "")
        return None

    # --- SMART Backend Services -------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        with self.lock:
            self.stats["token_requests"] += 1
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "grant_type must be client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return _oauth_error("invalid_client", "a JWT bearer client assertion is required", 401)
        try:
            client = self._check_assertion(form.get("client_assertion", ""))
        except AssertionRefused as exc:
            return _oauth_error("invalid_client", str(exc), 401)
        asked = set(form.get("scope", "").split())
        granted = {s for s in asked if s in client.scopes or s == "system/*.read"}
        if "system/*.read" in granted:
            granted = (granted - {"system/*.read"}) | set(client.scopes)
        if not asked or not granted:
            return _oauth_error("invalid_scope", "no requested scope can be granted")
        token = secrets.token_urlsafe(32)
        with self.lock:
            lifetime = float(self.knobs.token_seconds)
            self._tokens[token] = Token(
                client.client_id, client.tenant, frozenset(granted), time.monotonic() + lifetime
            )
            self.stats["tokens_issued"] += 1
        return json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": int(lifetime),
                "scope": " ".join(sorted(granted)),
            }
        )

    def _check_assertion(self, assertion: str) -> Client:
        try:
            header = jwt.get_unverified_header(assertion)
            claimed = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AssertionRefused("the client assertion is not a JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise AssertionRefused("the assertion must be signed RS384 or ES384")
        with self.lock:
            client = self.clients.get(str(claimed.get("iss")))
        if client is None:
            raise AssertionRefused("unknown client")
        keys = [k for k in client.jwks.get("keys", []) if k.get("kid") == kid]
        if not kid or not keys:
            raise AssertionRefused("no registered key has the assertion's kid")
        try:
            key = jwt.PyJWK(keys[0], algorithm=alg).key
            claims = jwt.decode(
                assertion,
                key,
                algorithms=[alg],
                audience=self.token_url,
                issuer=client.client_id,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise AssertionRefused(f"the assertion is refused ({type(exc).__name__})") from None
        if claims["sub"] != client.client_id:
            raise AssertionRefused("sub must be the client id")
        now = time.time()
        if claims["exp"] > now + MAX_ASSERTION_SECONDS + 5:
            raise AssertionRefused("exp is more than five minutes ahead")
        with self.lock:
            self._jtis = {j: e for j, e in self._jtis.items() if e > now}
            if claims["jti"] in self._jtis:
                raise AssertionRefused("jti was used before")
            self._jtis[str(claims["jti"])] = float(claims["exp"])
        return client

    def _authorize(self, request: Request, tenant: str, resource_type: str) -> Response | None:
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
        with self.lock:
            token = self._tokens.get(bearer)
        if token is None or time.monotonic() >= token.expires:
            response = outcome(401, "login", "a valid Bearer token is required")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        if token.tenant != tenant:
            return outcome(403, "forbidden", "the token belongs to another tenant")
        if resource_type and f"system/{resource_type}.read" not in token.scopes:
            return outcome(403, "forbidden", f"the token has no system/{resource_type}.read")
        return None

    # --- search -----------------------------------------------------------------------------

    def _search(self, request: Request, tenant: str, resource_type: str) -> Response:
        if tenant not in self.data:
            return outcome(404, "not-found", "no such tenant")
        snapshot = request.query.get("_getpages", [""])[0]
        if not resource_type and not snapshot:
            return outcome(400, "invalid", "a search names a resource type")
        if resource_type and resource_type not in RESOURCE_TYPES:
            return outcome(404, "not-supported", "resource type not served")
        fault = self._fault()
        if fault is not None:
            return fault
        with self.lock:
            held = self._snapshots.get(snapshot) if snapshot else None
        if snapshot and (held is None or held[0] != tenant):
            return outcome(410, "not-found", "the search snapshot expired")
        denied = self._authorize(request, tenant, held[1] if held else resource_type)
        if denied is not None:
            return denied
        try:
            count = int(request.query.get("_count", [str(DEFAULT_COUNT)])[0])
            offset = int(request.query.get("_offset", ["0"])[0])
        except ValueError:
            return outcome(400, "invalid", "_count and _offset must be integers")
        count = max(1, min(count, MAX_COUNT))
        if held is None:
            try:
                matches = self._matches(tenant, resource_type, request.query)
            except ValueError as exc:
                return outcome(400, "invalid", str(exc))
            snapshot = secrets.token_hex(8)
            with self.lock:
                self._snapshots[snapshot] = (tenant, resource_type, matches)
                while len(self._snapshots) > MAX_SNAPSHOTS:  # the oldest searches expire
                    del self._snapshots[next(iter(self._snapshots))]
                self.stats["searches"] += 1
        else:
            matches = held[2]
        page = matches[offset : offset + count]
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "link": [{"relation": "self", "url": self._page_url(tenant, snapshot, offset, count)}],
            "entry": [
                {
                    "fullUrl": f"{self.base_url(tenant)}/{r['resourceType']}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in page
            ],
        }
        if offset + count < len(matches):
            url = self._page_url(tenant, snapshot, offset + count, count)
            bundle["link"].append({"relation": "next", "url": url})
        return json_response(bundle)

    def _page_url(self, tenant: str, snapshot: str, offset: int, count: int) -> str:
        with self.lock:
            host = self.knobs.foreign_next_host
        query = urlencode({"_getpages": snapshot, "_offset": offset, "_count": count})
        base = f"{host.rstrip('/')}/r4/{tenant}" if host else self.base_url(tenant)
        return f"{base}?{query}"

    def _matches(self, tenant: str, resource_type: str, query: dict) -> list[dict[str, Any]]:
        bounds = []
        for value in query.get("_lastUpdated", []):
            prefix, moment = value[:2], value[2:]
            if prefix not in ("ge", "gt"):
                raise ValueError("_lastUpdated takes the prefixes ge and gt")
            try:
                when = datetime.fromisoformat(moment)
            except ValueError:
                raise ValueError("_lastUpdated needs an instant") from None
            if when.tzinfo is None:
                raise ValueError("_lastUpdated needs an instant with a time zone")
            bounds.append((prefix, when))
        with self.lock:
            current = self.data[tenant].latest(resource_type)

        def keep(resource: dict[str, Any]) -> bool:
            updated = datetime.fromisoformat(resource["meta"]["lastUpdated"])
            return all(updated >= w if p == "ge" else updated > w for p, w in bounds)

        found = [r for r in current if keep(r)]
        return sorted(found, key=lambda r: (r["meta"]["lastUpdated"], r["id"]))

    def _fault(self) -> Response | None:
        with self.lock:
            if self.knobs.take("throttle_next"):
                self.stats["throttled"] += 1
                response = outcome(429, "throttled", "request budget exceeded")
                response.headers["Retry-After"] = str(self.knobs.retry_after_seconds)
                return response
            if self.knobs.take("http_5xx_next"):
                return outcome(503, "transient", "injected by the sandbox")
            latency = self.knobs.latency_seconds
        time.sleep(latency)
        return None

    # --- sandbox ----------------------------------------------------------------------------

    def _knobs(self, request: Request) -> Response:
        with self.lock:
            if request.method == "POST":
                try:
                    payload = request.json()
                except ValueError:
                    payload = None
                if not isinstance(payload, dict):
                    return outcome(400, "invalid", "knobs must be a JSON object")
                unknown = set(payload) - {*asdict(self.knobs), "revoke_tokens"}
                if unknown:
                    return outcome(400, "invalid", f"unknown knobs: {', '.join(sorted(unknown))}")
                for name, value in payload.items():
                    current = True if name == "revoke_tokens" else getattr(self.knobs, name)
                    if not _same_kind(value, current):
                        kind = KINDS[type(current).__name__]
                        return outcome(400, "invalid", f"{name} must be {kind}")
                if payload.pop("revoke_tokens", False):
                    self.revoke_tokens()
                for name, value in payload.items():
                    setattr(self.knobs, name, value)
            return json_response(asdict(self.knobs))

    def revoke_tokens(self) -> None:
        """Every token issued so far expires now (the client sees 401 on its next call)."""
        with self.lock:
            self._tokens = {
                k: Token(t.client_id, t.tenant, t.scopes, 0.0) for k, t in self._tokens.items()
            }
