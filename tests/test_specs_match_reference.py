"""Every shipped FBDI writer spec has exactly the columns of Oracle's template: the same names in
the same CSV order and the same count as the reference lists in ../shared/reference/fbdi_layouts
(positions after the macros' column moves; the trailing END field is not a column)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from load.formats import FormatSpec, available_objects, available_releases, load_spec

REFERENCE = Path(__file__).parents[2] / "shared" / "reference" / "fbdi_layouts"
# GL Journal Import has no list there; fusion_formats.md section 1.1 gives its 149 columns.
NOT_LISTED = {"GlInterface.csv"}
pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference layouts absent")


def reference_columns(csv_file: str, release: str) -> list[str]:
    """The column names of the reference list, in position order; a `__<release>` list wins."""
    stem = csv_file.removesuffix(".csv")
    path = REFERENCE / f"{stem}__{release}.csv"
    if not path.is_file():
        path = REFERENCE / f"{stem}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["position"]) for r in rows] == list(range(1, len(rows) + 1))
    return [r["column_name"] for r in rows]


CASES = [
    (release, spec.object_name, f.csv_file)
    for release in available_releases()
    for name in available_objects(release)
    if isinstance(spec := load_spec(release, name), FormatSpec)
    for f in spec.files
    if f.csv_file not in NOT_LISTED
]


@pytest.mark.parametrize(("release", "name", "csv_file"), CASES)
def test_spec_columns_are_the_reference_columns(release, name, csv_file):
    spec = load_spec(release, name)
    file = spec.file(csv_file)
    expected = reference_columns(csv_file, spec.release)
    assert len(file.columns) == file.field_count == len(expected)
    assert [c.name for c in file.columns] == expected
    assert [c.position for c in file.columns] == list(range(1, len(expected) + 1))


def test_every_reference_list_of_an_object_we_write_is_covered():
    covered = {csv_file.removesuffix(".csv") for _, _, csv_file in CASES}
    listed = {p.stem.split("__")[0] for p in REFERENCE.glob("*.csv")}
    # Customer import: only 1 of the template's 19 sheets is listed, so no spec is shipped.
    assert listed - covered == {"HzImpPartiesT"}


def test_26c_autoinvoice_lines_follow_the_26c_list():
    lines = load_spec("26C", "RaInterfaceLinesAll").primary
    assert [c.name for c in lines.columns] == reference_columns("RaInterfaceLinesAll.csv", "26C")
    assert lines.field_count == 371
