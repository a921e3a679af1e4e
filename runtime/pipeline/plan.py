"""`ehrfusion plan`: what the next run of a domain would post, before anything posts.

The plan lands new feed files and builds the models with their checks exactly as a run does,
then reads the mart rows of the batches the outbox does not hold yet: totals per batch, ledger,
period and kind of line (new lines, corrections, reversals, re-posts), and the restated entries
flagged for finance review. Its fingerprint, given to `ehrfusion run --expect-plan`, makes the
run export only if it would post exactly this plan.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal

from load.outbox import Outbox
from runtime.core.config import Config, ConfigError
from runtime.core.endpoints import has_endpoint
from runtime.core.gl_models import GlChain
from runtime.core.phi import tenant_key_version
from runtime.core.phi_keys import check_key_version
from runtime.pipeline.delivery.journal import JournalDelivery, pending_days, plan_fingerprint
from runtime.pipeline.delivery.protocol import unsettled
from runtime.pipeline.domain import FUSION_ENDPOINT, DomainContext, Progress
from runtime.pipeline.locks import domain_lock
from runtime.pipeline.posting import Posting
from runtime.pipeline.run import land_and_build


@dataclass(frozen=True)
class PlanLine:
    """Totals of one kind of line in one batch, ledger and period."""

    batch_date: str
    ledger_name: str
    period_name: str
    line_kind: str
    lines: int
    debit: str
    credit: str


@dataclass
class Plan:
    """What the next run would post; counts, totals and journal ids, never patient data."""

    tenant: str
    stream: str
    domain: str
    status: str = "ok"
    message: str = ""
    fingerprint: str = ""
    batch_days: list[str] = field(default_factory=list)
    lines: list[PlanLine] = field(default_factory=list)
    finance_review: list[dict] = field(default_factory=list)
    unsettled_batches: list[str] = field(default_factory=list)
    exceptions_by_reason: dict[str, int] = field(default_factory=dict)
    checks_failed: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, dict[str, str | int]]:
        """Lines, debits and credits per kind over the whole plan."""
        out: dict[str, dict] = {}
        for line in self.lines:
            kind = out.setdefault(line.line_kind, {"lines": 0, "debit": 0, "credit": 0})
            kind["lines"] += line.lines
            kind["debit"] += Decimal(line.debit)
            kind["credit"] += Decimal(line.credit)
        return {
            kind: totals | {"debit": str(totals["debit"]), "credit": str(totals["credit"])}
            for kind, totals in out.items()
        }

    def to_json(self) -> dict:
        document = asdict(self)
        document["totals_by_kind"] = self.totals()
        return json.loads(json.dumps(document, default=str))


def plan_domain(
    config: Config,
    tenant_name: str,
    stream_name: str,
    domain_name: str,
    warehouse_override: str | None = None,
    progress: Progress = lambda _: None,
) -> Plan:
    """Build the domain and describe the batches its next run would post."""
    ctx = DomainContext.open(
        config, tenant_name, stream_name, domain_name, warehouse_override, progress=progress
    )
    if ctx.domain.fusion is None or not ctx.domain.fusion.is_gl:
        raise ConfigError(
            f"tenants.{tenant_name}.streams.{stream_name}.domains.{domain_name}",
            "plans describe GL journal postings; this domain posts none",
        )
    plan = Plan(ctx.tenant.name, ctx.stream.name, ctx.domain.name)
    result = ctx.new_result()
    result.run_id = "plan"
    delivery, outbox = JournalDelivery(), Outbox(ctx.paths.outbox)
    with domain_lock(ctx.warehouse, ctx.stream.name, ctx.domain.name):
        check_key_version(ctx.warehouse, ctx.phi_key, tenant_key_version(ctx.tenant.name))
        plan.unsettled_batches = _unsettled_batches(ctx, outbox)
        built = land_and_build(ctx, result)  # records the PHI it reads as it lands
        if not built:
            plan.status = result.status
            plan.message = result.message
            plan.checks_failed = [c.name for c in result.dbt.failed_checks] if result.dbt else []
            return plan
        delivery.summarize(ctx, result)
        plan.exceptions_by_reason = result.exceptions_by_reason
        days = pending_days(ctx, outbox)
        plan.batch_days = [d.isoformat() for d in days]
        plan.lines = _plan_lines(ctx, days)
        plan.finance_review = _finance_review(ctx, days)
        plan.fingerprint = plan_fingerprint(ctx, days)
    if plan.unsettled_batches:
        plan.status = "submit_incomplete"
        plan.message = (
            f"{len(plan.unsettled_batches)} earlier batch(es) not settled in Fusion: the run "
            "settles them first, and the plan may change with what they post"
        )
    return plan


def _unsettled_batches(ctx: DomainContext, outbox: Outbox) -> list[str]:
    if not has_endpoint(ctx.tenant, FUSION_ENDPOINT):
        return []
    return [batch.batch_id for batch, _ in unsettled(outbox, Posting(ctx.warehouse))]


def _day_list(days: list[date]) -> str:
    return ", ".join(f"'{d.isoformat()}'" for d in days) or "null"


def _plan_lines(ctx: DomainContext, days: list[date]) -> list[PlanLine]:
    rows = ctx.warehouse.query(
        "select batch_date, ledger_name, period_name, line_kind, count(*), "
        "coalesce(sum(entered_dr), 0), coalesce(sum(entered_cr), 0) "
        f"from {_relation(ctx, 'gl_interface')} where batch_date in ({_day_list(days)}) "
        "group by batch_date, ledger_name, period_name, line_kind "
        "order by batch_date, ledger_name, period_name, line_kind"
    )
    return [
        PlanLine(str(day), ledger, period, kind, int(n), f"{Decimal(dr):.2f}", f"{Decimal(cr):.2f}")
        for day, ledger, period, kind, n, dr, cr in rows
    ]


def _finance_review(ctx: DomainContext, days: list[date]) -> list[dict]:
    columns = (
        "journal_id", "batch_date", "facility_id", "source_period_name", "correction_period_name",
        "review_reason", "treatment", "reversed_debit", "reversed_credit", "reposted_debit",
        "reposted_credit",
    )  # fmt: skip
    rows = ctx.warehouse.query(
        f"select {', '.join(columns)} from {_relation(ctx, 'review')} "
        f"where batch_date in ({_day_list(days)}) order by batch_date, journal_id"
    )
    return [dict(zip(columns, (str(v) for v in row), strict=True)) for row in rows]


def _relation(ctx: DomainContext, role: str) -> str:
    """The domain's rows of the chain model in `role`, as a FROM item."""
    return GlChain(ctx.stream.name, ctx.domain.name).rows(ctx.warehouse, role, role)
