"""One entry point for every report format, by name."""

from __future__ import annotations

import json

from bot.reports.html import render_html
from bot.reports.model import Report
from bot.reports.sarif import render_sarif
from bot.reports.table import render_table
from bot.reports.text import render_json, render_markdown

FORMATS = ("table", "json", "markdown", "sarif", "html")


def render(report: Report, output_format: str) -> str:
    if output_format == "table":
        return render_table(report)
    if output_format == "json":
        return render_json(report)
    if output_format == "markdown":
        return render_markdown(report)
    if output_format == "sarif":
        return json.dumps(render_sarif(report), indent=2) + "\n"
    if output_format == "html":
        return render_html(report)
    raise ValueError(f"unknown report format {output_format!r}; one of {', '.join(FORMATS)}")
