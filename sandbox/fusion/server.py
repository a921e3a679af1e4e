"""The Fusion simulator's HTTP surface: OAuth2 and Basic auth, ERP integrations, reads, knobs.

Implements docs/fusion_contract.md on a `LoopbackServer`. Request bodies are never logged or
echoed back (they carry journal lines); state lives in memory for the life of the server.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs

from sandbox.fusion import knobs as knob_rules
from sandbox.fusion.jobs import JobRunner
from sandbox.fusion.journal_import import JobParameters, spec
from sandbox.fusion.knobs import KnobError, Knobs
from sandbox.fusion.ledger import Books
from sandbox.server import LoopbackServer, Request, Response, json_response

NAME = "fusion"
CLIENT_ID = "ehrfusion-sandbox"
CLIENT_SECRET = "sandbox-client-secret"
USERNAME = "ehrfusion.integration"
PASSWORD = "sandbox-password"
FIRST_REQUEST_ID = 5000001

API = "/fscmRestApi/resources/11.13.18.05"
TOKEN_PATH = "/oauth2/v1/token"
ERP_INTEGRATIONS = f"{API}/erpintegrations"
JOURNAL_BATCHES = f"{API}/journalBatches"
LEDGER_BALANCES = f"{API}/ledgerBalances"
KNOBS_PATH = "/__sandbox__/knobs"
LEDGER_PATH = "/__sandbox__/ledger"

DEFAULT_LIMIT, MAX_LIMIT = 25, 500
_BATCH_FIELDS = {
    "JournalBatchName": "batch_name",
    "LedgerId": "ledger_id",
    "GroupId": "group_id",
    "JournalSource": "journal_source",
    "RequestId": "request_id",
}
_Q_TERM = re.compile(r"^\s*(\w+)\s*=\s*(?:'((?:[^']|'')*)'|([^';]*?))\s*$")


class FusionSimulator(LoopbackServer):
    """Simulated Oracle Fusion (GL journal import and reads) on 127.0.0.1."""

    def __init__(
        self, endpoints_file: Path | None = None, first_request_id: int = FIRST_REQUEST_ID
    ) -> None:
        super().__init__(NAME, endpoints_file)
        self.lock = threading.RLock()
        self.books = Books()
        self.knobs = Knobs()
        self.jobs = JobRunner(self.books, self.knobs, self.lock, first_request_id)
        self._tokens: dict[str, float] = {}

    def start(self) -> Self:
        """Start the job worker, then serve."""
        self.jobs.start()
        try:
            return super().start()
        except BaseException:
            self.jobs.stop()
            raise

    def stop(self) -> None:
        """Stop serving, then stop the job worker; idempotent."""
        super().stop()
        self.jobs.stop()

    def route(self, request: Request) -> Response | None:
        """Dispatch by path; API paths go through 5xx injection and auth first."""
        if request.path == TOKEN_PATH:
            return self._only(request, "POST") or self._token(request)
        if request.path == KNOBS_PATH:
            return self._knobs(request)
        if request.path == LEDGER_PATH:
            return self._only(request, "GET") or self._ledger()
        handlers = {
            ERP_INTEGRATIONS: self._erp_integrations,
            JOURNAL_BATCHES: self._journal_batches,
            LEDGER_BALANCES: self._ledger_balances,
        }
        handler = handlers.get(request.path)
        if handler is None:
            return None
        with self.lock:
            unavailable = self.knobs.take_5xx()
        if unavailable:
            response = _error(503, "Service Unavailable", "injected by the sandbox")
            response.headers["Retry-After"] = "0"
            return response
        if not self._authorized(request):
            return _unauthorized()
        return handler(request)

    # --- auth -------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        if not _same(_basic(request), (CLIENT_ID, CLIENT_SECRET)):
            response = json_response({"error": "invalid_client"}, 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="fusion"'
            return response
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return json_response({"error": "unsupported_grant_type"}, 400)
        token = secrets.token_urlsafe(32)
        with self.lock:
            lifetime = self.knobs.token_seconds
            self._tokens[token] = time.monotonic() + lifetime
        payload = {"access_token": token, "token_type": "Bearer", "expires_in": int(lifetime)}
        return json_response(payload)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            with self.lock:
                expiry = self._tokens.get(header[7:].strip())
            return expiry is not None and time.monotonic() < expiry
        return _same(_basic(request), (USERNAME, PASSWORD))

    # --- ERP integrations -------------------------------------------------------------------

    def _erp_integrations(self, request: Request) -> Response:
        if request.method == "POST":
            return self._import_bulk_data(request)
        if request.method == "GET":
            return self._job_finder(request)
        return _error(405, "Method Not Allowed", f"{request.method} is not supported here")

    def _import_bulk_data(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return _error(400, "Bad Request", "the body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "Bad Request", "the body must be a JSON object")
        layout = spec()
        expected = {
            "OperationName": "importBulkData",
            "DocumentAccount": layout.ucm_document_account,
            "JobName": layout.ess_job.name,
        }
        for name, value in expected.items():
            if body.get(name) != value:
                return _error(400, "Bad Request", f"{name} must be {value}")
        try:
            params = JobParameters.parse(str(body.get("ParameterList", "")))
            document = base64.b64decode(str(body.get("DocumentContent", "")), validate=True)
        except (ValueError, binascii.Error) as exc:
            return _error(400, "Bad Request", str(exc) or "DocumentContent is not base64")
        request_id = self.jobs.submit(str(body.get("FileName", "")), document, params)
        echoed = {k: v for k, v in body.items() if k != "DocumentContent"}
        echoed["ReqstId"] = request_id
        return json_response(echoed, 201)

    def _job_finder(self, request: Request) -> Response:
        finder, args = _finder(request)
        request_id = args.get("requestId", "")
        if finder == "ESSJobStatusRF":
            status = self.jobs.status(request_id)
            items = [] if status is None else [{"ReqstId": request_id, "RequestStatus": status}]
            return _collection(items)
        if finder == "ESSJobExecutionDetailsRF":
            log_zip = self.jobs.log(request_id)
            items = []
            if log_zip is not None:
                content = base64.b64encode(log_zip).decode("ascii")
                name = f"{request_id}.zip"
                items = [{"ReqstId": request_id, "DocumentContent": content, "FileName": name}]
            return _collection(items)
        detail = "finder must be ESSJobStatusRF or ESSJobExecutionDetailsRF"
        return _error(400, "Bad Request", detail)

    # --- reads ------------------------------------------------------------------------------

    def _journal_batches(self, request: Request) -> Response:
        if request.method != "GET":
            return _error(405, "Method Not Allowed", f"{request.method} is not supported here")
        try:
            filters = _q_filters(request.query.get("q", [""])[0])
        except ValueError as exc:
            return _error(400, "Bad Request", str(exc))
        with self.lock:
            items = [
                b.to_json()
                for b in self.books.batches
                if all(getattr(b, attr) == value for attr, value in filters.items())
            ]
        return _page(request, items)

    def _ledger_balances(self, request: Request) -> Response:
        if request.method != "GET":
            return _error(405, "Method Not Allowed", f"{request.method} is not supported here")
        finder, args = _finder(request)
        if finder != "AccountBalanceFinder":
            return _error(400, "Bad Request", "finder must be AccountBalanceFinder")
        required = ("ledgerSetOrLedger", "accountingPeriod", "currency")
        missing = [k for k in required if not args.get(k)]
        if missing:
            return _error(400, "Bad Request", f"AccountBalanceFinder needs {', '.join(missing)}")
        with self.lock:
            ledger = self.books.ledger_named(args["ledgerSetOrLedger"])
            items = (
                ledger.balances(
                    args["accountingPeriod"], args["currency"], args.get("accountCombination")
                )
                if ledger
                else []
            )
        return _page(request, items)

    # --- sandbox ----------------------------------------------------------------------------

    def _knobs(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                payload = request.json()
            except ValueError:
                return _error(400, "Bad Request", "the body is not JSON")
            with self.lock:
                try:
                    knob_rules.apply(payload, self.knobs, self.books)
                except KnobError as exc:
                    return _error(400, "Bad Request", str(exc))
        elif request.method != "GET":
            return _error(405, "Method Not Allowed", f"{request.method} is not supported here")
        with self.lock:
            return json_response(knob_rules.describe(self.knobs, self.books))

    def _ledger(self) -> Response:
        with self.lock:
            lines = [line.to_json() for line in self.books.lines]
        return json_response({"items": lines, "count": len(lines)})

    @staticmethod
    def _only(request: Request, method: str) -> Response | None:
        if request.method == method:
            return None
        return _error(405, "Method Not Allowed", f"use {method}")


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if header[:6].lower() != "basic ":
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (ValueError, binascii.Error):
        return None
    return user, password


def _same(given: tuple[str, str] | None, expected: tuple[str, str]) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given[0], expected[0]) & hmac.compare_digest(given[1], expected[1])


def _finder(request: Request) -> tuple[str, dict[str, str]]:
    """Split `finder=Name;key=value,key=value` into the name and its arguments."""
    name, _, rest = request.query.get("finder", [""])[0].partition(";")
    args: dict[str, str] = {}
    last = None
    for part in rest.split(","):
        key, sep, value = part.partition("=")
        if sep:
            last = key.strip()
            args[last] = value
        elif last is not None:  # a comma inside a value, e.g. a ledger name
            args[last] += "," + part
    return name.strip(), args


def _q_filters(q: str) -> dict[str, str]:
    """`JournalBatchName='X';LedgerId=1` -> {attribute: value}; ValueError on anything else."""
    filters: dict[str, str] = {}
    for term in _split_q(q):
        match = _Q_TERM.match(term)
        if not match or match.group(1) not in _BATCH_FIELDS:
            raise ValueError(f"q supports {', '.join(_BATCH_FIELDS)} with = only")
        quoted, bare = match.group(2), match.group(3)
        value = quoted.replace("''", "'") if quoted is not None else bare
        filters[_BATCH_FIELDS[match.group(1)]] = value
    return filters


def _split_q(q: str) -> list[str]:
    """Split on `;` outside single quotes."""
    terms, current, quoted = [], [], False
    for char in q:
        if char == "'":
            quoted = not quoted
        if char == ";" and not quoted:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def _page(request: Request, items: list[dict[str, Any]]) -> Response:
    try:
        limit = int(request.query.get("limit", [DEFAULT_LIMIT])[0])
        offset = int(request.query.get("offset", [0])[0])
    except ValueError:
        return _error(400, "Bad Request", "limit and offset must be integers")
    if limit < 1 or offset < 0:
        return _error(400, "Bad Request", "limit must be positive and offset not negative")
    limit = min(limit, MAX_LIMIT)
    page = items[offset : offset + limit]
    return json_response(
        {
            "items": page,
            "count": len(page),
            "hasMore": offset + limit < len(items),
            "limit": limit,
            "offset": offset,
        }
    )


def _collection(items: list[dict[str, Any]]) -> Response:
    return json_response({"items": items, "count": len(items), "hasMore": False})


def _error(status: int, title: str, detail: str) -> Response:
    return json_response({"title": title, "detail": detail}, status)


def _unauthorized() -> Response:
    response = _error(401, "Unauthorized", "a valid Bearer token or Basic credentials are required")
    response.headers["WWW-Authenticate"] = 'Bearer realm="fusion", Basic realm="fusion"'
    return response
