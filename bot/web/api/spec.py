"""How API routes are declared: each `Operation` names its body, query and response models,
and one wrapper parses, authenticates, opens the session and serialises. The same
declarations generate `/openapi.json`, so the document cannot drift from the code."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Settings
from bot.errors import NotFound
from bot.store.models import User
from bot.web.api.access import authenticate
from bot.web.errors import problem

JSON_BODY_LIMIT = 64 * 1024
# Ids beyond a 32-bit integer cannot exist; refusing them early keeps drivers from overflowing.
MAX_ID = 2**31 - 1


@dataclass
class Call:
    """What a handler receives: the parsed request and the clients it may use."""

    request: Request
    session: AsyncSession
    settings: Settings
    redis: ArqRedis
    user: User | None
    body: Any = None
    query: Any = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The app's session factory, for store and lifecycle functions that open their own
        (commit ``session`` first: SQLite lets one writer at a time)."""
        sessions: async_sessionmaker[AsyncSession] = self.request.app.state.sessions
        return sessions

    @property
    def me(self) -> User:
        assert self.user is not None, "operation declared auth=False"
        return self.user


Handler = Callable[[Call], Awaitable[Any]]


@dataclass
class Operation:
    method: str
    path: str  # starlette syntax: /api/v1/projects/{project_id:int}
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None  # None: 204 No Content
    status: int = 200
    auth: bool = True
    admin: bool = False
    body_limit: int = JSON_BODY_LIMIT
    # Non-JSON or alternative answers: {media type: JSON schema}.
    content: dict[str, dict[str, Any]] | None = None
    # A body the handler reads itself (an upload): {media type: JSON schema}.
    request_content: dict[str, dict[str, Any]] | None = None
    extra_statuses: tuple[int, ...] = ()

    def route(self) -> Route:
        return Route(self.path, self._endpoint, methods=[self.method])

    async def _endpoint(self, request: Request) -> Response:
        try:
            return await self._answer(request)
        except InvalidRequest as exc:
            return exc.response

    async def _answer(self, request: Request) -> Response:
        for value in request.path_params.values():
            if isinstance(value, int) and value > MAX_ID:
                raise NotFound("no such object")
        state = request.app.state
        async with state.sessions() as session:
            user = await authenticate(request, session, state.settings) if self.auth else None
            if self.admin and (user is None or not user.is_admin):
                raise HTTPException(403, "only administrators may do this")
            query = _parse_query(self.query, request)
            body = await _parse_body(self, request) if self.body is not None else None
            call = Call(request, session, state.settings, state.redis, user, body, query,
                        dict(request.path_params))
            result = await self.handler(call)
            await session.commit()
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=204)
        assert isinstance(result, BaseModel)
        return JSONResponse(result.model_dump(mode="json"), status_code=self.status)


def validation_problem(exc: ValidationError) -> JSONResponse:
    errors = [
        {"loc": [str(part) for part in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    return problem(422, "Unprocessable Content", "the request does not match the schema",
                   errors=errors)


class InvalidRequest(Exception):
    """Raised by the parsers; carries the ready problem response."""

    def __init__(self, response: Response) -> None:
        super().__init__("invalid request")
        self.response = response


def _parse_query(model: type[BaseModel] | None, request: Request) -> Any:
    if model is None:
        return None
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise InvalidRequest(validation_problem(exc)) from None


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing with 413 past ``limit`` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _parse_body(op: Operation, request: Request) -> Any:
    assert op.body is not None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPException(415, "send the body as application/json")
    raw = await read_limited(request, op.body_limit)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "the body is not valid JSON") from None
    try:
        return op.body.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(validation_problem(exc)) from None

