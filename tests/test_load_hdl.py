"""HDL: the validator against the hdl-toolkit conformance files, and the Worker.dat writer."""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest

from load.formats import load_spec
from load.hdl import HdlError, render_hdl, validate_hdl, write_hdl_zip

CONFORMANCE = (
    Path(__file__).parents[2] / "shared" / "conformance" / "fusion" / "hdl" / "hdl-toolkit"
)
WORKER = load_spec("25B", "Worker")
ELEMENT_ENTRY = load_spec("25B", "ElementEntry")
_EXPECTED_LINE = re.compile(r"(ERROR|WARNING)\s+line (\d+)(?: \[\w+\])?: (.*)$")
_KINDS = {
    "before its METADATA": "before_metadata",
    "YYYY/MM/DD": "date_format",
    "but METADATA declares": "field_count",
    "duplicate record key": "duplicate_key",
    "unknown instruction": "unknown_instruction",
}

needs_conformance = pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="conformance files absent")


def _expected(path: Path) -> list[tuple[int, str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := _EXPECTED_LINE.search(line):
            kind = next(k for text, k in _KINDS.items() if text in m.group(3))
            out.append((int(m.group(2)), m.group(1).lower(), kind))
    return out


@needs_conformance
def test_broken_worker_gives_the_documented_errors_and_warnings():
    text = (CONFORMANCE / "broken" / "Worker.dat").read_text(encoding="utf-8")
    problems = validate_hdl(text)
    expected = _expected(CONFORMANCE / "broken" / "expected_validation.txt")
    assert len(expected) == 6
    assert [(p.line, p.severity, p.kind) for p in problems] == expected
    assert sum(p.severity == "error" for p in problems) == 4
    assert "first seen on line 3" in str(problems[3])


@needs_conformance
def test_import_errors_worker_flags_impossible_dates_and_the_extra_value():
    text = (CONFORMANCE / "import_errors" / "Worker.dat").read_text(encoding="utf-8")
    problems = validate_hdl(text)
    assert [(p.line, p.kind, p.message.split()[0]) for p in problems] == [
        (3, "invalid_date", "EffectiveStartDate"),
        (3, "invalid_date", "StartDate"),
        (4, "field_count", "MERGE"),
    ]
    assert all(p.severity == "error" for p in problems)
    assert "2026" not in " ".join(map(str, problems))  # values never appear in messages


def _inputs() -> dict[str, list[dict[str, str]]]:
    files = {
        "Worker": "worker.csv",
        "PersonName": "person_name.csv",
        "PersonEmail": "person_email.csv",
    }
    out = {}
    for comp, name in files.items():
        with (CONFORMANCE / "inputs" / name).open(encoding="utf-8", newline="") as fh:
            out[comp] = list(csv.DictReader(fh))
    return out


@needs_conformance
def test_inputs_become_a_valid_multi_block_worker_dat(tmp_path):
    data = render_hdl(_inputs(), WORKER)
    text = data.decode("utf-8")
    assert validate_hdl(text, WORKER) == []
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("METADATA")] == [
        "METADATA|Worker|SourceSystemOwner|SourceSystemId|EffectiveStartDate|EffectiveEndDate"
        "|PersonNumber|StartDate|ActionCode",
        "METADATA|PersonName|SourceSystemOwner|SourceSystemId|EffectiveStartDate"
        "|EffectiveEndDate|PersonId(SourceSystemId)|NameType|LegislationCode|LastName|FirstName",
        "METADATA|PersonEmail|SourceSystemOwner|SourceSystemId|PersonId(SourceSystemId)"
        "|DateFrom|EmailType|EmailAddress|PrimaryFlag",
    ]
    assert [line.split("|")[0:2] for line in lines] == [
        ["METADATA", "Worker"],
        ["MERGE", "Worker"],
        ["MERGE", "Worker"],
        ["METADATA", "PersonName"],
        ["MERGE", "PersonName"],
        ["MERGE", "PersonName"],
        ["METADATA", "PersonEmail"],
        ["MERGE", "PersonEmail"],
        ["MERGE", "PersonEmail"],
    ]
    assert (
        lines[1] == "MERGE|Worker|HRC_SQLLOADER|EMP_1001|2026/10/01|4712/12/31|1001|2026/10/01|HIRE"
    )
    assert lines[5].endswith("|GLOBAL|US|Pérez \\| Soto|Luis")
    assert "García" in text and data == text.encode("utf-8")

    written = write_hdl_zip(_inputs(), WORKER, tmp_path / WORKER.zip_name("t1-2026-10-01"))
    again = write_hdl_zip(_inputs(), WORKER, tmp_path / "again" / written.zip_path.name)
    assert written.zip_path.name == "Workert120261001.zip"
    assert written.zip_path.read_bytes() == again.zip_path.read_bytes()
    assert written.lines == {"Worker": 2, "PersonName": 2, "PersonEmail": 2}
    with zipfile.ZipFile(written.zip_path) as archive:
        assert archive.namelist() == ["Worker.dat"]
        assert archive.read("Worker.dat") == data


def _hire(**assignment) -> dict[str, list]:
    key = {"SourceSystemOwner": "EPIC"}
    return {
        "Worker": [
            {
                **key,
                "SourceSystemId": "W1",
                "EffectiveStartDate": dt.date(2026, 10, 1),
                "PersonNumber": "1",
                "ActionCode": "HIRE",
            }
        ],
        "WorkRelationship": [
            {
                **key,
                "SourceSystemId": "WR1",
                "PersonId(SourceSystemId)": "W1",
                "DateStart": "2026-10-01",
                "WorkerType": "E",
            }
        ],
        "WorkTerms": [
            {
                **key,
                "SourceSystemId": "WT1",
                "PeriodOfServiceId(SourceSystemId)": "WR1",
                "EffectiveStartDate": "2026/10/01",
            }
        ],
        "Assignment": [
            {
                **key,
                "SourceSystemId": "A1",
                "WorkTermsAssignmentId(SourceSystemId)": "WT1",
                "EffectiveStartDate": "2026/10/01",
                **assignment,
            }
        ],
    }


def test_hierarchy_order_dates_escaping_and_clearing():
    components = _hire(AssignmentName="Nurse|ICU\nnight \\ shift", BusinessUnitShortCode="#NULL")
    # given out of order: the spec's hierarchy decides the file order
    reordered = dict(reversed(list(components.items())))
    text = render_hdl(reordered, WORKER).decode("utf-8")
    discs = [line.split("|")[1] for line in text.splitlines() if line.startswith("METADATA")]
    assert discs == ["Worker", "WorkRelationship", "WorkTerms", "Assignment"]
    assert "|2026/10/01|" in text and "2026-10-01" not in text
    assert "|Nurse\\|ICU\\nnight \\\\ shift|#NULL" in text
    assert text.count("\n") == 8


def test_arrow_batches_and_snake_case_columns():
    batch = pa.RecordBatch.from_pydict(
        {
            "source_system_owner": ["EPIC", "EPIC"],
            "source_system_id": ["E1", "E2"],
            "effective_start_date": pa.array([dt.date(2026, 10, 1)] * 2, pa.date32()),
            "effective_end_date": pa.array([dt.date(4712, 12, 31), None], pa.date32()),
            "multiple_entry_count": [1, None],
        }
    )
    values = {
        "SourceSystemOwner": "EPIC",
        "SourceSystemId": "E1V",
        "ElementEntryId(SourceSystemId)": "E1",
        "EffectiveStartDate": "2026/10/01",
        "InputValueName": "Pay Value",
        "ScreenEntryValue": "125.50",
    }
    text = render_hdl({"ElementEntry": [batch], "ElementEntryValue": [values]}, ELEMENT_ENTRY)
    lines = text.decode().splitlines()
    assert lines[1] == "MERGE|ElementEntry|EPIC|E1|2026/10/01|4712/12/31|1"
    assert lines[2] == "MERGE|ElementEntry|EPIC|E2|2026/10/01||"
    assert lines[4].endswith("|Pay Value|125.50")


def test_missing_work_terms_is_an_error():
    components = _hire()
    del components["WorkTerms"], components["Assignment"]
    with pytest.raises(HdlError, match="no WorkTerms line references this WorkRelationship"):
        render_hdl(components, WORKER)
    text = (
        "METADATA|WorkRelationship|SourceSystemOwner|SourceSystemId|PersonId(SourceSystemId)\n"
        "MERGE|WorkRelationship|EPIC|WR1|W1\n"
        "METADATA|WorkTerms|SourceSystemOwner|SourceSystemId|PeriodOfServiceId(SourceSystemId)\n"
        "MERGE|WorkTerms|EPIC|WT9|WR9\n"
    )
    problems = validate_hdl(text, WORKER)
    assert [(p.line, p.kind) for p in problems] == [(2, "missing_child")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"EffectiveStartDate": "2026-02-30"}, "Assignment row 1: EffectiveStartDate: not a real"),
        ({"EffectiveSequence": "one"}, "EffectiveSequence: not an integer"),
        ({"SourceSystemId": None}, "SourceSystemId: required value is missing"),
        ({"Blood": "A+"}, "input column 'Blood' is not an attribute"),
    ],
)
def test_writer_errors_name_the_place_not_the_value(change, message):
    with pytest.raises(HdlError, match=re.escape(message)) as err:
        render_hdl(_hire(**change), WORKER)
    assert "A+" not in str(err.value) and "2026-02-30" not in str(err.value)


def test_duplicate_keys_and_bad_zip_names_are_refused(tmp_path):
    components = _hire()
    components["Worker"] = components["Worker"] * 2
    with pytest.raises(HdlError, match="duplicate record key"):
        render_hdl(components, WORKER)
    with pytest.raises(HdlError, match="alphanumeric"):
        write_hdl_zip(_hire(), WORKER, tmp_path / "Worker-1.zip")
    assert list(tmp_path.iterdir()) == []


def test_escaped_pipes_do_not_split_values():
    text = (
        "METADATA|PersonName|SourceSystemOwner|SourceSystemId|LastName\n"
        "MERGE|PersonName|A|B|x\\|y\n"
    )
    assert validate_hdl(text, WORKER) == []
    assert validate_hdl("COMMENT a | b\nSET PURGE_FUTURE_CHANGES N\n") == []
