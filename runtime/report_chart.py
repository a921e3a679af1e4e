"""Geometry of the report's bar chart: exported vs held debits per facility and GL period.

The page draws it as inline SVG from these numbers (no script, no external asset), so it
prints and opens offline. Bars are horizontal: one group per facility, one pair of bars per
period, with the amount written beside each bar so small exception totals stay readable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 960
BAR_X = 170  # left edge of the bars; period labels end just before it
BAR_SPACE = 640  # the widest bar; the rest of the width holds the amount labels
LEGEND_HEIGHT = 34
GROUP_HEADER = 24
ROW_HEIGHT = 34
BAR_HEIGHT = 12
GROUP_GAP = 12


@dataclass(frozen=True)
class Bar:
    kind: str  # "exported" or "exceptions"
    y: float
    width: float
    amount: str


@dataclass(frozen=True)
class PeriodRow:
    period: str
    y: float
    bars: tuple[Bar, Bar]


@dataclass(frozen=True)
class FacilityGroup:
    facility: str
    y: float
    rows: list[PeriodRow]


@dataclass(frozen=True)
class Chart:
    width: int
    height: float
    bar_x: int
    bar_height: int
    groups: list[FacilityGroup]


@dataclass(frozen=True)
class ChartPoint:
    facility: str
    period: str
    exported: Decimal
    exceptions: Decimal


def bar_chart(points: Sequence[ChartPoint], money: Callable[[Decimal], str]) -> Chart:
    """Lay out one bar group per facility (in the order given), one pair of bars per period."""
    largest = max([p.exported for p in points] + [p.exceptions for p in points], default=0)
    scale = Decimal(BAR_SPACE) / largest if largest else Decimal(0)

    def width(value: Decimal) -> float:
        return 0.0 if value <= 0 else max(1.0, float(value * scale))

    groups: list[FacilityGroup] = []
    y = float(LEGEND_HEIGHT)
    for facility in dict.fromkeys(p.facility for p in points):
        group_y, rows = y, []
        y += GROUP_HEADER
        for point in (p for p in points if p.facility == facility):
            exported = Bar("exported", y, width(point.exported), money(point.exported))
            held = Bar(
                "exceptions", y + BAR_HEIGHT + 2, width(point.exceptions), money(point.exceptions)
            )
            rows.append(PeriodRow(point.period, y, (exported, held)))
            y += ROW_HEIGHT
        groups.append(FacilityGroup(facility, group_y, rows))
        y += GROUP_GAP
    return Chart(WIDTH, y, BAR_X, BAR_HEIGHT, groups)
