"""Reference reads for the reverse path, over real HTTP on 127.0.0.1: workers, the cost-centre
value set and suppliers, with Fusion's paging (limit/offset/hasMore/count) and `q=` filters.

The data is the simulator's own world: two workers per clinical department of every facility,
the chart's cost centres, thirty suppliers. Nothing here changes it, so one simulator serves the
module.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from types import SimpleNamespace

import pytest
import requests

from sandbox import world
from sandbox.fusion import chart
from sandbox.fusion.server import PASSWORD, USERNAME, FusionSimulator

WORKERS = "/hcmRestApi/resources/11.13.18.05/workers"
COST_CENTRES = "/fscmRestApi/resources/11.13.18.05/valueSets/EHF_COST_CENTER/child/values"
SUPPLIERS = "/fscmRestApi/resources/11.13.18.05/suppliers"
WORLD_WORKERS = 2 * sum(len(f.clinical) for f in world.FACILITIES)


@pytest.fixture(scope="module")
def fusion(tmp_path_factory) -> Iterator[FusionSimulator]:
    with FusionSimulator(tmp_path_factory.mktemp("reference") / "endpoints.json") as server:
        yield server


@pytest.fixture(scope="module")
def api() -> SimpleNamespace:
    """GETs as the integration user, each on a new connection (on a kept-alive one every
    answer would wait for the client's delayed ACK)."""
    return SimpleNamespace(get=partial(requests.get, auth=(USERNAME, PASSWORD), timeout=10))


def read(fusion, api, path: str, **params) -> dict:
    answer = api.get(f"{fusion.url}{path}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def every(fusion, api, path: str, limit: int, **params) -> list[dict]:
    """Follow hasMore page by page, the way the product's client does."""
    items, offset = [], 0
    while True:
        page = read(fusion, api, path, limit=limit, offset=offset, **params)
        assert page["count"] == len(page["items"]) <= limit
        items += page["items"]
        if not page["hasMore"]:
            return items
        offset += page["count"]


def test_workers_page_with_limit_offset_has_more_and_total_results(fusion, api) -> None:
    first = read(fusion, api, WORKERS)
    assert (first["count"], first["limit"], first["offset"], first["hasMore"]) == (25, 25, 0, True)
    assert "totalResults" not in first
    assert read(fusion, api, WORKERS, totalResults="true")["totalResults"] == WORLD_WORKERS

    paged = every(fusion, api, WORKERS, limit=20)
    assert len(paged) == WORLD_WORKERS == 66
    assert len({w["PersonId"] for w in paged}) == WORLD_WORKERS
    last = read(fusion, api, WORKERS, limit=20, offset=60)
    assert (last["count"], last["hasMore"]) == (6, False)
    assert read(fusion, api, WORKERS, limit=9999)["limit"] == 500


def test_a_world_worker_carries_name_email_and_assignment(fusion, api) -> None:
    (worker,) = read(fusion, api, WORKERS, q="PersonNumber='1001'")["items"]
    assert worker | {"PersonId": None} == {
        "PersonId": None,
        "PersonNumber": "1001",
        "SourceSystemOwner": "EHF",
        "SourceSystemId": "EHF1001",
        "FirstName": "June",
        "LastName": "Collins",
        "DisplayName": "June Collins",
        "WorkEmail": "june.collins@ehf.example",
        "StartDate": "2024-01-08",
        "LegalEmployerName": "St Mary Main Campus",
        "AssignmentNumber": "E1001",
        "AssignmentName": "Emergency Department",
        "BusinessUnitShortCode": chart.BUSINESS_UNIT,
    }
    assert read(fusion, api, f"{WORKERS}/{worker['PersonId']}") == worker


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("LastName='Collins'", {"1001", "1051"}),
        ("AssignmentName='Radiology';LegalEmployerName='St Mary North'", {"1033", "1034"}),
        ("LastName LIKE 'Wh%'", {"1028"}),
        ("DisplayName like 'Kai %'", {"1002", "1051"}),
        ("WorkEmail LIKE '%@nowhere.example'", set()),
    ],
)
def test_q_filters_workers_by_equality_and_like(fusion, api, q, expected) -> None:
    found = every(fusion, api, WORKERS, limit=500, q=q)
    assert {w["PersonNumber"] for w in found} == expected


def test_cost_centres_are_the_charts_cost_centres_with_department_names(fusion, api) -> None:
    values = every(fusion, api, COST_CENTRES, limit=5)
    centres = {combination.split("-")[1] for combination in chart.chart_of_accounts()}
    assert [v["Value"] for v in values] == sorted(centres)
    described = {v["Value"]: v["Description"] for v in values}
    assert described["0000"] == "Balance Sheet"
    assert described["7010"] == "Emergency Department"
    # finance split radiology's cost centre; both carry radiology's accounts
    assert described["7050"] == described["7055"] == "Radiology"
    assert {(v["EnabledFlag"], v["SummaryFlag"]) for v in values} == {("Y", "N")}
    (one,) = read(fusion, api, COST_CENTRES, q="Value='7120'")["items"]
    assert one["Description"] == "Labor And Delivery"


def test_suppliers_read_with_paging_and_filters(fusion, api) -> None:
    suppliers = every(fusion, api, SUPPLIERS, limit=7)
    assert len(suppliers) == 30
    assert suppliers[0]["Supplier"] == "Abbott Medical Supply"
    assert suppliers[0]["SupplierNumber"] == "10001"
    assert {s["BusinessRelationship"] for s in suppliers} == {"SPEND_AUTHORIZED"}
    liked = read(fusion, api, SUPPLIERS, q="Supplier LIKE '%Pharmaceuticals'")["items"]
    assert [s["Supplier"] for s in liked] == [
        "Alvarez Pharmaceuticals",
        "Chen Pharmaceuticals",
        "Evans Pharmaceuticals",
        "Harris Pharmaceuticals",
        "Kim Pharmaceuticals",
        "Murphy Pharmaceuticals",
    ]
    found = read(fusion, api, f"{SUPPLIERS}/{liked[0]['SupplierId']}")
    assert found == liked[0]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        (WORKERS, {"q": "Salary='1'"}, 400),
        (WORKERS, {"q": "LastName>'A'"}, 400),
        (WORKERS, {"limit": "0"}, 400),
        (WORKERS, {"offset": "-1"}, 400),
        (f"{WORKERS}/42", {}, 404),
        (SUPPLIERS, {"q": "SupplierNumber"}, 400),
        (f"{SUPPLIERS}/42", {}, 404),
        ("/fscmRestApi/resources/11.13.18.05/valueSets/EHF_ACCOUNT/child/values", {}, 404),
    ],
)
def test_reads_outside_the_contract_answer_with_a_title_and_detail(
    fusion, api, path, params, status
) -> None:
    answer = api.get(f"{fusion.url}{path}", params=params)
    assert answer.status_code == status
    assert answer.json()["title"] and answer.json()["detail"]


def test_reference_reads_need_credentials(fusion) -> None:
    for path in (WORKERS, COST_CENTRES, SUPPLIERS):
        assert requests.get(f"{fusion.url}{path}", timeout=10).status_code == 401
