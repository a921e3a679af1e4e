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


def test_inventory_is_declared_a_prefix_with_its_gaps():
    spec = load_spec("25B", "InvTransactionsInterface")
    file = spec.primary
    assert not file.complete and file.written_as_prefix and spec.writable
    assert file.written_field_count == 145 and file.field_count == 273
    assert [(g.first, g.last) for g in file.optional_gaps] == [
        (40, 42),
        (63, 66),
        (103, 103),
        (106, 106),
        (108, 110),
        (112, 115),
    ]
    assert [spec.column(f"DST_SEGMENT{i}").position for i in (1, 2, 30)] == [116, 117, 145]
    assert "TRAILING NULLCOLS" in file.prefix_reason
    additions, distributions = load_spec("25B", "FaMassAdditions").files
    assert additions.written_as_prefix and additions.written_field_count == 36
    assert not distributions.written_as_prefix and distributions.writable
    for name in ("RaInterfaceLinesAll", "EgpSystemItemsInterface", "PozSuppliersInt"):
        assert not load_spec("25B", name).writable


@pytest.mark.parametrize(
    ("name", "edit", "problem"),
    [
        (
            "GlInterface",
            lambda doc: doc.update(written_as_prefix=True, prefix_reason="all there"),
            r"written_as_prefix: only a partial file \(complete: false\)",
        ),
        (
            "InvTransactionsInterface",
            lambda doc: doc.pop("prefix_reason"),
            "prefix_reason: missing",
        ),
        (
            "InvTransactionsInterface",
            lambda doc: doc.update(written_as_prefix=False),
            "prefix_reason: only with written_as_prefix: true",
        ),
        (
            "InvTransactionsInterface",
            lambda doc: doc["optional_gaps"].pop(2),
            r"optional_gaps: position 103 is neither a listed column nor an optional gap",
        ),
        (
            "InvTransactionsInterface",
            lambda doc: doc["optional_gaps"][0].update(positions="39-42"),
            r"optional_gaps\[0\]\.positions: position 39 is a listed column",
        ),
        (
            "InvTransactionsInterface",
            lambda doc: doc["optional_gaps"][0].update(positions="forty"),
            r"optional_gaps\[0\]\.positions: must be a position or a range",
        ),
    ],
)
def test_a_prefix_declaration_is_checked(tmp_path, name, edit, problem):
    with pytest.raises(FormatSpecError, match=problem):
        load_spec_file(_object_variant(tmp_path, "26A", name, edit))


def test_diff_and_report_show_how_a_partial_file_is_written(tmp_path):
    def refuse(doc):
        for key in ("written_as_prefix", "prefix_reason", "optional_gaps"):
            doc.pop(key)

    older = load_spec_file(_object_variant(tmp_path, "26A", "InvTransactionsInterface", refuse))
    diff = diff_specs(older, load_spec("25B", "InvTransactionsInterface"))
    (file,) = diff.files
    changed = {h.attribute: (h.old, h.new) for h in file.header_changed}
    assert set(changed) == {"written_as_prefix", "prefix_reason", "optional_gaps"}
    assert changed["written_as_prefix"] == (False, True)

    formats = tmp_path / "formats"
    for release in ("26A", "26B"):
        (formats / release).mkdir(parents=True)
    (formats / "26A" / "InvTransactionsInterface.yml").write_text(
        (tmp_path / "26A" / "InvTransactionsInterface.yml").read_text()
    )
    current = spec_path("25B", "InvTransactionsInterface").read_text()
    (formats / "26B" / "InvTransactionsInterface.yml").write_text(
        current.replace("release: 25B", "release: 26B")
    )
    rows = diff_rows(formats_diff("26A", "26B", formats))
    shown = {r["name"]: r["detail"] for r in rows if r["change"] == "header"}
    assert shown["written_as_prefix"] == "False -> True"
    assert shown["optional_gaps"] == "none -> 40-42, 63-66, 103, 106, 108-110, 112-115"

    (inventory,) = [r for r in formats_writing("26B", formats)]
    assert (inventory["written"], inventory["written_fields"]) == ("prefix", 145)
    assert [r["written"] for r in formats_writing("26A", formats)] == ["refused"]
