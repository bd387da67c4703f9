"""The `/api/v1` routes, one module per resource, and `/openapi.json` generated from them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.web.api import accounts, findings, learnings, projects, reports, stats, tasks
from bot.web.api.openapi import build_openapi
from bot.web.api.spec import Operation

OPERATIONS: list[Operation] = [
    *accounts.OPERATIONS,
    *projects.OPERATIONS,
    *learnings.OPERATIONS,
    *tasks.OPERATIONS,
    *findings.OPERATIONS,
    *reports.OPERATIONS,
    *stats.OPERATIONS,
]


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    return build_openapi(OPERATIONS)


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document())


def api_routes() -> list[BaseRoute]:
    """Every API route plus `/openapi.json`; mounted by `bot.web.main.build_app`."""
    return [Route("/openapi.json", openapi_json, methods=["GET"]),
            *(op.route() for op in OPERATIONS)]
