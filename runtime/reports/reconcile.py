"""`ehrfusion reconcile --period YYYY-MM`: the monthly reconciliation pack for one tenant.

Per facility (Fusion company) and GL period it sets the source journal lines against what
Fusion's own balances say posted, and explains the difference by category: in flight (exported
or submitted, not final in Fusion yet), rejected (open operator-queue items), held as
exceptions, re-dated corrections (reversed and re-posted in a later open period because this
one had closed). What no category explains is unexplained drift, to the cent, for debits and
credits separately; a clean month has none. Fusion is read only through the documented
ledgerBalances resource, so the pack works the same against the simulator and a real pod.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from load.fusion_client import FusionClient
from runtime.core.config import Config, ConfigError, Tenant
from runtime.core.warehouse import Warehouse
from runtime.reports import reconcile_reads as reads
from runtime.reports.reconcile_pack import (
    CATEGORIES,
    CENT,
    CSV_COLUMNS,
    CURRENCY,
    NO_COMPANY,
    Amounts,
    FacilityRow,
    ReconciliationPack,
)
from runtime.reports.reconcile_page import render_pack
from runtime.reports.reconcile_reads import SideTotal
from runtime.reports.report_reads import open_reader


def default_pack_dir(config: Config, tenant_name: str, month: str) -> Path:
    """Where the pack goes when no folder is given: `<work_dir>/<tenant>/reconciliation/<month>`."""
    return config.work_dir / tenant_name / "reconciliation" / month


def build_pack(
    config: Config,
    tenant_name: str,
    warehouse: Warehouse,
    client: FusionClient,
    period: str,
    out_dir: Path | None,
    now: datetime,
) -> ReconciliationPack:
    """Build the pack of `period` (YYYY-MM) for a tenant and write its CSV and HTML page to
    `out_dir` (default: `default_pack_dir`). `client` reads the tenant's Fusion balances."""
    tenant = config.tenants.get(tenant_name)
    if tenant is None:
        raise ConfigError("--tenant", f"name a configured tenant: {', '.join(config.tenants)}")
    ledger, domains = _gl_domains(tenant)
    with open_reader(warehouse) as db:
        gl_period = reads.gl_period(db, warehouse, ledger, period)
        companies = reads.companies(db, warehouse, gl_period)
        totals = [
            total
            for gl in domains
            for total in reads.side_totals(db, warehouse, ledger, gl_period, gl)
        ]
    rows = _rows(totals, companies)
    for row in rows:
        if row.company != NO_COMPANY:
            row.fusion_posted = fusion_activity(client, ledger, gl_period.name, row.company)
    pack = ReconciliationPack(
        tenant=tenant.name,
        timezone=tenant.timezone,
        ledger=ledger,
        period=gl_period,
        currency=CURRENCY,
        generated_at=now,
        warehouse=warehouse.label,
        rows=rows,
    )
    _write(pack, out_dir or default_pack_dir(config, tenant.name, gl_period.month))
    return pack


def fusion_activity(
    client: FusionClient, ledger: str, period_name: str, company: str, currency: str = CURRENCY
) -> Amounts:
    """The period's posted debits and credits of one company, summed over its combinations."""
    total = Amounts(lines=None)
    for item in client.ledger_balances(ledger, period_name, currency, f"{company}-%-%-%-%-%"):
        # The finder's wildcard is a pattern; keep only the company's own combinations.
        if str(item.get("DetailAccountCombination", "")).split("-")[0] != company:
            continue
        total.debit += _decimal(item.get("PeriodActivityDebit"))
        total.credit += _decimal(item.get("PeriodActivityCredit"))
    return total


def _decimal(value) -> Decimal:
    # str() first: a JSON number arrives as a float, whose shortest repr is the 2-place amount
    return Decimal(str(value or 0)).quantize(CENT)


def _gl_domains(tenant: Tenant) -> tuple[str, list[reads.GlDomain]]:
    """The ledger and every GL journal domain of the tenant posting to it (the pack sets all of
    their source lines against the ledger's balances)."""
    found = [
        (
            domain.fusion.ledger_name,
            reads.GlDomain(stream.name, domain.name),
        )
        for stream in tenant.streams.values()
        for domain in stream.domains.values()
        if domain.enabled and domain.fusion is not None and domain.fusion.is_gl
    ]
    if not found:
        raise ConfigError(f"tenants.{tenant.name}", "no enabled domain posts GL journals")
    ledgers = {ledger for ledger, _ in found}
    if len(ledgers) > 1:
        raise ConfigError(
            f"tenants.{tenant.name}",
            f"GL domains post to several ledgers ({', '.join(sorted(ledgers))}); the pack "
            "reconciles one ledger",
        )
    return ledgers.pop(), [gl for _, gl in found]


def _rows(totals: list[SideTotal], companies: dict[str, str]) -> list[FacilityRow]:
    """One row per Fusion company (its facilities named together) and per unmapped facility.

    Every company of the crosswalk gets a row, so activity Fusion holds for a company with no
    source lines this period still shows.
    """
    by_company: dict[str, list[str]] = defaultdict(list)
    for facility, company in companies.items():
        by_company[company].append(facility)
    for facility in sorted({t.facility for t in totals} - set(companies)):
        by_company[f"{NO_COMPANY} {facility}"].append(facility)
    rows: list[FacilityRow] = []
    of_facility: dict[str, FacilityRow] = {}
    for key, facilities in sorted(by_company.items(), key=lambda kv: sorted(kv[1])):
        company = NO_COMPANY if key.startswith(NO_COMPANY) else key
        rows.append(FacilityRow(", ".join(sorted(facilities)), company))
        of_facility |= dict.fromkeys(facilities, rows[-1])
    for total in totals:
        side = getattr(of_facility[total.facility], total.side)
        side.add(Amounts(total.lines, total.debit, total.credit))
    return rows


def _write(pack: ReconciliationPack, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    pack.csv_path = out_dir / "reconciliation.csv"
    with pack.csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(pack.csv_row(row) for row in pack.rows)
    pack.html_path = out_dir / "reconciliation.html"
    pack.html_path.write_text(render_pack(pack, CATEGORIES), encoding="utf-8")
