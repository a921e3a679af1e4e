"""The Practice Fusion REST stand-in: OAuth2 client credentials per practice, delta endpoints
with an opaque cursor and paging, a request budget per practice enforced with 429 and
Retry-After, fault knobs, and sandbox-only routes for stats, mutations and rows.

Implements docs/veradigm_contract.md on a `LoopbackServer`. Every API and token request is
counted against its practice's budget when it arrives (`traffic.Traffic`), before faults and
auth, so the stats are the server's own count.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from sandbox.practice_fusion import knobs as knob_rules
from sandbox.practice_fusion.faults import FaultyServer
from sandbox.practice_fusion.knobs import KnobError
from sandbox.practice_fusion.practices import ENTITIES, KEYS, Change, Practice, mutate
from sandbox.practice_fusion.traffic import Traffic, retry_after
from sandbox.server import Request, Response, json_response

NAME = "practice_fusion"
TOKEN_PATH = "/oauth2/token"
DELTA = re.compile(rf"/api/v1/practices/([\w-]+)/({'|'.join(ENTITIES)})/delta")
ROWS = re.compile(rf"/__sandbox__/rows/([\w-]+)/({'|'.join(ENTITIES)})")
BUDGET, WINDOW = 30, 1.0
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
CORRUPTIONS = {"charges": ("units", "two"), "patients": ("birth_date", "1980-02-31"),
               "providers": ("npi", 1234567890)}  # fmt: skip


def client_id(practice_id: str) -> str:
    """The sandbox's published client id of a practice."""
    return f"{practice_id}-client"


def client_secret(practice_id: str) -> str:
    """The sandbox's published client secret of a practice."""
    return f"{practice_id}-sandbox-secret"


def outcome(status: int, code: str, diagnostics: str) -> Response:
    """An error answer as a FHIR OperationOutcome, as Practice Fusion's API returns them."""
    issue = {"severity": "error", "code": code, "diagnostics": diagnostics}
    return json_response({"resourceType": "OperationOutcome", "issue": [issue]}, status)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"pf:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The change sequence number inside a cursor; ValueError for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("cursor") from None
    prefix, _, seq = text.partition(":")
    if prefix != "pf" or not seq.isdigit():
        raise ValueError("cursor")
    return int(seq)


def api_item(entity: str, key: str, change: Change) -> dict[str, Any]:
    """One delta item: the row as of its latest change, or a tombstone."""
    item: dict[str, Any] = {"change_seq": change.seq, "deleted": change.row is None}
    row = change.row or {KEYS[entity]: key, "updated_at": change.changed_at}
    return item | row | {"updated_at": row["updated_at"].strftime("%Y-%m-%dT%H:%M:%SZ")}


class PracticeFusionServer(FaultyServer):
    """Several Practice Fusion practices (tenants) behind one API on 127.0.0.1."""

    def __init__(
        self,
        practices: list[Practice],
        endpoints_file: Path | None = None,
        budget: int = BUDGET,
        window: float = WINDOW,
    ) -> None:
        super().__init__(NAME, endpoints_file)
        self.practices = {p.practice_id: p for p in practices}
        self.traffic = {p.practice_id: Traffic(budget, window) for p in practices}
        self._tokens: dict[str, tuple[str, float]] = {}

    def route(self, request: Request) -> Response | None:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        if request.path.startswith("/__sandbox__/"):
            return self._sandbox(request)
        found = DELTA.fullmatch(request.path)
        if found is None or request.method != "GET":
            return None
        practice_id, entity = found.groups()
        if practice_id not in self.practices:
            return outcome(404, "not-found", "no such practice")
        refused = self._admit(practice_id)
        if refused is not None:
            return refused
        denied = self._authorize(request, practice_id)
        return denied or self._delta(request, practice_id, entity)

    # --- budget and faults ------------------------------------------------------------------

    def _admit(self, practice_id: str) -> Response | None:
        """Count the arrival; answer 429 over budget, else any injected fault."""
        with self.lock:
            traffic = self.traffic[practice_id]
            wait = traffic.arrive(time.monotonic())
            if wait is not None:
                traffic.throttled += 1
                return _throttled(retry_after(wait))
        fault = self.inject_fault(
            outcome(503, "transient", "injected by the sandbox"),
            outcome(429, "throttled", "injected by the sandbox"),
        )
        if fault is not None and fault.status == 429:
            with self.lock:
                traffic.throttled += 1
        return fault

    # --- OAuth2 -----------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        practice_id = self._client(request)
        if practice_id is None:
            return json_response({"error": "invalid_client"}, 401)
        refused = self._admit(practice_id)
        if refused is not None:
            return refused
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return json_response({"error": "unsupported_grant_type"}, 400)
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.traffic[practice_id].token_requests += 1
            lifetime = self.knobs.token_seconds
            self._tokens[token] = (practice_id, time.monotonic() + lifetime)
        return json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": int(lifetime)}
        )

    def _client(self, request: Request) -> str | None:
        """The practice whose client credentials authenticate a token request (Basic)."""
        header = request.headers.get("authorization", "")
        if header[:6].lower() != "basic ":
            return None
        try:
            given = base64.b64decode(header[6:].strip()).decode("utf-8")
        except (ValueError, binascii.Error):
            return None
        user, _, password = given.partition(":")
        for practice_id in self.practices:
            if hmac.compare_digest(user, client_id(practice_id)) and hmac.compare_digest(
                password, client_secret(practice_id)
            ):
                return practice_id
        return None

    def _authorize(self, request: Request, practice_id: str) -> Response | None:
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
        with self.lock:
            holder = self._tokens.get(bearer)
        if holder is None or time.monotonic() >= holder[1]:
            response = outcome(401, "login", "a valid Bearer token is required")
            response.headers["WWW-Authenticate"] = 'Bearer realm="practicefusion"'
            return response
        if holder[0] != practice_id:
            return outcome(403, "forbidden", "the token belongs to another practice")
        return None

    # --- delta ------------------------------------------------------------------------------

    def _delta(self, request: Request, practice_id: str, entity: str) -> Response:
        cursor = request.query.get("cursor", [""])[0]
        limit = request.query.get("limit", [str(DEFAULT_LIMIT)])[0]
        try:
            after = decode_cursor(cursor) if cursor else 0
        except ValueError:
            return outcome(400, "invalid", "cursor is not a cursor this API issued")
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
            return outcome(400, "invalid", f"limit must be 1..{MAX_LIMIT}")
        with self.lock:
            changes, more = self.practices[practice_id].logs[entity].after(after, int(limit))
            items = [api_item(entity, key, change) for key, change in changes]
            malformed = self.knobs.take("malformed_next")
            corrupt = not malformed and items and not items[0]["deleted"]
            if corrupt and self.knobs.take("corrupt_records_next"):
                field, value = CORRUPTIONS[entity]
                items[0][field] = value
        last = changes[-1][1].seq if changes else after
        body = {"items": items, "next_cursor": encode_cursor(last), "has_more": more}
        text = json.dumps(body, sort_keys=True).encode()
        return Response(200, text[: len(text) // 2] if malformed else text)

    # --- sandbox ----------------------------------------------------------------------------

    def _sandbox(self, request: Request) -> Response | None:
        if request.path == "/__sandbox__/stats" and request.method == "GET":
            with self.lock:
                stats = {p: t.to_json() for p, t in self.traffic.items()}
            return json_response({"practices": stats})
        if request.path == "/__sandbox__/knobs":
            with self.lock:
                if request.method == "POST":
                    try:
                        if knob_rules.apply(_json(request), self.knobs):
                            self._tokens.clear()
                    except KnobError as exc:
                        return outcome(400, "invalid", str(exc))
                return json_response(self.knobs.to_json())
        if request.path == "/__sandbox__/mutations" and request.method == "POST":
            payload = _json(request) or {}
            batches, size = payload.get("batches", 1), payload.get("size", 5)
            if not all(isinstance(v, int) and v >= 1 for v in (batches, size)):
                return outcome(400, "invalid", "batches and size must be positive integers")
            with self.lock:
                counts = {p.practice_id: [mutate(p, size) for _ in range(batches)]
                          for p in self.practices.values()}  # fmt: skip
            return json_response({"practices": counts})
        found = ROWS.fullmatch(request.path)
        if found and found.group(1) in self.practices and request.method == "GET":
            practice_id, entity = found.groups()
            with self.lock:
                log = self.practices[practice_id].logs[entity]
                rows = [api_item(entity, k, c) for k, c in sorted(log.latest.items()) if c.row]
            return json_response({"items": rows})
        return None


def _json(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        return None


def _throttled(retry_after_value: str) -> Response:
    response = outcome(429, "throttled", "request budget exceeded")
    response.headers["Retry-After"] = retry_after_value
    return response
