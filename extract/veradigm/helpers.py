"""What the Veradigm API sources (Practice Fusion REST, Unity API) share: record contracts.

API records are checked against their table's fields one by one (`Table.conform`): the good
ones become one Arrow table with merge hints (primary key, `deleted` as dlt's hard-delete
flag, the change order as its dedup sort), the bad ones are quarantined with a reason naming
their position and field, never a value. A response that breaks the contract as a whole is
quarantined as received (`quarantine`), and its cursor does not move. Rows, dead letters and
cursors all land in one dlt load (extract.shared.landing), so they commit together.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc

from extract.dead_letter import TABLE as DEAD_LETTER
from extract.dead_letter import DeadLetterStore, file_sha256

DATASET_LAYER = "raw_veradigm"
STAMP = "%Y-%m-%dT%H:%M:%SZ"
_DECIMAL = re.compile(r"-?\d{1,10}\.\d{2}")


class ContractError(Exception):
    """A response that is not what docs/veradigm_contract.md says; the message names what is
    wrong, never a value, and `body` keeps the response as received for the dead-letter store."""

    def __init__(self, reason_code: str, reason: str, body: bytes = b"") -> None:
        self.reason_code = reason_code
        self.body = body
        super().__init__(reason)


# Parsers: each returns the column value or raises ValueError naming what was expected.
def text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("non-empty text")
    return value


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("an integer")
    return value


def integer_text(value: Any) -> int:
    if not isinstance(value, str) or not value.isdigit():
        raise ValueError("digits")
    return int(value)


def money(value: Any) -> Decimal:
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise ValueError("a decimal with 2 places")
    return Decimal(value)


def iso_date(value: Any) -> date:
    try:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError("a date YYYY-MM-DD")


def utc_stamp(value: Any) -> datetime:
    try:
        return datetime.strptime(text(value), STAMP).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError("a UTC time YYYY-MM-DDTHH:MM:SSZ") from None


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def yes_no(value: Any) -> bool:
    if value not in ("Y", "N"):
        raise ValueError("Y or N")
    return value == "Y"


@dataclass(frozen=True)
class Field:
    """A column, the record key it comes from, its parser and Arrow type. Optional fields may
    be absent or null; a deleted record (tombstone) needs only the key, order and flag."""

    name: str
    source: str
    parse: Callable[[Any], Any]
    type: pa.DataType
    optional: bool = False


@dataclass(frozen=True)
class Table:
    """A raw table merged on `key`; `deleted` is the tombstone flag, `order` the change order
    (the latest version of a key in one load wins). `constants` are columns the extract adds
    (the practice), part of the key."""

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    order: str
    deleted: str = "deleted"
    constants: tuple[str, ...] = ()

    @property
    def schema(self) -> pa.Schema:
        pinned = {*self.key, self.order, self.deleted}
        columns = [pa.field(name, pa.string(), nullable=False) for name in self.constants]
        columns += [pa.field(f.name, f.type, nullable=f.name not in pinned) for f in self.fields]
        return pa.schema(columns)

    def mark(self, data: pa.Table):
        """`data` marked for this table and its merge hints (a table variant of the resource,
        so tables of one resource keep their own keys)."""
        columns = {self.deleted: {"hard_delete": True}, self.order: {"dedup_sort": "desc"}}
        hints = dlt.mark.make_hints(
            table_name=self.name,
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            primary_key=[*self.constants, *self.key],
            columns=columns,
        )
        return dlt.mark.with_hints(data, hints, create_table_variant=True)

    def conform(
        self, records: Any, constants: dict[str, str]
    ) -> tuple[pa.Table, list[tuple[int, dict | Any, str]]]:
        """The records that meet the contract as one Arrow table, and the others as
        (position, record, reason) triples."""
        if not isinstance(records, list):
            raise ContractError("malformed_response", "the records are not a list")
        values: dict[str, list] = {f.name: [] for f in self.fields}
        rejects = []
        for position, record in enumerate(records):
            try:
                row = self._row(record)
            except ValueError as exc:
                rejects.append((position, record, f"record {position}: {exc}"))
                continue
            for name, value in row.items():
                values[name].append(value)
        rows = len(records) - len(rejects)
        arrays = [pa.array([constants[c]] * rows, pa.string()) for c in self.constants]
        arrays += [pa.array(values[f.name], f.type) for f in self.fields]
        return pa.Table.from_arrays(arrays, schema=self.schema), rejects

    def _row(self, record: Any) -> dict[str, Any]:
        if not isinstance(record, dict):
            raise ValueError("is not an object")
        by_name = {f.name: f for f in self.fields}
        deleted = self._value(by_name[self.deleted], record, required=True)
        needed = {*self.key, self.order, self.deleted}
        return {
            f.name: self._value(f, record, required=f.name in needed or not (deleted or f.optional))
            for f in self.fields
        }

    @staticmethod
    def _value(spec: Field, record: dict, required: bool) -> Any:
        value = record.get(spec.source)
        if value is None:
            if required:
                raise ValueError(f"field {spec.source} is missing")
            return None
        try:
            return spec.parse(value)
        except ValueError as exc:
            raise ValueError(f"field {spec.source} is not {exc}") from None


@dataclass
class StreamReport:
    """One table of one tenant in one extract: counts, cursor movement and control totals."""

    tenant: str
    entity: str
    cursor_from: str | None
    cursor_to: str | None = None
    pages: int = 0
    rows: int = 0
    deletes: int = 0
    rejected: int = 0
    amount_total: str | None = None
    complete: bool = False
    error: str | None = None

    def add(self, table: pa.Table, spec: Table, amount: str | None) -> None:
        """Count a landed page; `amount` names the column whose live total is kept."""
        deleted = table.column(spec.deleted)
        deletes = pc.sum(deleted.cast(pa.int64())).as_py() or 0
        self.rows += table.num_rows - deletes
        self.deletes += deletes
        if amount is not None:
            page = pc.sum(table.filter(pc.invert(deleted)).column(amount)).as_py() or 0
            self.amount_total = str(Decimal(self.amount_total or "0.00") + page)


@dataclass
class VeradigmReport:
    """What one extract landed; ids, counts, cursors and totals only, never row values."""

    source: str
    streams: list[StreamReport] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)
    requests: int = 0  # HTTP attempts sent, token requests and retries included
    rate_limit_wait_seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Records landed: rows inserted or updated plus rows deleted."""
        return sum(s.rows + s.deletes for s in self.streams)

    @property
    def ok(self) -> bool:
        """Every stream reached the end of its changes."""
        return all(s.complete for s in self.streams)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"rows": self.rows, "ok": self.ok}


def quarantine(
    store: DeadLetterStore, source: str, name: str, content: bytes, reason_code: str, reason: str
):
    """Keep `content` (a response or rejected records, as received) in the dead-letter store
    and return its record for the dead-letter table."""
    with tempfile.TemporaryDirectory(prefix="ehrfusion-dl-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        marked = store.quarantine(path, file_sha256(path), source, reason_code, reason)
    hints = dlt.mark.make_hints(table_name=DEAD_LETTER, write_disposition="append")
    return dlt.mark.with_hints(marked.data, hints, create_table_variant=True)


def rejected_records(
    store: DeadLetterStore, source: str, name: str, rejects: list, report: VeradigmReport
) -> Iterator:
    """Quarantine a page's rejected records as one JSON file; note each in the report."""
    if not rejects:
        return
    reason = "; ".join(r for _, _, r in rejects)
    content = json.dumps([record for _, record, _ in rejects], sort_keys=True).encode()
    report.dead_letters.append({"object": name, "reason_code": "record_contract",
                                "records": len(rejects)})  # fmt: skip
    yield quarantine(store, source, name, content, "record_contract", reason)
