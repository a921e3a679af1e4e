"""The Fusion simulator's HTTP surface: OAuth2 and Basic auth, the routes of every resource, knobs.

Implements docs/fusion_contract.md on a `LoopbackServer`. Request bodies are never logged or
echoed back (they carry journal lines and worker data); state lives in memory for the life of
the server, and, given a `state_file`, on disk too: read when built, saved (owner-only, replaced
atomically) within a second of any request and at stop, so a later simulator on the same file
is the same Fusion (`ehrfusion sandbox serve` after the demo). Every API route goes through 5xx
injection and auth; the token endpoint and the `/__sandbox__/` routes do not.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import pickle
import secrets
import threading
import time
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs

from sandbox.fusion import imports
from sandbox.fusion import knobs as knob_rules
from sandbox.fusion.creates import CustomerAccounts, MassAdditions
from sandbox.fusion.data_loader import DataLoader
from sandbox.fusion.hcm_store import HcmStore
from sandbox.fusion.jobs import Job, JobRunner
from sandbox.fusion.knobs import KnobError, Knobs
from sandbox.fusion.ledger import Books
from sandbox.fusion.objects import ObjectStore
from sandbox.fusion.reference import Reference
from sandbox.fusion.rest import (
    Route,
    bad_request,
    call,
    collection,
    error,
    filters,
    finder,
    json_object,
    match,
    not_found,
    page,
    route,
    select,
)
from sandbox.fusion.workers import Workers
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
OBJECTS_PATH = "/__sandbox__/objects"
HCM_PATH = "/__sandbox__/hcm"
BATCH_ATTRIBUTES = ("JournalBatchName", "LedgerId", "GroupId", "JournalSource", "RequestId")


class FusionSimulator(LoopbackServer):
    """Simulated Oracle Fusion (imports, HCM Data Loader, reads and creates) on 127.0.0.1."""

    def __init__(
        self,
        endpoints_file: Path | None = None,
        first_request_id: int = FIRST_REQUEST_ID,
        state_file: Path | None = None,
    ) -> None:
        super().__init__(NAME, endpoints_file)
        self.state_file = Path(state_file) if state_file else None
        self._requests = self._saved = 0
        self._saver: threading.Thread | None = None
        self._saver_stop = threading.Event()
        self.lock = threading.RLock()
        saved = self._read_state()
        self.books = saved["books"] if saved else Books()
        self.knobs = Knobs()
        self.jobs = JobRunner(
            self.knobs, self.lock, saved["next_request_id"] if saved else first_request_id
        )
        self.objects = saved["objects"] if saved else ObjectStore()
        self.hcm = saved["hcm"] if saved else HcmStore()
        fixed_assets = next(s for s in imports.fbdi_specs() if s.object_name == "FaMassAdditions")
        self.mass_additions = MassAdditions(fixed_assets, self.objects, self.lock)
        self._tokens: dict[str, float] = {}
        self.data_loader = DataLoader(self.hcm, self.jobs, self.lock)
        self.customer_accounts = CustomerAccounts(self.lock)
        if saved:
            for request_id, (status, log_zip) in saved["jobs"].items():
                self.jobs.jobs[request_id] = Job(request_id, None, None, status, log_zip)
            self.data_loader.data_sets = saved["data_sets"]
            self.data_loader._next_content = saved["next_content"]
            self.customer_accounts.accounts = saved["accounts"]
            self.mass_additions._next_id = saved["next_mass_addition_id"]
        self.api_routes: list[Route] = [
            route(ERP_INTEGRATIONS, GET=self._job_finder, POST=self._erp_operation),
            route(JOURNAL_BATCHES, GET=self._journal_batches),
            route(LEDGER_BALANCES, GET=self._ledger_balances),
            *self.data_loader.routes(),
            *Workers(self.hcm, self.lock).routes(),
            *Reference(self.objects, self.lock).routes(),
            *self.customer_accounts.routes(),
        ]
        self.open_routes: list[Route] = [
            route(TOKEN_PATH, POST=self._token),
            route(KNOBS_PATH, GET=self._knobs, POST=self._knobs),
            route(LEDGER_PATH, GET=self._ledger),
            route(f"{OBJECTS_PATH}/{{object_name}}", GET=self._object_rows),
            route(f"{HCM_PATH}/{{component}}", GET=self._hcm_records),
        ]

    def start(self) -> Self:
        """Start the job worker, then serve (and save the state as it changes)."""
        self.jobs.start()
        try:
            super().start()
        except BaseException:
            self.jobs.stop()
            raise
        if self.state_file is not None:
            self._saver_stop.clear()
            self._saver = threading.Thread(target=self._save_loop, name="fusion-state", daemon=True)
            self._saver.start()
        return self

    def stop(self) -> None:
        """Stop serving, then stop the job worker and save the state; idempotent."""
        running = self.running
        super().stop()
        self.jobs.stop()
        if self._saver is not None:
            self._saver_stop.set()
            self._saver.join()
            self._saver = None
        if running and self.state_file is not None:
            self.save_state()

    def handle(self, request: Request) -> Response:
        """Answer one request, counting it so the state is saved after it."""
        try:
            return super().handle(request)
        finally:
            with self.lock:
                self._requests += 1

    # --- state on disk ----------------------------------------------------------------------

    def save_state(self) -> None:
        """Write the books, imported objects, HCM records, finished jobs and data sets to the
        state file (mode 0600, replaced atomically)."""
        with self.lock:
            self._saved = self._requests
            jobs = {
                request_id: (job.status, job.log_zip)
                for request_id, job in self.jobs.jobs.items()
                if job.log_zip is not None
            }
            state = {
                "version": 1,
                "books": self.books,
                "objects": self.objects,
                "hcm": self.hcm,
                "jobs": jobs,
                "next_request_id": self.jobs._next_id,
                "data_sets": self.data_loader.data_sets,
                "next_content": self.data_loader._next_content,
                "accounts": self.customer_accounts.accounts,
                "next_mass_addition_id": self.mass_additions._next_id,
            }
            data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        target = self.state_file
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)

    def _read_state(self) -> dict | None:
        """The state a simulator on the same file saved, or None."""
        if self.state_file is None or not self.state_file.exists():
            return None
        # The simulator's own owner-only file, written by save_state.
        return pickle.loads(self.state_file.read_bytes())

    def _save_loop(self) -> None:
        while not self._saver_stop.wait(1.0):
            with self.lock:
                changed = self._requests != self._saved
            if changed:
                self.save_state()

    def route(self, request: Request) -> Response | None:
        """Dispatch by path; API routes go through 5xx injection and auth first."""
        found = match(self.open_routes, request.path)
        if found is not None:
            return call(*found, request)
        found = match(self.api_routes, request.path)
        if found is None:
            return None
        with self.lock:
            unavailable = self.knobs.take_5xx()
        if unavailable:
            response = error(503, "Service Unavailable", "injected by the sandbox")
            response.headers["Retry-After"] = "0"
            return response
        if not self._authorized(request):
            return _unauthorized()
        return call(*found, request)

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

    def _erp_operation(self, request: Request) -> Response:
        body = json_object(request)
        operation = body.get("OperationName")
        if operation in self.mass_additions.operations:
            return self.mass_additions.process(body)
        if operation == "submitESSJobRequest":
            work = imports.follow_up_work_for(body, self.objects)
            request_id = self.jobs.submit(work, b"")
            return json_response(body | {"ReqstId": request_id}, 201)
        if operation != "importBulkData":
            known = ", ".join(
                ("importBulkData", "submitESSJobRequest", *self.mass_additions.operations)
            )
            raise bad_request(f"OperationName must be one of {known}")
        work = imports.work_for(body, self.books, self.objects)
        request_id = self.jobs.submit(work, imports.document(body))
        echoed = {k: v for k, v in body.items() if k != "DocumentContent"}
        echoed["ReqstId"] = request_id
        return json_response(echoed, 201)

    def _job_finder(self, request: Request) -> Response:
        name, args = finder(request)
        request_id = args.get("requestId", "")
        if name == "ESSJobStatusRF":
            status = self.jobs.status(request_id)
            items = [] if status is None else [{"ReqstId": request_id, "RequestStatus": status}]
            return collection(items)
        if name == "ESSJobExecutionDetailsRF":
            log_zip = self.jobs.log(request_id)
            items = []
            if log_zip is not None:
                content = base64.b64encode(log_zip).decode("ascii")
                file_name = f"{request_id}.zip"
                items = [{"ReqstId": request_id, "DocumentContent": content, "FileName": file_name}]
            return collection(items)
        raise bad_request("finder must be ESSJobStatusRF or ESSJobExecutionDetailsRF")

    # --- ledger reads -----------------------------------------------------------------------

    def _journal_batches(self, request: Request) -> Response:
        terms = filters(request, BATCH_ATTRIBUTES)
        with self.lock:
            batches = list(self.books.batches)
        found = [b for b in batches if select([b.summary()], terms)]
        # Line references (a batch may have a million) are listed for the page's batches only.
        return page(request, found, render=lambda batch: batch.to_json())

    def _ledger_balances(self, request: Request) -> Response:
        name, args = finder(request)
        if name != "AccountBalanceFinder":
            raise bad_request("finder must be AccountBalanceFinder")
        required = ("ledgerSetOrLedger", "accountingPeriod", "currency")
        missing = [k for k in required if not args.get(k)]
        if missing:
            raise bad_request(f"AccountBalanceFinder needs {', '.join(missing)}")
        with self.lock:
            ledger = self.books.ledger_named(args["ledgerSetOrLedger"])
            items = (
                ledger.balances(
                    args["accountingPeriod"], args["currency"], args.get("accountCombination")
                )
                if ledger
                else []
            )
        return page(request, items)

    # --- sandbox ----------------------------------------------------------------------------

    def _knobs(self, request: Request) -> Response:
        if request.method == "POST":
            payload = json_object(request)
            with self.lock:
                try:
                    knob_rules.apply(payload, self.knobs, self.books)
                except KnobError as exc:
                    raise bad_request(str(exc)) from None
        with self.lock:
            return json_response(knob_rules.describe(self.knobs, self.books))

    def _ledger(self, request: Request) -> Response:
        with self.lock:
            lines = list(self.books.posted_lines())
        return json_response({"items": lines, "count": len(lines)})

    def _object_rows(self, request: Request, object_name: str) -> Response:
        """Rows an FBDI object's imports (or creates) stored, for tests."""
        with self.lock:
            rows = [r.to_json() for r in self.objects.rows(object_name)]
        return json_response({"items": rows, "count": len(rows)})

    def _hcm_records(self, request: Request, component: str) -> Response:
        """Records of one HDL component, for tests."""
        with self.lock:
            try:
                records = self.hcm.records(component)
            except KeyError:
                raise not_found(f"no HDL component {component}") from None
            items = [{"SurrogateId": r.surrogate_id, "Values": dict(r.values)} for r in records]
        return json_response({"items": items, "count": len(items)})


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


def _unauthorized() -> Response:
    response = error(401, "Unauthorized", "a valid Bearer token or Basic credentials are required")
    response.headers["WWW-Authenticate"] = 'Bearer realm="fusion", Basic realm="fusion"'
    return response
