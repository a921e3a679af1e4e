"""What the finance report reads from the warehouse, on either engine, without PHI.

Every query names its columns except on generic tables (stored test failures, the operator
queue), whose identifier-like columns are withheld before anything reaches the page. One
connection serves the whole report; on DuckDB it cannot compute pseudonyms at all.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb

from runtime.core.config import Tenant
from runtime.core.dbt_duckdb_phi import INNER_PAD_FUNCTION, OUTER_PAD_FUNCTION
from runtime.core.gl_models import GlChain
from runtime.core.warehouse import Warehouse
from runtime.reports.report_checks import Check

RUNS_SHOWN = 20
FAILING_ROWS_SHOWN = 50
EXCEPTION_LINES_SHOWN = 100
QUEUE_ITEMS_SHOWN = 100
NO_PERIOD = "(no period)"
NO_FACILITY = "(no facility)"

# Columns of generic tables (stored failures, operator queue) never shown: identifiers and
# their pseudonyms. Values that look like a SHA-256 pseudonym are withheld whatever the name.
_PHI_COLUMN = re.compile(
    r"pseudonym|patient|mrn|pat_|hsp_account|hospital_account|^reference2[12]$", re.IGNORECASE
)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Table:
    """Rows of a generic table as shown, the total behind them and the columns withheld."""

    columns: list[str]
    rows: list[tuple]
    total: int
    withheld: list[str] = field(default_factory=list)


@dataclass
class ReconRow:
    """Source = exported + exceptions for one facility and GL period, by lines and cents."""

    facility: str
    period: str
    source_lines: int = 0
    exported_lines: int = 0
    exception_lines: int = 0
    source_debit: Decimal = Decimal(0)
    exported_debit: Decimal = Decimal(0)
    exception_debit: Decimal = Decimal(0)
    source_credit: Decimal = Decimal(0)
    exported_credit: Decimal = Decimal(0)
    exception_credit: Decimal = Decimal(0)

    @property
    def drift_lines(self) -> int:
        return self.source_lines - self.exported_lines - self.exception_lines

    @property
    def drift_debit(self) -> Decimal:
        return self.source_debit - self.exported_debit - self.exception_debit

    @property
    def drift_credit(self) -> Decimal:
        return self.source_credit - self.exported_credit - self.exception_credit

    @property
    def reconciled(self) -> bool:
        return not (self.drift_lines or self.drift_debit or self.drift_credit)

    def add(self, other: ReconRow) -> None:
        for name in _RECON_MEASURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_RECON_MEASURES = [
    f"{side}_{measure}"
    for side in ("source", "exported", "exception")
    for measure in ("lines", "debit", "credit")
]


class Reader:
    """Queries over one open connection; placeholders are written `%s`."""

    def __init__(self, con, kind: str):
        self.con, self.kind = con, kind

    def rows(self, sql: str, params: tuple = ()) -> tuple[list[str], list[tuple]]:
        """Column names and all rows of a query."""
        if self.kind == "duckdb":
            # Not a cursor: a DuckDB cursor is a new connection without this one's macros.
            cur = self.con.execute(sql.replace("%s", "?"), params)
        else:
            cur = self.con.cursor()
            cur.execute(sql, params)
        return [d[0] for d in cur.description], cur.fetchall()

    def dicts(self, sql: str, params: tuple = ()) -> list[dict]:
        """All rows of a query as dicts keyed by column name."""
        columns, rows = self.rows(sql, params)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def columns(self, schema: str, table: str) -> list[str]:
        """A table's or view's columns in order; empty when it does not exist."""
        _, rows = self.rows(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (schema, table),
        )
        return [r[0] for r in rows]

    def exists(self, schema: str, table: str) -> bool:
        return bool(self.columns(schema, table))


@contextlib.contextmanager
def open_reader(warehouse: Warehouse) -> Iterator[Reader]:
    """A connection that only reads and cannot compute pseudonyms.

    DuckDB binds a whole view, so reading the staging view's non-PHI columns needs the
    pseudonym key-pad functions to exist; here they are temporary macros that raise if ever
    evaluated, which shadow any real ones for this connection only.
    """
    if warehouse.kind == "duckdb":
        # A missing file stays missing: an empty in-memory database reads as "nothing yet".
        opened = (
            warehouse.connect()
            if warehouse.duckdb_path.is_file()
            else contextlib.closing(duckdb.connect())
        )
        with opened as con:
            for name in (INNER_PAD_FUNCTION, OUTER_PAD_FUNCTION):
                con.execute(
                    f"create temporary macro {name}() as "
                    "cast(error('the finance report never reads pseudonyms') as blob)"
                )
            yield Reader(con, "duckdb")
        return
    with warehouse.connect() as con:
        con.set_session(readonly=True)
        yield Reader(con, "postgres")


def _quoted(*names: str) -> str:
    return ".".join('"' + n.replace('"', '""') + '"' for n in names)


def _safe_table(columns: list[str], rows: list[tuple], total: int) -> Table:
    """Drop identifier-like columns, by name or by pseudonym-shaped values."""
    keep, withheld = [], []
    for i, name in enumerate(columns):
        looks_like_phi = _PHI_COLUMN.search(name) or any(
            isinstance(r[i], str) and _DIGEST.match(r[i]) for r in rows
        )
        (withheld if looks_like_phi else keep).append(i)
    return Table(
        columns=[columns[i] for i in keep],
        rows=[tuple(r[i] for i in keep) for r in rows],
        total=total,
        withheld=[columns[i] for i in withheld],
    )


def runs(db: Reader, warehouse: Warehouse, tenant: str) -> list[dict] | None:
    """The newest runs from `<tenant>_ops.run_ledger`; None when there is no ledger yet."""
    ops = warehouse.schema("ops")
    if not db.exists(ops, "run_ledger"):
        return None
    return db.dicts(
        "select run_id, stream, domain, started_at, finished_at, status, exit_code, "
        "rows_extracted, lines_exported, exception_lines, dead_letters, message "
        f"from {ops}.run_ledger where tenant = %s order by started_at desc limit {RUNS_SHOWN}",
        (tenant,),
    )


def failing_rows(db: Reader, check: Check) -> Table | None:
    """The first stored failing rows of a check and their total; None when dbt stored none."""
    if not (check.failures_schema and db.exists(check.failures_schema, check.failures_table)):
        return None
    relation = _quoted(check.failures_schema, check.failures_table)
    total = db.rows(f"select count(*) from {relation}")[1][0][0]
    columns, rows = db.rows(f"select * from {relation} order by 1 limit {FAILING_ROWS_SHOWN}")
    return _safe_table(columns, rows, total)


def operator_queue(db: Reader, warehouse: Warehouse) -> Table | None:
    """The newest operator queue items and their total; None when there is no queue yet."""
    ops = warehouse.schema("ops")
    columns = db.columns(ops, "operator_queue")
    if not columns:
        return None
    newest = next((c for c in ("created_at", "queued_at", "received_at") if c in columns), None)
    order = f"{_quoted(newest)} desc" if newest else "1"
    total = db.rows(f"select count(*) from {ops}.operator_queue")[1][0][0]
    names, rows = db.rows(
        f"select * from {ops}.operator_queue order by {order} limit {QUEUE_ITEMS_SHOWN}"
    )
    return _safe_table(names, rows, total)


def exceptions_by_reason(
    db: Reader, warehouse: Warehouse, chains: list[GlChain]
) -> list[dict] | None:
    """Held lines, debits and credits per exception reason, source and domain over every GL
    chain, most lines first."""
    found: dict[tuple, dict] = {}
    marts = _existing(db, warehouse, chains, "exceptions")
    if not marts:
        return None
    keys = ("reason", "data_source", "stream_name", "domain_name")
    for relation in marts:
        for row in db.dicts(
            "select exception_reason as reason, data_source, stream_name, domain_name, "
            "count(*) as lines, sum(debit_amount) as debit, sum(credit_amount) as credit "
            f"from {relation} as held "
            "group by exception_reason, data_source, stream_name, domain_name"
        ):
            key = tuple(row[k] for k in keys)
            total = found.setdefault(key, dict(zip(keys, key, strict=True)) | {"lines": 0})
            total["lines"] += row["lines"]
            for side in ("debit", "credit"):
                total[side] = total.get(side, Decimal(0)) + Decimal(row[side] or 0)
    return sorted(found.values(), key=lambda r: (-r["lines"], *(str(r[k]) for k in keys)))


def exception_lines(db: Reader, warehouse: Warehouse, chains: list[GlChain]) -> list[dict] | None:
    """The most recent held lines of every GL chain (newest feed day first), without the
    patient reference."""
    marts = _existing(db, warehouse, chains, "exceptions")
    if not marts:
        return None
    columns = (
        "data_source, stream_name, domain_name, "
        "source_line_id, journal_id, feed_date, accounting_date, period_name, facility_id, "
        "department_id, source_account, currency_code, debit_amount, credit_amount, "
        "debit_amount_text, credit_amount_text, exception_reason"
    )
    union = " union all ".join(f"select {columns} from {rel} as held" for rel in marts)
    return db.dicts(
        f"select * from ({union}) as held "
        f"order by feed_date desc, source_line_id desc limit {EXCEPTION_LINES_SHOWN}"
    )


def gl_chains(tenant: Tenant) -> tuple[str | None, list[GlChain]]:
    """The ledger and the journal chains of the tenant's enabled GL domains."""
    found = [
        (domain.fusion.ledger_name, GlChain(stream.name, domain.name))
        for stream in tenant.streams.values()
        for domain in stream.domains.values()
        if domain.enabled and domain.fusion is not None and domain.fusion.is_gl
    ]
    return (found[0][0] if found else None), [chain for _, chain in found]


def _existing(db: Reader, warehouse: Warehouse, chains: list[GlChain], role: str) -> list[str]:
    """Each chain's rows of the model in `role` (a subquery), once the model is built."""
    if not chains or not db.exists(*GlChain.relation(warehouse, role).split(".")):
        return []
    return [_rows(warehouse, chain, role) for chain in chains]


def _rows(warehouse: Warehouse, chain: GlChain, role: str) -> str:
    return f"(select * from {GlChain.relation(warehouse, role)} where {chain.condition})"


def reconciliation(
    db: Reader, warehouse: Warehouse, ledger: str | None, chains: list[GlChain]
) -> list[ReconRow] | None:
    """Source = exported + exceptions per facility and GL period over every GL chain built so
    far, ordered by facility and period start; None until one is built."""
    reference = warehouse.schema("reference")
    built = [c for c in chains if _existing(db, warehouse, [c], "gl_interface")]
    if ledger is None or not built or not db.exists(reference, "gl_period_calendar"):
        return None
    rows: dict[tuple[str, str], ReconRow] = {}
    for chain in built:
        for side, found in _recon_totals(db, warehouse, chain).items():
            for facility, period, lines, debit, credit in found:
                key = (facility or NO_FACILITY, period or NO_PERIOD)
                row = rows.setdefault(key, ReconRow(*key))
                setattr(row, f"{side}_lines", getattr(row, f"{side}_lines") + int(lines))
                for measure, value in (("debit", debit), ("credit", credit)):
                    name = f"{side}_{measure}"
                    setattr(row, name, getattr(row, name) + Decimal(value or 0))
    starts = dict(
        db.rows(
            f"select period_name, start_date from {reference}.gl_period_calendar "
            "where ledger_name = %s",
            (ledger,),
        )[1]
    )
    return sorted(
        rows.values(), key=lambda r: (r.facility, str(starts.get(r.period, "9999")), r.period)
    )


def _recon_totals(db: Reader, warehouse: Warehouse, chain: GlChain) -> dict[str, list[tuple]]:
    """(facility, period, lines, debits, credits) per side: source, exported, exception.

    Per current source line (its latest version; a voided line counts for nothing): exported
    is what posted for it in earlier batches plus what its current batch carries (new lines,
    or the corrections of a restated one); held lines are exceptions. Periods are the ledger's
    for the line's accounting date, as the models assign them.
    """
    validated = _rows(warehouse, chain, "validated")
    posted = _rows(warehouse, chain, "posted")
    mart = _rows(warehouse, chain, "gl_interface")
    current = "case when lines.is_voided then 0 else lines.{} end"
    counted = "sum(case when lines.is_voided then 0 else 1 end)"
    return {
        "source": db.rows(
            f"select lines.facility_id, lines.period_name, {counted}, "
            f"sum({current.format('debit_amount')}), sum({current.format('credit_amount')}) "
            f"from {validated} as lines group by lines.facility_id, lines.period_name"
        )[1],
        "exported": db.rows(
            "select lines.facility_id, lines.period_name, "
            "count(distinct case when lines.is_voided then null else lines.source_line_id end), "
            "sum(sent.entered_dr), sum(sent.entered_cr) "
            f"from (select source_line_id, entered_dr, entered_cr from {mart} as mart "
            "union all select posted.source_line_id, posted.entered_dr, posted.entered_cr "
            f"from {posted} as posted inner join {validated} as current_lines "
            "on current_lines.source_line_id = posted.source_line_id "
            "where posted.batch_date < current_lines.batch_date) as sent "
            f"inner join {validated} as lines on lines.source_line_id = sent.source_line_id "
            "where not lines.is_held group by lines.facility_id, lines.period_name"
        )[1],
        "exception": db.rows(
            f"select lines.facility_id, lines.period_name, {counted}, "
            f"sum({current.format('debit_amount')}), sum({current.format('credit_amount')}) "
            f"from {validated} as lines where lines.is_held "
            "group by lines.facility_id, lines.period_name"
        )[1],
    }
