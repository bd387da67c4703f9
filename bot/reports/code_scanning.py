"""The SARIF auditbot uploads to GitHub code scanning.

One run per tool, each with its own stable category (``automationDetails.id`` up to its last
"/"): the offline analyzers (``auditbot-static``, ``auditbot/static/``) and the model
(``auditbot-llm``, ``auditbot/llm/``). GitHub closes an alert when the next analysis of the
same category on the same ref no longer has it, so an analysis must hold everything its
tool knows for the ref (a run with no results closes the tool's alerts), a tool that did not
analyse this time (no model, or the model part was cut short) sends no run at all, and a
pull request's analysis is compared with the default branch's of the same category. GitHub
refuses two runs of one tool and category in an upload. Alerts are matched across analyses
by rule and ``partialFingerprints`` (the finding's fingerprint).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bot.reports.model import ReportFinding
from bot.reports.sarif import sarif_log, sarif_run

TOOL_PREFIX = "auditbot"


@dataclass(frozen=True)
class Tool:
    name: str
    category: str


TOOLS: dict[str, Tool] = {
    "static": Tool("auditbot-static", "auditbot/static/"),
    "llm": Tool("auditbot-llm", "auditbot/llm/"),
}
# GitHub's hard limit ("Results per run: 25,000"); beyond it the upload is refused.
MAX_RESULTS_PER_RUN = 25_000


def tool_of(finding: ReportFinding) -> str:
    return "llm" if finding.source.startswith("llm:") else "static"


def code_scanning_log(
    findings: Iterable[ReportFinding], *, run_id: str, tools: Collection[str]
) -> dict[str, object]:
    """The SARIF log of one analysis: a run for each tool in ``tools`` (those that
    analysed this time), with that tool's findings, worst first when over the limit."""
    by_tool: dict[str, list[ReportFinding]] = {key: [] for key in tools}
    for finding in findings:
        key = tool_of(finding)
        if key in by_tool:
            by_tool[key].append(finding)
    runs = []
    for key in sorted(by_tool):
        mine = sorted(by_tool[key], key=lambda f: (-f.severity.rank, f.path, f.start_line))
        tool = TOOLS[key]
        runs.append(sarif_run(mine[:MAX_RESULTS_PER_RUN], tool_name=tool.name,
                              automation_id=f"{tool.category}{run_id}"))
    return sarif_log(runs)
