"""The Fusion simulator's HCM Data Loader and workers resource, over real HTTP on 127.0.0.1.

A zip of `.dat` files is uploaded, started as a data set and judged line by line the way HDL
does; clean business objects land in the worker store that `/workers` reads, and the real-time
path changes workers through its child resources. One simulator serves the whole module, so
every test works on workers of its own.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from sandbox.fusion.server import PASSWORD, USERNAME, FusionSimulator

CONFORMANCE = (
    Path(__file__).parents[2] / "shared" / "conformance" / "fusion" / "hdl" / "hdl-toolkit"
)
HCM = "/hcmRestApi/resources/11.13.18.05"
DATA_SETS = f"{HCM}/dataLoadDataSets"
WORKERS = f"{HCM}/workers"
POLLS = 400

needs_conformance = pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="conformance files absent")


@pytest.fixture(scope="module")
def fusion(tmp_path_factory) -> Iterator[FusionSimulator]:
    with FusionSimulator(tmp_path_factory.mktemp("hcm") / "endpoints.json") as server:
        requests.post(f"{server.url}/__sandbox__/knobs", json={"job_seconds": 0}, timeout=10)
        yield server


@pytest.fixture(scope="module")
def api() -> SimpleNamespace:
    """Calls with the integration user, each on a new connection (on a kept-alive one every
    answer would wait for the client's delayed ACK)."""
    auth = (USERNAME, PASSWORD)
    methods = ("get", "post", "patch")
    return SimpleNamespace(
        **{m: partial(getattr(requests, m), auth=auth, timeout=10) for m in methods}
    )


def hdl_zip(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def start(fusion, api, document: bytes, file_name="Workers1.zip", **options) -> int:
    """Upload a zip and start its data set; returns the RequestId."""
    upload = {"content": base64.b64encode(document).decode(), "fileName": file_name}
    answer = api.post(f"{fusion.url}{DATA_SETS}/action/uploadFile", json=upload)
    assert answer.status_code == 200, answer.text
    body = {"contentId": answer.json()["result"]["ContentId"], **options}
    answer = api.post(f"{fusion.url}{DATA_SETS}/action/createFileDataSet", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]["RequestId"]


def finish(fusion, api, request_id: int) -> dict:
    for _ in range(POLLS):
        item = api.get(f"{fusion.url}{DATA_SETS}/{request_id}").json()
        if item["DataSetStatusCode"] not in ("ORA_UNPROCESSED", "ORA_IN_PROGRESS"):
            return item
        time.sleep(0.02)
    raise AssertionError(f"data set {request_id} did not finish")


def messages(fusion, api, request_id: int) -> list[dict]:
    url = f"{fusion.url}{DATA_SETS}/{request_id}/child/messages"
    return api.get(url, params={"limit": 500}).json()["items"]


def load(fusion, api, files: dict[str, str], **options) -> tuple[dict, list[dict]]:
    """Run a data set to its end: the data set and its messages."""
    request_id = start(fusion, api, hdl_zip(files), **options)
    return finish(fusion, api, request_id), messages(fusion, api, request_id)


def lines_of(found: list[dict]) -> list[int]:
    return [m["FileLine"] for m in found]


def workers(fusion, api, **equal: str) -> list[dict]:
    q = ";".join(f"{k}='{v}'" for k, v in equal.items())
    return api.get(f"{fusion.url}{WORKERS}", params={"q": q}).json()["items"]


def dat(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


_NEW_HIRE = dat(
    "METADATA|Worker|SourceSystemOwner|SourceSystemId|EffectiveStartDate|PersonNumber|StartDate"
    "|ActionCode",
    "MERGE|Worker|EHR|W9001|2026/10/01|9001|2026/10/01|HIRE",
    "METADATA|PersonName|SourceSystemOwner|SourceSystemId|EffectiveStartDate"
    "|PersonId(SourceSystemId)|NameType|LegislationCode|LastName|FirstName",
    "MERGE|PersonName|EHR|W9001_N|2026/10/01|W9001|GLOBAL|US|Okafor \\| Reed|Ada",
    "METADATA|PersonEmail|SourceSystemOwner|SourceSystemId|PersonId(SourceSystemId)|DateFrom"
    "|EmailType|EmailAddress|PrimaryFlag",
    "MERGE|PersonEmail|EHR|W9001_E|W9001|2026/10/01|W1|ada.okafor@ehf.example|Y",
    "METADATA|WorkRelationship|SourceSystemOwner|SourceSystemId|PersonId(SourceSystemId)"
    "|LegalEmployerName|DateStart|WorkerType|PrimaryFlag",
    "MERGE|WorkRelationship|EHR|W9001_R|W9001|St Mary North|2026/10/01|E|Y",
    "METADATA|WorkTerms|SourceSystemOwner|SourceSystemId|PeriodOfServiceId(SourceSystemId)"
    "|EffectiveStartDate",
    "MERGE|WorkTerms|EHR|W9001_T|W9001_R|2026/10/01",
    "METADATA|Assignment|SourceSystemOwner|SourceSystemId|EffectiveStartDate"
    "|WorkTermsAssignmentId(SourceSystemId)|AssignmentNumber|AssignmentName",
    "MERGE|Assignment|EHR|W9001_A|2026/10/01|W9001_T|E9001|Pharmacy",
)


def new_hire(number: str) -> str:
    """Worker.dat for a whole new hire (worker, name, email, relationship, terms, assignment)."""
    return _NEW_HIRE.replace("9001", number)


def test_a_whole_new_hire_loads_and_reads_back_as_a_worker(fusion, api) -> None:
    data_set, found = load(fusion, api, {"Worker.dat": new_hire("9001")}, dataSetName="hire-9001")
    assert found == []
    assert data_set["DataSetStatusCode"] == "ORA_SUCCESS"
    assert data_set["DataSetName"] == "hire-9001" and data_set["FileName"] == "Workers1.zip"
    assert (data_set["LoadSuccessCount"], data_set["ImportErrorCount"]) == (6, 0)

    (worker,) = workers(fusion, api, PersonNumber="9001")
    assert worker["DisplayName"] == "Ada Okafor | Reed"  # the escaped pipe is a value again
    assert worker["WorkEmail"] == "ada.okafor@ehf.example"
    assert worker["StartDate"] == "2026-10-01"
    assert (worker["AssignmentNumber"], worker["AssignmentName"]) == ("E9001", "Pharmacy")
    assert worker["LegalEmployerName"] == "St Mary North"
    by_id = api.get(f"{fusion.url}{WORKERS}/{worker['PersonId']}").json()
    assert by_id == worker


def test_the_same_worker_loaded_again_is_updated_not_duplicated(fusion, api) -> None:
    load(fusion, api, {"Worker.dat": new_hire("9002")})
    again = new_hire("9002").replace("|Ada\n", "|Adaeze\n")
    data_set, found = load(fusion, api, {"Worker.dat": again})
    assert (data_set["DataSetStatusCode"], found) == ("ORA_SUCCESS", [])
    (worker,) = workers(fusion, api, PersonNumber="9002")
    assert worker["FirstName"] == "Adaeze"


@needs_conformance
def test_the_broken_conformance_file_is_rejected_on_the_documented_lines(fusion, api) -> None:
    text = (CONFORMANCE / "broken" / "Worker.dat").read_text(encoding="utf-8")
    data_set, found = load(fusion, api, {"Worker.dat": text})
    assert data_set["DataSetStatusCode"] == "ORA_IN_ERROR"
    assert data_set["LoadSuccessCount"] == 0
    # every error and warning the hdl-toolkit documents, on its line (Fusion refuses the
    # YYYY-MM-DD dates the toolkit only warns about)
    expected = (CONFORMANCE / "broken" / "expected_validation.txt").read_text(encoding="utf-8")
    documented = [int(n) for n in re.findall(r"(?:ERROR|WARNING) +line (\d+)", expected)]
    assert lines_of(found) == documented == [1, 3, 4, 5, 5, 6]
    assert workers(fusion, api, SourceSystemId="EMP_2001") == []


@needs_conformance
def test_import_errors_are_reported_as_oracle_reports_them_and_the_good_line_loads(
    fusion, api
) -> None:
    text = (CONFORMANCE / "import_errors" / "Worker.dat").read_text(encoding="utf-8")
    data_set, found = load(fusion, api, {"Worker.dat": text})
    oracle = json.loads((CONFORMANCE / "import_errors" / "messages.json").read_text())
    assert [(m["FileLine"], m["MessageText"]) for m in found] == [
        (m["FileLine"], m["MessageText"]) for m in oracle
    ]
    assert {m["OriginatingProcessCode"] for m in found} == {"IMPORT"}
    assert found[0]["SourceSystemId"] == "HDLTK_ERR_2"
    assert data_set["DataSetStatusCode"] == "ORA_IN_ERROR"
    assert (data_set["LoadSuccessCount"], data_set["ImportErrorCount"]) == (1, 2)
    assert [w["PersonNumber"] for w in workers(fusion, api, SourceSystemOwner="HRC_SQLLOADER")] == [
        "HDLTK1"
    ]


def test_a_bad_line_holds_back_its_whole_worker_but_not_the_others(fusion, api) -> None:
    text = dat(
        "METADATA|Worker|SourceSystemOwner|SourceSystemId|EffectiveStartDate|PersonNumber",
        "MERGE|Worker|EHR|W1|2026/10/01|9101",
        "MERGE|Worker|EHR|W2|2026/10/01|9102",
        "METADATA|PersonName|SourceSystemOwner|SourceSystemId|EffectiveStartDate"
        "|PersonId(SourceSystemId)|LastName",
        "MERGE|PersonName|EHR|W1_N|2026-10-01|W1|Shaw",
        "MERGE|PersonName|EHR|W2_N|2026/10/01|W2|Ward",
    )
    data_set, found = load(fusion, api, {"Worker.dat": text})
    assert [(m["FileLine"], m["OriginatingProcessCode"]) for m in found] == [
        (2, "LOAD"),
        (5, "IMPORT"),
    ]
    assert "another line of the same Worker" in found[0]["MessageText"]
    assert "EffectiveStartDate attribute in YYYY/MM/DD format" in found[1]["MessageText"]
    assert (data_set["LoadSuccessCount"], data_set["LoadErrorCount"]) == (2, 1)
    assert workers(fusion, api, PersonNumber="9101") == []
    assert workers(fusion, api, PersonNumber="9102")[0]["LastName"] == "Ward"


def test_a_child_must_reference_a_worker_of_the_file_or_one_loaded_before(fusion, api) -> None:
    email = dat(
        "METADATA|PersonEmail|SourceSystemOwner|SourceSystemId|PersonId(SourceSystemId)|DateFrom"
        "|EmailType|EmailAddress",
        "MERGE|PersonEmail|EHF|EHF1001_E2|EHF1001|2026/10/01|H1|june@home.example",
        "MERGE|PersonEmail|EHF|NOBODY_E|NOBODY|2026/10/01|H1|nobody@home.example",
    )
    data_set, found = load(fusion, api, {"Worker.dat": email})
    assert [(m["FileLine"], m["OriginatingProcessCode"]) for m in found] == [(3, "LOAD")]
    assert "PersonId(SourceSystemId) value doesn't match a Worker" in found[0]["MessageText"]
    assert data_set["LoadSuccessCount"] == 1
    (june,) = workers(fusion, api, SourceSystemId="EHF1001")
    emails = api.get(f"{fusion.url}{WORKERS}/{june['PersonId']}/child/emails")
    assert [e["EmailAddress"] for e in emails.json()["items"]] == [
        "june.collins@ehf.example",
        "june@home.example",
    ]


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ("METADATA|Worker|SourceSystemOwner|SourceSystemId|EffectiveStartDate|Shoesize",
         "The Shoesize attribute isn't valid for the Worker component."),
        ("METADATA|Worker|SourceSystemOwner|SourceSystemId|PersonNumber|StartDate",
         "The METADATA line for Worker must include the EffectiveStartDate attribute."),
        ("METADATA|Pet|SourceSystemOwner|SourceSystemId|EffectiveStartDate|PersonNumber",
         "Pet isn't a component of the Worker business object."),
    ],
)  # fmt: skip
def test_metadata_must_match_the_business_object(fusion, api, metadata, problem) -> None:
    discriminator = metadata.split("|")[1]
    text = dat(metadata, f"MERGE|{discriminator}|EHR|W1|2026/10/01|9201")
    data_set, found = load(fusion, api, {"Worker.dat": text})
    assert [(m["FileLine"], m["MessageText"]) for m in found] == [
        (1, problem),
        (2, f"The METADATA line for {discriminator} has errors."),
    ]
    assert data_set["LoadSuccessCount"] == 0


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("MERGE|Worker|EHR||2026/10/01|9301", "You must provide a value for the SourceSystemId"),
        ("MERGE|Worker|EHR|W1|2026/02/30|9301", "EffectiveStartDate attribute in YYYY/MM/DD"),
        ("MERGE|Worker|EHR|W1|2026/10/01", "The number of values in line 2 doesn't equal"),
        ("DELETE|Worker|EHR|W1|2026/10/01|9301", "The simulator loads MERGE lines only."),
    ],
)
def test_data_lines_need_their_values_in_the_right_form(fusion, api, line, problem) -> None:
    metadata = "METADATA|Worker|SourceSystemOwner|SourceSystemId|EffectiveStartDate|PersonNumber"
    data_set, found = load(fusion, api, {"Worker.dat": dat(metadata, line)})
    assert [m["FileLine"] for m in found] == [2]
    assert problem in found[0]["MessageText"]
    assert data_set["DataSetStatusCode"] == "ORA_IN_ERROR"


def test_a_work_relationship_needs_its_work_terms(fusion, api) -> None:
    without_terms = new_hire("9003").split("METADATA|WorkTerms")[0]
    data_set, found = load(fusion, api, {"Worker.dat": without_terms})
    (missing,) = [m for m in found if m["OriginatingProcessCode"] == "IMPORT"]
    assert missing["FileLine"] == 8  # the WorkRelationship line
    assert missing["MessageText"] == "No WorkTerms line references this WorkRelationship."
    assert lines_of(found) == [2, 4, 6, 8]  # the whole worker waits
    assert data_set["LoadSuccessCount"] == 0
    assert workers(fusion, api, PersonNumber="9003") == []


def test_element_entries_and_their_values_load_together(fusion, api) -> None:
    text = dat(
        "METADATA|ElementEntry|SourceSystemOwner|SourceSystemId|EffectiveStartDate|ElementName"
        "|AssignmentNumber|EntryType|MultipleEntryCount",
        "MERGE|ElementEntry|EHR|EE1|2026/10/01|Shift Differential|E1001|E|1",
        "METADATA|ElementEntryValue|SourceSystemOwner|SourceSystemId|ElementEntryId(SourceSystemId)"
        "|EffectiveStartDate|InputValueName|ScreenEntryValue",
        "MERGE|ElementEntryValue|EHR|EE1_V|EE1|2026/10/01|Pay Value|125.00",
        "MERGE|ElementEntryValue|EHR|EE2_V|EE2|2026/10/01|Pay Value|80.00",
    )
    data_set, found = load(fusion, api, {"ElementEntry.dat": text}, file_name="Entries1.zip")
    assert lines_of(found) == [5]
    assert data_set["LoadSuccessCount"] == 2
    stored = requests.get(f"{fusion.url}/__sandbox__/hcm/ElementEntryValue", timeout=10).json()
    assert [r["Values"]["ScreenEntryValue"] for r in stored["items"]] == ["125.00"]


def test_import_only_judges_without_loading(fusion, api) -> None:
    data_set, found = load(fusion, api, {"Worker.dat": new_hire("9004")}, fileAction="IMPORT_ONLY")
    assert (data_set["DataSetStatusCode"], data_set["FileAction"], found) == (
        "ORA_SUCCESS",
        "IMPORT_ONLY",
        [],
    )
    assert data_set["LoadSuccessCount"] == 0
    assert workers(fusion, api, PersonNumber="9004") == []


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"Worker.dat": new_hire("9005"), "extra/Notes.dat": "x"}, "extra/Notes.dat isn't allowed"),
        ({"Payroll.dat": "x"}, "Payroll.dat isn't allowed"),
        ({"BlobFiles/photo.jpg": "x"}, "The zip holds no .dat file."),
    ],
)
def test_a_zip_outside_the_hdl_rules_fails_the_whole_data_set(fusion, api, files, problem):
    data_set, found = load(fusion, api, files)
    (message,) = found
    assert message["MessageText"].startswith(problem)
    assert (message["ReportedAgainstCode"], message["FileLine"]) == ("ORA_FILE", None)
    assert (data_set["DataSetStatusCode"], data_set["LoadSuccessCount"]) == ("ORA_IN_ERROR", 0)


def test_uploads_and_data_sets_outside_the_contract_are_400_or_404(fusion, api) -> None:
    upload = f"{fusion.url}{DATA_SETS}/action/uploadFile"
    content = base64.b64encode(hdl_zip({"Worker.dat": new_hire("9006")})).decode()
    bad_name = api.post(upload, json={"content": content, "fileName": "hire-9001.zip"})
    assert (bad_name.status_code, bad_name.json()["title"]) == (400, "Bad Request")
    assert "alphanumeric" in bad_name.json()["detail"]
    pgp = {"content": content, "fileName": "W1.zip", "fileEncryption": "PGPSIGNED"}
    assert api.post(upload, json=pgp).status_code == 400

    request_id = start(fusion, api, hdl_zip({"Worker.dat": new_hire("9006")}))
    used = api.get(f"{fusion.url}{DATA_SETS}/{request_id}").json()["ContentId"]
    again = {"contentId": used}
    create = f"{fusion.url}{DATA_SETS}/action/createFileDataSet"
    assert api.post(create, json=again).status_code == 400  # content starts one data set
    assert api.post(create, json={"contentId": "nope", "fileAction": "LOAD"}).status_code == 400
    assert api.get(f"{fusion.url}{DATA_SETS}/42").status_code == 404
    assert requests.get(f"{fusion.url}{DATA_SETS}/{request_id}").status_code == 401


def test_a_data_set_is_an_ess_job_followed_until_it_ends_and_found_by_name(fusion, api):
    knobs = f"{fusion.url}/__sandbox__/knobs"
    requests.post(knobs, json={"job_seconds": 600}, timeout=10)
    request_id = start(fusion, api, hdl_zip({"Worker.dat": new_hire("9007")}), dataSetName="slow-1")
    in_flight = api.get(f"{fusion.url}{DATA_SETS}/{request_id}").json()["DataSetStatusCode"]
    assert in_flight in ("ORA_UNPROCESSED", "ORA_IN_PROGRESS")
    named = api.get(f"{fusion.url}{DATA_SETS}", params={"q": "DataSetName='slow-1'"}).json()
    assert [d["RequestId"] for d in named["items"]] == [request_id]

    requests.post(knobs, json={"job_seconds": 0}, timeout=10)
    assert finish(fusion, api, request_id)["DataSetStatusCode"] == "ORA_SUCCESS"
    ess = f"{fusion.url}/fscmRestApi/resources/11.13.18.05/erpintegrations"
    status = api.get(ess, params={"finder": f"ESSJobStatusRF;requestId={request_id}"}).json()
    assert status["items"][0]["RequestStatus"] == "SUCCEEDED"


def test_a_name_changes_through_the_names_child_resource(fusion, api) -> None:
    (worker,) = workers(fusion, api, PersonNumber="1001")
    names_url = f"{fusion.url}{WORKERS}/{worker['PersonId']}/child/names"
    (name,) = api.get(names_url).json()["items"]
    url = f"{names_url}/{name['PersonNameId']}"

    changed = api.patch(url, json={"LastName": "Collins-Reed", "MiddleNames": "Ann"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["LastName"], changed.json()["MiddleNames"]) == ("Collins-Reed", "Ann")
    assert workers(fusion, api, PersonNumber="1001")[0]["DisplayName"] == "June Collins-Reed"
    cleared = api.patch(url, json={"MiddleNames": None}).json()
    assert cleared["MiddleNames"] is None

    for body in ({"LastName": ""}, {"DateOfBirth": "1990-01-01"}, {}):
        answer = api.patch(url, json=body)
        assert (answer.status_code, answer.json()["title"]) == (400, "Bad Request")
    (other,) = workers(fusion, api, PersonNumber="1002")
    foreign = f"{fusion.url}{WORKERS}/{other['PersonId']}/child/names/{name['PersonNameId']}"
    assert api.patch(foreign, json={"LastName": "X"}).status_code == 404


def test_an_email_is_added_through_the_emails_child_resource(fusion, api) -> None:
    (worker,) = workers(fusion, api, PersonNumber="1002")
    url = f"{fusion.url}{WORKERS}/{worker['PersonId']}/child/emails"
    body = {"EmailType": "W1", "EmailAddress": "kai.garcia@stmary.example", "PrimaryFlag": "Y"}
    created = api.post(url, json=body | {"DateFrom": "2026-10-05"})
    assert created.status_code == 201, created.text
    assert created.json()["DateFrom"] == "2026-10-05"
    listed = api.get(url).json()["items"]
    assert [(e["EmailAddress"], e["PrimaryFlag"]) for e in listed] == [
        ("kai.garcia@ehf.example", "N"),
        ("kai.garcia@stmary.example", "Y"),
    ]
    assert workers(fusion, api, PersonNumber="1002")[0]["WorkEmail"] == body["EmailAddress"]

    for broken in (body, body | {"DateFrom": "05/10/2026"}, body | {"EmailAddress": "kai"}):
        answer = api.post(url, json=broken)
        assert answer.status_code == 400 and answer.json()["detail"]
    unknown = f"{fusion.url}{WORKERS}/1/child/emails"
    assert api.post(unknown, json=body | {"DateFrom": "2026-10-05"}).status_code == 404
