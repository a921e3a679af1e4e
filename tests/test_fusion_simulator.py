"""The Fusion simulator judges Journal Import uploads over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import codecs
import csv
import datetime as dt
import io
import time
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import requests

from load.fbdi import write_fbdi_zip
from load.formats import load_spec
from sandbox.endpoints import read_endpoints
from sandbox.fusion import chart, fbdi_csv
from sandbox.fusion.fbdi_csv import LoadError, Shape
from sandbox.fusion.server import (
    CLIENT_ID,
    CLIENT_SECRET,
    ERP_INTEGRATIONS,
    JOURNAL_BATCHES,
    LEDGER_BALANCES,
    PASSWORD,
    USERNAME,
    FusionSimulator,
)
from sandbox.generate import stand_in

SPEC = load_spec("25B", "GlInterface")
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SOURCE = "Epic Resolute"
LEDGER = int(chart.LEDGER_ID)
REVENUE = "101-7010-40100-000-000-0000"
AR = "101-0000-12000-000-000-0000"
NORTH_REVENUE = "102-7020-41000-000-000-0000"
NORTH_AR = "102-0000-12000-000-000-0000"
OCT_5 = dt.date(2026, 10, 5)
POLLS = 400


@pytest.fixture
def fusion(tmp_path: Path) -> Iterator[FusionSimulator]:
    with FusionSimulator(tmp_path / "endpoints.json") as server:
        knobs(server, job_seconds=0)
        yield server


@pytest.fixture
def api() -> requests.Session:
    session = requests.Session()
    session.auth = (USERNAME, PASSWORD)
    return session


def knobs(server: FusionSimulator, **values) -> dict:
    response = requests.post(f"{server.url}/__sandbox__/knobs", json=values, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def line(journal: str, combo: str, dr: str | None, cr: str | None, **extra) -> dict:
    """One GL_INTERFACE line: journal name (REFERENCE4), combination, debit, credit."""
    return {"journal": journal, "combo": combo, "dr": dr, "cr": cr, **extra}


def batch(lines: list[dict], group_id: int = 20261005, batch_name: str = "B-20261005"):
    n = len(lines)
    segments = [ln["combo"].split("-") for ln in lines]
    columns = {
        "status": ["NEW"] * n,
        "ledger_id": pa.array([ln.get("ledger_id", LEDGER) for ln in lines], pa.int64()),
        "accounting_date": pa.array([ln.get("date", OCT_5) for ln in lines], pa.date32()),
        "user_je_source_name": [ln.get("source", SOURCE) for ln in lines],
        "user_je_category_name": [ln.get("category", "Revenue") for ln in lines],
        "currency_code": [ln.get("currency", "USD") for ln in lines],
        "date_created": pa.array([OCT_5] * n, pa.date32()),
        "actual_flag": ["A"] * n,
        **{f"segment{i + 1}": [s[i] for s in segments] for i in range(6)},
        "entered_dr": pa.array(
            [Decimal(ln["dr"]) if ln["dr"] else None for ln in lines], pa.decimal128(18, 2)
        ),
        "entered_cr": pa.array(
            [Decimal(ln["cr"]) if ln["cr"] else None for ln in lines], pa.decimal128(18, 2)
        ),
        "reference1": [batch_name] * n,
        "reference4": [ln["journal"] for ln in lines],
        "reference23": [f"{ln['journal']}-L{i + 1}" for i, ln in enumerate(lines)],
        "group_id": pa.array([group_id] * n, pa.int64()),
        "period_name": ["Oct-26"] * n,
    }
    return pa.record_batch(
        {k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in columns.items()}
    )


def zip_bytes(tmp_path: Path, record_batch: pa.RecordBatch) -> bytes:
    path = tmp_path / f"GlInterface_{len(list(tmp_path.glob('*.zip')))}.zip"
    write_fbdi_zip([record_batch], SPEC, path)
    return path.read_bytes()


def edit_csv(document: bytes, edit) -> bytes:
    """The same zip with GlInterface.csv rows passed through `edit(rows)`."""
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        rows = list(csv.reader(io.StringIO(archive.read(SPEC.csv_file).decode(), newline="")))
    edit(rows)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(SPEC.csv_file, text.getvalue())
    return out.getvalue()


def submit(
    server: FusionSimulator,
    api: requests.Session,
    document: bytes,
    group_id: int = 20261005,
    source: str = SOURCE,
) -> str:
    body = {
        "OperationName": "importBulkData",
        "DocumentContent": base64.b64encode(document).decode(),
        "ContentType": "zip",
        "FileName": "GlInterface_test.zip",
        "DocumentAccount": SPEC.ucm_document_account,
        "JobName": SPEC.ess_job.name,
        "ParameterList": f"#NULL,{source},{LEDGER},{group_id},N,N,N",
        "CallbackURL": "#NULL",
        "NotificationCode": "10",
    }
    response = api.post(f"{server.url}{ERP_INTEGRATIONS}", json=body, timeout=10)
    assert response.status_code == 201, response.text
    echoed = response.json()
    assert "DocumentContent" not in echoed
    assert echoed["ReqstId"].isdigit()
    assert echoed["ParameterList"] == body["ParameterList"]
    return echoed["ReqstId"]


def status(server: FusionSimulator, api: requests.Session, request_id: str) -> str:
    url = f"{server.url}{ERP_INTEGRATIONS}?finder=ESSJobStatusRF;requestId={request_id}"
    items = api.get(url, timeout=10).json()["items"]
    assert [i["ReqstId"] for i in items] == [request_id]
    return items[0]["RequestStatus"]


def finish(server: FusionSimulator, api: requests.Session, request_id: str) -> str:
    for _ in range(POLLS):
        current = status(server, api, request_id)
        if current not in ("WAIT", "RUNNING"):
            return current
        time.sleep(0.02)
    raise AssertionError(f"request {request_id} did not finish")


def job_log(server: FusionSimulator, api: requests.Session, request_id: str):
    url = (
        f"{server.url}{ERP_INTEGRATIONS}"
        f"?finder=ESSJobExecutionDetailsRF;requestId={request_id},fileType=LOG"
    )
    (item,) = api.get(url, timeout=10).json()["items"]
    assert item["FileName"] == f"{request_id}.zip"
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(item["DocumentContent"]))) as archive:
        assert sorted(archive.namelist()) == sorted([f"{request_id}.log", "rejected_rows.csv"])
        text = archive.read(f"{request_id}.log").decode()
        rejected = list(csv.DictReader(io.StringIO(archive.read("rejected_rows.csv").decode())))
    return text, rejected


def run(server, api, tmp_path, lines, **kwargs) -> tuple[str, str, list[dict]]:
    group_id = kwargs.pop("group_id", 20261005)
    document = zip_bytes(tmp_path, batch(lines, group_id=group_id, **kwargs))
    request_id = submit(server, api, document, group_id=group_id)
    state = finish(server, api, request_id)
    text, rejected = job_log(server, api, request_id)
    return state, text, rejected


def posted(server: FusionSimulator) -> list[dict]:
    return requests.get(f"{server.url}/__sandbox__/ledger", timeout=10).json()["items"]


def balances(server, api, period="Oct-26", combination=None, **paging) -> dict:
    finder = (
        f"AccountBalanceFinder;ledgerSetOrLedger={chart.LEDGER_NAME},"
        f"accountingPeriod={period},currency=USD"
    )
    if combination:
        finder += f",accountCombination={combination}"
    response = api.get(
        f"{server.url}{LEDGER_BALANCES}", params={"finder": finder, **paging}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def codes(rejected: list[dict]) -> list[tuple[str, str]]:
    return [(r["line_number"], r["error_code"]) for r in rejected]


BALANCED = [
    line("J1", REVENUE, None, "100.10"),
    line("J1", AR, "100.10", None),
    line("J2", NORTH_REVENUE, None, "50.00"),
    line("J2", NORTH_AR, "25.00", None),
    line("J2", NORTH_AR, "25.00", None),
]


def test_token_flow_bearer_and_basic_auth(fusion: FusionSimulator) -> None:
    token_url = f"{fusion.url}/oauth2/v1/token"
    form = {"grant_type": "client_credentials"}
    bad = requests.post(token_url, data=form, auth=(CLIENT_ID, "wrong"), timeout=10)
    assert (bad.status_code, bad.json()) == (401, {"error": "invalid_client"})
    granted = requests.post(token_url, data=form, auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
    assert granted.status_code == 200
    token = granted.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600

    url = f"{fusion.url}{JOURNAL_BATCHES}"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(url, headers=bearer, timeout=10).status_code == 200
    assert requests.get(url, auth=(USERNAME, PASSWORD), timeout=10).status_code == 200
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=(USERNAME, "wrong"), timeout=10).status_code == 401
    unknown = {"Authorization": "Bearer not-a-token"}
    assert requests.get(url, headers=unknown, timeout=10).status_code == 401

    knobs(fusion, token_seconds=0)
    expired = requests.post(token_url, data=form, auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
    headers = {"Authorization": f"Bearer {expired.json()['access_token']}"}
    assert requests.get(url, headers=headers, timeout=10).status_code == 401


def test_a_clean_batch_succeeds_posts_every_line_and_balances_match(fusion, api, tmp_path) -> None:
    state, text, rejected = run(fusion, api, tmp_path, BALANCED)
    assert state == "SUCCEEDED"
    assert rejected == []
    assert "Lines: 5 posted, 0 rejected." in text

    lines = posted(fusion)
    assert [ln["References"]["REFERENCE23"] for ln in lines] == [
        "J1-L1",
        "J1-L2",
        "J2-L3",
        "J2-L4",
        "J2-L5",
    ]
    assert lines[0]["References"]["REFERENCE1"] == "B-20261005"
    assert lines[0]["PeriodName"] == "Oct-26"

    items = balances(fusion, api)["items"]
    by_combo = {i["DetailAccountCombination"]: i for i in items}
    assert by_combo[REVENUE]["PeriodActivityCredit"] == 100.10
    assert by_combo[REVENUE]["EndingBalance"] == -100.10
    assert by_combo[NORTH_AR]["PeriodActivityDebit"] == 50.00
    company_101 = balances(fusion, api, combination="101-%")["items"]
    assert {i["DetailAccountCombination"] for i in company_101} == {REVENUE, AR}
    cost_centre = balances(fusion, api, combination="%-7020-%")["items"]
    assert [i["DetailAccountCombination"] for i in cost_centre] == [NORTH_REVENUE]
    november = {i["DetailAccountCombination"]: i for i in balances(fusion, api, "Nov-26")["items"]}
    assert november[AR]["BeginningBalance"] == 100.10
    assert november[AR]["PeriodActivity"] == 0


def test_disabled_combination_and_closed_period_reject_only_their_journals(
    fusion, api, tmp_path
) -> None:
    knobs(fusion, disable_combinations=[NORTH_REVENUE])
    lines = [
        line("J1", REVENUE, None, "10.00"),
        line("J1", AR, "10.00", None),
        line("J2", NORTH_REVENUE, None, "20.00"),
        line("J2", NORTH_AR, "20.00", None),
        line("J3", REVENUE, None, "30.00", date=dt.date(2026, 9, 30)),
        line("J3", AR, "30.00", None, date=dt.date(2026, 9, 30)),
    ]
    state, _, rejected = run(fusion, api, tmp_path, lines)
    assert state == "WARNING"
    assert codes(rejected) == [("3", "EF04"), ("4", "EJ01"), ("5", "EP01"), ("6", "EP01")]
    assert {r["journal_name"] for r in rejected} == {"J2", "J3"}
    assert rejected[0]["line_reference"] == "J2-L3"
    assert rejected[0]["group_id"] == "20261005"
    assert [ln["JournalName"] for ln in posted(fusion)] == ["J1", "J1"]


def test_period_knobs_close_and_open_periods(fusion, api, tmp_path) -> None:
    november = dt.date(2026, 11, 2)
    lines = [
        line("J1", REVENUE, None, "1.00", date=november),
        line("J1", AR, "1.00", None, date=november),
    ]
    assert knobs(fusion, close_periods=["Nov-26"])["open_periods"] == ["Oct-26"]
    state, _, rejected = run(fusion, api, tmp_path, lines, group_id=1)
    assert (state, codes(rejected)) == ("ERROR", [("1", "EP01"), ("2", "EP01")])
    knobs(fusion, open_periods=["Nov-26"])
    state, _, _ = run(fusion, api, tmp_path, lines, group_id=1)
    assert state == "SUCCEEDED"


def test_an_unbalanced_journal_is_rejected_whole_with_eu02(fusion, api, tmp_path) -> None:
    lines = [*BALANCED[:2], line("J9", REVENUE, None, "10.00"), line("J9", AR, "9.99", None)]
    state, text, rejected = run(fusion, api, tmp_path, lines)
    assert state == "WARNING"
    assert codes(rejected) == [("3", "EU02"), ("4", "EU02")]
    assert "debits 9.99, credits 10.00" in rejected[0]["message"]
    assert "Journals: 1 posted, 1 rejected." in text


@pytest.mark.parametrize(
    ("change", "first", "code"),
    [
        ({"source": "Spreadsheet"}, "EJ01", "ES01"),
        ({"currency": "EUR"}, "EJ01", "EC01"),
        # another ledger id makes another journal, which leaves the first one unbalanced
        ({"ledger_id": 1}, "EU02", "EL01"),
        ({"combo": "101-7010-99999-000-000-0000"}, "EJ01", "EF04"),
        ({"date": dt.date(2030, 1, 1)}, "EJ01", "EP01"),
    ],
)
def test_row_checks_reject_with_their_code(fusion, api, tmp_path, change, first, code) -> None:
    lines = [line("J1", REVENUE, None, "5.00"), line("J1", AR, "5.00", None) | change]
    state, _, rejected = run(fusion, api, tmp_path, lines)
    assert state == "ERROR"
    assert codes(rejected) == [("1", first), ("2", code)]
    assert posted(fusion) == []


@pytest.mark.parametrize(
    ("position", "value", "code", "named"),
    [
        (3, "10/05/2026", "ED01", "ACCOUNTING_DATE"),
        (5, "", "ER01", "USER_JE_CATEGORY_NAME"),
        (1, "P", "ER01", "STATUS"),
    ],
)
def test_bad_fields_reject_with_a_code_naming_the_column(
    fusion, api, tmp_path, position, value, code, named
) -> None:
    document = zip_bytes(tmp_path, batch(BALANCED))

    def spoil(rows: list[list[str]]) -> None:
        rows[0][position - 1] = value

    request_id = submit(fusion, api, edit_csv(document, spoil))
    assert finish(fusion, api, request_id) == "WARNING"
    _, rejected = job_log(fusion, api, request_id)
    assert codes(rejected) == [("1", code), ("2", "EJ01")]
    assert named in rejected[0]["message"]


def test_a_row_with_the_wrong_field_count_fails_the_load(fusion, api, tmp_path) -> None:
    document = zip_bytes(tmp_path, batch(BALANCED))
    request_id = submit(fusion, api, edit_csv(document, lambda rows: rows[2].pop()))
    assert finish(fusion, api, request_id) == "ERROR"
    text, rejected = job_log(fusion, api, request_id)
    assert "line 3 has 148 fields; the template has 149" in text
    assert rejected == []
    assert posted(fusion) == []


def test_a_zip_without_gl_interface_fails_the_load(fusion, api) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("Other.csv", "x")
    request_id = submit(fusion, api, out.getvalue())
    assert finish(fusion, api, request_id) == "ERROR"
    assert "no GlInterface.csv" in job_log(fusion, api, request_id)[0]


def test_the_same_batch_again_is_eb01_and_posts_nothing_twice(fusion, api, tmp_path) -> None:
    assert run(fusion, api, tmp_path, BALANCED)[0] == "SUCCEEDED"
    state, text, rejected = run(fusion, api, tmp_path, BALANCED)
    assert state == "ERROR"
    assert {r["error_code"] for r in rejected} == {"EB01"}
    assert len(rejected) == len(BALANCED)
    assert "Duplicate batch" in text
    assert len(posted(fusion)) == len(BALANCED)


def test_journal_batches_finds_a_posted_batch_by_name_with_its_line_references(
    fusion, api, tmp_path
) -> None:
    run(fusion, api, tmp_path, BALANCED)
    q = f"JournalBatchName='B-20261005';LedgerId={LEDGER}"
    body = api.get(f"{fusion.url}{JOURNAL_BATCHES}", params={"q": q}, timeout=10).json()
    (item,) = body["items"]
    assert item["JournalSource"] == SOURCE and item["GroupId"] == "20261005"
    assert item["Status"] == "Posted" and item["LineCount"] == 5
    assert item["PostedLineReferences"] == ["J1-L1", "J1-L2", "J2-L3", "J2-L4", "J2-L5"]
    assert (body["count"], body["hasMore"], body["limit"], body["offset"]) == (1, False, 25, 0)
    missing = api.get(f"{fusion.url}{JOURNAL_BATCHES}", params={"q": "JournalBatchName='nope'"})
    assert missing.json()["items"] == []
    assert api.get(f"{fusion.url}{JOURNAL_BATCHES}", params={"q": "Foo=1"}).status_code == 400


def test_reads_page_with_limit_offset_and_has_more(fusion, api, tmp_path) -> None:
    for day in (1, 2, 3):
        run(fusion, api, tmp_path, BALANCED, group_id=day, batch_name=f"B-{day}")
    url = f"{fusion.url}{JOURNAL_BATCHES}"
    first = api.get(url, params={"limit": 2}, timeout=10).json()
    assert [i["JournalBatchName"] for i in first["items"]] == ["B-1", "B-2"]
    assert first["hasMore"] is True
    rest = api.get(url, params={"limit": 2, "offset": 2}, timeout=10).json()
    assert ([i["JournalBatchName"] for i in rest["items"]], rest["hasMore"]) == (["B-3"], False)
    assert api.get(url, params={"limit": 9999}, timeout=10).json()["limit"] == 500

    page = balances(fusion, api, limit=3, offset=3)
    assert (page["count"], page["hasMore"]) == (1, False)
    assert page["items"][0]["DetailAccountCombination"] == NORTH_REVENUE


def test_a_slow_job_stays_running_until_the_knob_lets_it_finish(fusion, api, tmp_path) -> None:
    knobs(fusion, job_seconds=600)
    request_id = submit(fusion, api, zip_bytes(tmp_path, batch(BALANCED)))
    for _ in range(POLLS):
        if status(fusion, api, request_id) == "RUNNING":
            break
        time.sleep(0.02)
    assert [status(fusion, api, request_id) for _ in range(3)] == ["RUNNING"] * 3
    assert posted(fusion) == []
    knobs(fusion, job_seconds=0)
    assert finish(fusion, api, request_id) == "SUCCEEDED"


def test_fail_next_jobs_ends_jobs_in_error_without_posting(fusion, api, tmp_path) -> None:
    knobs(fusion, fail_next_jobs=1)
    state, text, _ = run(fusion, api, tmp_path, BALANCED)
    assert state == "ERROR" and "injected" in text
    assert posted(fusion) == []
    assert run(fusion, api, tmp_path, BALANCED)[0] == "SUCCEEDED"


def test_http_5xx_next_answers_503_with_retry_after(fusion, api) -> None:
    knobs(fusion, http_5xx_next=2)
    url = f"{fusion.url}{JOURNAL_BATCHES}"
    answers = [api.get(url, timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "0"


def test_submissions_outside_the_contract_are_400_and_unknown_ids_empty(fusion, api) -> None:
    url = f"{fusion.url}{ERP_INTEGRATIONS}"
    body = {"OperationName": "importBulkData", "DocumentAccount": "fin$/journal$/import$"}
    assert api.post(url, json=body, timeout=10).status_code == 400
    assert api.post(url, json={"OperationName": "exportBulkData"}, timeout=10).status_code == 400
    found = api.get(f"{url}?finder=ESSJobStatusRF;requestId=42", timeout=10).json()
    assert found["items"] == []
    bad_knob = requests.post(f"{fusion.url}/__sandbox__/knobs", json={"nope": 1}, timeout=10)
    assert bad_knob.status_code == 400


def test_request_ids_are_sequential(fusion, api, tmp_path) -> None:
    document = zip_bytes(tmp_path, batch(BALANCED))
    first = submit(fusion, api, document, group_id=1)
    second = submit(fusion, api, document, group_id=2)
    assert int(second) == int(first) + 1


def test_the_stand_in_publishes_its_url_while_running(tmp_path: Path) -> None:
    server = stand_in("fusion").start(tmp_path)
    try:
        entry = read_endpoints(tmp_path / "endpoints.json")["endpoints"]["fusion"]
        assert entry == {"kind": "http", "url": server.url}
        assert server.url.startswith("http://127.0.0.1:")
        assert requests.get(f"{server.url}/healthz", timeout=10).json()["name"] == "fusion"
    finally:
        server.stop()
    assert "fusion" not in read_endpoints(tmp_path / "endpoints.json")["endpoints"]


def test_the_chart_is_every_combination_the_crosswalk_maps_to() -> None:
    with open(SEEDS / "coa_crosswalk.csv", newline="", encoding="utf-8") as handle:
        targets = {
            "-".join(
                r[k]
                for k in (
                    "company",
                    "cost_center",
                    "account",
                    "sub_account",
                    "intercompany",
                    "future",
                )
            )
            for r in csv.DictReader(handle)
        }
    assert chart.chart_of_accounts() == targets


# --- bulk batches: the import judges columns, block by block --------------------------------


@pytest.fixture
def small_blocks(monkeypatch) -> None:
    """CSV blocks of 64 KiB: a few thousand lines span many blocks."""
    monkeypatch.setattr(fbdi_csv, "BLOCK_BYTES", 64 * 1024)


def many_journals(count: int) -> list[dict]:
    """`count` balanced two-line journals, alternately in two companies."""
    lines = []
    for j in range(1, count + 1):
        revenue, receivable = (REVENUE, AR) if j % 2 else (NORTH_REVENUE, NORTH_AR)
        amount = f"{j}.{j % 100:02d}"
        lines += [line(f"J{j}", revenue, None, amount), line(f"J{j}", receivable, amount, None)]
    return lines


def test_a_bulk_batch_rejects_lines_with_their_number_and_reason_and_posts_the_rest(
    fusion, api, tmp_path, small_blocks
) -> None:
    lines = many_journals(1500)
    lines[1233] = lines[1233] | {"combo": "101-7010-99999-000-000-0000"}  # line 1234, J617
    lines[2000] = lines[2000] | {"cr": "1001.02"}  # line 2001: J1001 does not balance
    lines[2600] = lines[2600] | {"date": dt.date(2026, 9, 30)}  # line 2601, J1301
    lines[2601] = lines[2601] | {"date": dt.date(2026, 9, 30)}
    state, text, rejected = run(fusion, api, tmp_path, lines)

    assert state == "WARNING"
    assert codes(rejected) == [
        ("1233", "EJ01"),
        ("1234", "EF04"),
        ("2001", "EU02"),
        ("2002", "EU02"),
        ("2601", "EP01"),
        ("2602", "EP01"),
    ]
    by_line = {r["line_number"]: r for r in rejected}
    assert "101-7010-99999-000-000-0000 is not in the chart" in by_line["1234"]["message"]
    assert by_line["2001"]["message"] == (
        "journal does not balance: debits 1001.01, credits 1001.02"
    )
    assert by_line["2601"]["message"] == "period Sep-26 is not open"
    assert [by_line[n]["journal_name"] for n in ("1233", "2001", "2601")] == [
        "J617",
        "J1001",
        "J1301",
    ]
    assert by_line["1234"]["line_reference"] == "J617-L1234"
    assert "Journals: 1497 posted, 3 rejected." in text
    assert "Lines: 2994 posted, 6 rejected." in text

    ledger = posted(fusion)
    assert len(ledger) == 2994
    assert [ln["LineNumber"] for ln in ledger[:3]] == [1, 2, 3]
    assert {ln["JournalName"] for ln in ledger}.isdisjoint({"J617", "J1001", "J1301"})
    batch_item = api.get(f"{fusion.url}{JOURNAL_BATCHES}", timeout=10).json()["items"][0]
    assert batch_item["LineCount"] == 2994
    assert batch_item["PostedLineReferences"][1231:1233] == ["J616-L1232", "J618-L1235"]
    company_101 = sum(
        Decimal(str(ln["EnteredCr"])) for ln in ledger if ln["AccountCombination"] == REVENUE
    )
    items = {i["DetailAccountCombination"]: i for i in balances(fusion, api, limit=500)["items"]}
    assert Decimal(str(items[REVENUE]["PeriodActivityCredit"])) == company_101


def test_every_row_check_keeps_its_order_in_a_bulk_batch(fusion, api, tmp_path) -> None:
    """Each row carries its first problem, whatever else is wrong with it."""
    lines = many_journals(8)
    document = zip_bytes(tmp_path, batch(lines))
    status_at, category_at, ledger_at, source_at, currency_at = 1, 5, 2, 4, 6
    segment7_at, date_at = 15, 3

    def spoil(rows: list[list[str]]) -> None:
        rows[0][status_at - 1] = "P"  # ER01, though the ledger is wrong too
        rows[0][ledger_at - 1] = "1"
        rows[2][category_at - 1] = ""  # ER01 before ED01
        rows[2][date_at - 1] = "2026-10-05"
        rows[4][ledger_at - 1] = "1"  # EL01 before ES01
        rows[4][source_at - 1] = "Spreadsheet"
        rows[6][source_at - 1] = "Spreadsheet"  # ES01 before EC01
        rows[6][currency_at - 1] = "EUR"
        rows[8][currency_at - 1] = "EUR"  # EC01 before EF04
        rows[8][segment7_at - 1] = "000"
        rows[10][segment7_at - 1] = "000"  # EF04 (segments) before EP01
        rows[10][date_at - 1] = "2030/01/01"
        rows[12][date_at - 1] = "2030/01/01"  # EP01: no period

    request_id = submit(fusion, api, edit_csv(document, spoil))
    state = finish(fusion, api, request_id)
    text, rejected = job_log(fusion, api, request_id)
    assert state == "WARNING", text
    # Another ledger id makes another journal: lines 2 and 6 are left alone, unbalanced.
    assert codes(rejected) == [
        ("1", "ER01"),
        ("2", "EU02"),
        ("3", "ER01"),
        ("4", "EJ01"),
        ("5", "EL01"),
        ("6", "EU02"),
        ("7", "ES01"),
        ("8", "EJ01"),
        ("9", "EC01"),
        ("10", "EJ01"),
        ("11", "EF04"),
        ("12", "EJ01"),
        ("13", "EP01"),
        ("14", "EJ01"),
    ]
    messages = {r["line_number"]: r["message"] for r in rejected}
    assert messages["1"] == "column STATUS must be NEW"
    assert messages["3"] == "required column USER_JE_CATEGORY_NAME is empty"
    assert messages["5"] == "unknown ledger 1"
    assert messages["9"] == "currency EUR unknown for ledger EHF US Primary Ledger"
    assert messages["13"] == "no accounting period contains the accounting date"
    assert len(posted(fusion)) == 2


def test_lines_of_a_journal_apart_in_the_file_post_journal_by_journal(fusion, api, tmp_path):
    lines = [
        line("J1", REVENUE, None, "3.00"),
        line("J2", NORTH_REVENUE, None, "4.00"),
        line("J1", AR, "3.00", None),
        line("J2", NORTH_AR, "4.00", None),
    ]
    assert run(fusion, api, tmp_path, lines)[0] == "SUCCEEDED"
    assert [ln["LineNumber"] for ln in posted(fusion)] == [1, 3, 2, 4]
    (item,) = api.get(f"{fusion.url}{JOURNAL_BATCHES}", timeout=10).json()["items"]
    assert item["PostedLineReferences"] == ["J1-L1", "J1-L3", "J2-L2", "J2-L4"]


def test_amounts_beyond_cents_balance_and_post_as_decimals(fusion, api, tmp_path) -> None:
    """Amounts Fusion's loader reads as numbers but that are not plain cents (more decimals,
    an exponent) are summed exactly, as before."""
    lines = [
        line("J1", REVENUE, None, "0.01"),
        line("J1", AR, "0.01", None),
        line("J1", AR, "0.01", None),
        line("J2", NORTH_REVENUE, None, "100.00"),
        line("J2", NORTH_AR, "99.99", None),
        line("J3", REVENUE, None, "0.02"),
        line("J3", AR, "0.01", None),
    ]
    document = zip_bytes(tmp_path, batch(lines))

    def spoil(rows: list[list[str]]) -> None:
        rows[1][38] = rows[2][38] = "0.005"  # the writer rounds to the spec's two decimals
        rows[4][38] = "1E+2"
        rows[6][38] = "0.011"

    request_id = submit(fusion, api, edit_csv(document, spoil))
    assert finish(fusion, api, request_id) == "WARNING"
    _, rejected = job_log(fusion, api, request_id)
    assert codes(rejected) == [("6", "EU02"), ("7", "EU02")]
    assert rejected[0]["message"] == "journal does not balance: debits 0.01, credits 0.02"
    items = {i["DetailAccountCombination"]: i for i in balances(fusion, api)["items"]}
    assert items[AR]["PeriodActivityDebit"] == 0.01
    assert items[NORTH_AR]["PeriodActivityDebit"] == 100.00


def test_a_value_that_is_no_number_in_a_later_block_fails_the_load_naming_its_line(
    fusion, api, tmp_path, small_blocks
) -> None:
    document = zip_bytes(tmp_path, batch(many_journals(1500)))

    def spoil(rows: list[list[str]]) -> None:
        rows[2345][38] = "1.2.3"  # ENTERED_DR (empty on this credit line otherwise)
        rows[2500][1] = "-"  # LEDGER_ID, later

    request_id = submit(fusion, api, edit_csv(document, spoil))
    assert finish(fusion, api, request_id) == "ERROR"
    text, rejected = job_log(fusion, api, request_id)
    assert "Load failed: line 2346 column 39 ENTERED_DR is not a number." in text
    assert rejected == []
    assert posted(fusion) == []


def test_a_resubmitted_bulk_batch_is_rejected_line_by_line_with_eb01(
    fusion, api, tmp_path, small_blocks
) -> None:
    lines = many_journals(1500)
    assert run(fusion, api, tmp_path, lines)[0] == "SUCCEEDED"
    state, _, rejected = run(fusion, api, tmp_path, lines)
    assert state == "ERROR"
    assert [r["line_number"] for r in rejected] == [str(n) for n in range(1, 3001)]
    assert {r["error_code"] for r in rejected} == {"EB01"}
    assert rejected[-1]["line_reference"] == "J1500-L3000"
    assert len(posted(fusion)) == 3000


# --- the CSV reader: pyarrow where it reads as csv.reader does, csv.reader elsewhere --------


class Rows:
    """A sink keeping the rows it is given."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def add(self, first_line: int, batch: pa.RecordBatch) -> None:
        assert first_line == len(self.rows) + 1
        columns = [c.to_pylist() for c in batch.columns]
        self.rows += [list(row) for row in zip(*columns, strict=True)]


def read(data: bytes, shape: Shape) -> list[list[str]] | str:
    """The rows `fbdi_csv.load` gives, or its LoadError's message."""
    try:
        return fbdi_csv.load(lambda: io.BytesIO(data), shape, Rows).rows
    except LoadError as exc:
        return str(exc)


def read_by_csv_reader(data: bytes, shape: Shape) -> list[list[str]] | str:
    """What the loads gave when they read every file with csv.reader (strict)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{shape.csv_file} is not UTF-8 text"
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for number, fields in enumerate(reader, start=1):
            rows.append(shape.fields(number, fields))
    except csv.Error:
        return f"{shape.line(reader.line_num)}: unparseable CSV"
    except LoadError as exc:
        return str(exc)
    return rows


GL_SHAPE = Shape("X.csv", ("A", "B", "C"), frozenset("ABC"))
OBJECT_SHAPE = Shape(
    "Y.csv",
    ("A", "B", "C"),
    frozenset("ABC"),
    trailing_nullcols=True,
    end_marker=True,
    file_in_messages=True,
)
PLAIN = b"".join(b"%d,v%d,w\n" % (i, i) for i in range(400))
LONG = b"x" * (csv.field_size_limit() + 1)


@pytest.mark.parametrize(
    "data",
    [
        PLAIN,
        PLAIN.replace(b"\n", b"\r\n"),
        PLAIN.replace(b"\n", b"\r"),
        PLAIN[:-1],
        PLAIN + b'a,"b,c",d\n' + PLAIN,
        PLAIN + b'a,"b""c",d\n',
        PLAIN + b'a,"b\nc",d\n' + PLAIN,
        PLAIN + b'a,b"c,d\n',
        PLAIN + b'a,"b"c,d\n',
        PLAIN + b'a,"b,c\n',
        PLAIN + b'a,"b" ,c\n' + PLAIN,
        PLAIN + b'a, "b",c\n' + PLAIN,
        PLAIN + b'"a""",b"",""""\n' + PLAIN,
        PLAIN + b'a,"b,"c,d\n' + PLAIN,
        PLAIN.replace(b",w\n", b',"w,x"\n'),
        PLAIN.replace(b",w\n", b',"w,x"\r\n'),
        b'"a,b",c,d\n' + PLAIN,
        PLAIN + b"\n" + PLAIN,
        PLAIN + b"\r\n" + PLAIN,
        PLAIN + b"\n",
        b"\n" + PLAIN,
        PLAIN + b" \n",
        PLAIN + b",,\n",
        codecs.BOM_UTF8 + PLAIN,
        PLAIN + "a,é,ü\n".encode(),
        PLAIN + b"a,\xff,c\n",
        PLAIN[:100] + b"a,b\n" + PLAIN + b"a,\xe9,c\n",
        PLAIN + b"a,b\n" + PLAIN,
        PLAIN + b"a,b,c,d\n",
        PLAIN + b"a,b,c,END\n",
        b"a,b,c,END\n" * 300 + b"a,b,c,x\n",
        b"a,b\n" * 300,
        b"a,b\n" * 300 + b"a,b,c,d\n",
        b"a\n" * 300,
        PLAIN + b"a," + LONG + b",c\n",
        PLAIN + b"a,b," + LONG,
        b"",
    ],
)
@pytest.mark.parametrize("shape", [GL_SHAPE, OBJECT_SHAPE], ids=["exact", "nullcols"])
def test_the_reader_reads_every_file_as_csv_reader_does(monkeypatch, data, shape) -> None:
    monkeypatch.setattr(fbdi_csv, "BLOCK_BYTES", 1000)
    assert read(data, shape) == read_by_csv_reader(data, shape)


@pytest.mark.parametrize(
    "data",
    [
        PLAIN,
        PLAIN.replace(b"\n", b"\r\n"),
        b"a,b,c,END\n" * 300,
        PLAIN.replace(b",w\n", b',"w,x"\n'),  # quoted values, each within its line
        b'"a,b","c""d",e\n' * 300,
    ],
)
def test_plain_files_are_read_by_pyarrow_alone(monkeypatch, data) -> None:
    def refuse(*args):
        raise AssertionError("csv.reader was asked")

    monkeypatch.setattr(fbdi_csv, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(fbdi_csv, "_exact", refuse)
    assert read(data, OBJECT_SHAPE) == read_by_csv_reader(data, OBJECT_SHAPE)
