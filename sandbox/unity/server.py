"""The Veradigm Unity API stand-in (JSON endpoint): GetToken, MagicJson with changed-since
actions for patients and charges, RetireSecurityToken; fault knobs and sandbox-only routes for
stats, mutations and rows. Implements docs/veradigm_contract.md.

Unity answers in its own style: HTTP 200 with a plain-text token or `error: ...` for
GetToken, and for Magic a one-element array holding `<action lowercased>info` rows, or
`{"Error": "Magic Error - Action: ... - ..."}`. Every value is a string. A token ends after
`token_seconds` without use (Unity's inactivity logout).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.practice_fusion import knobs as knob_rules
from sandbox.practice_fusion.faults import FaultyServer
from sandbox.practice_fusion.knobs import KnobError
from sandbox.practice_fusion.practices import Change, Practice, mutate
from sandbox.practice_fusion.traffic import Traffic
from sandbox.server import Request, Response, json_response

NAME = "veradigm_unity"
JSON_API = "/Unity/UnityService.svc/json"
GET_TOKEN = f"{JSON_API}/GetToken"
MAGIC = f"{JSON_API}/MagicJson"
RETIRE = f"{JSON_API}/RetireSecurityToken"
APPNAME = "ehrfusion.sandbox"
USERNAME = "ehrfusion-unity"
PASSWORD = "sandbox-unity-password"
APP_USER = "EHRFUSION"
STAMP = "%Y-%m-%dT%H:%M:%SZ"
LOGGED_OUT = "As a Security precaution, you have been logged out due to inactivity."
# Magic action -> (entity, Unity field -> row field); the first field is the key.
ACTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "GetChangedPatients": (
        "patients",
        {
            "PatientID": "patient_id",
            "MRN": "mrn",
            "LastName": "last_name",
            "FirstName": "first_name",
            "DOB": "birth_date",
            "Gender": "sex",
            "ZipCode": "postal_code",
        },
    ),
    "GetChangedCharges": (
        "charges",
        {
            "ChargeID": "charge_id",
            "PatientID": "patient_id",
            "ProviderID": "provider_id",
            "ServiceDate": "service_date",
            "CPTCode": "cpt_code",
            "ICD10Code": "icd10_code",
            "Units": "units",
            "Amount": "amount",
            "Status": "status",
        },
    ),
}
CORRUPTIONS = {"patients": ("DOB", "1980-02-31"), "charges": ("Units", "two")}


def unity_item(action: str, key: str, change: Change) -> dict[str, str]:
    """One changed row in Unity's shape: every value a string, `Deleted` Y or N."""
    _, fields = ACTIONS[action]
    key_field = next(iter(fields))
    values = {f: str(change.row[c]) for f, c in fields.items()} if change.row else {key_field: key}
    deleted = "N" if change.row else "Y"
    return values | {"ChangedAt": change.changed_at.strftime(STAMP), "Deleted": deleted}


class UnityServer(FaultyServer):
    """One Unity organisation's practice on 127.0.0.1."""

    def __init__(self, practice: Practice, endpoints_file: Path | None = None) -> None:
        super().__init__(NAME, endpoints_file)
        self.practice = practice
        self.traffic = Traffic(limit=10**9, window=1.0)  # Unity publishes no budget: count only
        self._tokens: dict[str, float] = {}  # token -> last use (monotonic)

    def route(self, request: Request) -> Response | None:
        if request.path.startswith("/__sandbox__/"):
            return self._sandbox(request)
        if request.method != "POST" or request.path not in (GET_TOKEN, MAGIC, RETIRE):
            return None
        with self.lock:
            self.traffic.arrive(time.monotonic())
        fault = self.inject_fault(
            _text("Service Unavailable", 503), _text("Too Many Requests", 429)
        )
        if fault is not None:
            return fault
        body = _json_object(request)
        if request.path == GET_TOKEN:
            return self._get_token(body)
        if request.path == RETIRE:
            with self.lock:
                self._tokens.pop(str(body.get("Token", "")), None)
            return _text("")
        return self._magic(body)

    def _get_token(self, body: dict[str, Any]) -> Response:
        given = (body.get("Username"), body.get("Password"), body.get("Appname"))
        if given != (USERNAME, PASSWORD, APPNAME):
            return _text("error: Username, password or application name not valid")
        token = str(uuid.uuid4()).upper()
        with self.lock:
            self.traffic.token_requests += 1
            self._tokens[token] = time.monotonic()
        return _text(token)

    def _magic(self, body: dict[str, Any]) -> Response:
        action = str(body.get("Action", ""))
        with self.lock:
            token = str(body.get("Token", ""))
            last_use = self._tokens.get(token)
            if last_use is None or time.monotonic() - last_use > self.knobs.token_seconds:
                self._tokens.pop(token, None)
                return _magic_error(action, LOGGED_OUT)
            self._tokens[token] = time.monotonic()
        if body.get("Appname") != APPNAME or body.get("AppUserID") != APP_USER:
            return _magic_error(action, "AppUserID or Appname not valid")
        if action not in ACTIONS:
            return _magic_error(action, "Action not supported")
        try:
            since = datetime.strptime(str(body.get("Parameter1", "")), STAMP).replace(tzinfo=UTC)
        except ValueError:
            return _magic_error(action, "Parameter1 must be a UTC time YYYY-MM-DDTHH:MM:SSZ")
        entity, _ = ACTIONS[action]
        with self.lock:
            changes = self.practice.logs[entity].changed_since(since)
            rows = [unity_item(action, key, change) for key, change in changes]
            malformed = self.knobs.take("malformed_next")
            live = [row for row in rows if row["Deleted"] == "N"]
            if live and not malformed and self.knobs.take("corrupt_records_next"):
                field, value = CORRUPTIONS[entity]
                live[0][field] = value
        text = json.dumps([{f"{action.lower()}info": rows}], sort_keys=True).encode()
        return Response(200, text[: len(text) // 2] if malformed else text)

    def _sandbox(self, request: Request) -> Response | None:
        if request.path == "/__sandbox__/stats" and request.method == "GET":
            with self.lock:
                return json_response(self.traffic.to_json())
        if request.path == "/__sandbox__/knobs":
            with self.lock:
                if request.method == "POST":
                    try:
                        if knob_rules.apply(_json_object(request), self.knobs):
                            self._tokens.clear()
                    except KnobError as exc:
                        return json_response({"error": str(exc)}, 400)
                return json_response(self.knobs.to_json())
        if request.path == "/__sandbox__/mutations" and request.method == "POST":
            size = _json_object(request).get("size", 5)
            if not isinstance(size, int) or size < 1:
                return json_response({"error": "size must be a positive integer"}, 400)
            with self.lock:
                return json_response(mutate(self.practice, size))
        for action, (entity, _) in ACTIONS.items():
            if request.path == f"/__sandbox__/rows/{entity}" and request.method == "GET":
                with self.lock:
                    latest = sorted(self.practice.logs[entity].latest.items())
                    rows = [unity_item(action, k, c) for k, c in latest if c.row is not None]
                return json_response({"items": rows})
        return None


def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _text(text: str, status: int = 200) -> Response:
    return Response(status, text.encode("utf-8"), "text/plain; charset=utf-8")


def _magic_error(action: str, message: str) -> Response:
    return json_response([{"Error": f"Magic Error - Action: {action} - {message}"}])
