"""The HTML report: server-rendered from jinja2 templates, no script and no front-end build.

The severity filters work with CSS alone (`:has()` on checkboxes), so the page can be served
with a Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape

from bot.findings import Severity
from bot.reports.model import Report

# White text on each reaches WCAG AA (4.5:1); the pages' stylesheet uses the same values
# (tests/web/test_accessibility.py checks both).
COLOURS = {
    Severity.CRITICAL: "#7f1d1d",
    Severity.HIGH: "#b91c1c",
    Severity.MEDIUM: "#92400e",
    Severity.LOW: "#1d4ed8",
    Severity.INFO: "#4b5563",
}
CHART_WIDTH = 420
BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 80


@dataclass(frozen=True)
class Bar:
    severity: str
    count: int
    colour: str
    y: int
    width: int


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Finding text comes from the model and the PR: autoescape is what keeps it inert.
    return Environment(
        loader=PackageLoader("bot.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def chart_bars(report: Report) -> list[Bar]:
    """One horizontal bar per severity, scaled to the largest count."""
    largest = max(report.counts.values(), default=0) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 40
    return [
        Bar(
            severity=severity.value,
            count=report.counts.get(severity, 0),
            colour=COLOURS[severity],
            y=index * (BAR_HEIGHT + BAR_GAP),
            width=round(room * report.counts.get(severity, 0) / largest),
        )
        for index, severity in enumerate(Severity)
    ]


def render_html(report: Report, *, back_url: str | None = None) -> str:
    """The whole page as a string."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=report,
        task=report.task,
        files=report.by_file(),
        bars=chart_bars(report),
        severities=[s.value for s in Severity],
        colours={s.value: c for s, c in COLOURS.items()},
        chart_height=len(Severity) * (BAR_HEIGHT + BAR_GAP),
        chart_width=CHART_WIDTH,
        bar_height=BAR_HEIGHT,
        label_width=LABEL_WIDTH,
        total=sum(report.counts.values()),
        back_url=back_url,
    )
