"""`/openapi.json` (OpenAPI 3.1) generated from the operations' pydantic models."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.reports.model import Report
from bot.web.api.schemas import Problem
from bot.web.api.spec import MAX_ID, Operation

REF = "#/components/schemas/{model}"
PROBLEM_MEDIA = "application/problem+json"
REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
    413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
    429: "Too Many Requests", 503: "Service Unavailable",
}
PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def build_openapi(operations: list[Operation]) -> dict[str, Any]:
    keyed: list[tuple[type[BaseModel], Any]] = [(Problem, "serialization"),
                                                 (Report, "serialization")]
    for op in operations:
        if op.body is not None and op.request_content is None:
            keyed.append((op.body, "validation"))
        if op.response is not None:
            keyed.append((op.response, "serialization"))
        if op.query is not None:
            keyed.append((op.query, "validation"))
    refs, top = models_json_schema(list(dict.fromkeys(keyed)), ref_template=REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    # Reports answer the JSON form as `Report`; make sure the name the content map uses exists.
    schemas.setdefault("Report", refs[(Report, "serialization")])
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = PARAM.sub(lambda m: "{" + m.group(1) + "}", op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, refs, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "auditbot API",
            "version": _version(),
            "description": "Projects, tasks, findings, reports and statistics of auditbot. "
                           "Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearerAuth": []}],
    }


def _schema(refs: dict[Any, Any], model: type[BaseModel], mode: str) -> dict[str, Any]:
    return dict(refs[(model, mode)])


def _operation(op: Operation, refs: dict[Any, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}_{op.handler.__module__.rsplit('.', 1)[-1]}_"
                       f"{op.handler.__name__}",
        "tags": [op.tag],
        "parameters": _path_parameters(op) + _query_parameters(op, refs, schemas),
    }
    if not op.auth:
        out["security"] = []
    if op.request_content is not None:
        out["requestBody"] = {"required": True, "content": op.request_content}
    elif op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(refs, op.body, "validation")}},
        }
    responses: dict[str, Any] = {}
    if op.response is None:
        responses[str(op.status if op.status != 200 else 204)] = {"description": "No Content"}
    else:
        content = op.content or {
            "application/json": {"schema": _schema(refs, op.response, "serialization")}
        }
        responses[str(op.status)] = {"description": REASONS.get(op.status, "OK"),
                                     "content": content}
    errors = {400, 404, 422, *op.extra_statuses}
    if op.auth:
        errors.add(401)
    if op.admin or op.method in ("PATCH", "DELETE", "POST"):
        errors.add(403)
    if op.body is not None or op.request_content is not None:
        errors |= {413, 415}
    problem = {PROBLEM_MEDIA: {"schema": {"$ref": REF.format(model="Problem")}}}
    for status in sorted(errors):
        responses[str(status)] = {"description": REASONS[status], "content": problem}
    out["responses"] = responses
    return out


def _path_parameters(op: Operation) -> list[dict[str, Any]]:
    params = []
    for name, convertor in PARAM.findall(op.path):
        if convertor == "int":
            schema: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        else:
            schema = {"type": "string", "minLength": 1, "maxLength": 64,
                      "pattern": "^[A-Za-z0-9_.-]+$"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query_parameters(
    op: Operation, refs: dict[Any, Any], schemas: dict[str, Any]
) -> list[dict[str, Any]]:
    if op.query is None:
        return []
    ref = _schema(refs, op.query, "validation")["$ref"].rsplit("/", 1)[-1]
    model_schema = schemas[ref]
    required = set(model_schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop,
         **({"description": prop["description"]} if "description" in prop else {})}
        for name, prop in model_schema.get("properties", {}).items()
    ]


def _version() -> str:
    try:
        return version("auditbot")
    except PackageNotFoundError:
        return "0.0.0"
