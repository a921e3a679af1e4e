"""The simulator accepts what the product's writers emit, for every object they know.

GL Journal Import files come from load/fbdi.py, Worker and ElementEntry files from load/hdl.py,
and each is submitted over real HTTP the way the product submits it. Every other FBDI object gets
a file written by load/fbdi.py from its (complete) writer spec, with a value in every column the
simulator's own layout has, and the simulator must store exactly those values: the two sides
agree on every column's position without sharing any layout data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
import requests

from load.fbdi import write_fbdi_zip
from load.formats import ColumnSpec, CsvFileSpec, FormatSpec, available_objects, load_spec
from load.hdl import write_hdl_zip
from sandbox.fusion import chart
from sandbox.fusion.server import PASSWORD, USERNAME, FusionSimulator
from tests.test_fusion_simulator_hcm import CONFORMANCE, finish, messages, start, workers
from tests.test_fusion_simulator_objects import (
    OBJECTS,
    parameter_list,
    run,
    sample_row,
    zip_of,
)

GL = load_spec("25B", "GlInterface")
WORKER = load_spec("25B", "Worker")
ELEMENT_ENTRY = load_spec("25B", "ElementEntry")
OCT_5 = dt.date(2026, 10, 5)
WRITER_SPECS = {
    name: spec
    for name in available_objects("25B")
    if isinstance(spec := load_spec("25B", name), FormatSpec) and name != "GlInterface"
}
_ARROW = {"date": pa.date32(), "integer": pa.int64(), "amount": pa.decimal128(18, 2)}


@pytest.fixture(scope="module")
def fusion(tmp_path_factory) -> Iterator[FusionSimulator]:
    with FusionSimulator(tmp_path_factory.mktemp("writers") / "endpoints.json") as server:
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


def test_journal_import_accepts_the_gl_writers_file(fusion, api, tmp_path) -> None:
    combinations = ["101-7010-40100-000-000-0000", "101-0000-12000-000-000-0000"]
    segments = [c.split("-") for c in combinations]
    batch = pa.record_batch(
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
            "reference1": ["B-20261005"] * 2,
            "reference4": ["HB-20261005-000001"] * 2,
            "reference23": ["1", "2"],
            "group_id": pa.array([20261005] * 2, pa.int64()),
        }
    )
    written = write_fbdi_zip([batch], GL, tmp_path / GL.zip_name("t1"))
    values = {"JournalSourceName": "Epic Resolute", "LedgerId": chart.LEDGER_ID}
    parameters = GL.ess_job.parameter_list(values | {"GroupId": "20261005"})
    status, text, rejected, _ = run(fusion, api, GL, written.zip_path.read_bytes(), parameters)
    assert (status, rejected) == ("SUCCEEDED", [])
    assert "Lines: 2 posted, 0 rejected." in text


def hdl_data_set(fusion, api, zip_path: Path) -> tuple[dict, list[dict]]:
    request_id = start(fusion, api, zip_path.read_bytes(), file_name=zip_path.name)
    return finish(fusion, api, request_id), messages(fusion, api, request_id)


def line(source_id: str, **values) -> dict:
    """One input row of an HDL component (exact or snake_case attribute names)."""
    return {"SourceSystemOwner": "EHR", "SourceSystemId": source_id, **values}


def test_hdl_accepts_a_whole_new_hire_from_the_worker_writer(fusion, api, tmp_path) -> None:
    hired = {"EffectiveStartDate": OCT_5}
    components = {
        "Worker": [line("P77", **hired, PersonNumber="7701", StartDate=OCT_5, ActionCode="HIRE")],
        "PersonName": [
            line("P77_N", **hired, person_id_source_system_id="P77", NameType="GLOBAL",
                 LegislationCode="US", LastName="Nguyen", FirstName="Imani")
        ],
        "WorkRelationship": [
            line("P77_R", person_id_source_system_id="P77", DateStart=OCT_5, WorkerType="E",
                 PrimaryFlag="Y")
        ],
        "WorkTerms": [line("P77_T", **hired, period_of_service_id_source_system_id="P77_R")],
        "Assignment": [
            line("P77_A", **hired, work_terms_assignment_id_source_system_id="P77_T",
                 AssignmentNumber="E7701", AssignmentName="Cardiology")
        ],
    }  # fmt: skip
    written = write_hdl_zip(components, WORKER, tmp_path / WORKER.zip_name("t1-2026-10-05"))
    data_set, found = hdl_data_set(fusion, api, written.zip_path)
    assert (data_set["DataSetStatusCode"], found) == ("ORA_SUCCESS", [])
    assert data_set["LoadSuccessCount"] == sum(written.lines.values()) == 5
    (worker,) = workers(fusion, api, PersonNumber="7701")
    assert (worker["DisplayName"], worker["AssignmentName"]) == ("Imani Nguyen", "Cardiology")


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="conformance files absent")
def test_hdl_accepts_the_worker_writers_file_from_the_conformance_inputs(fusion, api, tmp_path):
    files = {
        "Worker": "worker.csv",
        "PersonName": "person_name.csv",
        "PersonEmail": "person_email.csv",
    }
    components = {}
    for component, name in files.items():
        with (CONFORMANCE / "inputs" / name).open(encoding="utf-8", newline="") as handle:
            components[component] = list(csv.DictReader(handle))
    written = write_hdl_zip(components, WORKER, tmp_path / WORKER.zip_name("inputs"))
    data_set, found = hdl_data_set(fusion, api, written.zip_path)
    assert (data_set["DataSetStatusCode"], found) == ("ORA_SUCCESS", [])
    assert workers(fusion, api, SourceSystemId="EMP_1002")[0]["LastName"] == "Pérez | Soto"


def test_hdl_accepts_the_element_entry_writers_file(fusion, api, tmp_path) -> None:
    entry = {"EffectiveStartDate": OCT_5, "ElementName": "On Call", "AssignmentNumber": "E1001"}
    components = {
        "ElementEntry": [line("EE77", **entry, EntryType="E", CreatorType="H")],
        "ElementEntryValue": [
            line("EE77_V", **entry, element_entry_id_source_system_id="EE77",
                 InputValueName="Pay Value", ScreenEntryValue="40.00")
        ],
    }  # fmt: skip
    path = tmp_path / ELEMENT_ENTRY.zip_name("t1-2026-10-05")
    written = write_hdl_zip(components, ELEMENT_ENTRY, path)
    data_set, found = hdl_data_set(fusion, api, written.zip_path)
    assert (data_set["DataSetStatusCode"], found) == ("ORA_SUCCESS", [])
    assert data_set["LoadSuccessCount"] == 2


def row_values(spec: FormatSpec, file: CsvFileSpec) -> dict[str, str]:
    """The simulator's sample row of the CSV, with a number as the writer writes it wherever the
    writer types the column as one (any number is also valid text for the simulator)."""
    layout = OBJECTS[spec.object_name].file(file.csv_file)
    row = sample_row(layout)
    if layout.link is not None:  # name the primary row, as the writer types its key
        row[layout.link[0]] = row_values(spec, spec.primary)[layout.link[1]]
    types = {c.name: c.type for c in file.columns}

    def value(name: str, text: str) -> str:
        numeric = text.replace(".", "").isdigit()
        if types[name] == "integer":
            return text if text.isdigit() else "1"
        if types[name] == "amount":
            return f"{Decimal(text if numeric else 1):.2f}"
        return text

    return {name: value(name, text) for name, text in row.items()}


def arrow_batch(spec: FormatSpec, file: CsvFileSpec) -> pa.RecordBatch:
    """One row with the values of `row_values`, typed as the product's marts would type them."""
    values = row_values(spec, file)

    def value(column: ColumnSpec):
        text = values.get(column.name)
        if text is None:
            return None
        if column.type == "date":
            return dt.date.fromisoformat(text.replace("/", "-"))
        if column.type == "integer":
            return int(text)
        return Decimal(text) if column.type == "amount" else text

    return pa.record_batch(
        {c.input_name: pa.array([value(c)], _ARROW.get(c.type, pa.string())) for c in file.columns}
    )


def one_field_too_many(document: bytes, csv_file: str, field_count: int) -> bytes:
    """The document with line 1 of `csv_file` one field longer than the layout (no END)."""
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        rows = {
            name: list(csv.reader(io.StringIO(archive.read(name).decode())))
            for name in archive.namelist()
        }
    first = rows[csv_file][0]
    first[:] = [*first[:field_count], ""]
    return zip_of(rows)


@pytest.mark.parametrize("name", sorted(WRITER_SPECS))
def test_each_writers_file_is_accepted_and_a_broken_variant_is_not(fusion, api, name, tmp_path):
    spec = WRITER_SPECS[name]
    batches = {f.csv_file: [arrow_batch(spec, f)] for f in spec.files}
    written = write_fbdi_zip(batches, spec, tmp_path / spec.zip_name("t1"))
    document = written.zip_path.read_bytes()
    parameters = parameter_list(OBJECTS[name], row_values(spec, spec.primary))

    status, _, rejected, stored = run(fusion, api, OBJECTS[name], document, parameters)
    assert (status, rejected) == ("SUCCEEDED", []), rejected[:3]
    assert [r["Values"] for r in stored] == [row_values(spec, f) for f in spec.files]

    broken = one_field_too_many(document, spec.csv_file, spec.field_count)
    status, text, _, stored = run(fusion, api, OBJECTS[name], broken, parameters)
    assert (status, stored) == ("ERROR", [])
    assert f"line 1 of {spec.csv_file} has {spec.field_count + 1} fields" in text
