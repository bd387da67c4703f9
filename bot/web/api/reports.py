"""A task's report in JSON, Markdown, SARIF 2.1.0 or HTML."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from bot.reports import Report, render_html, render_json, render_markdown, render_sarif
from bot.store.models import AuditTask, FindingRecord, Project
from bot.web.api.access import get_task
from bot.web.api.spec import Call, Operation

# The report page allows no script at all: the filters are CSS, the chart inline SVG.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"


class ReportQuery(BaseModel):
    format: Literal["json", "markdown", "sarif", "html"] = "json"


async def load_report(session: AsyncSession, task: AuditTask) -> Report:
    rows = await session.scalars(
        select(FindingRecord).where(FindingRecord.task_id == task.id).order_by(FindingRecord.id)
    )
    project = await session.get(Project, task.project_id) if task.project_id else None
    return Report.from_rows(task, list(rows), project)


def html_response(report: Report) -> Response:
    return Response(
        render_html(report),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store"},
    )


async def get_report(call: Call) -> Response:
    task = await get_task(call.session, call.me, call.params["task_id"])
    report = await load_report(call.session, task)
    fmt = call.query.format
    if fmt == "html":
        return html_response(report)
    if fmt == "markdown":
        return Response(render_markdown(report), media_type="text/markdown; charset=utf-8")
    if fmt == "sarif":
        return Response(json.dumps(render_sarif(report), indent=2),
                        media_type="application/sarif+json",
                        headers={"Content-Disposition": f'attachment; filename="{task.id}.sarif"'})
    return Response(render_json(report), media_type="application/json")


def _content() -> dict[str, dict[str, object]]:
    return {
        "application/json": {"schema": {"$ref": "#/components/schemas/Report"}},
        "application/sarif+json": {"schema": {"type": "object", "required": ["version", "runs"]}},
        "text/markdown": {"schema": {"type": "string"}},
        "text/html": {"schema": {"type": "string"}},
    }


OPERATIONS = [
    Operation("GET", "/api/v1/tasks/{task_id}/report", get_report,
              "A task's report (json, markdown, sarif or html)", "reports", query=ReportQuery,
              response=Report, content=_content()),
]
