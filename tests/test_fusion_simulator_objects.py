"""The Fusion simulator's FBDI objects other than GL and the real-time creates, over real HTTP.

importBulkData picks the import from the spec whose document account and ESS job the request
names; the load checks each CSV's field count against the spec, then every row is checked
against what the spec knows of its columns. Clean rows land in the object's store; rejected rows
are in the job log with a code naming the column. AR customer accounts and Fixed Assets mass
additions are created in real time and read back. One simulator serves the module; each test
works on rows, accounts and assets of its own.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import time
import zipfile
from collections.abc import Iterator
from functools import partial
from types import SimpleNamespace

import pytest
import requests

from load.formats import ColumnSpec, CsvFileSpec, FormatSpec, available_objects, load_spec
from sandbox.fusion.server import ERP_INTEGRATIONS, PASSWORD, USERNAME, FusionSimulator

OBJECTS = {
    spec.object_name: spec
    for spec in (load_spec("25B", name) for name in available_objects("25B"))
    if isinstance(spec, FormatSpec) and spec.object_name != "GlInterface"
}
ACCOUNTS = "/crmRestApi/resources/11.13.18.05/accounts"
SUPPLIERS = "/fscmRestApi/resources/11.13.18.05/suppliers"
POLLS = 400
_SAMPLES = {"date": "2026/10/05", "integer": "1", "amount": "10.00"}


@pytest.fixture(scope="module")
def fusion(tmp_path_factory) -> Iterator[FusionSimulator]:
    with FusionSimulator(tmp_path_factory.mktemp("objects") / "endpoints.json") as server:
        requests.post(f"{server.url}/__sandbox__/knobs", json={"job_seconds": 0}, timeout=10)
        yield server


@pytest.fixture(scope="module")
def api() -> SimpleNamespace:
    """Calls as the integration user, each on a new connection (on a kept-alive one every
    answer would wait for the client's delayed ACK)."""
    auth = (USERNAME, PASSWORD)
    return SimpleNamespace(
        **{m: partial(getattr(requests, m), auth=auth, timeout=10) for m in ("get", "post")}
    )


def sample(column: ColumnSpec) -> str:
    """A value the column accepts."""
    return column.allowed[0] if column.allowed else _SAMPLES.get(column.type, "EHF")


def sample_row(file: CsvFileSpec) -> dict[str, str]:
    """Every documented column of the CSV with a value it accepts."""
    return {c.name: sample(c) for c in file.columns}


def fields(file: CsvFileSpec, values: dict[str, str]) -> list[str]:
    """One CSV row: the values at their columns' positions, every other field empty."""
    row = [""] * file.field_count
    for name, value in values.items():
        row[file.column(name).position - 1] = value
    return row


def zip_of(rows_by_file: dict[str, list[list[str]]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, rows in rows_by_file.items():
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(rows)
            archive.writestr(name, text.getvalue())
    return out.getvalue()


def parameter_list(spec: FormatSpec, primary_row: dict[str, str]) -> str:
    """The job's ParameterList: bound parameters from the row, defaults, #NULL elsewhere."""
    job = spec.ess_job
    values = [
        primary_row[p.column] if p.column else p.default or (p.allowed or ("#NULL",))[0]
        for p in job.parameters
    ]
    return ",".join(values + ["#NULL"] * ((job.parameter_count or len(values)) - len(values)))


def submit(fusion, api, spec: FormatSpec, document: bytes, parameters: str) -> requests.Response:
    body = {
        "OperationName": "importBulkData",
        "DocumentContent": base64.b64encode(document).decode(),
        "ContentType": "zip",
        "FileName": spec.zip_name("test"),
        "DocumentAccount": spec.ucm_document_account,
        "JobName": spec.ess_job.name,
        "ParameterList": parameters,
        "CallbackURL": "#NULL",
        "NotificationCode": "10",
    }
    return api.post(f"{fusion.url}{ERP_INTEGRATIONS}", json=body)


def run(fusion, api, spec: FormatSpec, document: bytes, parameters: str):
    """Import to the end: (status, log text, rejected rows, stored rows of this request)."""
    answer = submit(fusion, api, spec, document, parameters)
    assert answer.status_code == 201, answer.text
    request_id = answer.json()["ReqstId"]
    url = f"{fusion.url}{ERP_INTEGRATIONS}"
    for _ in range(POLLS):
        finder = f"ESSJobStatusRF;requestId={request_id}"
        status = api.get(url, params={"finder": finder}).json()["items"][0]["RequestStatus"]
        if status not in ("WAIT", "RUNNING"):
            break
        time.sleep(0.02)
    finder = f"ESSJobExecutionDetailsRF;requestId={request_id},fileType=LOG"
    (item,) = api.get(url, params={"finder": finder}).json()["items"]
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(item["DocumentContent"]))) as archive:
        text = archive.read(f"{request_id}.log").decode()
        rejected = list(csv.DictReader(io.StringIO(archive.read("rejected_rows.csv").decode())))
    stored = requests.get(f"{fusion.url}/__sandbox__/objects/{spec.object_name}", timeout=10)
    mine = [r for r in stored.json()["items"] if r["RequestId"] == request_id]
    return status, text, rejected, mine


def one_row_zip(spec: FormatSpec, **changes: str) -> tuple[bytes, str]:
    """A zip with one sample row per CSV (changed as asked) and its ParameterList."""
    values = sample_row(spec.primary)
    document = zip_of({f.csv_file: [fields(f, sample_row(f) | changes)] for f in spec.files})
    return document, parameter_list(spec, values)


def codes(rejected: list[dict]) -> list[tuple[str, str]]:
    return [(r["line_number"], r["error_code"]) for r in rejected]


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_each_object_imports_under_its_own_document_account_and_job(fusion, api, name) -> None:
    spec = OBJECTS[name]
    document, parameters = one_row_zip(spec)
    status, text, rejected, stored = run(fusion, api, spec, document, parameters)
    assert (status, rejected) == ("SUCCEEDED", [])
    assert f"{spec.description} request" in text and spec.ess_job.name in text
    assert f"Rows: {len(spec.files)} imported, 0 rejected." in text
    assert [r["CsvFile"] for r in stored] == [f.csv_file for f in spec.files]
    assert stored[0]["Values"] == sample_row(spec.primary)
    assert stored[0]["LineNumber"] == 1


def test_the_job_must_be_the_one_of_the_document_account(fusion, api) -> None:
    invoices, items = OBJECTS["RaInterfaceLinesAll"], OBJECTS["EgpSystemItemsInterface"]
    document, parameters = one_row_zip(invoices)
    body = {  # the AutoInvoice document account with the item import job
        "OperationName": "importBulkData",
        "DocumentContent": base64.b64encode(document).decode(),
        "DocumentAccount": invoices.ucm_document_account,
        "JobName": items.ess_job.name,
        "ParameterList": parameters,
    }
    answer = api.post(f"{fusion.url}{ERP_INTEGRATIONS}", json=body)
    assert answer.status_code == 400
    assert "fin$/autoInvoice$/import$ with" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("name", "parameters", "problem"),
    [
        ("RaInterfaceLinesAll", "EHF,EHF,2026/10/05", "needs 24 comma-separated values"),
        ("EgpSystemItemsInterface", "1,null,MERGE,N,ORA_ALL,N,Y", "ImportMode must be one of"),
        ("PozSuppliersInt", "NEW", "needs 2 comma-separated values"),
    ],
)
def test_a_parameter_list_outside_the_spec_is_a_400(fusion, api, name, parameters, problem):
    document, _ = one_row_zip(OBJECTS[name])
    answer = submit(fusion, api, OBJECTS[name], document, parameters)
    assert answer.status_code == 400 and problem in answer.json()["detail"]


def test_rows_are_rejected_with_a_code_naming_the_column(fusion, api) -> None:
    spec = OBJECTS["RaInterfaceLinesAll"]
    good = sample_row(spec.primary) | {"BU_NAME": "EHF US Business Unit"}
    spoiled = [
        {},
        {"LINE_TYPE": "DISCOUNT"},
        {"TRX_DATE": "10/05/2026"},
        {"AMOUNT": "1,000.00"},
        {"BU_NAME": "Another Business Unit"},
        {"DESCRIPTION": ""},
        {"GL_DATE": "2026/02/30"},
    ]
    rows = [fields(spec.primary, good | change) for change in spoiled]
    status, text, rejected, stored = run(
        fusion, api, spec, zip_of({spec.csv_file: rows}), parameter_list(spec, good)
    )
    assert status == "WARNING"
    assert codes(rejected) == [
        ("2", "ER01"),
        ("3", "ED01"),
        ("4", "EN01"),
        ("5", "ES01"),
        ("6", "ER01"),
        ("7", "ED01"),
    ]
    assert [r["message"] for r in rejected[:5]] == [
        "column LINE_TYPE must be LINE or TAX or FREIGHT or CHARGES",
        "column TRX_DATE is not a YYYY/MM/DD date",
        "column AMOUNT is not an amount",
        "column BU_NAME does not match the job parameter",
        "required column DESCRIPTION is empty",
    ]
    assert {r["csv_file"] for r in rejected} == {spec.csv_file}
    assert "Rows: 1 imported, 6 rejected." in text
    assert [r["LineNumber"] for r in stored] == [1]


def test_a_distribution_must_name_an_accepted_mass_addition(fusion, api) -> None:
    spec = OBJECTS["FaMassAdditions"]
    additions, distributions = spec.files
    rows = {
        additions.csv_file: [
            fields(additions, sample_row(additions) | {"MASS_ADDITION_ID": "71"}),
            fields(additions, {"MASS_ADDITION_ID": "72", "DATE_PLACED_IN_SERVICE": "2026-10-05"}),
        ],
        distributions.csv_file: [
            fields(distributions, {"MASS_ADDITION_ID": mass_addition_id, "UNITS": "1"})
            for mass_addition_id in ("71", "72", "73")
        ],
    }
    status, _, rejected, stored = run(fusion, api, spec, zip_of(rows), "")
    assert status == "WARNING"
    assert [(r["csv_file"], r["line_number"], r["error_code"]) for r in rejected] == [
        (additions.csv_file, "2", "ED01"),
        (distributions.csv_file, "2", "EK01"),
        (distributions.csv_file, "3", "EK01"),
    ]
    assert rejected[1]["message"] == "MASS_ADDITION_ID names no accepted row of FaMassAdditions.csv"
    assert [(r["CsvFile"], r["Values"]["MASS_ADDITION_ID"]) for r in stored] == [
        (additions.csv_file, "71"),
        (distributions.csv_file, "71"),
    ]


def test_required_columns_the_spec_knows_are_required(fusion, api) -> None:
    spec = OBJECTS["InvTransactionsInterface"]
    required = [c.name for c in spec.columns if c.required]
    assert len(required) == 9
    good = sample_row(spec.primary)
    rows = [fields(spec.primary, good), *(fields(spec.primary, good | {n: ""}) for n in required)]
    status, _, rejected, _ = run(fusion, api, spec, zip_of({spec.csv_file: rows}), "")
    assert status == "WARNING"
    assert [r["message"] for r in rejected] == [f"required column {n} is empty" for n in required]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda rows: rows[1].pop(), "line 2 of InvTransactionsInterface.csv has 272 fields"),
        (lambda rows: rows[0].append(""), "line 1 of InvTransactionsInterface.csv has 274 fields"),
        (lambda rows: rows.clear(), "InvTransactionsInterface.csv has no rows"),
    ],
)
def test_a_file_that_cannot_load_fails_the_job_and_stores_nothing(fusion, api, edit, problem):
    spec = OBJECTS["InvTransactionsInterface"]
    rows = [fields(spec.primary, sample_row(spec.primary)) for _ in range(2)]
    edit(rows)
    status, text, rejected, stored = run(fusion, api, spec, zip_of({spec.csv_file: rows}), "")
    assert (status, rejected, stored) == ("ERROR", [], [])
    assert problem in text and "Nothing was imported." in text


def test_a_zip_without_the_objects_csv_fails_the_load(fusion, api) -> None:
    spec = OBJECTS["PozSuppliersInt"]
    document = zip_of({"PoSupplierImport.csv": [fields(spec.primary, sample_row(spec.primary))]})
    status, text, _, _ = run(fusion, api, spec, document, "NEW,N")
    assert status == "ERROR" and "the zip holds no PozSuppliersInt.csv" in text


def test_suppliers_an_import_created_are_read_back_after_the_worlds(fusion, api) -> None:
    spec = OBJECTS["PozSuppliersInt"]
    created = {
        "IMPORT_ACTION": "CREATE",
        "VENDOR_NAME": "St Mary Linen Cooperative",
        "SEGMENT1": "77001",
        "VENDOR_TYPE_LOOKUP_CODE": "SUPPLIER",
        "END_DATE_ACTIVE": "2027/12/31",
    }
    updated = created | {"IMPORT_ACTION": "UPDATE", "VENDOR_NAME": "Abbott Medical Supply"}
    rows = [fields(spec.primary, created), fields(spec.primary, updated)]
    assert run(fusion, api, spec, zip_of({spec.csv_file: rows}), "NEW,N")[0] == "SUCCEEDED"
    q = "SupplierNumber='77001'"
    (supplier,) = api.get(f"{fusion.url}{SUPPLIERS}", params={"q": q}).json()["items"]
    assert supplier["Supplier"] == "St Mary Linen Cooperative"
    assert supplier["InactiveDate"] == "2027-12-31"
    assert supplier["SupplierId"] > 300000200000030  # after the world's thirty


def test_a_customer_account_is_created_and_read_back(fusion, api) -> None:
    body = {
        "OrganizationName": "Blue Shield Of Example",
        "SourceSystem": "EPIC",
        "SourceSystemReferenceValue": "PAYER-1001",
    }
    created = api.post(f"{fusion.url}{ACCOUNTS}", json=body)
    assert created.status_code == 201, created.text
    account = created.json()
    assert account | body == account
    assert account["Type"] == "ZCA_CUSTOMER" and account["AccountNumber"]
    assert created.headers["Location"] == f"{ACCOUNTS}/{account['PartyNumber']}"
    read = api.get(f"{fusion.url}{ACCOUNTS}/{account['PartyNumber']}").json()
    assert read == account
    q = "SourceSystem='EPIC';SourceSystemReferenceValue='PAYER-1001'"
    assert api.get(f"{fusion.url}{ACCOUNTS}", params={"q": q}).json()["items"] == [account]

    again = api.post(f"{fusion.url}{ACCOUNTS}", json=body)
    assert (again.status_code, again.json()["title"]) == (409, "Conflict")
    assert account["PartyNumber"] in again.json()["detail"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"OrganizationName": "X", "SourceSystem": "EPIC"}, "required: SourceSystemReferenceValue"),
        ({"OrganizationName": " ", "SourceSystem": "EPIC", "SourceSystemReferenceValue": "P2"},
         "required: OrganizationName"),
        ({"OrganizationName": "X", "SourceSystem": "EPIC", "SourceSystemReferenceValue": "P3",
          "CreditLimit": "100"}, "unknown attributes ['CreditLimit']"),
        ({"OrganizationName": 7, "SourceSystem": "EPIC", "SourceSystemReferenceValue": "P4"},
         "attribute values must be strings"),
    ],
)  # fmt: skip
def test_a_customer_account_without_what_it_needs_is_a_400(fusion, api, body, problem) -> None:
    answer = api.post(f"{fusion.url}{ACCOUNTS}", json=body)
    assert (answer.status_code, answer.json()["title"]) == (400, "Bad Request")
    assert problem in answer.json()["detail"]
    assert api.get(f"{fusion.url}{ACCOUNTS}/999999").status_code == 404


def transaction(fusion, api, operation: str, parameters: dict) -> requests.Response:
    body = {
        "OperationName": f"processTransaction-{operation}",
        "ParameterList": json.dumps(parameters),
    }
    return api.post(f"{fusion.url}{ERP_INTEGRATIONS}", json=body)


MASS_ADDITION = {
    "P_BOOK_TYPE_CODE": "EHF US CORP",
    "P_DESCRIPTION": "CT scanner, radiology",
    "P_FIXED_ASSETS_COST": "1250000.00",
    "P_FIXED_ASSETS_UNITS": "1",
    "P_DATE_PLACED_IN_SERVICE": "2026-10-05",
    "P_POSTING_STATUS": "POST",
    "P_QUEUE_NAME": "POST",
}


def test_a_mass_addition_is_created_through_process_transaction_and_read_back(fusion, api):
    created = transaction(fusion, api, "createMassAddition", MASS_ADDITION)
    assert created.status_code == 201, created.text
    result = json.loads(created.json()["ParameterList"])
    assert (result["X_RETURN_STATUS"], result["X_MSG_COUNT"]) == ("S", "0")
    mass_addition_id = result["X_MASS_ADDITION_ID"]

    read = transaction(fusion, api, "getMassAddition", {"P_MASS_ADDITION_ID": mass_addition_id})
    values = json.loads(read.json()["ParameterList"])
    assert values == {"X_RETURN_STATUS": "S", "X_MASS_ADDITION_ID": mass_addition_id} | {
        f"X_{name[2:]}": value for name, value in MASS_ADDITION.items()
    }
    rows = requests.get(f"{fusion.url}/__sandbox__/objects/FaMassAdditions", timeout=10).json()
    (row,) = [r for r in rows["items"] if r["Values"]["MASS_ADDITION_ID"] == mass_addition_id]
    assert row["RequestId"] is None  # created in real time, not by an import
    assert row["Values"]["DATE_PLACED_IN_SERVICE"] == "2026/10/05"


def test_a_mass_addition_imported_by_fbdi_reads_back_the_same_way(fusion, api) -> None:
    spec = OBJECTS["FaMassAdditions"]
    additions = spec.primary
    row = {
        "MASS_ADDITION_ID": "81",
        "BOOK_TYPE_CODE": "EHF US CORP",
        "DESCRIPTION": "Infusion pump",
    }
    run(fusion, api, spec, zip_of({additions.csv_file: [fields(additions, row)]}), "")
    read = transaction(fusion, api, "getMassAddition", {"P_MASS_ADDITION_ID": "81"})
    assert json.loads(read.json()["ParameterList"])["X_DESCRIPTION"] == "Infusion pump"
    taken = transaction(
        fusion, api, "createMassAddition", MASS_ADDITION | {"P_MASS_ADDITION_ID": "81"}
    )
    assert taken.status_code == 400 and "already exists" in taken.json()["detail"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"P_DESCRIPTION": None}, "required: P_DESCRIPTION"),
        (
            {"P_DATE_PLACED_IN_SERVICE": "2026/10/05"},
            "P_DATE_PLACED_IN_SERVICE must be a YYYY-MM-DD",
        ),
        ({"P_FIXED_ASSETS_COST": "1,250,000"}, "P_FIXED_ASSETS_COST must be a number"),
        ({"P_COLOUR": "grey"}, "P_COLOUR is not P_ followed by a FaMassAdditions column"),
    ],
)
def test_a_mass_addition_outside_the_spec_is_a_400(fusion, api, change, problem) -> None:
    answer = transaction(fusion, api, "createMassAddition", MASS_ADDITION | change)
    assert (answer.status_code, answer.json()["title"]) == (400, "Bad Request")
    assert problem in answer.json()["detail"]
    unknown = transaction(fusion, api, "getMassAddition", {"P_MASS_ADDITION_ID": "404"})
    assert unknown.status_code == 404
    assert transaction(fusion, api, "retireAsset", {}).status_code == 400
