"""The reconciliation pack as one self-contained HTML page: tables and an inline SVG chart of
the drift by facility and category, in the finance review page's look (no script, no external
asset, amounts and facility/company codes only)."""

from __future__ import annotations

from decimal import Decimal

import jinja2

from runtime.reports.reconcile_pack import ReconciliationPack
from runtime.reports.report import TEMPLATE_DIR, count, money, when
from runtime.reports.report_chart import (
    BAR_GAP,
    BAR_HEIGHT,
    BAR_SPACE,
    BAR_X,
    GROUP_GAP,
    GROUP_HEADER,
    LEGEND_HEIGHT,
    ROW_GAP,
    WIDTH,
    Bar,
    Chart,
    FacilityGroup,
    PeriodRow,
)

TEMPLATE = "reconciliation_pack.html.j2"
UNEXPLAINED = "unexplained"


def drift_chart(pack: ReconciliationPack, categories: dict[str, str]) -> Chart:
    """One bar group per facility row, one line per drift category (the explaining ones and
    the unexplained rest) with a debit bar and a credit bar, scaled to the largest amount."""
    labels = categories | {UNEXPLAINED: "unexplained"}
    values = [
        abs(value)
        for row in pack.rows
        for name in labels
        for value in (getattr(row, name).debit, getattr(row, name).credit)
    ]
    largest = max(values, default=Decimal(0))
    scale = Decimal(BAR_SPACE) / largest if largest else Decimal(0)

    def width(value: Decimal) -> float:
        return 0.0 if value == 0 else max(1.0, float(abs(value) * scale))

    groups: list[FacilityGroup] = []
    y = float(LEGEND_HEIGHT)
    for row in pack.rows:
        group_y, lines = y, []
        y += GROUP_HEADER
        for name, label in labels.items():
            side = getattr(row, name)
            bars = [
                Bar(f"{name} {kind}", y + i * (BAR_HEIGHT + BAR_GAP), width(value), money(value))
                for i, (kind, value) in enumerate((("debit", side.debit), ("credit", side.credit)))
            ]
            lines.append(PeriodRow(label, y, bars))
            y += len(bars) * (BAR_HEIGHT + BAR_GAP) + ROW_GAP
        groups.append(FacilityGroup(f"{row.facility} (company {row.company})", group_y, lines))
        y += GROUP_GAP
    return Chart(WIDTH, y, BAR_X, BAR_HEIGHT, groups, pack.unexplained)


def render_pack(pack: ReconciliationPack, categories: dict[str, str]) -> str:
    """The page as one HTML string: inline CSS and SVG, every value escaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {"money": money, "count": count}
    env.filters["when"] = lambda value: when(value, pack.timezone)
    return env.get_template(TEMPLATE).render(
        pack=pack,
        total=pack.total,
        categories=categories,
        chart=drift_chart(pack, categories),
    )
