"""The Fusion simulator's FBDI objects other than GL and the real-time creates, over real HTTP.

importBulkData picks the import whose document account and ESS job the request names; the load
checks each CSV's field count against the simulator's own layout of Oracle's template (shorter
lines load with their tail null, a trailing END field is the macro's), then every row is checked
against its columns, and inventory
transactions and mass additions against the simulated Fusion's setup and what it holds. Clean
rows land in the object's store; rejected rows are in the job log with a code naming the column.
Post Mass Additions is submitted on its own. AR customer accounts and Fixed Assets mass additions
are created in real time and read back. One simulator serves the module; each test works on
rows, accounts and assets of its own.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from types import SimpleNamespace

import pyarrow as pa
import pytest
import requests

from load.fbdi import write_fbdi_zip
from load.formats import load_spec
from load.fusion_client import BasicCredentials, FusionClient, FusionError
from sandbox.fusion import fbdi_csv
from sandbox.fusion.catalog import Column, CsvLayout, FbdiObject, fbdi_objects
from sandbox.fusion.server import ERP_INTEGRATIONS, PASSWORD, USERNAME, FusionSimulator

# The simulator's own knowledge of each import (rows are built from it, not from writer specs).
OBJECTS = {o.object_name: o for o in fbdi_objects() if o.object_name != "GlInterface"}
ACCOUNTS = "/crmRestApi/resources/11.13.18.05/accounts"
SUPPLIERS = "/fscmRestApi/resources/11.13.18.05/suppliers"
POLLS = 400
_SAMPLES = {"date": "2026/10/05", "integer": "1", "amount": "10.00", "number": "1"}
SUPPLIES = "101-7010-61000-000-000-0000"  # a clinical cost centre's supplies expense
DEPRECIATION = "101-7010-68100-000-000-0000"


def segments(prefix: str, combination: str | None) -> dict[str, str]:
    """`<prefix>1..30`: the combination's six segments, the rest empty."""
    values = combination.split("-") if combination else []
    return {f"{prefix}{i}": (values[i - 1] if i <= len(values) else "") for i in range(1, 31)}


# What the simulated Fusion's setup needs beyond the spec's columns, per CSV.
VALID = {
    "InvTransactionsInterface.csv": {
        "ORGANIZATION_NAME": "EHF F01 Inventory",
        "SUBINVENTORY_CODE": "CENTRAL",
        "TRANSACTION_TYPE_NAME": "Miscellaneous Receipt",
        **segments("DST_SEGMENT", SUPPLIES),
    },
    "FaMassAdditions.csv": {
        "BOOK_TYPE_CODE": "US CORP",
        "FIXED_ASSETS_UNITS": "1.00",
        "POSTING_STATUS": "POST",
        "QUEUE_NAME": "POST",
        **segments("CATEGORY_SEGMENT", "MEDEQUIP-INFUSION"),
    },
    "FaMassaddDistributions.csv": {
        "UNITS": "1.00",
        **segments("DEPRN_EXPENSE_SEGMENT", DEPRECIATION),
    },
}


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


def sample(column: Column) -> str:
    """A value the column accepts."""
    if column.allowed:
        return column.allowed[0]
    return _SAMPLES.get(column.type, "EHF"[: column.max_size or 3])


def sample_row(file: CsvLayout) -> dict[str, str]:
    """Every column of the CSV with values it and the simulated Fusion's setup accept (every
    column but those Fusion wants empty)."""
    row = {c.name: sample(c) for c in file.columns} | VALID.get(file.csv_file, {})
    return {name: value for name, value in row.items() if value}


def fields(file: CsvLayout, values: dict[str, str]) -> list[str]:
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


def parameter_list(spec: FbdiObject, primary_row: dict[str, str]) -> str:
    """The job's ParameterList: bound parameters from the row, else an allowed value or #NULL."""
    job = spec.ess_job
    values = [
        primary_row[p.column] if p.column else (p.allowed or ("#NULL",))[0] for p in job.parameters
    ]
    return ",".join(values + ["#NULL"] * ((job.parameter_count or len(values)) - len(values)))


def submit(fusion, api, spec: FbdiObject, document: bytes, parameters: str) -> requests.Response:
    body = {
        "OperationName": "importBulkData",
        "DocumentContent": base64.b64encode(document).decode(),
        "ContentType": "zip",
        "FileName": f"{spec.object_name}_test.zip",
        "DocumentAccount": spec.ucm_document_account,
        "JobName": spec.ess_job.name,
        "ParameterList": parameters,
        "CallbackURL": "#NULL",
        "NotificationCode": "10",
    }
    return api.post(f"{fusion.url}{ERP_INTEGRATIONS}", json=body)


def run(fusion, api, spec: FbdiObject, document: bytes, parameters: str):
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


def one_row_zip(spec: FbdiObject, **changes: str) -> tuple[bytes, str]:
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
        "column AMOUNT is not a number",
        "column BU_NAME does not match the job parameter",
        "required column DESCRIPTION is empty",
    ]
    assert {r["csv_file"] for r in rejected} == {spec.csv_file}
    assert "Rows: 1 imported, 6 rejected." in text
    assert [r["LineNumber"] for r in stored] == [1]


def test_a_distribution_must_name_an_accepted_mass_addition(fusion, api) -> None:
    spec = OBJECTS["FaMassAdditions"]
    additions, distributions, _ = spec.files
    rows = {
        additions.csv_file: [
            fields(additions, sample_row(additions) | {"MASS_ADDITION_ID": "71"}),
            fields(
                additions,
                sample_row(additions)
                | {"MASS_ADDITION_ID": "72", "DATE_PLACED_IN_SERVICE": "2026-10-05"},
            ),
        ],
        distributions.csv_file: [
            fields(distributions, sample_row(distributions) | {"MASS_ADDITION_ID": id_})
            for id_ in ("71", "72", "73")
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
    assert len(required) == 8  # the template's stars
    good = sample_row(spec.primary) | {"SOURCE_HEADER_ID": "249"}
    rows = [fields(spec.primary, good), *(fields(spec.primary, good | {n: ""}) for n in required)]
    status, _, rejected, _ = run(fusion, api, spec, zip_of({spec.csv_file: rows}), "")
    assert status == "WARNING"
    assert [r["message"] for r in rejected] == [f"required column {n} is empty" for n in required]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda rows: rows[1].clear(), "line 2 of InvTransactionsInterface.csv is empty"),
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
        "BUSINESS_RELATIONSHIP": "SPEND_AUTHORIZED",
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
    row = sample_row(additions) | {"MASS_ADDITION_ID": "81", "DESCRIPTION": "Infusion pump"}
    distribution = sample_row(spec.files[1]) | {"MASS_ADDITION_ID": "81"}
    document = zip_of(
        {
            additions.csv_file: [fields(additions, row)],
            spec.files[1].csv_file: [fields(spec.files[1], distribution)],
        }
    )
    assert run(fusion, api, spec, document, "")[0] == "SUCCEEDED"
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


INVENTORY_LINES = [  # (organization, type, quantity, account): line 1 and 2 good
    ("EHF F01 Inventory", "Miscellaneous Issue", "-2", SUPPLIES),
    ("EHF F03 Inventory", "Miscellaneous Receipt", "1.5", "103-7010-61000-000-000-0000"),
    ("EHF F09 Inventory", "Miscellaneous Issue", "-2", SUPPLIES),
    ("EHF F01 Inventory", "Miscellaneous Issue", "3", SUPPLIES),
    ("EHF F01 Inventory", "Miscellaneous Receipt", "0", SUPPLIES),
    ("EHF F01 Inventory", "Miscellaneous Issue", "-2", "101-7010-99999-000-000-0000"),
    ("EHF F01 Inventory", "Subinventory Transfer", "-2", SUPPLIES),
    ("EHF F01 Inventory", "Miscellaneous Issue", "-1", SUPPLIES),  # repeats line 1's key
]


def inventory_zip(tmp_path, lines=INVENTORY_LINES, header_id: int = 20261005) -> bytes:
    """The lines written by the product's FBDI writer (all 273 fields and the END marker)."""
    count = len(lines)
    accounts = [account.split("-") for *_, account in lines]
    batch = pa.RecordBatch.from_pydict(
        {
            "organization_name": [org for org, *_ in lines],
            "process_flag": ["1"] * count,
            "item_number": ["IV-SET-20"] * count,
            "subinventory_code": ["CENTRAL"] * count,
            "transaction_quantity": [Decimal(quantity) for _, _, quantity, _ in lines],
            "transaction_uom": ["Ea"] * count,
            "transaction_date": pa.array([dt.date(2026, 10, 5)] * count, pa.date32()),
            "transaction_type_name": [kind for _, kind, *_ in lines],
            "source_code": ["SUNRISE"] * count,
            "source_header_id": pa.array([header_id] * count, pa.int64()),
            "source_line_id": pa.array([*range(1, count), 1], pa.int64()),
            "transaction_mode": ["3"] * count,
            **{f"dst_segment{i + 1}": [a[i] for a in accounts] for i in range(6)},
        }
    )
    spec = load_spec("25B", "InvTransactionsInterface")
    written = write_fbdi_zip([batch], spec, tmp_path / spec.zip_name(str(header_id)))
    return written.zip_path.read_bytes()


def test_inventory_transactions_are_judged_like_fusion(fusion, api, tmp_path) -> None:
    spec = OBJECTS["InvTransactionsInterface"]
    document = inventory_zip(tmp_path)
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        lines = archive.read(spec.csv_file).decode().splitlines()
    assert {line.count(",") + 1 for line in lines} == {274}  # 273 fields and the END marker

    status, text, rejected, stored = run(fusion, api, spec, document, "")
    assert status == "WARNING"
    assert [(r["line_number"], r["error_code"], r["message"]) for r in rejected] == [
        ("3", "EO01", "ORGANIZATION_NAME is not an inventory organization"),
        ("4", "EQ01", "TRANSACTION_QUANTITY must be negative for a Miscellaneous Issue"),
        ("5", "EQ01", "TRANSACTION_QUANTITY must be positive for a Miscellaneous Receipt"),
        (
            "6",
            "EF04",
            "segment combination 101-7010-99999-000-000-0000 is not in the chart of accounts",
        ),
        ("7", "ET01", "TRANSACTION_TYPE_NAME must be Miscellaneous Issue or Miscellaneous Receipt"),
        (
            "8",
            "EK02",
            "SOURCE_CODE, SOURCE_HEADER_ID and SOURCE_LINE_ID repeat line 1 of this file",
        ),
    ]
    assert {r["csv_file"] for r in rejected} == {spec.csv_file}
    assert "Rows: 2 imported, 6 rejected." in text
    assert [(r["LineNumber"], r["Values"]["DST_SEGMENT3"]) for r in stored] == [
        (1, "61000"),
        (2, "61000"),
    ]
    assert stored[0]["Values"]["TRANSACTION_QUANTITY"] == "-2.0"
    assert stored[1]["Values"]["ORGANIZATION_NAME"] == "EHF F03 Inventory"

    # The same file again: every line that was accepted is now a duplicate.
    status, _, rejected, stored = run(fusion, api, spec, document, "")
    assert (status, stored) == ("ERROR", [])
    duplicates = [r["line_number"] for r in rejected if r["error_code"] == "EK02"]
    assert duplicates == ["1", "2", "8"]
    assert rejected[0]["message"] == (
        "SOURCE_CODE, SOURCE_HEADER_ID and SOURCE_LINE_ID were imported before"
    )


def test_a_subinventory_must_belong_to_the_organization(fusion, api) -> None:
    spec = OBJECTS["InvTransactionsInterface"]
    row = sample_row(spec.primary) | {"SOURCE_HEADER_ID": "377", "SUBINVENTORY_CODE": "OR-STOCK"}
    _, _, rejected, _ = run(
        fusion, api, spec, zip_of({spec.csv_file: [fields(spec.primary, row)]}), ""
    )
    assert codes(rejected) == [("1", "EO02")]


def test_a_bulk_inventory_file_rejects_rows_with_their_line_and_reason(
    fusion, api, monkeypatch
) -> None:
    """Thousands of lines read in many blocks: each rejected row keeps its line number and
    its first problem (the column checks in column order, then Fusion's rules)."""
    monkeypatch.setattr(fbdi_csv, "BLOCK_BYTES", 64 * 1024)
    spec = OBJECTS["InvTransactionsInterface"]
    good = sample_row(spec.primary) | {"SOURCE_HEADER_ID": "4242", "TRANSACTION_QUANTITY": "3"}
    spoiled = {
        701: {"ORGANIZATION_NAME": "nowhere", "TRANSACTION_DATE": "2026/13/01"},  # ED01 first
        1402: {"TRANSACTION_QUANTITY": "3 ", "ORGANIZATION_NAME": "nowhere"},  # EN01 first
        2103: {"SUBINVENTORY_CODE": "OR-STOCK"},
        2804: {"TRANSACTION_QUANTITY": "-3"},
        3005: {"SOURCE_LINE_ID": "7"},  # line 7 has it
        3006: {"DST_SEGMENT7": "000"},
    }
    rows = [
        fields(spec.primary, good | {"SOURCE_LINE_ID": str(n)} | spoiled.get(n, {}))
        for n in range(1, 3201)
    ]
    status, text, rejected, stored = run(fusion, api, spec, zip_of({spec.csv_file: rows}), "")

    assert status == "WARNING"
    assert [(r["line_number"], r["error_code"], r["message"]) for r in rejected] == [
        ("701", "ED01", "column TRANSACTION_DATE is not a YYYY/MM/DD date"),
        ("1402", "EN01", "column TRANSACTION_QUANTITY is not a number"),
        ("2103", "EO02", "SUBINVENTORY_CODE is not a subinventory of the organization"),
        ("2804", "EQ01", "TRANSACTION_QUANTITY must be positive for a Miscellaneous Receipt"),
        (
            "3005",
            "EK02",
            "SOURCE_CODE, SOURCE_HEADER_ID and SOURCE_LINE_ID repeat line 7 of this file",
        ),
        ("3006", "EF04", "the account must use DST_SEGMENT1 to DST_SEGMENT6 and only those"),
    ]
    assert "Rows: 3194 imported, 6 rejected." in text
    assert len(stored) == 3194
    assert [r["LineNumber"] for r in stored[699:702]] == [700, 702, 703]
    assert stored[0]["Values"] == good | {"SOURCE_LINE_ID": "1"}


def mass_additions(rows: list[dict[str, str]], distributions: list[dict[str, str]]) -> bytes:
    spec = OBJECTS["FaMassAdditions"]
    additions, dists, _ = spec.files
    out = {additions.csv_file: [fields(additions, sample_row(additions) | r) for r in rows]}
    if distributions:
        out[dists.csv_file] = [fields(dists, sample_row(dists) | d) for d in distributions]
    return zip_of(out)


def test_mass_additions_need_a_known_book_category_and_distributions(fusion, api) -> None:
    spec = OBJECTS["FaMassAdditions"]
    additions, distributions = (f.csv_file for f in spec.files[:2])
    rows = [
        {"MASS_ADDITION_ID": "501", "FIXED_ASSETS_UNITS": "2"},  # two distributions: good
        {"MASS_ADDITION_ID": "502"},  # no distribution
        {"MASS_ADDITION_ID": "503", "CATEGORY_SEGMENT2": "FURNITURE"},
        {"MASS_ADDITION_ID": "504", "BOOK_TYPE_CODE": "EHF US TAX"},
        {"MASS_ADDITION_ID": "505", "FIXED_ASSETS_COST": "0"},
        {"MASS_ADDITION_ID": "506", "DATE_PLACED_IN_SERVICE": ""},
        {"MASS_ADDITION_ID": "507", "FIXED_ASSETS_UNITS": "3"},  # its units add up to 1
        {"MASS_ADDITION_ID": "508", "FIXED_ASSETS_UNITS": "2"},  # one bad distribution
        {"MASS_ADDITION_ID": "501"},  # repeats line 1
    ]
    bad_account = segments("DEPRN_EXPENSE_SEGMENT", "101-0000-68100-000-000-0000")
    dists = [
        {"MASS_ADDITION_ID": "501"},
        {"MASS_ADDITION_ID": "501", "LOCATION_SEGMENT1": "EAST"},
        {"MASS_ADDITION_ID": "503"},
        {"MASS_ADDITION_ID": "507"},
        {"MASS_ADDITION_ID": "508"},
        {"MASS_ADDITION_ID": "508", **bad_account},
    ]
    status, text, rejected, stored = run(fusion, api, spec, mass_additions(rows, dists), "")
    assert status == "WARNING"
    assert [(r["csv_file"], r["line_number"], r["error_code"]) for r in rejected] == [
        (additions, "2", "EA04"),
        (additions, "3", "EA02"),
        (additions, "4", "EA01"),
        (additions, "5", "EA03"),
        (additions, "6", "ER01"),
        (additions, "7", "EA04"),
        (additions, "8", "EA05"),
        (additions, "9", "EK02"),
        (distributions, "3", "EA06"),
        (distributions, "4", "EA06"),
        (distributions, "5", "EA06"),
        (distributions, "6", "EF04"),
    ]
    messages = {(r["csv_file"], r["line_number"]): r["message"] for r in rejected}
    assert messages[(additions, "2")] == (
        "the mass addition has no distribution in FaMassaddDistributions.csv"
    )
    assert messages[(additions, "3")] == (
        "CATEGORY_SEGMENT1 to CATEGORY_SEGMENT7 are not an asset category"
    )
    assert messages[(additions, "7")] == (
        "the UNITS of its distributions do not add up to FIXED_ASSETS_UNITS"
    )
    assert "Rows: 3 imported, 12 rejected." in text
    assert [(r["CsvFile"], r["LineNumber"]) for r in stored] == [
        (additions, 1),
        (distributions, 1),
        (distributions, 2),
    ]

    # A mass-additions zip without its distributions CSV imports nothing.
    status, _, rejected, stored = run(
        fusion, api, spec, mass_additions([{"MASS_ADDITION_ID": "511"}], []), ""
    )
    assert (status, codes(rejected), stored) == ("ERROR", [("1", "EA04")], [])
    # An id in use is a duplicate.
    again = mass_additions([{"MASS_ADDITION_ID": "501"}], [{"MASS_ADDITION_ID": "501"}])
    _, _, rejected, _ = run(fusion, api, spec, again, "")
    assert [(r["error_code"], r["message"]) for r in rejected] == [
        ("EK02", "MASS_ADDITION_ID exists already"),
        ("EA06", "the mass addition of this distribution is rejected"),
    ]


def test_a_column_is_judged_by_its_own_csv(fusion, api) -> None:
    """MASS_ADDITION_ID is required in FaMassAdditions.csv, not in FaMcMassRates.csv: empty in
    a rate row, it names no mass addition (EK01) rather than missing (ER01)."""
    spec = OBJECTS["FaMassAdditions"]
    additions, distributions, rates = spec.files
    document = zip_of(
        {
            additions.csv_file: [
                fields(additions, sample_row(additions) | {"MASS_ADDITION_ID": "701"}),
                fields(additions, sample_row(additions) | {"MASS_ADDITION_ID": ""}),
            ],
            distributions.csv_file: [
                fields(distributions, sample_row(distributions) | {"MASS_ADDITION_ID": "701"})
            ],
            rates.csv_file: [fields(rates, sample_row(rates) | {"MASS_ADDITION_ID": ""})],
        }
    )
    _, _, rejected, _ = run(fusion, api, spec, document, "")
    assert [(r["csv_file"], r["line_number"], r["message"]) for r in rejected] == [
        (additions.csv_file, "2", "required column MASS_ADDITION_ID is empty"),
        (rates.csv_file, "1", "MASS_ADDITION_ID names no accepted row of FaMassAdditions.csv"),
    ]


@pytest.fixture
def client(fusion) -> FusionClient:
    return FusionClient(fusion.url, BasicCredentials(USERNAME, PASSWORD))


def test_post_mass_additions_is_submitted_after_the_import(fusion, client) -> None:
    spec = OBJECTS["FaMassAdditions"]
    document = mass_additions(
        [{"MASS_ADDITION_ID": "601"}, {"MASS_ADDITION_ID": "602", "BOOK_TYPE_CODE": "EHF US CORP"}],
        [{"MASS_ADDITION_ID": "601"}, {"MASS_ADDITION_ID": "602"}],
    )
    imported = client.import_bulk_data(
        document, "fa.zip", spec.ucm_document_account, spec.ess_job.name, ""
    )
    assert client.wait_for_job(imported, timeout=30) == "SUCCEEDED"

    (post,) = spec.follow_up_jobs
    parameters = "EHF US CORP"  # the book type code is the whole ParameterList
    request_id = client.submit_ess_job(post.name, parameters)
    assert int(request_id) > int(imported)
    assert client.wait_for_job(request_id, timeout=30) == "SUCCEEDED"
    log = client.job_log(request_id)
    assert "Book: EHF US CORP" in log.text
    # 602 and whatever else of the book earlier tests queued for posting
    assert int(re.search(r"Mass additions posted: (\d+)", log.text)[1]) >= 1
    assert log.rejected == ()
    again = client.submit_ess_job(post.name, parameters)
    assert client.wait_for_job(again, timeout=30) == "SUCCEEDED"
    assert "Mass additions posted: 0" in client.job_log(again).text

    with pytest.raises(FusionError) as unknown_book:
        client.submit_ess_job(post.name, "EHF US TAX")
    assert unknown_book.value.status == 400
    with pytest.raises(FusionError) as unknown_job:
        client.submit_ess_job(spec.ess_job.name.replace("Prepare", "Retire"), "US CORP")
    assert unknown_job.value.status == 400
