"""Server-rendered pages: the dashboard, project pages, reports with triage, and the pages
around an account. Every page carries the layout's navigation and logout, the strict CSP
of `render.py`, and a CSRF token in each form (`session.py`)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.web.pages.account import login_page, logout, register_page, reset_page
from bot.web.pages.dashboard import dashboard
from bot.web.pages.learnings import forget_learning
from bot.web.pages.project import grant, project_page, revoke, save_settings
from bot.web.pages.report import report_page, triage_form


def page_routes() -> list[BaseRoute]:
    project = "/projects/{project_id:int}"
    return [
        Route("/", dashboard, methods=["GET"]),
        Route(project, project_page, methods=["GET"]),
        Route(project + "/settings", save_settings, methods=["POST"]),
        Route(project + "/members", grant, methods=["POST"]),
        Route(project + "/members/{user_id:int}/remove", revoke, methods=["POST"]),
        Route(project + "/learnings/{learning_id:int}/forget", forget_learning,
              methods=["POST"]),
        Route("/reports/{task_id}", report_page, methods=["GET"]),
        Route("/findings/{finding_id:int}/triage", triage_form, methods=["POST"]),
        Route("/login", login_page, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/reset-password", reset_page, methods=["GET", "POST"]),
        Route("/register", register_page, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(packages=[("bot.web", "static")]), name="static"),
    ]
