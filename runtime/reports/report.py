"""`ehrfusion report`: one self-contained HTML page a finance reviewer opens in a browser.

For one tenant it shows the last runs, the dbt checks in plain words (with the stored failing
rows of any failure), reconciliation per facility and GL period with a bar chart, the open
exceptions and the operator queue. The page carries no PHI: identifier and pseudonym columns
are never selected, and columns of generic tables that look like identifiers are withheld.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path

import jinja2

from runtime.core.config import Config, ConfigError
from runtime.core.warehouse import Warehouse
from runtime.reports import report_reads as reads
from runtime.reports.report_chart import Chart, ChartPoint, bar_chart
from runtime.reports.report_checks import CheckResults, combined, read_checks, read_domain_checks
from runtime.reports.report_reads import FAILING_ROWS_SHOWN, ReconRow, Table

TEMPLATE = "finance_report.html.j2"
TEMPLATE_DIR = Path(__file__).parent / "templates"

REASON_WORDS = {
    "missing_amount": "no amount on the line",
    "non_numeric_amount": "the amount is not a number",
    "unmapped_coa": "no row in seeds/coa_crosswalk.csv for the facility, department and source "
    "account on the accounting date",
    "unmapped_cpt": "no row in seeds/cpt_gl_crosswalk.csv for the source system, location and CPT "
    "code on the accounting date",
    "no_gl_period": "the accounting date is in no GL period",
    "closed_period": "the GL period is closed",
    "period_not_open": "the GL period is not open",
    "held_with_entry": "held with another line of its journal entry",
    "entry_out_of_balance": "the journal entry does not balance",
}
RUN_TONES = {"ok": "ok", "running": "neutral", "locked": "warn"}  # any other status is bad


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
    checks: CheckResults  # every domain's latest checks together (the totals)
    check_groups: list[CheckResults]  # the same, one group per domain
    failing_rows: dict[str, Table | None]  # by Check.key
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
    def has_no_facility_row(self) -> bool:
        """Whether reconciliation has lines no facility was found for (the page explains)."""
        return any(row.facility == reads.NO_FACILITY for row in self.recon or [])

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
            "checks_by_domain": {
                group.label: {
                    "passed": group.passed_count,
                    "failed": [c.name for c in group.failed],
                    "not_run": group.not_run_count,
                }
                for group in self.check_groups
            },
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
    target = config.work_dir / tenant.name / "dbt" / "target"
    groups = read_domain_checks(
        target,
        {
            f"{stream.name} / {domain}": config.work_dir / tenant.name / stream.name / domain
            for stream in tenant.streams.values()
            for domain in stream.domains
        },
    )
    if not groups:  # no domain kept its checks (dbt run by hand): the last invocation
        last = read_checks(target)
        groups = [last] if last.generated_at is not None else []
    checks = combined(groups)
    ledger, chains = reads.gl_chains(tenant)
    with reads.open_reader(warehouse) as db:
        recon = reads.reconciliation(db, warehouse, ledger, chains)
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
            runs=reads.runs(db, warehouse, tenant.name),
            checks=checks,
            check_groups=groups,
            failing_rows={c.key: reads.failing_rows(db, c) for c in checks.failed},
            recon=recon,
            recon_total=total,
            chart=None if not recon else bar_chart(_chart_points(recon), money),
            exceptions_by_reason=reads.exceptions_by_reason(db, warehouse, chains),
            exception_lines=reads.exception_lines(db, warehouse, chains),
            queue=reads.operator_queue(db, warehouse),
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
        report=report,
        reason_words=REASON_WORDS,
        shown=FAILING_ROWS_SHOWN,
        no_facility=reads.NO_FACILITY,
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


def _chart_points(recon: list[ReconRow]) -> list[ChartPoint]:
    return [
        ChartPoint(r.facility, r.period, r.exported_debit, r.exception_debit, r.drift_debit)
        for r in recon
    ]
