"""Every shipped spec: loads, matches the reference, and partial layouts never reach Fusion."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from load.fbdi import PartialSpecError, write_fbdi_zip
from load.formats import (
    FormatSpec,
    HdlSpec,
    available_objects,
    available_releases,
    load_spec,
    load_spec_file,
    spec_path,
)
from load.formats_report import diff_rows, formats_diff

EXPECTED_25B = {
    "EgpSystemItemsInterface",
    "ElementEntry",
    "FaMassAdditions",
    "GlInterface",
    "InvTransactionsInterface",
    "PozSuppliersInt",
    "RaInterfaceLinesAll",
    "Worker",
}


@pytest.mark.parametrize(
    ("release", "name"), [(r, o) for r in available_releases() for o in available_objects(r)]
)
def test_every_spec_loads_and_validates(release, name):
    spec = load_spec(release, name)
    assert (spec.release, spec.object_name) == (release, name)
    assert spec.confidence in {"high", "medium", "low"}
    if isinstance(spec, FormatSpec):
        for f in spec.files:
            positions = [c.position for c in f.columns]
            assert positions == sorted(set(positions))
            assert f.field_count >= positions[-1]
            if f.complete:
                assert positions == list(range(1, f.field_count + 1))


def test_release_25b_has_every_target_object():
    assert set(available_objects("25B")) == EXPECTED_25B


def test_autoinvoice_is_partial_with_the_documented_positions():
    spec = load_spec("25B", "RaInterfaceLinesAll")
    assert not spec.complete and spec.field_count == 368
    assert spec.csv_file == "RaInterfaceLinesAll.csv"
    assert spec.sheet == "RA_INTERFACE_LINES_ALL"
    at = {c.position: c.name for c in spec.columns}
    assert at[1] == "ORG_ID" and at[2] == "BU_NAME" and at[9] == "ORIG_SYSTEM_BILL_CUSTOMER_REF"
    assert at[19] == "ORIG_SYSTEM_SOLD_CUSTOMER_REF" and at[20] == "BILL_CUSTOMER_ACCOUNT_NUMBER"
    assert at[27] == "LINE_TYPE" and at[38] == "INTERFACE_LINE_CONTEXT"
    assert at[39] == "INTERFACE_LINE_ATTRIBUTE1" and at[53] == "INTERFACE_LINE_ATTRIBUTE15"
    assert at[54] == "PRIMARY_SALESREP_NUMBER" and at[56] == "LEGAL_ENTITY_IDENTIFIER"
    assert not set(range(10, 19)) & set(at) and not set(range(23, 27)) & set(at)
    assert spec.column("LINE_TYPE").allowed == ("LINE", "TAX", "FREIGHT", "CHARGES")
    required = [c.name for c in spec.columns if c.required]
    assert required == [
        "BU_NAME",
        "BATCH_SOURCE_NAME",
        "CUST_TRX_TYPE_NAME",
        "LINE_TYPE",
        "DESCRIPTION",
        "CURRENCY_CODE",
        "CONVERSION_TYPE",
    ]
    assert spec.ess_job.parameter_count == 24 and not spec.ess_job.complete
    with pytest.raises(ValueError, match="3 of 24"):
        spec.ess_job.parameter_list({})


def test_inventory_positions_from_the_reference():
    spec = load_spec("25B", "InvTransactionsInterface")
    assert not spec.complete and spec.field_count == 273
    expected = {
        1: "ORGANIZATION_NAME",
        6: "PROCESS_FLAG",
        13: "LOC_SEGMENT1",
        32: "LOC_SEGMENT20",
        33: "TRANSACTION_QUANTITY",
        37: "TRANSACTION_DATE",
        43: "XFER_LOC_SEGMENT1",
        62: "XFER_LOC_SEGMENT20",
        67: "SOURCE_CODE",
        71: "DSP_SEGMENT1",
        100: "DSP_SEGMENT30",
        102: "TRANSACTION_MODE",
        104: "TRANSACTION_REFERENCE",
        107: "CURRENCY_CODE",
        111: "TRANSACTION_COST",
        116: "DST_SEGMENT1",
    }
    for position, name in expected.items():
        assert spec.column(name).position == position
    assert spec.column("TRANSACTION_UOM").required
    assert not spec.ess_job.complete


def test_items_and_suppliers():
    items = load_spec("25B", "EgpSystemItemsInterface")
    assert items.field_count == 399 and len(items.columns) == 16 and not items.complete
    assert [c.name for c in items.columns][:4] == [
        "TRANSACTION_TYPE",
        "BATCH_ID",
        "BATCH_NUMBER",
        "ITEM_NUMBER",
    ]
    assert items.columns[-1].name == "NEW_ITEM_CLASS_NAME"
    assert items.ess_job.parameter_list(
        {
            "BatchId": "42",
            "ImportMode": "CREATE",
            "AllOrganizations": "N",
            "DeleteProcessedRows": "ORA_COMP",
            "ReprocessErrors": "N",
            "ProcessSequentially": "Y",
        }
    ) == ("42,null,CREATE,N,ORA_COMP,N,Y")

    suppliers = load_spec("25B", "PozSuppliersInt")
    assert suppliers.confidence == "medium" and not suppliers.complete
    assert suppliers.primary.total_columns is None
    assert suppliers.columns[0].name == "IMPORT_ACTION" and suppliers.columns[3].name == "SEGMENT1"
    assert suppliers.columns[-1].name == "CUSTOMER_NUM" and len(suppliers.columns) == 14
    assert suppliers.ess_job.parameter_list({}) == "NEW,N"


def test_fixed_assets_has_two_csvs_and_66_distribution_fields():
    spec = load_spec("25B", "FaMassAdditions")
    assert [f.csv_file for f in spec.files] == ["FaMassAdditions.csv", "FaMassaddDistributions.csv"]
    additions, distributions = spec.files
    assert not additions.complete and additions.total_columns is None
    assert additions.columns[0].name == "MASS_ADDITION_ID"
    assert additions.columns[-1].name == "ASSET_KEY_SEGMENT10" and len(additions.columns) == 36
    assert distributions.complete and distributions.field_count == 66
    names = [c.name for c in distributions.columns]
    assert names[:4] == ["MASS_ADDITION_ID", "UNITS", "EMPLOYEE_EMAIL_ADDRESS", "LOCATION_SEGMENT1"]
    assert names[9:11] == ["LOCATION_SEGMENT7", "DEPRN_EXPENSE_SEGMENT1"]
    assert names[39:41] == ["DEPRN_EXPENSE_SEGMENT30", "ATTRIBUTE1"]
    numbers = [f"ATTRIBUTE_NUMBER{i}" for i in range(1, 6)]
    dates = [f"ATTRIBUTE_DATE{i}" for i in range(1, 6)]
    assert names[55:] == [*numbers, *dates, "ATTRIBUTE_CATEGORY"]
    post = spec.follow_up_jobs[0]
    assert post.name.endswith(",PostMassAdditions")
    assert post.parameter_list({"BookTypeCode": "US CORP"}) == "US CORP"


def test_job_names_use_a_comma_before_the_definition():
    for name in EXPECTED_25B:
        spec = load_spec("25B", name)
        if isinstance(spec, FormatSpec):
            assert ";" not in spec.ess_job.name and "," in spec.ess_job.name


def test_hdl_specs_follow_the_worker_hierarchy():
    worker = load_spec("25B", "Worker")
    assert isinstance(worker, HdlSpec) and worker.dat_file == "Worker.dat"
    assert [(c.name, c.parent) for c in worker.components] == [
        ("Worker", None),
        ("PersonName", "Worker"),
        ("PersonEmail", "Worker"),
        ("WorkRelationship", "Worker"),
        ("WorkTerms", "WorkRelationship"),
        ("Assignment", "WorkTerms"),
    ]
    assert worker.component("WorkRelationship").required_children == ("WorkTerms",)
    assert (
        worker.component("Assignment").parent_reference == "WorkTermsAssignmentId(SourceSystemId)"
    )
    assert worker.zip_name("epic-t1-2026-10-05") == "Workerepict120261005.zip"
    entry = load_spec("25B", "ElementEntry")
    assert [c.name for c in entry.components] == ["ElementEntry", "ElementEntryValue"]
    value = entry.component("ElementEntryValue")
    assert value.parent_reference == "ElementEntryId(SourceSystemId)"
    assert "ScreenEntryValue" in {a.name for a in value.attributes}


def _fa_batches():
    additions = pa.RecordBatch.from_pydict(
        {
            "mass_addition_id": pa.array([1, 2], pa.int64()),
            "book_type_code": ["US CORP", "US CORP"],
            "description": ["MRI scanner", "Infusion pump, 4-channel"],
            "fixed_assets_cost": pa.array([1200000.5, 3400], pa.float64()),
            "posting_status": ["POST", "POST"],
            "queue_name": ["POST", "POST"],
        }
    )
    distributions = pa.RecordBatch.from_pydict(
        {
            "mass_addition_id": pa.array([1, 2], pa.int64()),
            "units": pa.array([1, 1], pa.int64()),
            "location_segment1": ["MAIN", "EAST"],
            "attribute_category": ["X", "Y"],
        }
    )
    return {"FaMassAdditions.csv": [additions], "FaMassaddDistributions.csv": [distributions]}


def test_partial_spec_refuses_to_write(tmp_path):
    """A partial layout not declared written_as_prefix cannot produce a file for Fusion."""
    items = load_spec("25B", "EgpSystemItemsInterface")
    with pytest.raises(PartialSpecError, match=r"EgpSystemItemsInterface"):
        write_fbdi_zip([], items, tmp_path / "items.zip")
    assert not (tmp_path / "items.zip").exists()
    ar = load_spec("25B", "RaInterfaceLinesAll")
    with pytest.raises(PartialSpecError, match="43 of 368"):
        write_fbdi_zip([], ar, tmp_path / "ar.zip")


def test_fa_zip_holds_both_csvs_deterministically(tmp_path):
    spec = load_spec("25B", "FaMassAdditions")
    first = write_fbdi_zip(_fa_batches(), spec, tmp_path / "a.zip", allow_partial=True)
    second = write_fbdi_zip(_fa_batches(), spec, tmp_path / "b.zip", allow_partial=True)
    assert first.zip_sha256 == second.zip_sha256
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.namelist() == ["FaMassAdditions.csv", "FaMassaddDistributions.csv"]
        additions = archive.read("FaMassAdditions.csv").decode().splitlines()
        distributions = archive.read("FaMassaddDistributions.csv").decode().splitlines()
    assert additions[1].startswith('2,US CORP,,,"Infusion pump, 4-channel",')
    assert [len(row) for row in csv.reader(additions)] == [36, 36]
    assert [line.count(",") for line in distributions] == [65, 65]
    assert distributions[0].split(",")[:4] == ["1", "1", "", "MAIN"]
    assert distributions[0].endswith(",X")
    assert [f.rows for f in first.files] == [2, 2]
    assert first.control_totals.to_records() == [
        {"BOOK_TYPE_CODE": "US CORP", "FIXED_ASSETS_COST": "1203400.5", "rows": 2}
    ]


def test_gaps_in_a_partial_layout_are_empty_fields(tmp_path):
    spec = load_spec("25B", "InvTransactionsInterface")
    batch = pa.RecordBatch.from_pydict(
        {
            "organization_name": ["M1"],
            "process_flag": ["1"],
            "transaction_quantity": ["2"],
            "transaction_uom": ["EA"],
            "transaction_date": ["2026-10-01"],
            "source_code": ["EPIC"],
            "source_header_id": [7],
            "source_line_id": [8],
            "transaction_mode": ["3"],
            "transaction_cost": ["12.50"],
            "dst_segment1": ["101"],
        }
    )
    written = write_fbdi_zip([batch], spec, tmp_path / "inv.zip")
    with zipfile.ZipFile(io.BytesIO(written.zip_path.read_bytes())) as archive:
        fields = archive.read("InvTransactionsInterface.csv").decode().rstrip("\n").split(",")
    assert len(fields) == 145  # the documented prefix; the control file nulls the rest
    filled = {i + 1: v for i, v in enumerate(fields) if v}
    assert filled == {
        1: "M1",
        6: "1",
        33: "2",
        34: "EA",
        37: "2026/10/01",
        67: "EPIC",
        68: "7",
        69: "8",
        102: "3",
        111: "12.50",
        116: "101",
    }


def _synthetic_release(tmp_path: Path) -> Path:
    """25B copied as is, plus a made-up 26A that changes GlInterface and drops Suppliers."""
    root = tmp_path / "formats"
    for release in ("25B", "26A"):
        (root / release).mkdir(parents=True)
        for name in available_objects("25B"):
            if release == "26A" and name == "PozSuppliersInt":
                continue
            doc = yaml.safe_load(spec_path("25B", name).read_text(encoding="utf-8"))
            doc["release"] = release
            if release == "26A" and name == "GlInterface":
                doc["columns"].append({"name": "INTERFACE_LINE_NUMBER", "type": "integer"})
                doc["ucm_document_account"] = "fin$/journal$/import$"
            if release == "26A" and name == "Worker":
                doc["components"][0]["attributes"].append({"name": "BloodType"})
            (root / release / f"{name}.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


def test_formats_diff_between_two_releases(tmp_path):
    root = _synthetic_release(tmp_path)
    assert load_spec_file(root / "26A" / "GlInterface.yml").field_count == 150
    diff = formats_diff("25B", "26A", formats_dir=root)
    assert diff["only_in_a"] == ["PozSuppliersInt"] and diff["only_in_b"] == []
    gl = diff["objects"]["GlInterface"]
    assert not gl["identical"]
    assert gl["header"] == [
        {
            "attribute": "ucm_document_account",
            "old": "fin$/generalLedger$/import$",
            "new": "fin$/journal$/import$",
        }
    ]
    sheet = gl["files"]["GL_INTERFACE"]
    assert sheet["added"] == [{"name": "INTERFACE_LINE_NUMBER", "position": 150}]
    assert sheet["header"] == [{"attribute": "total_columns", "old": 149, "new": 150}]
    assert diff["objects"]["Worker"]["components"]["Worker"]["added"] == ["BloodType"]
    assert diff["objects"]["FaMassAdditions"]["identical"]
    rows = diff_rows(diff)
    assert {
        "object": "PozSuppliersInt",
        "part": "",
        "change": "only in 25B",
        "name": "",
        "detail": "",
    } in rows
    assert {
        "object": "GlInterface",
        "part": "GlInterface.csv",
        "change": "added",
        "name": "INTERFACE_LINE_NUMBER",
        "detail": "position 150",
    } in rows
    assert json.loads(json.dumps(diff)) == diff


def test_no_invented_release_is_shipped():
    assert available_releases() == ["25B"]


def test_the_cli_diffs_two_releases_and_names_an_unknown_one():
    from click.testing import CliRunner

    from cli import main

    same = CliRunner().invoke(main, ["formats", "diff", "25B", "25B", "--json"])
    assert same.exit_code == 0
    assert all(o["identical"] for o in json.loads(same.stdout)["objects"].values())
    unknown = CliRunner().invoke(main, ["formats", "diff", "25B", "99Z"])
    assert unknown.exit_code == 2
    assert "'99Z' has no specs; shipped: 25B" in unknown.output
