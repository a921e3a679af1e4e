"""The FBDI writer: Arrow batches in, one deterministic zip holding the positional CSVs out.

Everything about the layout comes from the FormatSpec, including which CSVs the zip holds (GL
has one; AutoInvoice and inventory transactions four, mass additions three). Every layout is
complete: each line carries every field of the template, empty where the input has no value,
then the literal `END` field when the template's macro writes one (`end_marker`). Formatting and
validation are vectorised with pyarrow.compute; each chunk of rows becomes one string array of
CSV lines whose buffer is streamed straight into the zip entry.

pyarrow.csv.write_csv is not used because its "needed" quoting style quotes every string value;
Fusion's loader and reviewers get fields quoted only when they contain a comma, quote or newline.

Error messages name the column, its spec position and the 1-based row (the CSV line number) but
never the offending value, which may be PHI.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from load.formats import ColumnSpec, CsvFileSpec, FormatSpec
from load.zipfile_deterministic import AtomicZip, BackgroundWriter, DeterministicZip

CHUNK_ROWS = 4096  # small enough that rendering and DEFLATE overlap within a day's batch
_STR = pa.large_string()
_PLAIN_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
_INTEGRAL = r"^-?[0-9]+(\.0+)?$"
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ].*)?$"
_NEEDS_QUOTES = r'[,"\r\n]'
_NEEDS_QUOTES_BYTES = re.compile(_NEEDS_QUOTES.encode())


def _s(value: str) -> pa.Scalar:
    """A large_string scalar; compute kernels need every string argument of one type."""
    return pa.scalar(value, _STR)


class FbdiError(ValueError):
    """The batches cannot be written as this FBDI file."""


class FbdiValidationError(FbdiError):
    """A row breaks the spec. Carries where, never what."""

    def __init__(
        self,
        spec: FormatSpec,
        column: ColumnSpec,
        row: int | None,
        reason: str,
        csv_file: str | None = None,
    ) -> None:
        where = f"row {row}, " if row is not None else ""
        super().__init__(
            f"{spec.object_name} {spec.release} {csv_file or spec.csv_file}: {where}"
            f"column {column.position} {column.name}: {reason}"
        )
        self.column = column.name
        self.position = column.position
        self.row = row
        self.reason = reason


@dataclass(frozen=True)
class WrittenCsv:
    """One CSV entry of the zip: rows, and sha256/bytes of its uncompressed content."""

    name: str
    rows: int
    sha256: str
    bytes: int


@dataclass(frozen=True)
class ControlTotals:
    """Row counts and exact sums per group, as the spec's `control_totals` defines them."""

    group_by: tuple[str, ...]
    sum_columns: tuple[str, ...]
    groups: tuple[tuple[tuple[str | None, ...], int, tuple[Decimal, ...]], ...]

    def to_records(self) -> list[dict[str, str | int | None]]:
        """One dict per group: key columns, summed columns as decimal strings, and `rows`."""
        records: list[dict[str, str | int | None]] = []
        for key, rows, sums in self.groups:
            record: dict[str, str | int | None] = dict(zip(self.group_by, key, strict=True))
            record.update((n, str(s)) for n, s in zip(self.sum_columns, sums, strict=True))
            record["rows"] = rows
            records.append(record)
        return records


@dataclass(frozen=True)
class WrittenFile:
    """What write_fbdi_zip produced."""

    zip_path: Path
    zip_sha256: str
    zip_bytes: int
    files: tuple[WrittenCsv, ...]
    control_totals: ControlTotals

    @property
    def rows(self) -> int:
        """Data rows across all CSV entries."""
        return sum(f.rows for f in self.files)


Batches = Iterable[pa.RecordBatch]


def write_fbdi_zip(
    batches: Batches | Mapping[str, Batches],
    spec: FormatSpec,
    zip_path: Path,
) -> WrittenFile:
    """Write the spec's CSVs inside a deterministic zip at `zip_path`.

    `batches` feeds the primary CSV, or is a mapping from CSV name to batches; every CSV of the
    spec is written, in spec order, those without batches empty. Input columns are matched to
    spec columns by lower-case name; spec columns missing from the input are written empty and
    input columns outside the spec are ignored.

    Every line has the layout's full field count (plus `END` when the spec's CSV has an
    `end_marker`). On any error nothing is left at `zip_path` (an existing file there is
    untouched).
    """
    by_file = _batches_by_file(batches, spec)
    totals = _TotalsAccumulator(spec)
    published = AtomicZip(zip_path)
    with published as archive:
        written = tuple(
            _write_csv(archive, by_file.get(f.csv_file, ()), spec, f, totals if i == 0 else None)
            for i, f in enumerate(spec.files)
        )
    return WrittenFile(
        zip_path=published.path,
        zip_sha256=published.sha256,
        zip_bytes=published.bytes,
        files=written,
        control_totals=totals.result(),
    )


def _batches_by_file(
    batches: Batches | Mapping[str, Batches], spec: FormatSpec
) -> dict[str, Batches]:
    if not isinstance(batches, Mapping):
        return {spec.csv_file: batches}
    unknown = sorted(set(batches) - {f.csv_file for f in spec.files})
    if unknown:
        raise FbdiError(f"{spec.object_name} {spec.release}: no CSV called {unknown} in the spec")
    return dict(batches)


def _write_csv(
    archive: DeterministicZip,
    batches: Batches,
    spec: FormatSpec,
    file: CsvFileSpec,
    totals: _TotalsAccumulator | None,
) -> WrittenCsv:
    """Stream one CSV entry into the zip."""
    csv_hash = hashlib.sha256()
    rows = 0
    with archive.open_entry(file.csv_file) as entry:

        def sink(data: memoryview) -> None:
            entry.write(data)
            csv_hash.update(data)

        with BackgroundWriter(sink) as out:
            for batch in batches:
                for offset in range(0, batch.num_rows, CHUNK_ROWS):
                    chunk = batch.slice(offset, CHUNK_ROWS)
                    out.write(_render_chunk(chunk, spec, file, rows, totals))
                    rows += chunk.num_rows
        return WrittenCsv(file.csv_file, rows, csv_hash.hexdigest(), entry.bytes_written)


def _render_chunk(
    chunk: pa.RecordBatch,
    spec: FormatSpec,
    file: CsvFileSpec,
    rows_before: int,
    totals: _TotalsAccumulator | None,
) -> memoryview:
    """Format, validate and join one chunk into CSV bytes; feed the control totals."""
    by_name: dict[str, pa.Array] = {}
    for name, array in zip(chunk.schema.names, chunk.columns, strict=True):
        key = name.lower()
        if key in by_name:
            raise FbdiError(f"{file.csv_file} {spec.release}: input has column {key} twice")
        by_name[key] = array

    formatted: dict[str, pa.Array] = {}
    problems: list[tuple[int, int, ColumnSpec, str]] = []
    for col in file.columns:
        source = by_name.get(col.input_name)
        if source is None:
            if col.required:
                raise FbdiValidationError(
                    spec, col, None, "required column is not in the input", file.csv_file
                )
            continue
        text, invalid = _format_column(source, col, spec, file)
        formatted[col.name] = text
        for mask, reason in _checks(text, invalid, col):
            first = _first_true(mask)
            if first is not None:
                problems.append((first, col.position, col, reason))
    if problems:
        first, _, col, reason = min(problems, key=lambda p: (p[0], p[1]))
        raise FbdiValidationError(spec, col, rows_before + first + 1, reason, file.csv_file)

    if totals is not None:
        totals.add(formatted, chunk.num_rows)
    return _join_lines(file, formatted, chunk.num_rows)


def _format_column(
    array: pa.Array, col: ColumnSpec, spec: FormatSpec, file: CsvFileSpec
) -> tuple[pa.Array, pa.Array]:
    """Render one input column as text for its spec type; also return a mask of unparsable rows."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    try:
        if col.type == "date":
            text = _format_date(array, spec.strftime_format)
        elif col.type == "amount":
            text = _format_amount(array)
        elif col.type == "integer":
            text = _format_integer(array)
        else:
            text = pc.cast(array, _STR)
    except _Unsupported:
        raise FbdiValidationError(
            spec,
            col,
            None,
            f"input type {array.type} cannot be written as {col.type}",
            file.csv_file,
        ) from None
    except pa.ArrowException as exc:
        # Arrow messages can quote the value, so only the exception class is kept.
        raise FbdiValidationError(
            spec,
            col,
            None,
            f"could not be formatted as {col.type} ({type(exc).__name__})",
            file.csv_file,
        ) from None
    invalid = pc.and_(pc.is_valid(array), pc.is_null(text))
    return text, invalid


class _Unsupported(Exception):
    """The input Arrow type has no meaning for the spec type."""


def _format_date(array: pa.Array, fmt: str) -> pa.Array:
    """Dates repeat heavily within a chunk, so only the distinct values are formatted."""
    encoded = pc.dictionary_encode(array)
    return pc.take(_format_distinct_dates(encoded.dictionary, fmt), encoded.indices)


def _format_distinct_dates(array: pa.Array, fmt: str) -> pa.Array:
    t = array.type
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return pc.cast(pc.strftime(array, format=fmt), _STR)
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        raise _Unsupported
    head = pc.utf8_slice_codeunits(array, 0, 10)
    parsed = pc.strptime(head, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls 2026-02-30 over into March; a round trip rejects such dates.
    valid = pc.and_(
        pc.match_substring_regex(array, _ISO_DATE),
        pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), head),
    )
    return pc.cast(pc.if_else(valid, pc.strftime(parsed, format=fmt), None), _STR)


def _format_amount(array: pa.Array) -> pa.Array:
    t = array.type
    if pa.types.is_integer(t):
        return pc.cast(array, _STR)
    if pa.types.is_decimal(t):
        return _format_decimal(array)
    if pa.types.is_floating(t):
        return _format_float(array)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        array = pc.cast(array, _STR)
        return pc.if_else(pc.match_substring_regex(array, _PLAIN_DECIMAL), array, None)
    raise _Unsupported


def _format_integer(array: pa.Array) -> pa.Array:
    text = _format_amount(array)
    integral = pc.match_substring_regex(text, _INTEGRAL)
    return pc.if_else(integral, pc.replace_substring_regex(text, r"\.0+$", ""), None)


def _format_decimal(array: pa.Array) -> pa.Array:
    """Plain notation keeping the type's scale (Arrow's own cast switches to E-notation)."""
    t = array.type
    if t.scale < 0:
        raise _Unsupported
    if t.bit_width < 128:
        array = pc.cast(array, pa.decimal128(t.precision, t.scale))
    wide = pa.types.is_decimal256(array.type)
    unscaled_type = (pa.decimal256 if wide else pa.decimal128)(array.type.precision, 0)
    # Same buffers read with scale 0 give the unscaled integers, printed without an exponent.
    unscaled = pa.Array.from_buffers(
        unscaled_type, len(array), array.buffers(), offset=array.offset
    )
    digits = pc.cast(unscaled, _STR)
    if t.scale == 0:
        return digits
    negative = pc.starts_with(digits, "-")
    padded = pc.utf8_lpad(pc.utf8_ltrim(digits, "-"), width=t.scale + 1, padding="0")
    body = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(padded, 0, -t.scale),
        pc.utf8_slice_codeunits(padded, -t.scale),
        _s("."),
    )
    return pc.if_else(negative, pc.binary_join_element_wise(_s("-"), body, _s("")), body)


def _format_float(array: pa.Array) -> pa.Array:
    """Shortest round-trip text; the rare rows Arrow prints with an exponent go through Decimal."""
    array = pc.cast(array, pa.float64())
    finite = pc.is_finite(array)
    text = pc.cast(pc.if_else(finite, array, None), _STR)
    text = pc.if_else(pc.equal(text, "-0"), _s("0"), text)
    exponent = pc.fill_null(pc.match_substring(text, "e"), False)
    if pc.any(exponent).as_py():
        rare = pc.filter(text, exponent).to_pylist()
        plain = pa.array([format(Decimal(v), "f") for v in rare], _STR)
        text = pc.replace_with_mask(text, exponent, plain)
    return text


def _checks(text: pa.Array, invalid: pa.Array, col: ColumnSpec) -> list[tuple[pa.Array, str]]:
    """(mask of offending rows, reason) for every rule the column carries."""
    checks = [(invalid, f"unparsable {col.type}")]
    if col.required:
        checks.append(
            (pc.or_kleene(pc.is_null(text), pc.equal(text, "")), "required value is missing")
        )
    if col.allowed:
        allowed = pa.array(col.allowed, _STR)
        not_allowed = pc.and_(pc.is_valid(text), pc.invert(pc.is_in(text, value_set=allowed)))
        checks.append((not_allowed, f"value is not one of the allowed {list(col.allowed)}"))
    if col.max_size is not None:
        too_long = pc.greater(pc.utf8_length(text), col.max_size)
        checks.append((too_long, f"longer than {col.max_size} characters"))
    return checks


def _first_true(mask: pa.Array) -> int | None:
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return None
    return pc.index(mask, True).as_py()


def _quote(text: pa.Array) -> pa.Array:
    # One scan of the raw value bytes settles the common case where nothing needs quotes.
    if not _NEEDS_QUOTES_BYTES.search(_value_bytes(text)):
        return text
    needs = pc.fill_null(pc.match_substring_regex(text, _NEEDS_QUOTES), False)
    if not pc.any(needs).as_py():
        return text
    escaped = pc.replace_substring(text, '"', '""')
    quoted = pc.binary_join_element_wise(_s('"'), escaped, _s('"'), _s(""))
    return pc.if_else(needs, quoted, text)


def _join_lines(file: CsvFileSpec, formatted: dict[str, pa.Array], num_rows: int) -> memoryview:
    """Join the fields of every row with commas and end each line with `\\n`; return the bytes.

    Columns without input are written empty; the `END` marker closes the line when the CSV
    has one.
    """
    if not formatted:
        # The join needs at least one array to know the row count.
        formatted = {file.columns[0].name: pa.nulls(num_rows, _STR)}
    args: list[pa.Array | pa.Scalar] = []
    empty_run = 0

    def flush_empty_run() -> None:
        # A run of n empty fields is one argument holding the n-1 commas between them.
        nonlocal empty_run
        if empty_run:
            args.append(_s("," * (empty_run - 1)))
            empty_run = 0

    position = 0
    for col in file.columns:
        empty_run += col.position - position - 1
        position = col.position
        text = formatted.get(col.name)
        if text is None:
            empty_run += 1
            continue
        flush_empty_run()
        args.append(_quote(text) if col.type == "text" else text)
    empty_run += file.field_count - position
    flush_empty_run()
    if file.end_marker:
        args.append(_s("END"))
    lines = pc.binary_join_element_wise(
        *args, _s(","), null_handling="replace", null_replacement=""
    )
    return _value_bytes(pc.binary_join_element_wise(lines, _s(""), _s("\n")))


def _value_bytes(text: pa.Array) -> memoryview:
    """The concatenated bytes of all values of a large_string array, without copying."""
    _, offsets, data = text.buffers()
    if data is None:
        return memoryview(b"")
    bounds = pa.Array.from_buffers(pa.int64(), len(text) + 1, [None, offsets], text.offset)
    return memoryview(data)[bounds[0].as_py() : bounds[len(text)].as_py()]


class _TotalsAccumulator:
    """Exact per-group sums of the formatted amount text (what the file says), across chunks."""

    def __init__(self, spec: FormatSpec) -> None:
        self.group_by = spec.control_totals.group_by
        self.sum_columns = spec.control_totals.sum
        self.scales = dict.fromkeys(self.sum_columns, 0)
        self.groups: dict[tuple[str | None, ...], list] = {}

    def add(self, formatted: dict[str, pa.Array], num_rows: int) -> None:
        table: dict[str, pa.Array] = {}
        for i, name in enumerate(self.group_by):
            table[f"k{i}"] = formatted.get(name, pa.nulls(num_rows, _STR))
        for i, name in enumerate(self.sum_columns):
            text = formatted.get(name)
            if text is None:
                continue
            point = pc.find_substring(text, ".")
            fraction = pc.if_else(
                pc.greater_equal(point, 0), pc.subtract(pc.utf8_length(text), pc.add(point, 1)), 0
            )
            scale = pc.max(fraction).as_py() or 0
            self.scales[name] = max(self.scales[name], scale)
            try:
                table[f"s{i}"] = pc.cast(text, pa.decimal128(38, scale))
            except pa.ArrowException:
                raise FbdiError(f"{name}: amounts too large for exact control totals") from None
        keys = [f"k{i}" for i in range(len(self.group_by))]
        aggs = [(c, "sum") for c in table if c.startswith("s")] + [([], "count_all")]
        result = pa.table(table).group_by(keys, use_threads=False).aggregate(aggs)
        for row in result.to_pylist():
            key = tuple(row[k] for k in keys)
            entry = self.groups.setdefault(key, [0, [Decimal(0)] * len(self.sum_columns)])
            entry[0] += row["count_all"]
            for i in range(len(self.sum_columns)):
                value = row.get(f"s{i}_sum")
                if value is not None:
                    entry[1][i] += value

    def result(self) -> ControlTotals:
        quanta = [Decimal(1).scaleb(-self.scales[n]) for n in self.sum_columns]
        groups = tuple(
            (key, rows, tuple(s.quantize(q) for s, q in zip(sums, quanta, strict=True)))
            for key, (rows, sums) in sorted(
                self.groups.items(), key=lambda kv: [(v is None, v or "") for v in kv[0]]
            )
        )
        return ControlTotals(self.group_by, self.sum_columns, groups)
