"""Geometry of the report's bar chart: exported vs held debits per facility and GL period.

The page draws it as inline SVG from these numbers (no script, no external asset), so it
prints and opens offline. Bars are horizontal: one group per facility, one pair of bars per
period (plus a third for debits neither exported nor held, where there are any), with the
amount written beside each bar so small exception totals stay readable.
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
BAR_HEIGHT = 12
BAR_GAP = 2
ROW_GAP = 8
GROUP_GAP = 12


@dataclass(frozen=True)
class Bar:
    kind: str  # "exported", "exceptions" or "drift"
    y: float
    width: float
    amount: str


@dataclass(frozen=True)
class PeriodRow:
    period: str
    y: float
    bars: list[Bar]


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
    has_drift: bool


@dataclass(frozen=True)
class ChartPoint:
    facility: str
    period: str
    exported: Decimal
    exceptions: Decimal
    drift: Decimal  # source debits neither exported nor held


def bar_chart(points: Sequence[ChartPoint], money: Callable[[Decimal], str]) -> Chart:
    """Lay out one bar group per facility (in the order given), one pair of bars per period."""
    values = [v for p in points for v in (p.exported, p.exceptions, abs(p.drift))]
    largest = max(values, default=0)
    scale = Decimal(BAR_SPACE) / largest if largest else Decimal(0)

    def width(value: Decimal) -> float:
        return 0.0 if value == 0 else max(1.0, float(abs(value) * scale))

    groups: list[FacilityGroup] = []
    y = float(LEGEND_HEIGHT)
    for facility in dict.fromkeys(p.facility for p in points):
        group_y, rows = y, []
        y += GROUP_HEADER
        for point in (p for p in points if p.facility == facility):
            series = [("exported", point.exported), ("exceptions", point.exceptions)]
            if point.drift:
                series.append(("drift", point.drift))
            bars = [
                Bar(kind, y + i * (BAR_HEIGHT + BAR_GAP), width(value), money(value))
                for i, (kind, value) in enumerate(series)
            ]
            rows.append(PeriodRow(point.period, y, bars))
            y += len(bars) * (BAR_HEIGHT + BAR_GAP) + ROW_GAP
        groups.append(FacilityGroup(facility, group_y, rows))
        y += GROUP_GAP
    has_drift = any(p.drift for p in points)
    return Chart(WIDTH, y, BAR_X, BAR_HEIGHT, groups, has_drift)
