"""The Fusion simulator judges on its own layout data, never on the product's writer specs.

Nothing in sandbox/fusion imports load/; its layouts (sandbox/fusion/layouts) are Oracle's
template column lists; and a writer spec with two columns swapped produces files the simulator
rejects, while the shipped spec's files are accepted.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
import requests
import yaml

from load.fbdi import write_fbdi_zip
from load.formats import FormatSpec, load_spec, load_spec_file, spec_path
from sandbox.fusion import chart
from sandbox.fusion.catalog import LAYOUTS_DIR, fbdi_object, fbdi_objects, hdl_objects
from sandbox.fusion.server import PASSWORD, USERNAME, FusionSimulator
from tests.test_fusion_simulator_objects import SUPPLIES, run

SIMULATOR = Path(__file__).parents[1] / "sandbox" / "fusion"
REFERENCE = Path(__file__).parents[2] / "shared" / "reference" / "fbdi_layouts"
OCT_5 = dt.date(2026, 10, 5)


def test_no_simulator_module_imports_the_writer_side():
    for path in sorted(SIMULATOR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not [n for n in names if n == "load" or n.startswith("load.")], path


def test_the_simulators_layouts_are_data_files_in_its_own_package():
    assert LAYOUTS_DIR.parent == SIMULATOR
    layouts = {f.csv_file for o in fbdi_objects() for f in o.files}
    assert layouts == {p.name for p in (LAYOUTS_DIR / "fbdi").glob("*.csv")}
    assert fbdi_object("GlInterface").primary.field_count == 149
    assert {o.dat_file for o in hdl_objects()} == {"Worker.dat", "ElementEntry.dat"}


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference layouts absent")
@pytest.mark.parametrize(
    "csv_file",
    sorted({f.csv_file for o in fbdi_objects() for f in o.files} - {"GlInterface.csv"}),
)
def test_the_simulators_layouts_are_oracles_column_lists(csv_file):
    with (REFERENCE / csv_file).open(encoding="utf-8", newline="") as handle:
        expected = [(int(r["position"]), r["column_name"]) for r in csv.DictReader(handle)]
    (layout,) = {f for o in fbdi_objects() for f in o.files if f.csv_file == csv_file}
    assert [(c.position, c.name) for c in layout.columns] == expected


@pytest.fixture(scope="module")
def fusion(tmp_path_factory) -> Iterator[FusionSimulator]:
    with FusionSimulator(tmp_path_factory.mktemp("layouts") / "endpoints.json") as server:
        requests.post(f"{server.url}/__sandbox__/knobs", json={"job_seconds": 0}, timeout=10)
        yield server


@pytest.fixture(scope="module")
def api() -> SimpleNamespace:
    auth = (USERNAME, PASSWORD)
    return SimpleNamespace(
        **{m: partial(getattr(requests, m), auth=auth, timeout=10) for m in ("get", "post")}
    )


def swapped(tmp_path: Path, name: str, first: str, second: str) -> FormatSpec:
    """A copy of the shipped 25B spec with columns `first` and `second` trading places."""
    doc = yaml.safe_load(spec_path("25B", name).read_text(encoding="utf-8"))
    columns = doc["columns"] if "columns" in doc else doc["files"][0]["columns"]
    names = [c["name"] for c in columns]
    i, j = names.index(first), names.index(second)
    columns[i], columns[j] = columns[j], columns[i]
    path = tmp_path / "25B" / f"{name}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    spec = load_spec_file(path)
    assert isinstance(spec, FormatSpec)
    return spec


def gl_batch(group_id: int) -> pa.RecordBatch:
    combinations = ["101-7010-40100-000-000-0000", "101-0000-12000-000-000-0000"]
    segments = [c.split("-") for c in combinations]
    return pa.record_batch(
        {
            "status": ["NEW", "NEW"],
            "ledger_id": pa.array([int(chart.LEDGER_ID)] * 2, pa.int64()),
            "accounting_date": pa.array([OCT_5] * 2, pa.date32()),
            "user_je_source_name": ["Epic Resolute"] * 2,
            "user_je_category_name": ["Patient Revenue"] * 2,
            "currency_code": ["USD"] * 2,
            "date_created": pa.array([OCT_5] * 2, pa.date32()),
            "actual_flag": ["A", "A"],
            **{f"segment{i + 1}": [s[i] for s in segments] for i in range(6)},
            "entered_dr": pa.array([None, Decimal("12.50")], pa.decimal128(18, 2)),
            "entered_cr": pa.array([Decimal("12.50"), None], pa.decimal128(18, 2)),
            "reference1": [f"B-{group_id}"] * 2,
            "reference4": [f"HB-{group_id}-000001"] * 2,
            "reference23": ["1", "2"],
            "group_id": pa.array([group_id] * 2, pa.int64()),
        }
    )


def import_gl(fusion, api, spec: FormatSpec, group_id: int, tmp_path: Path):
    written = write_fbdi_zip([gl_batch(group_id)], spec, tmp_path / f"gl{group_id}.zip")
    values = {"JournalSourceName": "Epic Resolute", "LedgerId": chart.LEDGER_ID}
    parameters = spec.ess_job.parameter_list(values | {"GroupId": str(group_id)})
    return run(fusion, api, spec, written.zip_path.read_bytes(), parameters)


def test_a_gl_spec_with_two_columns_swapped_is_rejected(fusion, api, tmp_path):
    shipped = load_spec("25B", "GlInterface")
    status, text, rejected, _ = import_gl(fusion, api, shipped, 20261101, tmp_path)
    assert (status, rejected) == ("SUCCEEDED", []) and "Lines: 2 posted" in text

    wrong = swapped(tmp_path, "GlInterface", "LEDGER_ID", "ACCOUNTING_DATE")
    assert wrong.column("LEDGER_ID").position == 3  # the writer is happy with it
    status, text, _, _ = import_gl(fusion, api, wrong, 20261102, tmp_path)
    assert status == "ERROR"
    assert "column 2 LEDGER_ID is not a number" in text and "Nothing was imported" in text

    names = swapped(tmp_path / "b", "GlInterface", "USER_JE_SOURCE_NAME", "USER_JE_CATEGORY_NAME")
    status, text, rejected, _ = import_gl(fusion, api, names, 20261103, tmp_path)
    assert status == "ERROR" and {r["error_code"] for r in rejected} == {"ES01"}


def inventory_batch(header_id: int) -> pa.RecordBatch:
    account = SUPPLIES.split("-")
    return pa.RecordBatch.from_pydict(
        {
            "organization_name": ["EHF F01 Inventory"],
            "process_flag": ["1"],
            "item_number": ["IV-SET-20"],
            "subinventory_code": ["CENTRAL"],
            "transaction_quantity": [Decimal("-2")],
            "transaction_uom": ["Ea"],
            "transaction_date": pa.array([OCT_5], pa.date32()),
            "transaction_type_name": ["Miscellaneous Issue"],
            "source_code": ["SUNRISE"],
            "source_header_id": pa.array([header_id], pa.int64()),
            "source_line_id": pa.array([1], pa.int64()),
            "transaction_mode": ["3"],
            **{f"dst_segment{i + 1}": [account[i]] for i in range(6)},
        }
    )


def test_an_inventory_spec_with_two_columns_swapped_is_rejected(fusion, api, tmp_path):
    simulated = fbdi_object("InvTransactionsInterface")
    shipped = load_spec("25B", "InvTransactionsInterface")
    written = write_fbdi_zip([inventory_batch(880001)], shipped, tmp_path / "good.zip")
    status, _, rejected, stored = run(fusion, api, simulated, written.zip_path.read_bytes(), "")
    assert (status, rejected) == ("SUCCEEDED", [])
    assert stored[0]["Values"]["SUBINVENTORY_CODE"] == "CENTRAL"

    wrong = swapped(tmp_path, "InvTransactionsInterface", "SUBINVENTORY_CODE", "LOCATOR_NAME")
    written = write_fbdi_zip([inventory_batch(880002)], wrong, tmp_path / "bad.zip")
    status, _, rejected, stored = run(fusion, api, simulated, written.zip_path.read_bytes(), "")
    assert (status, stored) == ("ERROR", [])
    assert [(r["error_code"], r["message"]) for r in rejected] == [
        ("EO02", "SUBINVENTORY_CODE is not a subinventory of the organization")
    ]
