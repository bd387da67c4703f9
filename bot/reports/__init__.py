"""Report renderers: JSON, Markdown, SARIF 2.1.0 and HTML, all taking a `Report`."""

from bot.reports.html import render_html
from bot.reports.model import Report, ReportFinding, SkippedFile, TaskInfo
from bot.reports.sarif import render_sarif
from bot.reports.text import render_json, render_markdown

__all__ = [
    "Report",
    "ReportFinding",
    "SkippedFile",
    "TaskInfo",
    "render_html",
    "render_json",
    "render_markdown",
    "render_sarif",
]
