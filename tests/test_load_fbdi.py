"""The FBDI writer: positional CSV, formatting, validation, totals, deterministic zips, and
which partial layouts it writes (declared prefixes) or refuses."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import subprocess
import sys
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from load.fbdi import FbdiValidationError, write_fbdi_zip
from load.formats import load_spec

SPEC = load_spec("25B", "GlInterface")
REPO = Path(__file__).resolve().parents[1]


def journal(n: int = 4, **overrides) -> pa.RecordBatch:
    """A small balanced journal in the shape of the fusion__gl_interface mart."""
    dr = [Decimal("100.10") if i % 2 == 0 else None for i in range(n)]
    cr = [None if i % 2 == 0 else Decimal("100.10") for i in range(n)]
    columns = {
        "status": ["NEW"] * n,
        "ledger_id": pa.array([300000046975971] * n, pa.int64()),
        "accounting_date": pa.array([dt.date(2026, 10, 5)] * n, pa.date32()),
        "user_je_source_name": ["Epic Resolute"] * n,
        "user_je_category_name": ["Revenue"] * n,
        "currency_code": ["USD"] * n,
        "date_created": pa.array([dt.date(2026, 10, 5)] * n, pa.date32()),
        "actual_flag": ["A"] * n,
        "segment1": ["01"] * n,
        "segment2": [f"{4000 + i}" for i in range(n)],
        "entered_dr": pa.array(dr, pa.decimal128(18, 2)),
        "entered_cr": pa.array(cr, pa.decimal128(18, 2)),
        "reference21": [f"line-{i}" for i in range(n)],
        "group_id": pa.array([90219] * n, pa.int64()),
        "feed_date": pa.array([dt.date(2026, 10, 5)] * n, pa.date32()),
        "source_line_id": pa.array(range(n), pa.int64()),
    }
    columns.update(overrides)
    arrays = {k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in columns.items()}
    return pa.record_batch(arrays)


def read_rows(zip_path: Path) -> list[list[str]]:
    with zipfile.ZipFile(zip_path) as zf:
        data = zf.read(SPEC.csv_file)
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def csv_bytes(zip_path: Path) -> bytes:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.read(SPEC.csv_file)


def field(row: list[str], name: str) -> str:
    return row[SPEC.column(name).position - 1]


def test_every_row_has_exactly_the_spec_field_count(tmp_path):
    written = write_fbdi_zip([journal(6), journal(4)], SPEC, tmp_path / "gl.zip")
    rows = read_rows(written.zip_path)
    assert len(rows) == 10 == written.rows
    assert {len(r) for r in rows} == {149}
    data = csv_bytes(written.zip_path)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in data and data.endswith(b"\n")
    assert b"END" not in data


def test_columns_land_at_their_spec_positions_and_extras_are_ignored(tmp_path):
    row = read_rows(write_fbdi_zip([journal(2)], SPEC, tmp_path / "gl.zip").zip_path)[0]
    assert row[0] == "NEW"
    assert row[1] == "300000046975971"
    assert row[2] == "2026/10/05"
    assert row[8] == "01"
    assert row[38] == "100.10"  # 39 ENTERED_DR
    assert row[39] == ""  # 40 ENTERED_CR, null
    assert row[52] == "line-0"  # 53 REFERENCE21
    assert row[66] == "90219"  # 67 GROUP_ID
    assert field(row, "LEDGER_NAME") == "" and field(row, "PERIOD_NAME") == ""
    assert "line-0" not in row[53:] and "2026-10-05" not in row


def test_dates_from_date_timestamp_and_iso_text(tmp_path):
    batch = journal(
        2,
        accounting_date=pa.array(
            [dt.datetime(2026, 1, 2, 23, 59), dt.datetime(2026, 12, 31)], pa.timestamp("us")
        ),
        date_created=["2026-10-05", "2026-10-06T08:15:00"],
        currency_conversion_date=pa.array([None, dt.date(2024, 2, 29)], pa.date32()),
    )
    rows = read_rows(write_fbdi_zip([batch], SPEC, tmp_path / "gl.zip").zip_path)
    assert [field(r, "ACCOUNTING_DATE") for r in rows] == ["2026/01/02", "2026/12/31"]
    assert [field(r, "DATE_CREATED") for r in rows] == ["2026/10/05", "2026/10/06"]
    assert [field(r, "CURRENCY_CONVERSION_DATE") for r in rows] == ["", "2024/02/29"]


def test_amounts_are_plain_decimals(tmp_path):
    batch = journal(
        4,
        entered_dr=pa.array(
            [Decimal("1234567.80"), Decimal("0.05"), Decimal("-12.00"), None], pa.decimal128(18, 2)
        ),
        entered_cr=["10.5", "-3", None, "0.001"],
        stat_amount=pa.array([1e-7, 12345678901234.5, -0.0, 100.25]),
        currency_conversion_rate=pa.array(
            [Decimal("0.00000012"), None, Decimal("1.5"), Decimal("2")], pa.decimal128(20, 8)
        ),
        attribute_number1=pa.array([7, None, -1, 0], pa.int32()),
    )
    rows = read_rows(write_fbdi_zip([batch], SPEC, tmp_path / "gl.zip").zip_path)
    assert [field(r, "ENTERED_DR") for r in rows] == ["1234567.80", "0.05", "-12.00", ""]
    assert [field(r, "ENTERED_CR") for r in rows] == ["10.5", "-3", "", "0.001"]
    assert [field(r, "STAT_AMOUNT") for r in rows] == [
        "0.0000001",
        "12345678901234.5",
        "0",
        "100.25",
    ]
    assert [field(r, "CURRENCY_CONVERSION_RATE") for r in rows] == [
        "0.00000012",
        "",
        "1.50000000",
        "2.00000000",
    ]
    assert [field(r, "ATTRIBUTE_NUMBER1") for r in rows] == ["7", "", "-1", "0"]


def test_text_is_quoted_only_when_needed(tmp_path):
    batch = journal(
        4,
        reference10=["plain text", "has, comma", 'say "hi"', "two\nlines"],
        reference1=[None, "", "ok", "x"],
    )
    written = write_fbdi_zip([batch], SPEC, tmp_path / "gl.zip")
    lines = csv_bytes(written.zip_path).decode().split("\n")
    assert ",plain text," in lines[0] and '"plain text"' not in lines[0]
    assert ',"has, comma",' in lines[1]
    assert ',"say ""hi""",' in lines[2]
    assert ',"two\nlines",' in csv_bytes(written.zip_path).decode()
    rows = read_rows(written.zip_path)
    assert [field(r, "REFERENCE10") for r in rows] == [
        "plain text",
        "has, comma",
        'say "hi"',
        "two\nlines",
    ]
    assert [field(r, "REFERENCE1") for r in rows] == ["", "", "ok", "x"]
    assert {len(r) for r in rows} == {149}


SECRET = "MRN-00424242"


@pytest.mark.parametrize(
    ("overrides", "position", "name", "reason"),
    [
        ({"status": ["NEW", SECRET, "NEW"]}, 1, "STATUS", "allowed"),
        ({"currency_code": ["USD", None, "USD"]}, 6, "CURRENCY_CODE", "required"),
        ({"segment2": ["4000", SECRET * 3, "4001"]}, 10, "SEGMENT2", "longer than 25"),
        ({"entered_dr": ["1.00", SECRET, "2.00"]}, 39, "ENTERED_DR", "unparsable amount"),
        ({"entered_dr": ["1.00", "1,000.00", "2.00"]}, 39, "ENTERED_DR", "unparsable amount"),
        ({"entered_dr": ["1.00", "1e5", "2.00"]}, 39, "ENTERED_DR", "unparsable amount"),
        ({"accounting_date": ["2026-10-05", SECRET, "2026-10-05"]}, 3, "ACCOUNTING_DATE", "date"),
        ({"accounting_date": ["2026-10-05", "2026-02-30", "x"]}, 3, "ACCOUNTING_DATE", "date"),
        ({"ledger_id": ["1", "1.5", "1"]}, 2, "LEDGER_ID", "unparsable integer"),
    ],
)
def test_validation_names_column_position_and_row_never_the_value(
    tmp_path, overrides, position, name, reason
):
    good = journal(4)
    bad = journal(3, **overrides)
    target = tmp_path / "gl.zip"
    with pytest.raises(FbdiValidationError) as err:
        write_fbdi_zip([good, bad], SPEC, target)
    message = str(err.value)
    assert f"row 6, column {position} {name}" in message  # 4 good rows, then the 2nd bad row
    assert reason in message
    assert (err.value.row, err.value.position, err.value.column) == (6, position, name)
    for value in (SECRET, "1,000.00", "1e5", "2026-02-30", "1.5"):
        assert value not in message
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_required_column_and_unusable_type_are_reported(tmp_path):
    with pytest.raises(FbdiValidationError, match="column 6 CURRENCY_CODE: required column"):
        write_fbdi_zip([journal(2).drop_columns(["currency_code"])], SPEC, tmp_path / "a.zip")
    nested = journal(2, entered_dr=pa.array([[1], [2]]))
    with pytest.raises(FbdiValidationError, match="column 39 ENTERED_DR: input type"):
        write_fbdi_zip([nested], SPEC, tmp_path / "b.zip")


def test_failure_leaves_an_existing_zip_untouched(tmp_path):
    target = tmp_path / "gl.zip"
    first = write_fbdi_zip([journal(2)], SPEC, target)
    with pytest.raises(FbdiValidationError):
        write_fbdi_zip([journal(2), journal(2, status=["NEW", "OLD"])], SPEC, target)
    assert target.read_bytes() == first.zip_path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gl.zip"]


def test_control_totals_are_exact_to_the_cent(tmp_path):
    n = 10_000
    dr = pa.array([Decimal("0.10")] * n, pa.decimal128(18, 2))
    eur = journal(
        2, currency_code=["EUR", "EUR"], entered_cr=["0.015", None], entered_dr=[None, "7"]
    )
    written = write_fbdi_zip(
        [journal(n, entered_dr=dr, entered_cr=pa.array([0.1] * n)), eur],
        SPEC,
        tmp_path / "gl.zip",
    )
    assert written.control_totals.to_records() == [
        {
            "LEDGER_ID": "300000046975971",
            "CURRENCY_CODE": "EUR",
            "ENTERED_DR": "7.00",
            "ENTERED_CR": "0.015",
            "rows": 2,
        },
        {
            "LEDGER_ID": "300000046975971",
            "CURRENCY_CODE": "USD",
            "ENTERED_DR": "1000.00",
            "ENTERED_CR": "1000.000",
            "rows": n,
        },
    ]


def test_chunking_does_not_change_bytes_or_totals(tmp_path, monkeypatch):
    batch = journal(400)
    whole = write_fbdi_zip([batch], SPEC, tmp_path / "a.zip")
    monkeypatch.setattr("load.fbdi.CHUNK_ROWS", 7)
    parts = [batch.slice(0, 13), batch.slice(13, 200), batch.slice(213)]
    chunked = write_fbdi_zip(parts, SPEC, tmp_path / "b.zip")
    assert chunked.zip_sha256 == whole.zip_sha256
    assert chunked.control_totals == whole.control_totals


def test_zip_is_deterministic(tmp_path, monkeypatch):
    first = write_fbdi_zip([journal(8)], SPEC, tmp_path / "a.zip")
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    monkeypatch.setattr(time, "localtime", lambda *_: time.gmtime(2_000_000_000))
    second = write_fbdi_zip([journal(8)], SPEC, tmp_path / "b.zip")
    assert first.zip_path.read_bytes() == second.zip_path.read_bytes()
    assert first.zip_sha256 == second.zip_sha256

    with zipfile.ZipFile(first.zip_path) as zf:
        (info,) = zf.infolist()
    assert info.filename == "GlInterface.csv"
    assert info.date_time == (1980, 1, 1, 0, 0, 0)
    assert info.compress_type == zipfile.ZIP_DEFLATED
    assert info.external_attr >> 16 == 0o100644
    assert info.create_system == 3


def test_zip_bytes_do_not_depend_on_timezone(tmp_path):
    script = (
        "import sys, pathlib, pyarrow as pa; sys.path.insert(0, sys.argv[1]);"
        "from tests.test_load_fbdi import journal, SPEC;"
        "from load.fbdi import write_fbdi_zip;"
        "write_fbdi_zip([journal(8)], SPEC, pathlib.Path(sys.argv[2]))"
    )
    for tz in ("UTC", "Pacific/Kiritimati", "America/Los_Angeles"):
        env = {**os.environ, "TZ": tz}
        subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                str(REPO),
                str(tmp_path / f"{tz.replace('/', '_')}.zip"),
            ],
            check=True,
            env=env,
        )
    digests = {p.read_bytes() for p in tmp_path.glob("*.zip")}
    assert len(digests) == 1
    here = write_fbdi_zip([journal(8)], SPEC, tmp_path / "here.zip")
    assert here.zip_path.read_bytes() in digests


def test_written_file_reports_csv_hash_and_size(tmp_path):
    written = write_fbdi_zip([journal(4)], SPEC, tmp_path / "gl.zip")
    data = csv_bytes(written.zip_path)
    (entry,) = written.files
    assert entry.name == "GlInterface.csv"
    assert entry.rows == 4
    assert entry.bytes == len(data)
    assert entry.sha256 == hashlib.sha256(data).hexdigest()
    assert written.zip_bytes == written.zip_path.stat().st_size
    assert written.zip_sha256 == hashlib.sha256(written.zip_path.read_bytes()).hexdigest()


def test_empty_input_writes_an_empty_csv(tmp_path):
    written = write_fbdi_zip([], SPEC, tmp_path / "gl.zip")
    assert written.rows == 0
    assert csv_bytes(written.zip_path) == b""
    assert written.control_totals.to_records() == []


def inventory_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "organization_name": ["EHF F01 Inventory"],
            "process_flag": ["1"],
            "subinventory_code": ["CENTRAL"],
            "transaction_quantity": pa.array([Decimal("-2")], pa.decimal128(10, 0)),
            "transaction_uom": ["EA"],
            "transaction_date": pa.array([dt.date(2026, 10, 5)], pa.date32()),
            "transaction_type_name": ["Miscellaneous Issue"],
            "source_code": ["SUNRISE"],
            "source_header_id": pa.array([7], pa.int64()),
            "source_line_id": pa.array([8], pa.int64()),
            "transaction_mode": ["3"],
            "dst_segment1": ["101"],
            "dst_segment2": ["7010"],
            "dst_segment6": ["0000"],
        }
    )


def test_every_field_of_the_layout_is_written_then_the_end_marker(tmp_path):
    spec = load_spec("25B", "InvTransactionsInterface")
    written = write_fbdi_zip([inventory_batch()], spec, tmp_path / "inv.zip")
    with zipfile.ZipFile(written.zip_path) as archive:
        (line,) = list(csv.reader(io.StringIO(archive.read(spec.csv_file).decode())))
        assert archive.namelist() == [f.csv_file for f in spec.files]
        assert all(archive.read(f.csv_file) == b"" for f in spec.files[1:])
    assert len(line) == 274 and line[-1] == "END"  # 273 fields, then the template macro's END
    filled = {i + 1: v for i, v in enumerate(line[:-1]) if v}
    assert filled == {
        1: "EHF F01 Inventory",
        6: "1",
        11: "CENTRAL",
        33: "-2",
        34: "EA",
        37: "2026/10/05",
        39: "Miscellaneous Issue",
        67: "SUNRISE",
        68: "7",
        69: "8",
        102: "3",
        116: "101",
        117: "7010",
        121: "0000",
    }


def test_mass_additions_are_written_in_full_beside_their_distributions(tmp_path):
    spec = load_spec("25B", "FaMassAdditions")
    additions = pa.RecordBatch.from_pydict(
        {
            "mass_addition_id": pa.array([1], pa.int64()),
            "book_type_code": ["US CORP"],
            "description": ["Pump"],
            "fixed_assets_cost": ["10.00"],
            "fixed_assets_units": ["1"],
            "posting_status": ["POST"],
            "asset_key_segment10": ["K"],
        }
    )
    distributions = pa.RecordBatch.from_pydict(
        {"mass_addition_id": pa.array([1], pa.int64()), "attribute_category": ["X"]}
    )
    batches = {"FaMassAdditions.csv": [additions], "FaMassaddDistributions.csv": [distributions]}
    written = write_fbdi_zip(batches, spec, tmp_path / "fa.zip")
    with zipfile.ZipFile(written.zip_path) as archive:
        (line,) = list(csv.reader(io.StringIO(archive.read("FaMassAdditions.csv").decode())))
        assert len(line) == 423 and line[-1] == "END" and line[35] == "K"
        assert archive.read("FaMassaddDistributions.csv").decode() == "1" + "," * 65 + "X,END\n"


def test_a_gl_line_has_no_end_marker(tmp_path):
    spec = load_spec("25B", "GlInterface")
    assert not spec.primary.end_marker and spec.field_count == 149
