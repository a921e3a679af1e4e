"""Create calls of the real-time path: AR customer accounts (TCA `accounts`) and Fixed Assets
mass additions through `erpintegrations` processTransaction, per docs/fusion_contract.md.

Mass additions share the FaMassAdditions store with the FBDI import, so a mass addition is
readable back however it arrived. Their parameters are `P_<column>` for the columns of the
simulator's FaMassAdditions layout, typed by it, dates YYYY-MM-DD as the Fixed Assets REST
operations require.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import date
from typing import Any

from sandbox.fusion.catalog import FbdiObject
from sandbox.fusion.objects import ObjectStore, StoredRow
from sandbox.fusion.rest import (
    RestError,
    Route,
    bad_request,
    filters,
    json_object,
    not_found,
    page,
    route,
    select,
)
from sandbox.server import Request, Response, json_response

CRM_API = "/crmRestApi/resources/11.13.18.05"
ACCOUNTS = f"{CRM_API}/accounts"
ACCOUNT_REQUIRED = ("OrganizationName", "SourceSystem", "SourceSystemReferenceValue")
ACCOUNT_OPTIONAL = ("AccountNumber", "Type")
ACCOUNT_ATTRIBUTES = ("PartyId", "PartyNumber", *ACCOUNT_REQUIRED, *ACCOUNT_OPTIONAL)
DEFAULT_ACCOUNT_TYPE = "ZCA_CUSTOMER"
FIRST_PARTY_ID = 300000400000001
FIRST_PARTY_NUMBER = 100001

CREATE_MASS_ADDITION = "processTransaction-createMassAddition"
GET_MASS_ADDITION = "processTransaction-getMassAddition"
MASS_ADDITION_REQUIRED = (
    "BOOK_TYPE_CODE",
    "DESCRIPTION",
    "FIXED_ASSETS_COST",
    "FIXED_ASSETS_UNITS",
    "DATE_PLACED_IN_SERVICE",
)
FIRST_MASS_ADDITION_ID = 300000300000001
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_NUMBERS = {"integer": re.compile(r"^-?\d+$"), "amount": _DECIMAL, "number": _DECIMAL}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CustomerAccounts:
    """AR customer accounts: create, list, read one."""

    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.accounts: list[dict[str, Any]] = []

    def routes(self) -> list[Route]:
        """The resource's routes."""
        return [
            route(ACCOUNTS, GET=self.list_accounts, POST=self.create),
            route(f"{ACCOUNTS}/{{party_number}}", GET=self.get_account),
        ]

    def create(self, request: Request) -> Response:
        """Create an account; 409 when its source reference or account number exists."""
        body = json_object(request)
        unknown = sorted(set(body) - set(ACCOUNT_REQUIRED) - set(ACCOUNT_OPTIONAL))
        if unknown:
            allowed = ", ".join((*ACCOUNT_REQUIRED, *ACCOUNT_OPTIONAL))
            raise bad_request(f"unknown attributes {unknown}; allowed: {allowed}")
        if any(not isinstance(v, str) for v in body.values()):
            raise bad_request("attribute values must be strings")
        missing = [k for k in ACCOUNT_REQUIRED if not body.get(k, "").strip()]
        if missing:
            raise bad_request(f"required: {', '.join(missing)}")
        with self.lock:
            source = (body["SourceSystem"], body["SourceSystemReferenceValue"])
            for account in self.accounts:
                if (account["SourceSystem"], account["SourceSystemReferenceValue"]) == source:
                    raise _conflict(f"account {account['PartyNumber']} has this source reference")
                if account["AccountNumber"] == body.get("AccountNumber"):
                    raise _conflict(f"account {account['PartyNumber']} has this AccountNumber")
            count = len(self.accounts)
            party_number = str(FIRST_PARTY_NUMBER + count)
            account = {
                "PartyId": FIRST_PARTY_ID + count,
                "PartyNumber": party_number,
                "Type": DEFAULT_ACCOUNT_TYPE,
                "AccountNumber": party_number,
                **body,
            }
            self.accounts.append(account)
        response = json_response(account, 201)
        response.headers["Location"] = f"{ACCOUNTS}/{party_number}"
        return response

    def list_accounts(self, request: Request) -> Response:
        """Accounts, filtered by `q=` and paged."""
        terms = filters(request, ACCOUNT_ATTRIBUTES)
        with self.lock:
            return page(request, select(list(self.accounts), terms))

    def get_account(self, request: Request, party_number: str) -> Response:
        """One account by PartyNumber."""
        with self.lock:
            for account in self.accounts:
                if account["PartyNumber"] == party_number:
                    return json_response(account)
        raise not_found(f"no account with PartyNumber {party_number}")


class MassAdditions:
    """processTransaction-createMassAddition and -getMassAddition."""

    operations = (CREATE_MASS_ADDITION, GET_MASS_ADDITION)

    def __init__(self, spec: FbdiObject, objects: ObjectStore, lock: threading.RLock) -> None:
        self.spec = spec
        self.objects = objects
        self.lock = lock
        self._next_id = FIRST_MASS_ADDITION_ID

    def process(self, body: dict[str, Any]) -> Response:
        """Run one of `operations`; the answer's ParameterList is a JSON text of X_ values."""
        operation = body["OperationName"]
        parameters = _parameter_object(body.get("ParameterList"))
        if operation == CREATE_MASS_ADDITION:
            result = self._create(parameters)
        else:
            result = self._get(parameters)
        answer = {"OperationName": operation, "ParameterList": json.dumps(result), "ReqstId": None}
        return json_response(answer, 201)

    def _create(self, parameters: dict[str, Any]) -> dict[str, str]:
        columns = {c.name: c for c in self.spec.primary.columns}
        values: dict[str, str] = {}
        for name, raw in parameters.items():
            column = columns.get(name.removeprefix("P_")) if name.startswith("P_") else None
            if column is None:
                raise bad_request(f"{name} is not P_ followed by a FaMassAdditions column")
            if raw not in (None, ""):
                values[column.name] = self._value(str(raw), name, column.type)
        missing = [f"P_{c}" for c in MASS_ADDITION_REQUIRED if c not in values]
        if missing:
            raise bad_request(f"required: {', '.join(missing)}")
        key = self.spec.primary.columns[0].name
        with self.lock:
            taken = {r.values.get(key) for r in self._rows()}
            if key in values and values[key] in taken:
                raise bad_request(f"P_{key} {values[key]} already exists")
            while str(self._next_id) in taken:
                self._next_id += 1
            values.setdefault(key, str(self._next_id))
            self.objects.add(StoredRow(self.spec.object_name, self.spec.csv_file, values))
        return {"X_RETURN_STATUS": "S", "X_MSG_COUNT": "0", f"X_{key}": values[key]}

    def _get(self, parameters: dict[str, Any]) -> dict[str, str]:
        key = self.spec.primary.columns[0].name
        wanted = str(parameters.get(f"P_{key}") or "")
        if not wanted:
            raise bad_request(f"P_{key} is required")
        dates = {c.name for c in self.spec.primary.columns if c.type == "date"}
        with self.lock:
            found = [r for r in self._rows() if r.values.get(key) == wanted]
        if not found:
            raise not_found(f"no mass addition {wanted}")
        values = found[-1].values
        return {"X_RETURN_STATUS": "S"} | {
            f"X_{name}": value.replace("/", "-") if name in dates else value
            for name, value in values.items()
        }

    def _rows(self) -> list[StoredRow]:
        return self.objects.rows(self.spec.object_name, self.spec.csv_file)

    def _value(self, text: str, name: str, column_type: str) -> str:
        if column_type == "date":
            try:
                if not _ISO_DATE.match(text):
                    raise ValueError
                date.fromisoformat(text)
            except ValueError:
                raise bad_request(f"{name} must be a YYYY-MM-DD date") from None
            return text.replace("-", "/")  # kept as FBDI rows keep dates
        if column_type in _NUMBERS and not _NUMBERS[column_type].match(text):
            raise bad_request(f"{name} must be a number without separators")
        return text


def _parameter_object(parameter_list: Any) -> dict[str, Any]:
    """The ParameterList: a JSON object, or JSON text of one."""
    if isinstance(parameter_list, str):
        try:
            parameter_list = json.loads(parameter_list)
        except ValueError:
            raise bad_request("ParameterList must be a JSON object") from None
    if not isinstance(parameter_list, dict):
        raise bad_request("ParameterList must be a JSON object")
    return parameter_list


def _conflict(detail: str) -> RestError:
    return RestError(409, "Conflict", detail)
