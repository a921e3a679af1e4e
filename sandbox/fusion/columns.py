"""Column helpers of the simulator's bulk checks: emptiness, a judgement per distinct value,
row groups numbered by first appearance, and string columns assembled from blocks.

A check that Python made per row is made here per distinct value of the column it reads
(codes, dates, ledgers, combinations: a batch holds few of each), then spread back over the rows,
so the check's own Python code still decides, once per value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Column = pa.Array | pa.ChunkedArray
Problem = tuple[str, str]  # (error code, message)


def empty_strings(length: int) -> pa.Array:
    """`length` empty strings."""
    offsets = pa.py_buffer(bytes(4 * (length + 1)))
    return pa.StringArray.from_buffers(length, offsets, pa.py_buffer(b""))


def is_all_empty(column: pa.Array) -> bool:
    """Whether every value of a string array is empty (its first and last offsets agree)."""
    if len(column) == 0:
        return True
    offsets = np.frombuffer(column.buffers()[1], np.int32)
    return bool(offsets[column.offset + len(column)] == offsets[column.offset])


def to_bools(mask: Column) -> np.ndarray:
    """An Arrow boolean column as numpy."""
    if isinstance(mask, pa.ChunkedArray) and mask.num_chunks == 0:
        return np.zeros(0, bool)
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def is_empty(column: Column) -> np.ndarray:
    """Per row, whether the string is empty (or null)."""
    return to_bools(pc.fill_null(pc.equal(pc.binary_length(column), 0), True))


def codes(column: Column) -> tuple[np.ndarray, list[Any]]:
    """Per row, the number of its value among the column's distinct values, and those values
    (in order of first appearance). The column may be dictionary-encoded, each chunk with its
    own dictionary."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    chunks = [c for c in chunks if len(c)]
    if not chunks:
        return np.zeros(0, np.int64), []
    if not pa.types.is_dictionary(chunks[0].type):
        encoded = pc.dictionary_encode(pa.chunked_array(chunks))
        indices = [c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks]
        return np.concatenate(indices).astype(np.int64), encoded.chunk(0).dictionary.to_pylist()
    numbers: dict[Any, int] = {}
    parts = []
    for chunk in chunks:  # a chunk's dictionary may hold values no row has (rows filtered out)
        indices = chunk.indices.to_numpy(zero_copy_only=False)
        dictionary = chunk.dictionary
        local = np.zeros(len(dictionary), np.int64)
        for i in np.unique(indices).tolist():
            local[i] = numbers.setdefault(dictionary[i].as_py(), len(numbers))
        parts.append(local[indices])
    return np.concatenate(parts), list(numbers)


def per_value(column: Column, judge: Callable[[Any], Any], dtype: Any = object) -> np.ndarray:
    """`judge` of each row's value, called once per distinct value."""
    indices, values = codes(column)
    if not values:
        return np.empty(0, dtype)
    return np.array([judge(v) for v in values], dtype)[indices]


def group_numbers(columns: Sequence[Column], length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the number of its key (the columns' values together) counted from 0 in order of
    first appearance, and per key its first row."""
    numbers = np.zeros(length, np.int64)
    for column in columns:
        indices, values = codes(column)
        _, numbers = np.unique(numbers * max(len(values), 1) + indices, return_inverse=True)
        numbers = numbers.reshape(-1)
    _, first, numbers = np.unique(numbers, return_index=True, return_inverse=True)
    numbers = numbers.reshape(-1)
    order = np.argsort(first)
    rank = np.empty(len(first), np.int64)
    rank[order] = np.arange(len(first))
    return rank[numbers], first[order]


def string_column(parts: Sequence[pa.Array | None], lengths: Sequence[int]) -> pa.ChunkedArray:
    """One string column (dictionary-encoded or not) from per-block parts, None for a block
    where it was all empty."""
    kind = next((p.type for p in parts if p is not None), pa.string())
    chunks = [
        part if part is not None else _empty_of(kind, length)
        for part, length in zip(parts, lengths, strict=True)
    ]
    return pa.chunked_array(chunks, kind)


def _empty_of(kind: pa.DataType, length: int) -> pa.Array:
    if pa.types.is_dictionary(kind):
        indices = pa.array(np.zeros(length, np.int32))
        return pa.DictionaryArray.from_arrays(indices, pa.array([""]))
    return empty_strings(length)


def column_or_empty(table: pa.Table, name: str) -> pa.ChunkedArray:
    """The table's column `name`, or empty strings when it has none (left out as all empty)."""
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([empty_strings(table.num_rows)], pa.string())


def few_values(column: pa.Array) -> bool:
    """Whether a column holds few distinct values (a quarter of its rows at most), so that
    dictionary encoding makes it smaller."""
    return len(pc.unique(column)) * 4 <= len(column)


def encoded(column: pa.Array) -> pa.Array:
    """The column dictionary-encoded: a value per distinct value and a 4-byte index per row."""
    return pc.dictionary_encode(column)


def mapped(column: Column, convert: Callable[[Any], Any], type_: pa.DataType) -> pa.Array:
    """`convert` of each row's value as an Arrow array of `type_`, called once per distinct
    value."""
    indices, values = codes(column)
    return pa.array([convert(v) for v in values], type_).take(pa.array(indices))


class Problems:
    """Every (code, message) rows of one import carry, numbered as met; -1 is no problem."""

    def __init__(self) -> None:
        self.pairs: list[Problem] = []
        self._numbers: dict[Problem, int] = {}

    def number(self, problem: Problem | None) -> int:
        """The problem's number (-1 for None)."""
        if problem is None:
            return -1
        found = self._numbers.get(problem)
        if found is None:
            found = self._numbers[problem] = len(self.pairs)
            self.pairs.append(problem)
        return found

    def where(self, mask: np.ndarray, problem: Problem) -> np.ndarray:
        """The problem's number where `mask` holds, -1 elsewhere."""
        return np.where(mask, self.number(problem), -1)

    def per_value(self, column: Column, judge: Callable[[Any], Problem | None]) -> np.ndarray:
        """Per row, the number of `judge(value)` (a problem or None), judged once per value."""
        return per_value(column, lambda value: self.number(judge(value)), np.int32)

    def columns(self, numbers: np.ndarray) -> tuple[pa.Array, pa.Array]:
        """The codes and the messages of these problem numbers."""
        at = pa.array(numbers, pa.int32())
        codes = pa.array([code for code, _ in self.pairs], pa.string())
        messages = pa.array([message for _, message in self.pairs], pa.string())
        return codes.take(at), messages.take(at)

    def counts(self, numbers: np.ndarray) -> dict[str, int]:
        """How many of these problem numbers each code has, by code."""
        found: dict[str, int] = {}
        for number, count in enumerate(np.bincount(numbers, minlength=len(self.pairs))):
            if count:
                code = self.pairs[number][0]
                found[code] = found.get(code, 0) + int(count)
        return dict(sorted(found.items()))


def first_problem(problem: np.ndarray, candidate: np.ndarray) -> None:
    """Give the rows without a problem yet their candidate problem (-1: none)."""
    unset = (problem < 0) & (candidate >= 0)
    problem[unset] = candidate[unset]
