"""Format specs: the 25B Journal Import layout, spec validation, prefix declarations of partial
layouts, and release diffs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from load.formats import (
    FormatSpecError,
    available_objects,
    available_releases,
    diff_specs,
    load_spec,
    load_spec_file,
    spec_path,
)
from load.formats_report import diff_rows, formats_diff, formats_writing


@pytest.fixture(scope="module")
def gl():
    return load_spec("25B", "GlInterface")


def test_gl_interface_has_149_columns_in_template_order(gl):
    assert gl.field_count == 149
    assert [c.position for c in gl.columns] == list(range(1, 150))
    expected = {
        1: "STATUS",
        2: "LEDGER_ID",
        3: "ACCOUNTING_DATE",
        8: "ACTUAL_FLAG",
        9: "SEGMENT1",
        38: "SEGMENT30",
        39: "ENTERED_DR",
        40: "ENTERED_CR",
        43: "REFERENCE1",
        52: "REFERENCE10",
        53: "REFERENCE21",
        62: "REFERENCE30",
        63: "STAT_AMOUNT",
        67: "GROUP_ID",
        68: "ATTRIBUTE_CATEGORY",
        69: "ATTRIBUTE1",
        88: "ATTRIBUTE20",
        92: "LEDGER_NAME",
        95: "PERIOD_NAME",
        96: "REFERENCE18",
        99: "ATTRIBUTE_DATE1",
        109: "ATTRIBUTE_NUMBER1",
        119: "GLOBAL_ATTRIBUTE_CATEGORY",
        120: "GLOBAL_ATTRIBUTE1",
        140: "GLOBAL_ATTRIBUTE_DATE1",
        145: "GLOBAL_ATTRIBUTE_NUMBER1",
        149: "GLOBAL_ATTRIBUTE_NUMBER5",
    }
    for position, name in expected.items():
        assert gl.columns[position - 1].name == name
        assert gl.column(name).position == position


def test_gl_interface_rules_from_the_template(gl):
    required = [c.name for c in gl.columns if c.required]
    assert required == [
        "STATUS",
        "LEDGER_ID",
        "ACCOUNTING_DATE",
        "USER_JE_SOURCE_NAME",
        "USER_JE_CATEGORY_NAME",
        "CURRENCY_CODE",
        "DATE_CREATED",
        "ACTUAL_FLAG",
    ]
    assert gl.column("STATUS").allowed == ("NEW",)
    assert gl.column("ACTUAL_FLAG").allowed == ("A",)
    assert {gl.column(f"SEGMENT{i}").max_size for i in range(1, 31)} == {25}
    assert {gl.column(f"REFERENCE{i}").max_size for i in range(1, 10)} == {100}
    assert gl.column("REFERENCE10").max_size == 240
    assert gl.column("ENTERED_DR").type == "amount"
    assert gl.column("ACCOUNTING_DATE").type == "date"
    assert gl.column("LEDGER_ID").type == "integer"


def test_gl_interface_header(gl):
    assert gl.release == "25B"
    assert gl.object_name == "GlInterface"
    assert gl.template == "JournalImportTemplate.xlsm"
    assert gl.csv_file == "GlInterface.csv"
    assert gl.control_file == "GlInterface.ctl"
    assert gl.ucm_document_account == "fin$/generalLedger$/import$"
    assert gl.date_format == "YYYY/MM/DD"
    assert gl.ess_job.name.endswith("generalLedger/programs/common,JournalImportLauncher")
    assert [p.name for p in gl.ess_job.parameters][:4] == [
        "DataAccessSetId",
        "JournalSourceName",
        "LedgerId",
        "GroupId",
    ]
    assert len(gl.ess_job.parameters) == 7
    assert gl.control_totals.group_by == ("LEDGER_ID", "CURRENCY_CODE")
    assert gl.control_totals.sum == ("ENTERED_DR", "ENTERED_CR")
    assert "fusion_formats.md" in gl.sources
    assert gl.zip_name("epic-t1-2026-10-05") == "GlInterface_epic-t1-2026-10-05.zip"


def test_ess_parameter_list_follows_the_spec_order(gl):
    values = {"JournalSourceName": "Epic", "LedgerId": "300000046975971", "GroupId": "90219"}
    assert gl.ess_job.parameter_list(values) == "#NULL,Epic,300000046975971,90219,N,N,N"
    with pytest.raises(ValueError, match="PostErrorsToSuspense"):
        gl.ess_job.parameter_list({**values, "PostErrorsToSuspense": "X"})


def test_releases_and_objects_are_discovered():
    assert "25B" in available_releases()
    assert "GlInterface" in available_objects("25B")


def _write_variant(tmp_path: Path, release: str, edit) -> Path:
    doc = yaml.safe_load(spec_path("25B", "GlInterface").read_text())
    doc["release"] = release
    edit(doc)
    path = tmp_path / release / "GlInterface.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_errors_name_the_file_and_the_key(tmp_path):
    def bad_size(doc):
        doc["columns"][8]["max_size"] = "wide"

    path = _write_variant(tmp_path, "26A", bad_size)
    with pytest.raises(FormatSpecError) as err:
        load_spec_file(path)
    assert str(path) in str(err.value)
    assert "columns[8].max_size" in str(err.value)

    path = _write_variant(tmp_path, "26B", lambda doc: doc.pop("csv_file"))
    with pytest.raises(FormatSpecError, match=r"GlInterface\.yml: csv_file: missing"):
        load_spec_file(path)

    def unknown_total(doc):
        doc["control_totals"]["sum"] = ["NOPE"]

    path = _write_variant(tmp_path, "26C", unknown_total)
    with pytest.raises(FormatSpecError, match=r"control_totals\.sum\[0\]"):
        load_spec_file(path)

    def duplicate(doc):
        doc["columns"][1]["name"] = "STATUS"

    path = _write_variant(tmp_path, "26D", duplicate)
    with pytest.raises(FormatSpecError, match=r"columns\[1\]\.name: duplicate"):
        load_spec_file(path)


def test_missing_spec_is_reported():
    with pytest.raises(FormatSpecError, match="no such format spec"):
        load_spec("99Z", "GlInterface")


def test_diff_specs_reports_added_removed_moved_and_changed(tmp_path, gl):
    def evolve(doc):
        cols = doc["columns"]
        cols.append({"name": "INTERFACE_LINE_NUMBER", "type": "integer"})
        cols[:] = [c for c in cols if c["name"] != "JGZZ_RECON_REF"]
        ledger_name = next(c for c in cols if c["name"] == "LEDGER_NAME")
        cols.remove(ledger_name)
        cols.insert(2, ledger_name)
        next(c for c in cols if c["name"] == "REFERENCE10")["max_size"] = 480
        doc["template"] = "JournalImportTemplate_v2.xlsm"

    newer = load_spec_file(_write_variant(tmp_path, "26A", evolve))
    diff = diff_specs(gl, newer)

    assert [(c.name, c.position) for c in diff.added] == [("INTERFACE_LINE_NUMBER", 149)]
    assert [(c.name, c.position) for c in diff.removed] == [("JGZZ_RECON_REF", 94)]
    assert [(m.name, m.old_position, m.new_position) for m in diff.moved] == [
        ("LEDGER_NAME", 92, 3)
    ]
    assert [(c.name, c.attribute, c.old, c.new) for c in diff.changed] == [
        ("REFERENCE10", "max_size", 240, 480)
    ]
    assert [(h.attribute, h.new) for h in diff.header_changed] == [
        ("template", "JournalImportTemplate_v2.xlsm")
    ]
    assert not diff.empty
    assert diff_specs(gl, gl).empty


def _object_variant(tmp_path: Path, release: str, name: str, edit) -> Path:
    doc = yaml.safe_load(spec_path("25B", name).read_text())
    doc["release"] = release
    edit(doc)
    path = tmp_path / release / f"{name}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_every_shipped_layout_is_complete_and_ends_with_the_macros_end_field():
    for name in ("InvTransactionsInterface", "FaMassAdditions", "RaInterfaceLinesAll"):
        for file in load_spec("25B", name).files:
            assert file.end_marker
            assert [c.position for c in file.columns] == list(range(1, file.field_count + 1))
    inventory = load_spec("25B", "InvTransactionsInterface")
    assert [inventory.column(f"DST_SEGMENT{i}").position for i in (1, 2, 30)] == [116, 117, 145]
    assert not load_spec("25B", "GlInterface").primary.end_marker


@pytest.mark.parametrize(
    ("name", "edit", "problem"),
    [
        (
            "GlInterface",
            lambda doc: doc.update(written_as_prefix=True, prefix_reason="all there"),
            "written_as_prefix: partial layouts are gone",
        ),
        (
            "GlInterface",
            lambda doc: doc.update(total_columns=150),
            "total_columns: partial layouts are gone",
        ),
        (
            "InvTransactionsInterface",
            lambda doc: doc["files"][0].update(complete=False),
            r"files\[0\]\.complete: partial layouts are gone",
        ),
        (
            "InvTransactionsInterface",
            lambda doc: doc["files"][1]["columns"][3].update(position=6),
            r"files\[1\]\.columns: a layout lists every position 1\.\.N, no gaps",
        ),
        (
            "InvTransactionsInterface",
            lambda doc: doc["files"][0].update(end_marker="yes"),
            r"files\[0\]\.end_marker: must be true or false",
        ),
    ],
)
def test_a_partial_layout_is_refused(tmp_path, name, edit, problem):
    with pytest.raises(FormatSpecError, match=problem):
        load_spec_file(_object_variant(tmp_path, "26A", name, edit))


def test_diff_and_report_show_the_end_marker_and_the_fallback(tmp_path):
    def no_end(doc):
        for file in doc["files"]:
            file.pop("end_marker")

    older = load_spec_file(_object_variant(tmp_path, "26A", "InvTransactionsInterface", no_end))
    diff = diff_specs(older, load_spec("25B", "InvTransactionsInterface"))
    changed = {(f.sheet, h.attribute): (h.old, h.new) for f in diff.files for h in f.header_changed}
    assert changed[("INV_TRANSACTIONS_INTERFACE", "end_marker")] == (False, True)
    assert len(changed) == 4

    formats = tmp_path / "formats"
    for release in ("26A", "26B"):
        (formats / release).mkdir(parents=True)
    (formats / "26A" / "InvTransactionsInterface.yml").write_text(
        (tmp_path / "26A" / "InvTransactionsInterface.yml").read_text()
    )
    (formats / "26A" / "GlInterface.yml").write_text(
        spec_path("25B", "GlInterface").read_text().replace("release: 25B", "release: 26A")
    )
    current = spec_path("25B", "InvTransactionsInterface").read_text()
    (formats / "26B" / "InvTransactionsInterface.yml").write_text(
        current.replace("release: 25B", "release: 26B")
    )
    diff = formats_diff("26A", "26B", formats)
    assert diff["objects"]["GlInterface"]["identical"]  # 26B falls back to 26A's
    rows = diff_rows(diff)
    shown = {(r["part"], r["name"]): r["detail"] for r in rows if r["change"] == "header"}
    assert shown[("InvTransactionsInterface.csv", "end_marker")] == "False -> True"

    writing = {(r["object"], r["csv_file"]): r for r in formats_writing("26B", formats)}
    inventory = writing[("InvTransactionsInterface", "InvTransactionsInterface.csv")]
    assert (inventory["release"], inventory["fields"], inventory["end_marker"]) == (
        "26B",
        273,
        True,
    )
    gl = writing[("GlInterface", "GlInterface.csv")]
    assert (gl["release"], gl["fields"], gl["end_marker"]) == ("26A", 149, False)
