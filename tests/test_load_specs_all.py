"""Every shipped spec: loads, is a complete layout, and releases fall back to earlier ones."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from load.fbdi import write_fbdi_zip
from load.formats import (
    FormatSpec,
    FormatSpecError,
    HdlSpec,
    available_objects,
    available_releases,
    load_spec,
    load_spec_file,
    resolve_release,
    spec_path,
)
from load.formats_report import diff_rows, formats_diff

EXPECTED_25B = {
    "EgpSystemItemsInterface",
    "ElementEntry",
    "FaMassAdditions",
    "GlInterface",
    "InvTransactionsInterface",
    "PozSupplierAddressesInt",
    "PozSupplierSitesInt",
    "PozSuppliersInt",
    "RaInterfaceLinesAll",
    "Worker",
}


@pytest.mark.parametrize(
    ("release", "name"), [(r, o) for r in available_releases() for o in available_objects(r)]
)
def test_every_spec_loads_and_is_a_complete_layout(release, name):
    spec = load_spec(release, name)
    assert (spec.release, spec.object_name) == (resolve_release(release, name), name)
    assert spec.confidence in {"high", "medium", "low"}
    if isinstance(spec, FormatSpec):
        for f in spec.files:
            assert [c.position for c in f.columns] == list(range(1, f.field_count + 1))


def test_release_25b_has_every_target_object():
    assert set(available_objects("25B")) == EXPECTED_25B


def test_a_release_folder_holds_only_what_changed_and_falls_back_for_the_rest():
    assert sorted(p.stem for p in spec_path("26C", "x").parent.glob("*.yml")) == [
        "RaInterfaceLinesAll"
    ]
    assert set(available_objects("26C")) == EXPECTED_25B
    assert resolve_release("26C", "GlInterface") == "25B"
    assert load_spec("26C", "GlInterface") == load_spec("25B", "GlInterface")
    assert load_spec("26C", "RaInterfaceLinesAll").release == "26C"
    assert resolve_release("26D", "RaInterfaceLinesAll") == "26C"  # newer releases too
    with pytest.raises(FormatSpecError, match="nor in any earlier release"):
        load_spec("25A", "GlInterface")


def test_autoinvoice_is_complete_with_the_macros_column_moves():
    spec = load_spec("25B", "RaInterfaceLinesAll")
    assert [(f.csv_file, f.field_count) for f in spec.files] == [
        ("RaInterfaceLinesAll.csv", 368),
        ("RaInterfaceDistributionsAll.csv", 140),
        ("RaInterfaceSalesCreditsAll.csv", 38),
        ("ArInterfaceContsAll.csv", 42),
    ]
    assert all(f.end_marker for f in spec.files)
    assert spec.sheet == "RA_INTERFACE_LINES_ALL"
    at = {c.position: c.name for c in spec.columns}
    assert at[1] == "ORG_ID" and at[2] == "BATCH_SOURCE_NAME" and at[287] == "BU_NAME"
    assert at[26] == "LINE_TYPE" and at[37] == "INTERFACE_LINE_CONTEXT"
    assert at[38] == "INTERFACE_LINE_ATTRIBUTE1" and at[368] == "ADDITIONAL_LINE_ATTRIBUTE15"
    assert spec.file("RaInterfaceDistributionsAll.csv").column("BU_NAME").position == 99
    assert spec.file("ArInterfaceContsAll.csv").columns[-1].name == "CONTINGENCY_NAME"
    assert spec.column("LINE_TYPE").allowed == ("LINE", "TAX", "FREIGHT", "CHARGES")
    required = [c.name for c in spec.columns if c.required]
    assert required == [
        "BATCH_SOURCE_NAME",
        "CUST_TRX_TYPE_NAME",
        "LINE_TYPE",
        "DESCRIPTION",
        "CURRENCY_CODE",
        "CONVERSION_TYPE",
        "BU_NAME",
    ]
    assert spec.ess_job.parameter_count == 24 and not spec.ess_job.complete
    with pytest.raises(ValueError, match="3 of 24"):
        spec.ess_job.parameter_list({})
    later = load_spec("26C", "RaInterfaceLinesAll")
    assert later.field_count == 371 and later.columns[-1].name == "INITIAL_CUSTOMER_TRX_ID"


def test_inventory_positions_from_the_reference():
    spec = load_spec("25B", "InvTransactionsInterface")
    assert [(f.csv_file, f.field_count) for f in spec.files] == [
        ("InvTransactionsInterface.csv", 273),
        ("InvTransactionLotsInterface.csv", 142),
        ("InvSerialNumbersInterface.csv", 118),
        ("CstTransCostInterface.csv", 3),
    ]
    expected = {
        1: "ORGANIZATION_NAME",
        6: "PROCESS_FLAG",
        10: "INV_LOTSERIAL_INTERFACE_NUM",
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
    assert spec.column("TRANSACTION_DATE").type == "date"
    assert not spec.ess_job.complete


def test_items_and_suppliers():
    items = load_spec("25B", "EgpSystemItemsInterface")
    assert items.field_count == 399 and len(items.columns) == 399
    assert [c.name for c in items.columns][:4] == [
        "TRANSACTION_TYPE",
        "BATCH_ID",
        "BATCH_NUMBER",
        "ITEM_NUMBER",
    ]
    assert items.columns[-1].name == "EXPIRATION_DATE_CALC_BASIS"
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
    assert suppliers.confidence == "medium" and suppliers.field_count == 156
    assert suppliers.columns[0].name == "IMPORT_ACTION" and suppliers.columns[3].name == "SEGMENT1"
    assert suppliers.columns[-1].name == "BATCH_ID"  # column A of the sheet, moved last
    assert suppliers.ess_job.parameter_list({}) == "NEW,N"
    addresses = load_spec("25B", "PozSupplierAddressesInt")
    sites = load_spec("25B", "PozSupplierSitesInt")
    assert addresses.field_count == 110 and addresses.confidence == "low"
    assert [(f.csv_file, f.field_count) for f in sites.files] == [
        ("PozSupplierSitesInt.csv", 200),
        ("PozSupThirdPartyInt.csv", 11),
    ]


def test_fixed_assets_has_three_csvs():
    spec = load_spec("25B", "FaMassAdditions")
    assert [(f.csv_file, f.field_count) for f in spec.files] == [
        ("FaMassAdditions.csv", 422),
        ("FaMassaddDistributions.csv", 66),
        ("FaMcMassRates.csv", 4),
    ]
    additions, distributions, _ = spec.files
    assert additions.columns[0].name == "MASS_ADDITION_ID"
    assert additions.column("DEPRECIATE_FLAG").position == 48
    assert not additions.column("DEPRECIATE_FLAG").required  # the mart does not fill it
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
            "fixed_assets_units": pa.array([1, 1], pa.int64()),
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


def test_a_partial_layout_is_refused_by_the_loader(tmp_path):
    doc = yaml.safe_load(spec_path("25B", "EgpSystemItemsInterface").read_text(encoding="utf-8"))
    doc["complete"] = False
    path = tmp_path / "25B" / "EgpSystemItemsInterface.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with pytest.raises(FormatSpecError, match="complete: partial layouts are gone"):
        load_spec_file(path)
    del doc["complete"]
    last = {"name": "EXPIRATION_DATE_CALC_BASIS", "type": "text", "position": 399}
    doc["files"][0]["columns"] = [*doc["files"][0]["columns"][:16], last]
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with pytest.raises(FormatSpecError, match=r"every position 1\.\.N, no gaps"):
        load_spec_file(path)


def test_fa_zip_holds_both_csvs_deterministically(tmp_path):
    spec = load_spec("25B", "FaMassAdditions")
    first = write_fbdi_zip(_fa_batches(), spec, tmp_path / "a.zip")
    second = write_fbdi_zip(_fa_batches(), spec, tmp_path / "b.zip")
    assert first.zip_sha256 == second.zip_sha256
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.namelist() == [
            "FaMassAdditions.csv",
            "FaMassaddDistributions.csv",
            "FaMcMassRates.csv",
        ]
        additions = archive.read("FaMassAdditions.csv").decode().splitlines()
        distributions = archive.read("FaMassaddDistributions.csv").decode().splitlines()
    assert additions[1].startswith('2,US CORP,,,"Infusion pump, 4-channel",')
    assert [len(row) for row in csv.reader(additions)] == [423, 423]  # 422 fields and END
    assert [line.count(",") for line in distributions] == [66, 66]
    assert distributions[0].split(",")[:4] == ["1", "1", "", "MAIN"]
    assert distributions[0].endswith(",X,END")
    assert [f.rows for f in first.files] == [2, 2, 0]
    assert first.control_totals.to_records() == [
        {"BOOK_TYPE_CODE": "US CORP", "FIXED_ASSETS_COST": "1203400.5", "rows": 2}
    ]


def test_columns_without_input_are_empty_fields_up_to_the_end_marker(tmp_path):
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
    assert len(fields) == 274 and fields[-1] == "END"  # all 273 fields, then the macro's END
    filled = {i + 1: v for i, v in enumerate(fields[:-1]) if v}
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
    """25B copied as is but without Suppliers, plus a made-up 26A that holds only what it
    changes (GlInterface, Worker) and adds Suppliers."""
    root = tmp_path / "formats"
    for release in ("25B", "26A"):
        (root / release).mkdir(parents=True)
        for name in available_objects("25B"):
            if release == "25B" and name == "PozSuppliersInt":
                continue
            if release == "26A" and name not in ("GlInterface", "Worker", "PozSuppliersInt"):
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
    assert diff["only_in_a"] == [] and diff["only_in_b"] == ["PozSuppliersInt"]
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
    assert sheet["header"] == []
    assert diff["objects"]["Worker"]["components"]["Worker"]["added"] == ["BloodType"]
    assert diff["objects"]["FaMassAdditions"]["identical"]
    rows = diff_rows(diff)
    assert {
        "object": "PozSuppliersInt",
        "part": "",
        "change": "only in 26A",
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
    assert available_releases() == ["25B", "26C"]


def test_the_shipped_26c_drift_is_the_autoinvoice_lines_columns():
    diff = formats_diff("25B", "26C")
    assert (diff["only_in_a"], diff["only_in_b"]) == ([], [])
    changed = {name for name, entry in diff["objects"].items() if not entry["identical"]}
    assert changed == {"RaInterfaceLinesAll"}
    lines = diff["objects"]["RaInterfaceLinesAll"]["files"]["RA_INTERFACE_LINES_ALL"]
    assert lines["added"] == [
        {"name": "CONS_BILLING_SET_ID", "position": 369},
        {"name": "CONS_BILLING_EXCLUSION_FLAG", "position": 370},
        {"name": "INITIAL_CUSTOMER_TRX_ID", "position": 371},
    ]
    assert (lines["removed"], lines["moved"]) == ([], [])


def test_the_cli_diffs_two_releases_and_names_an_unknown_one():
    from click.testing import CliRunner

    from cli import main

    same = CliRunner().invoke(main, ["formats", "diff", "25B", "25B", "--json"])
    assert same.exit_code == 0
    assert all(o["identical"] for o in json.loads(same.stdout)["objects"].values())
    unknown = CliRunner().invoke(main, ["formats", "diff", "25B", "99Z"])
    assert unknown.exit_code == 2
    assert "'99Z' has no specs; shipped: 25B, 26C" in unknown.output
