"""The dashboard's chart: findings per day by severity as stacked bars in inline SVG, drawn
on the server (no script), with the totals as text beside it for people who cannot see it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.findings import Severity
from bot.reports.html import COLOURS

WIDTH = 720
HEIGHT = 180
AXIS = 16  # room under the baseline for the first and last day


@dataclass(frozen=True)
class Bar:
    day: str
    severity: str
    count: int
    colour: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Total:
    severity: str
    count: int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    totals: list[Total]
    summary: str
    first_day: str
    last_day: str
    width: int = WIDTH
    height: int = HEIGHT
    baseline: int = HEIGHT - AXIS


def stacked(days: list[str], table: dict[str, dict[str, int]]) -> Chart:
    """One column per day, its severities stacked worst at the bottom, scaled to the
    busiest day."""
    room = HEIGHT - AXIS - 4
    busiest = max((sum(table.get(d, {}).values()) for d in days), default=0) or 1
    slot = WIDTH / max(1, len(days))
    bars: list[Bar] = []
    totals = dict.fromkeys((s.value for s in Severity), 0)
    for index, day in enumerate(days):
        y = float(HEIGHT - AXIS)
        for severity in Severity:
            count = table.get(day, {}).get(severity.value, 0)
            totals[severity.value] += count
            if count <= 0:
                continue
            height = room * count / busiest
            y -= height
            bars.append(Bar(day, severity.value, count, COLOURS[severity],
                            round(index * slot + 1, 2), round(y, 2),
                            round(max(1.0, slot - 2), 2), round(height, 2)))
    total = sum(totals.values())
    parts = ", ".join(f"{n} {s}" for s, n in totals.items() if n)
    summary = (f"Findings per day from {days[0]} to {days[-1]}: {total} in all"
               + (f" ({parts})" if parts else "")) if days else "No days"
    return Chart(bars, [Total(s, n) for s, n in totals.items()], summary,
                 days[0] if days else "", days[-1] if days else "")
