"""`ehrfusion report`: one self-contained HTML page a finance reviewer opens in a browser.

For one tenant it shows the last runs, the dbt checks in plain words (with the stored failing
rows of any failure), reconciliation per facility and GL period with a bar chart, the open
exceptions and the operator queue. The page carries no PHI: identifier and pseudonym columns
are never selected, and columns of generic tables that look like identifiers are withheld.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path

import duckdb
import jinja2

from runtime.config import Config, ConfigError, Tenant
from runtime.dbt_duckdb_phi import INNER_PAD_FUNCTION, OUTER_PAD_FUNCTION
from runtime.report_chart import Chart, ChartPoint, bar_chart
from runtime.report_checks import Check, CheckResults, read_checks
from runtime.warehouse import Warehouse

TEMPLATE = "finance_report.html.j2"
TEMPLATE_DIR = Path(__file__).parent / "templates"
RUNS_SHOWN = 20
FAILING_ROWS_SHOWN = 50
EXCEPTION_LINES_SHOWN = 100
QUEUE_ITEMS_SHOWN = 100
NO_PERIOD = "(no period)"
NO_FACILITY = "(no facility)"
GL_SOURCE = "epic_resolute_journal"

REASON_WORDS = {
    "missing_amount": "no amount on the line",
    "non_numeric_amount": "the amount is not a number",
    "unmapped_coa": "no COA crosswalk row for the facility, department and account",
    "no_gl_period": "the accounting date is in no GL period",
    "closed_period": "the GL period is closed",
    "period_not_open": "the GL period is not open",
    "held_with_entry": "held with another line of its journal entry",
    "entry_out_of_balance": "the journal entry does not balance",
}
# Columns of generic tables (stored failures, operator queue) never shown: identifiers and
# their pseudonyms. Values that look like a SHA-256 pseudonym are withheld whatever the name.
_PHI_COLUMN = re.compile(
    r"pseudonym|patient|mrn|pat_|hsp_account|hospital_account|^reference2[12]$", re.IGNORECASE
)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
RUN_TONES = {"ok": "ok", "running": "neutral", "locked": "warn"}  # any other status is bad


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


@dataclass(frozen=True)
class Card:
    title: str
    value: str
    detail: str
    tone: str  # ok | bad | warn | neutral


@dataclass
class Report:
    """Everything the page shows; `None` for a section whose tables do not exist yet."""

    tenant: str
    timezone: tzinfo
    generated_at: datetime
    warehouse: str
    runs: list[dict] | None
    checks: CheckResults
    failing_rows: dict[str, Table | None]
    recon: list[ReconRow] | None
    recon_total: ReconRow | None
    chart: Chart | None
    exceptions_by_reason: list[dict] | None
    exception_lines: list[dict] | None
    queue: Table | None

    @property
    def recon_status(self) -> str:
        if self.recon_total is None:
            return "not available"
        return "reconciled" if all(r.reconciled for r in self.recon) else "drift"

    @property
    def open_exception_lines(self) -> int | None:
        if self.exceptions_by_reason is None:
            return None
        return sum(r["lines"] for r in self.exceptions_by_reason)

    def cards(self) -> list[Card]:
        """The summary cards at the top of the page."""
        last = self.runs[0] if self.runs else None
        failed, passed = len(self.checks.failed), self.checks.passed_count
        held = self.open_exception_lines
        return [
            Card(
                "Last run",
                last["status"] if last else "no runs recorded yet",
                f"{last['stream']} / {last['domain']}, {when(last['started_at'], self.timezone)}"
                if last
                else "",
                "neutral" if last is None else run_tone(last["status"]),
            ),
            Card(
                "dbt checks",
                f"{passed} passed, {failed} failed",
                f"{self.checks.not_run_count} not run" if self.checks.not_run_count else "",
                "bad" if failed else "ok" if passed else "neutral",
            ),
            Card(
                "Reconciliation",
                self.recon_status,
                "source = exported + exceptions, to the cent",
                {"reconciled": "ok", "drift": "bad"}.get(self.recon_status, "neutral"),
            ),
            Card(
                "Open exceptions",
                "not available" if held is None else f"{held:,} lines",
                "held back from Fusion for review",
                "neutral" if not held else "warn",
            ),
        ]

    def summary(self) -> dict:
        """Counts and statuses for `--json` (no row values)."""
        return {
            "tenant": self.tenant,
            "generated_at": self.generated_at.isoformat(),
            "last_run_status": self.runs[0]["status"] if self.runs else None,
            "checks_passed": self.checks.passed_count,
            "checks_failed": [c.name for c in self.checks.failed],
            "reconciliation": self.recon_status,
            "open_exception_lines": self.open_exception_lines,
            "operator_queue_items": None if self.queue is None else self.queue.total,
        }


def report_tenant(config: Config, tenant_name: str | None) -> str:
    """The tenant to report on: the one named, or the only one configured."""
    if tenant_name is None and len(config.tenants) == 1:
        return next(iter(config.tenants))
    if tenant_name not in config.tenants:
        configured = ", ".join(sorted(config.tenants))
        path = f"tenants.{tenant_name}" if tenant_name else "--tenant"
        raise ConfigError(path, f"name a configured tenant: {configured}")
    return tenant_name


def default_report_path(config: Config, tenant_name: str) -> Path:
    """Where `ehrfusion report` writes when no --out is given."""
    return config.work_dir / tenant_name / "report" / "finance_report.html"


def build_report(
    config: Config, tenant_name: str, warehouse: Warehouse, out_path: Path, now: datetime
) -> Path:
    """Collect the tenant's report and write it to `out_path` as one HTML file."""
    return write_report(collect_report(config, tenant_name, warehouse, now), out_path)


def write_report(report: Report, out_path: Path) -> Path:
    """Render `report` to `out_path` (folders created as needed)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(render_report(report), encoding="utf-8")
    return out_path


def collect_report(
    config: Config, tenant_name: str | None, warehouse: Warehouse, now: datetime
) -> Report:
    """Read everything the page shows from the warehouse and the tenant's dbt artifacts;
    `tenant_name` None picks the only configured tenant."""
    tenant = config.tenants[report_tenant(config, tenant_name)]
    checks = read_checks(config.work_dir / tenant.name / "dbt" / "target")
    with _reader(warehouse) as db:
        recon = _reconciliation(db, warehouse, _ledger_name(tenant))
        total = None
        if recon is not None:
            total = ReconRow("Total", "")
            for row in recon:
                total.add(row)
        return Report(
            tenant=tenant.name,
            timezone=tenant.timezone,
            generated_at=_aware(now).astimezone(tenant.timezone),
            warehouse=warehouse.label,
            runs=_runs(db, warehouse, tenant.name),
            checks=checks,
            failing_rows={c.name: _failing_rows(db, c) for c in checks.failed},
            recon=recon,
            recon_total=total,
            chart=None if not recon else bar_chart(_chart_points(recon), money),
            exceptions_by_reason=_exceptions_by_reason(db, warehouse),
            exception_lines=_exception_lines(db, warehouse),
            queue=_operator_queue(db, warehouse),
        )


def render_report(report: Report) -> str:
    """The page as one HTML string: inline CSS and SVG, every value escaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {"money": money, "count": count, "cell": cell, "run_tone": run_tone}
    env.filters["when"] = lambda value: when(value, report.timezone)
    return env.get_template(TEMPLATE).render(
        report=report, reason_words=REASON_WORDS, shown=FAILING_ROWS_SHOWN
    )


# formatting -----------------------------------------------------------------------------------
def money(value: Decimal | int | None) -> str:
    """An amount to the cent with thousands separators; empty for no amount."""
    return "" if value is None else f"{Decimal(value):,.2f}"


def run_tone(status: str) -> str:
    """The colour class of a run status: ok, neutral (running), warn (locked) or bad."""
    return RUN_TONES.get(status, "bad")


def count(value: int | None) -> str:
    """A count with thousands separators; empty for none."""
    return "" if value is None else f"{value:,}"


def when(value: datetime | str | None, zone: tzinfo) -> str:
    """A point in time in the tenant's timezone; naive values are taken as UTC."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return _aware(value).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def cell(value) -> str:
    """A value of a generic table as text."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# warehouse reads ------------------------------------------------------------------------------
class _Reader:
    """Queries over one open connection; placeholders are written `%s`."""

    def __init__(self, con, kind: str):
        self.con, self.kind = con, kind

    def rows(self, sql: str, params: tuple = ()) -> tuple[list[str], list[tuple]]:
        if self.kind == "duckdb":
            # Not a cursor: a DuckDB cursor is a new connection without this one's macros.
            cur = self.con.execute(sql.replace("%s", "?"), params)
        else:
            cur = self.con.cursor()
            cur.execute(sql, params)
        return [d[0] for d in cur.description], cur.fetchall()

    def dicts(self, sql: str, params: tuple = ()) -> list[dict]:
        columns, rows = self.rows(sql, params)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def columns(self, schema: str, table: str) -> list[str]:
        _, rows = self.rows(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (schema, table),
        )
        return [r[0] for r in rows]

    def exists(self, schema: str, table: str) -> bool:
        return bool(self.columns(schema, table))


@contextlib.contextmanager
def _reader(warehouse: Warehouse) -> Iterator[_Reader]:
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
            yield _Reader(con, "duckdb")
        return
    with warehouse.connect() as con:
        con.set_session(readonly=True)
        yield _Reader(con, "postgres")


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


def _runs(db: _Reader, warehouse: Warehouse, tenant: str) -> list[dict] | None:
    ops = warehouse.schema("ops")
    if not db.exists(ops, "run_ledger"):
        return None
    return db.dicts(
        "select run_id, stream, domain, started_at, finished_at, status, exit_code, "
        "rows_extracted, lines_exported, exception_lines, dead_letters, message "
        f"from {ops}.run_ledger where tenant = %s order by started_at desc limit {RUNS_SHOWN}",
        (tenant,),
    )


def _failing_rows(db: _Reader, check: Check) -> Table | None:
    if not (check.failures_schema and db.exists(check.failures_schema, check.failures_table)):
        return None
    relation = _quoted(check.failures_schema, check.failures_table)
    total = db.rows(f"select count(*) from {relation}")[1][0][0]
    columns, rows = db.rows(f"select * from {relation} order by 1 limit {FAILING_ROWS_SHOWN}")
    return _safe_table(columns, rows, total)


def _operator_queue(db: _Reader, warehouse: Warehouse) -> Table | None:
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


def _exceptions_by_reason(db: _Reader, warehouse: Warehouse) -> list[dict] | None:
    marts = warehouse.schema("marts")
    if not db.exists(marts, "exceptions__gl_journal_lines"):
        return None
    return db.dicts(
        "select exception_reason as reason, count(*) as lines, sum(debit_amount) as debit, "
        f"sum(credit_amount) as credit from {marts}.exceptions__gl_journal_lines "
        "group by exception_reason order by count(*) desc, exception_reason"
    )


def _exception_lines(db: _Reader, warehouse: Warehouse) -> list[dict] | None:
    marts = warehouse.schema("marts")
    if not db.exists(marts, "exceptions__gl_journal_lines"):
        return None
    # Named columns only: the mart also carries the patient reference, never shown here.
    return db.dicts(
        "select source_line_id, journal_id, feed_date, accounting_date, period_name, "
        "facility_id, department_id, source_account, currency_code, debit_amount, "
        "credit_amount, debit_amount_text, credit_amount_text, exception_reason "
        f"from {marts}.exceptions__gl_journal_lines "
        f"order by feed_date desc, source_line_id desc limit {EXCEPTION_LINES_SHOWN}"
    )


def _ledger_name(tenant: Tenant) -> str | None:
    for stream in tenant.streams.values():
        for domain in stream.domains.values():
            if domain.source == GL_SOURCE:
                return domain.fusion.ledger_name
    return None


def _reconciliation(db: _Reader, warehouse: Warehouse, ledger: str | None) -> list[ReconRow] | None:
    """Source = exported + exceptions per facility and GL period, ordered by facility and
    period start; None until the staging view, both marts and the calendar exist."""
    staging, marts = warehouse.schema("staging"), warehouse.schema("marts")
    reference = warehouse.schema("reference")
    needed = [
        (staging, "stg_epic__resolute_journal_lines"),
        (marts, "fusion__gl_interface"),
        (marts, "exceptions__gl_journal_lines"),
        (reference, "gl_period_calendar"),
    ]
    if ledger is None or not all(db.exists(*t) for t in needed):
        return None
    rows: dict[tuple[str, str], ReconRow] = {}
    for side, found in _recon_totals(db, warehouse, ledger).items():
        for facility, period, lines, debit, credit in found:
            key = (facility or NO_FACILITY, period or NO_PERIOD)
            row = rows.setdefault(key, ReconRow(*key))
            setattr(row, f"{side}_lines", int(lines))
            setattr(row, f"{side}_debit", Decimal(debit or 0))
            setattr(row, f"{side}_credit", Decimal(credit or 0))
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


def _recon_totals(db: _Reader, warehouse: Warehouse, ledger: str) -> dict[str, list[tuple]]:
    """(facility, period, lines, debits, credits) per side: source, exported, exception.

    Source lines come from the staging view, non-PHI columns only, with the ledger's period
    for their accounting date, as the models assign it.
    """
    staging, marts = warehouse.schema("staging"), warehouse.schema("marts")
    reference = warehouse.schema("reference")
    if "facility_id" in db.columns(marts, "fusion__gl_interface"):
        facility_sql, join = "posted.facility_id", ""
    else:
        # The mart does not carry the facility: take it from the source line it came from.
        facility_sql = "lines.facility_id"
        join = (
            "left join (select source_line_id, min(facility_id) as facility_id "
            f"from {staging}.stg_epic__resolute_journal_lines group by source_line_id) as lines "
            "on lines.source_line_id = posted.source_line_id"
        )
    return {
        "source": db.rows(
            "select lines.facility_id, calendar.period_name, count(*), "
            "sum(lines.debit_amount), sum(lines.credit_amount) "
            f"from {staging}.stg_epic__resolute_journal_lines as lines "
            f"left join {reference}.gl_period_calendar as calendar "
            "on calendar.ledger_name = %s "
            "and lines.accounting_date between calendar.start_date and calendar.end_date "
            "group by lines.facility_id, calendar.period_name",
            (ledger,),
        )[1],
        "exported": db.rows(
            f"select {facility_sql}, posted.period_name, count(*), sum(posted.entered_dr), "
            f"sum(posted.entered_cr) from {marts}.fusion__gl_interface as posted {join} "
            f"group by {facility_sql}, posted.period_name"
        )[1],
        "exception": db.rows(
            "select facility_id, period_name, count(*), sum(debit_amount), sum(credit_amount) "
            f"from {marts}.exceptions__gl_journal_lines group by facility_id, period_name"
        )[1],
    }


def _chart_points(recon: list[ReconRow]) -> list[ChartPoint]:
    return [
        ChartPoint(r.facility, r.period, r.exported_debit, r.exception_debit, r.drift_debit)
        for r in recon
    ]
