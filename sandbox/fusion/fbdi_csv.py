"""One CSV of an FBDI zip read as Arrow record batches, exactly as Python's `csv.reader`
(strict) reads it.

The loads used to parse every line with `csv.reader` and check it field by field in Python.
Here pyarrow's CSV reader parses the entry a block of whole lines at a time as it is
decompressed, so a load holds one block of its columns at a time, and the caller checks each
block as columns. pyarrow and `csv.reader` read the same rows from a UTF-8 file whose lines are
not empty, all have the same field count and are each a whole record. While pyarrow reads, the
raw bytes are watched for anything else: a byte-order mark, a carriage return not ending a
line, an empty line, a line longer than csv's field size limit, bytes that are not UTF-8, a
line holding a quote character that `csv.reader` does not read as one whole record (a quote
closing before anything but a separator, a value running on to the next line); pyarrow reports
a line with another field count. Such a file is read again by `csv.reader` itself, strictly, as
before, so every file loads to the same rows, or fails with the same message and line, as it
always did: only the common files load fast. Small files are read by `csv.reader` at once.

Line numbers are record numbers (a quoted value spanning lines is one record), as `csv.reader`
counts them; an unparseable file names the physical line `csv.reader` stopped at.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from sandbox.fusion.columns import empty_strings

END_MARKER = "END"
BLOCK_BYTES = 8 << 20  # one block of the CSV: about 20,000 GlInterface lines
EXACT_ROWS = 16_384  # rows per record batch when `csv.reader` reads the file
SMALL_BYTES = 64 << 10  # a file this small is read by csv.reader at once
_BOM = codecs.BOM_UTF8


class LoadError(ValueError):
    """The file cannot be loaded at all; the message says why and where."""


@dataclass(frozen=True)
class Shape:
    """What the lines of one CSV may look like, and how a load error names a line.

    `trailing_nullcols`: a line may stop early, its missing fields load empty (SQL*Loader's
    TRAILING NULLCOLS), but may not be empty; otherwise every line has exactly the layout's
    field count. `end_marker`: a line may end with the template macro's literal `END` field.
    `file_in_messages`: messages say `line N of <csv>` rather than `line N`. Batches carry
    the `needed` columns only (every line is still read whole and checked for its shape).
    """

    csv_file: str
    names: tuple[str, ...]
    needed: frozenset[str]
    trailing_nullcols: bool = False
    end_marker: bool = False
    file_in_messages: bool = False

    @property
    def field_count(self) -> int:
        """Fields of the layout, without the END marker."""
        return len(self.names)

    def line(self, number: int) -> str:
        """How a message names line `number`."""
        return f"line {number} of {self.csv_file}" if self.file_in_messages else f"line {number}"

    def fields(self, number: int, fields: list[str]) -> list[str]:
        """Line `number`'s fields as the layout's columns; LoadError if it cannot load."""
        count = self.field_count
        if self.trailing_nullcols and not fields:
            raise LoadError(f"{self.line(number)} is empty")
        if self.end_marker and len(fields) == count + 1 and fields[-1] == END_MARKER:
            fields = fields[:-1]  # the template macro's line end, not a value
        if len(fields) > count or (not self.trailing_nullcols and len(fields) != count):
            raise LoadError(
                f"{self.line(number)} has {len(fields)} fields; the template has {count}"
            )
        return fields + [""] * (count - len(fields))

    def fast_width(self, width: int) -> bool:
        """Whether lines of `width` fields load without a look at each one (an END marker in
        the extra field is checked per block)."""
        count = self.field_count
        if width == count:
            return True
        if self.end_marker and width == count + 1:
            return True
        return self.trailing_nullcols and 0 < width < count


class Sink(Protocol):
    """Takes the record batches of one CSV in order; raises LoadError to fail the load."""

    def add(self, first_line: int, batch: pa.RecordBatch) -> None:
        """One batch whose first row is line `first_line`: the shape's needed columns."""
        ...


Opener = Callable[[], IO[bytes]]
S = TypeVar("S", bound=Sink)


def load(open_entry: Opener, shape: Shape, new_sink: Callable[[], S], size: int | None = None) -> S:
    """Feed the CSV's rows to a new sink, block by block; LoadError as `csv.reader` would fail.

    `open_entry` opens the CSV's bytes afresh: a file that the fast read cannot vouch for is
    read again with `csv.reader`, into a new sink. A file of at most SMALL_BYTES (`size`, when
    known) is read by `csv.reader` straight away: for so few lines it is the quicker.
    """
    if size is not None and size <= SMALL_BYTES:
        sink = new_sink()
        for first_line, batch in _exact(open_entry, shape):
            sink.add(first_line, batch)
        return sink
    sink = new_sink()
    blocks = _fast(open_entry, shape)
    try:
        for first_line, batch in blocks:
            sink.add(first_line, batch)
        return sink
    except _NotPlain:
        pass
    except LoadError as error:
        try:
            for _ in blocks:  # the error stands only if the whole file reads plainly
                pass
        except _NotPlain:
            pass
        else:
            raise error from None
    blocks.close()
    sink = new_sink()
    for first_line, batch in _exact(open_entry, shape):
        sink.add(first_line, batch)
    return sink


class _NotPlain(Exception):
    """The fast read cannot vouch for the file: `csv.reader` must read it."""


class _Watch:
    """A read-only stream over the CSV's bytes that notes what pyarrow might read otherwise
    than `csv.reader`: a byte-order mark, a carriage return that is not followed by a line
    feed, an empty line, a line longer than csv's field size limit, bytes that are not UTF-8
    (quotes are judged line by line, `_quoted_lines_are_records`)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.plain = True
        self.limit = csv.field_size_limit()
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.position = 0  # bytes scanned
        self.last_lf = -1  # where the last line feed was: as if a line ended before the file
        self.last_byte = 10
        self.cr_pending = False  # the last scanned byte is a carriage return

    def read(self, size: int) -> bytes:
        """The next bytes (b"" at the end), scanned."""
        data = self.raw.read(size)
        if self.plain:
            self._scan(data)
        return data

    def _scan(self, data: bytes) -> None:
        if not data:  # the end
            if self.cr_pending or self.position - self.last_lf - 1 > self.limit:
                self.plain = False
            try:
                self.decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.plain = False
            return
        base = self.position
        raw = np.frombuffer(data, np.uint8)
        if (self.cr_pending and data[0] != 10) or (not base and data[:3] == _BOM):
            self.plain = False
            return
        self.cr_pending = False
        if b"\r" in data:
            following = np.flatnonzero(raw == 13) + 1
            if following[-1] == len(raw):
                self.cr_pending = True
                following = following[:-1]
            if (raw[following] != 10).any():
                self.plain = False
                return
        ends = np.flatnonzero(raw == 10) + base
        if len(ends):
            gaps = np.diff(ends, prepend=self.last_lf)
            between = ends[gaps == 2] - 1  # the one byte between two line feeds
            inside = between >= base
            if (
                (gaps == 1).any()
                or (raw[between[inside] - base] == 13).any()
                or (self.last_byte == 13 and not inside.all())
                or gaps.max() - 1 > self.limit
            ):
                self.plain = False  # an empty line, or one longer than a field may be
                return
            self.last_lf = int(ends[-1])
        self.position += len(data)
        self.last_byte = data[-1]
        if self.position - self.last_lf - 1 > self.limit:
            self.plain = False
        try:
            if not data.isascii() or self.decoder.getstate()[0]:
                self.decoder.decode(data)
        except UnicodeDecodeError:
            self.plain = False


def _fast(open_entry: Opener, shape: Shape) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The CSV's rows through pyarrow, a block of whole lines at a time (the needed columns
    converted); _NotPlain as soon as the file may read otherwise."""
    odd_lines: list[int] = []

    def odd(row: pa_csv.InvalidRow) -> str:
        odd_lines.append(row.number)
        return "skip"

    first_line = 1
    options: dict | None = None
    wanted: list[int] = []
    with open_entry() as raw:
        watch = _Watch(raw)
        rest = b""
        while True:
            data = watch.read(BLOCK_BYTES)
            if not watch.plain:
                raise _NotPlain
            if data:
                data = rest + data
                cut = data.rfind(b"\n") + 1
                rest = data[cut:]
                if not cut:
                    continue  # no line ends in the block yet
            elif rest:
                data, rest, cut = rest, b"", len(rest)
            else:
                return
            if data.find(b'"', 0, cut) >= 0 and not _quoted_lines_are_records(data, cut):
                raise _NotPlain
            if options is None:
                end = data.find(b"\n", 0, cut)
                options, wanted = _options(shape, data[: cut if end < 0 else end], odd)
            block = memoryview(data)[:cut]
            table = pa_csv.read_csv(pa.BufferReader(pa.py_buffer(block)), **options)
            if odd_lines:
                raise _NotPlain
            for batch in table.to_batches():
                yield first_line, _as_layout(batch, wanted, shape)
                first_line += batch.num_rows


def _quoted_lines_are_records(data: bytes, cut: int) -> bool:
    """Whether each line of `data[:cut]` that holds a quote character is a whole record by
    `csv.reader`'s strict rules: then pyarrow, reading quotes but no line end in a value,
    reads it alike (a quote closing before anything but a separator, or a value running on
    to the next line, is for `csv.reader` alone)."""
    raw = np.frombuffer(data, np.uint8, count=cut)
    ends = np.flatnonzero(raw == 10)
    lines = np.unique(np.searchsorted(ends, np.flatnonzero(raw == 34)))
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends + 1, [cut]))
    try:
        text = b"".join(data[starts[i] : stops[i]] for i in lines.tolist()).decode("utf-8")
        records = sum(1 for _ in csv.reader(io.StringIO(text, newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error):
        return False
    return records == len(lines)


def _options(shape: Shape, first: bytes, odd: Callable) -> tuple[dict, list[int]]:
    """pyarrow's read options for lines as wide as the `first`, and the positions of the
    columns it converts; _NotPlain if lines of that width need a look at each one."""
    count = shape.field_count
    try:
        width = len(next(csv.reader([first.decode("utf-8").rstrip("\r")], strict=True)))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise _NotPlain from None
    if not shape.fast_width(width):
        raise _NotPlain
    names = [f"f{i}" for i in range(width)]
    wanted = [i for i, name in enumerate(shape.names) if name in shape.needed and i < width]
    if width == count + 1:
        wanted.append(count)  # the END marker, checked
    options = {
        "read_options": pa_csv.ReadOptions(
            use_threads=False, block_size=1 << 30, column_names=names
        ),
        "parse_options": pa_csv.ParseOptions(
            newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=odd
        ),
        "convert_options": pa_csv.ConvertOptions(
            check_utf8=False,
            column_types=dict.fromkeys(names, pa.string()),
            include_columns=[names[i] for i in wanted],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }
    return options, wanted


def _as_layout(batch: pa.RecordBatch, wanted: list[int], shape: Shape) -> pa.RecordBatch:
    """A block's needed columns named as the layout's: an END marker checked and dropped,
    fields past a short line's end empty."""
    count = shape.field_count
    columns = dict(zip(wanted, batch.columns, strict=True))
    end = columns.pop(count, None)
    if end is not None and not pc.all(pc.equal(end, END_MARKER)).as_py():
        raise _NotPlain  # a line with one field too many
    empty = empty_strings(batch.num_rows)
    needed = [(i, name) for i, name in enumerate(shape.names) if name in shape.needed]
    return pa.record_batch(
        [columns.get(i, empty) for i, _ in needed], names=[name for _, name in needed]
    )


def _exact(open_entry: Opener, shape: Shape) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The CSV's rows through `csv.reader` (strict), as the loads always read them: the whole
    file must be UTF-8 first; a bad line ends the load after the rows before it."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open_entry() as raw:
        try:
            while chunk := raw.read(BLOCK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise LoadError(f"{shape.csv_file} is not UTF-8 text") from None
    with open_entry() as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""), strict=True)
        rows: list[list[str]] = []
        first_line = 1
        error: LoadError | None = None
        try:
            for number, fields in enumerate(reader, start=1):
                rows.append(shape.fields(number, fields))
                if len(rows) == EXACT_ROWS:
                    yield first_line, _from_rows(rows, shape)
                    first_line += len(rows)
                    rows = []
        except csv.Error:
            error = LoadError(f"{shape.line(reader.line_num)}: unparseable CSV")
        except LoadError as exc:
            error = exc
        if rows:
            yield first_line, _from_rows(rows, shape)
        if error is not None:
            raise error


def _from_rows(rows: list[list[str]], shape: Shape) -> pa.RecordBatch:
    """Rows as a record batch of the needed columns: one array of every value column after
    column, sliced (one conversion, however wide the layout)."""
    wanted = [i for i, name in enumerate(shape.names) if name in shape.needed]
    by_column = list(zip(*rows, strict=True))
    values = pa.array([v for i in wanted for v in by_column[i]], pa.string())
    count = len(rows)
    columns = [values.slice(k * count, count) for k in range(len(wanted))]
    return pa.record_batch(columns, names=[shape.names[i] for i in wanted])
