"""A fake GitHub REST API (starlette) for the endpoints auditbot calls, on 127.0.0.1.

It refuses what GitHub refuses: every request body is validated against the operation
extracted from GitHub's OpenAPI description (npm ``@octokit/openapi``, see
tests/fixtures/github_openapi/extract.py), every response it builds is validated against
the same description (so githubkit can parse it), and the rules below are GitHub's, each
naming the documentation page it comes from. Anything else answers 404.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import itertools
import json
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import jsonschema
import jwt
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.fake_code_scanning import CodeScanning
from tests.fakes.github_hooks import HookSender

SPEC_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "github_openapi"
# GitHub's GraphQL schema, reduced to what auditbot selects (graphql_extract.py there).
GRAPHQL_SCHEMA = graphql.build_schema((SPEC_DIR / "github_graphql.graphql").read_text())
API = "https://api.github.com"
DOCS = "https://docs.github.com/rest"


def _nullable_to_jsonschema(schema: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` is not JSON Schema: rewrite it as a null branch."""
    if isinstance(schema, list):
        return [_nullable_to_jsonschema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _nullable_to_jsonschema(v) for k, v in schema.items()
           if k not in {"nullable", "example", "examples"}}
    if schema.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Operation:
    """One operation of the description: request and response validation, examples."""

    def __init__(self, name: str) -> None:
        self.spec = json.loads((SPEC_DIR / f"{name}.json").read_text())
        body = self.spec["requestBody"]
        self.body_validator = (
            jsonschema.Draft7Validator(_nullable_to_jsonschema(body)) if body else None
        )
        self._response_validators: dict[str, jsonschema.Draft7Validator] = {}

    def example(self, status: str, name: str | None = None) -> Any:
        examples = self.spec["responses"][status]["examples"]
        return copy.deepcopy(examples[name] if name else next(iter(examples.values())))

    def check_body(self, body: Any) -> list[str]:
        if self.body_validator is None:
            return []
        return [e.message for e in self.body_validator.iter_errors(body)]

    def check_response(self, status: int, payload: Any) -> None:
        key = str(status)
        if key not in self._response_validators:
            schema = self.spec["responses"][key]["schema"]
            self._response_validators[key] = jsonschema.Draft7Validator(
                _nullable_to_jsonschema(schema)
            )
        errors = [e.message for e in self._response_validators[key].iter_errors(payload)]
        if errors:
            raise AssertionError(f"fake {self.spec['operationId']} answered off-spec: {errors[:3]}")


_OPS: dict[str, Operation] = {}


def op(name: str) -> Operation:
    if name not in _OPS:
        _OPS[name] = Operation(name)
    return _OPS[name]


def error(status: int, message: str, errors: list[Any] | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def commentable(patch: str) -> dict[str, dict[int, int]]:
    """Lines a review comment may point at, per side, with the index of their hunk.

    "line: The line of the blob in the pull request diff that the comment applies to";
    RIGHT covers additions and unchanged lines, LEFT deletions and unchanged lines; a
    multi-line comment's start_line must be in the same hunk
    (docs.github.com/en/rest/pulls/comments#create-a-review-comment-for-a-pull-request).
    """
    sides: dict[str, dict[int, int]] = {"RIGHT": {}, "LEFT": {}}
    hunk = -1
    old = new = 0
    for line in patch.splitlines():
        header = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", line)
        if header:
            hunk += 1
            old, new = int(header.group(1)), int(header.group(2))
        elif hunk < 0 or line.startswith("\\"):
            continue
        elif line.startswith("+"):
            sides["RIGHT"][new] = hunk
            new += 1
        elif line.startswith("-"):
            sides["LEFT"][old] = hunk
            old += 1
        else:
            sides["RIGHT"][new] = hunk
            sides["LEFT"][old] = hunk
            old += 1
            new += 1
    return sides


@dataclass
class PullFile:
    filename: str
    status: str = "modified"
    patch: str | None = None  # None: GitHub leaves the patch out (too large or binary)
    additions: int = 0
    deletions: int = 0
    previous_filename: str | None = None

    def payload(self, owner: str, repo: str, head: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sha": hashlib.sha1(f"{head}:{self.filename}".encode()).hexdigest(),
            "filename": self.filename,
            "status": self.status,
            "additions": self.additions,
            "deletions": self.deletions,
            "changes": self.additions + self.deletions,
            "blob_url": f"https://github.com/{owner}/{repo}/blob/{head}/{self.filename}",
            "raw_url": f"https://github.com/{owner}/{repo}/raw/{head}/{self.filename}",
            "contents_url": f"{API}/repos/{owner}/{repo}/contents/{self.filename}?ref={head}",
        }
        if self.patch is not None:
            data["patch"] = self.patch
        if self.previous_filename:
            data["previous_filename"] = self.previous_filename
        return data


@dataclass
class Pull:
    number: int
    base_sha: str
    head_sha: str
    files: list[PullFile]
    # A push that lands while a job runs: after ``reads`` more reads of the pull request
    # (GET .../pulls/{number}), its head becomes ``sha``.
    push_after: tuple[int, str] | None = None
    state: str = "open"
    author: str = "octocat"


@dataclass
class Repo:
    owner: str
    name: str
    installation_id: int
    default_branch: str = "main"
    # ref (SHA or branch) -> path -> content
    trees: dict[str, dict[str, bytes]] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    # (base, head) -> (merge base SHA, files)
    comparisons: dict[tuple[str, str], tuple[str, list[PullFile]]] = field(default_factory=dict)


class _LateAnswers:
    """ASGI middleware for :meth:`FakeGitHub.answer_late`: the response is held back."""

    def __init__(self, app: Any, fake: FakeGitHub) -> None:
        self.app, self.fake = app, fake

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        delay = 0.0
        if scope["type"] == "http":
            delay = max((s for m, p, s in self.fake.late
                         if m == scope["method"] and re.search(p, scope["path"])), default=0.0)
        if not delay:
            await self.app(scope, receive, send)
            return
        held: list[Any] = []

        async def hold(message: Any) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        await asyncio.sleep(delay)
        for message in held:
            await send(message)


@dataclass
class Injected:
    """A failure to answer instead of the real response (or after applying it)."""

    method: str
    path: str  # regex on the URL path
    status: int
    times: int = 1
    apply_first: bool = False  # do the work, then fail: a response lost on the way
    retry_after: int | None = None  # with 403/429: a secondary rate limit with this wait


@dataclass
class Faults:
    """Random failures at given rates, from a seeded generator: 502s, and secondary rate
    limits (403 with ``retry-after``) on content-creating requests, as GitHub answers them
    now and then under load."""

    seed: int = 0
    bad_gateway: float = 0.0  # share of requests answered 502
    secondary: float = 0.0  # share of writes answered 403 secondary limit
    retry_after: int = 3
    path: str = ""  # regex: only requests whose path matches
    counts: dict[int, int] = field(default_factory=dict)  # status -> requests so answered

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def pick(self, request: Request, *, write: bool) -> int | None:
        if self.path and not re.search(self.path, request.url.path):
            return None
        draw = self._random.random()
        status = None
        if draw < self.bad_gateway:
            status = 502
        elif write and draw < self.bad_gateway + self.secondary:
            status = 403
        if status is not None:
            self.counts[status] = self.counts.get(status, 0) + 1
        return status


class FakeGitHub:
    """State and behaviour; ``app`` is the ASGI application to serve."""

    def __init__(self, *, app_id: int, public_key_pem: str, bot_login: str = "auditbot[bot]",
                 write_spacing_s: float = 0.0, token_ttl_s: int = 3600) -> None:
        self.app_id = app_id
        self.public_key_pem = public_key_pem
        self.bot_login = bot_login
        self.write_spacing_s = write_spacing_s
        self.token_ttl_s = token_ttl_s
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, tuple[int, float]] = {}  # token -> (installation, expires at)
        self.token_requests = 0
        self.refused_tokens = 0  # requests answered 401 for a missing or expired token
        self.reviews: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.comments: dict[int, dict[str, Any]] = {}  # issue comments by id
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.write_times: list[float] = []
        self.secondary_limits = 0  # the next N content-creating requests are refused
        self.secondary_retry_after: int | None = 1
        self.secondary_status = 403  # GitHub answers a secondary limit with 403 or 429
        self.secondary_refusals = 0  # how many requests were refused for a secondary limit
        self.rate_remaining = 5000
        # A recursive tree listing holds at most this many entries, then says "truncated"
        # (GitHub: 100,000 entries or 7 MB, docs.github.com/en/rest/git/trees#get-a-tree).
        self.tree_limit = 100_000
        self.injected: list[Injected] = []
        self.faults: Faults | None = None  # random 502s and secondary limits (set_faults)
        self.roles: dict[str, str] = {}  # username -> role_name ("admin", "write", "read"...)
        # Review comments by id: repo, number, payload, thread id, reactions [(content, login)].
        self.review_comments: dict[int, dict[str, Any]] = {}
        # Review threads by GraphQL node id: repo, number, comment ids (first is the root).
        self.threads: dict[str, dict[str, Any]] = {}
        self.resolved_threads: list[str] = []  # node ids, in the order they were resolved
        self.app_slug = bot_login.removesuffix("[bot]")
        self.deliveries: list[dict[str, Any]] = []  # the App's webhook deliveries, newest first
        self.redelivered: list[int] = []  # delivery ids asked to be delivered again
        # What GET /app says the App may do (None: the OpenAPI example's).
        self.app_permissions: dict[str, str] | None = None
        self.app_events: list[str] | None = None
        self.installations_count: int | None = None
        # The App's webhook (GET /app/hook/config); None: the OpenAPI example's.
        self.app_hook_url: str | None = None
        self.app_hook_insecure_ssl = "0"
        self._ids = itertools.count(1000)
        self._last_write: dict[int, float] = {}
        self.code_scanning = CodeScanning(self)
        # GitHub's side of the webhook (set by ``send_hooks_to``): redeliveries really re-send.
        self.hook: HookSender | None = None
        # Anything else is GitHub's JSON 404 ({"message": "Not Found", "documentation_url":
        # ...}), the answer it gives for what it will not show (docs.github.com/en/rest/
        # using-the-rest-api/troubleshooting-the-rest-api); a method a path does not take
        # gets it too rather than Starlette's 405, so a wrong call fails as on GitHub.
        not_served = {404: _not_served, 405: _not_served}
        # (method, path regex, seconds): see ``answer_late``.
        self.late: list[tuple[str, str, float]] = []
        self.app = Starlette(routes=self._routes(), exception_handlers=not_served,
                             middleware=[Middleware(_LateAnswers, fake=self)])

    # Set-up helpers used by tests ---------------------------------------------------

    def add_repo(self, owner: str, name: str, installation_id: int, **kw: Any) -> Repo:
        repo = Repo(owner, name, installation_id, **kw)
        self.repos[f"{owner}/{name}"] = repo
        return repo

    def send_hooks_to(self, url: str, secret: str) -> HookSender:
        """Deliver the App's webhooks to ``url`` (``self.hook.send(...)``), signed with
        ``secret``; redeliveries asked for through the API are sent there too."""
        self.hook = HookSender(self, url, secret)
        return self.hook

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as if its hour had passed)."""
        self.tokens = {t: (i, 0.0) for t, (i, _) in self.tokens.items()}

    def inject(self, method: str, path: str, status: int, *, times: int = 1,
               apply_first: bool = False, retry_after: int | None = None) -> None:
        """The next ``times`` requests matching ``method`` and the ``path`` regex answer
        ``status`` (after doing the work with ``apply_first``); 403 or 429 with
        ``retry_after`` is GitHub's secondary rate limit."""
        self.injected.append(Injected(method, path, status, times, apply_first, retry_after))

    def answer_late(self, method: str, path: str, seconds: float) -> None:
        """Requests matching ``method`` and the ``path`` regex are handled on arrival and
        answered ``seconds`` later (a slow network): two clients that read within that
        time both get what was there before either wrote."""
        self.late.append((method, path, seconds))

    def set_faults(self, **rates: Any) -> Faults:
        """Random 502s and secondary limits from now on (``Faults``' fields)."""
        self.faults = Faults(**rates)
        return self.faults

    def submitted_reviews(self, full: str, number: int) -> list[dict[str, Any]]:
        return [r for r in self.reviews.get((full, number), []) if r["state"] != "PENDING"]

    def reply(self, comment_id: int, body: str, login: str) -> int:
        """A person answers in the thread of review comment ``comment_id``."""
        root = self.review_comments[comment_id]
        repo = self.repos[root["repo"]]
        spec = {**{k: root["payload"].get(k) for k in ("path", "line", "side")}, "body": body}
        reply_id = self._add_review_comment(repo, root["number"], root["review_id"], spec,
                                            root["payload"]["commit_id"], login, comment_id)
        return reply_id

    def react(self, comment_id: int, content: str, login: str) -> None:
        """A person reacts to review comment ``comment_id`` ("+1", "-1", "heart", ...)."""
        self.review_comments[comment_id]["reactions"].append((content, login))

    def thread_of(self, comment_id: int) -> dict[str, Any]:
        return self.threads[self.review_comments[comment_id]["thread"]]

    def add_delivery(self, *, guid: str | None = None, status_code: int = 200,
                     event: str = "pull_request", action: str | None = "opened",
                     delivered_at: float | None = None, redelivery: bool = False) -> int:
        """A delivery of the App's webhook, as GET /app/hook/deliveries lists it."""
        delivery_id = next(self._ids) + 10_000_000
        when = time.time() if delivered_at is None else delivered_at
        delivery = {
            "id": delivery_id, "guid": guid or secrets.token_hex(16), "redelivery": redelivery,
            "delivered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
            "duration": 0.25, "status": "OK" if status_code < 300 else
            f"Invalid HTTP Response: {status_code}", "status_code": status_code,
            "event": event, "action": action, "installation_id": None, "repository_id": None,
            "throttled_at": None}
        # A new sorted list, not an in-place sort: a sort empties the list while it runs,
        # and the fake's own thread may be listing deliveries meanwhile.
        self.deliveries = sorted([delivery, *self.deliveries],
                                 key=lambda d: (d["delivered_at"], d["id"]), reverse=True)
        return delivery_id

    # Plumbing -----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        r = "/repos/{owner}/{repo}"
        return [
            Route("/app/installations/{installation_id:int}/access_tokens", self.access_token,
                  methods=["POST"]),
            Route("/app", self.get_app, methods=["GET"]),
            Route("/app/hook/config", self.get_hook_config, methods=["GET"]),
            Route("/app/hook/deliveries", self.list_deliveries, methods=["GET"]),
            Route("/app/hook/deliveries/{delivery_id:int}/attempts", self.redeliver,
                  methods=["POST"]),
            Route("/graphql", self.graphql, methods=["POST"]),
            Route(r, self.get_repo, methods=["GET"]),
            Route(r + "/pulls/{number:int}/comments", self.list_review_comments,
                  methods=["GET"]),
            Route(r + "/pulls/comments/{comment_id:int}/reactions", self.list_reactions,
                  methods=["GET"]),
            Route(r + "/pulls/comments/{comment_id:int}", self.get_review_comment,
                  methods=["GET"]),
            Route(r + "/pulls/{number:int}/comments/{comment_id:int}/replies",
                  self.reply_to_review_comment, methods=["POST"]),
            Route(r + "/pulls", self.list_pulls, methods=["GET"]),
            Route(r + "/pulls/{number:int}", self.get_pull, methods=["GET"]),
            Route(r + "/pulls/{number:int}/files", self.list_files, methods=["GET"]),
            Route(r + "/pulls/{number:int}/reviews", self.reviews_endpoint,
                  methods=["GET", "POST"]),
            Route(r + "/pulls/{number:int}/reviews/{review_id:int}", self.delete_review,
                  methods=["DELETE"]),
            Route(r + "/issues/{number:int}/comments", self.issue_comments,
                  methods=["GET", "POST"]),
            Route(r + "/issues/comments/{comment_id:int}", self.update_comment,
                  methods=["PATCH"]),
            Route(r + "/contents/{path:path}", self.get_content, methods=["GET"]),
            Route(r + "/compare/{basehead:path}", self.compare, methods=["GET"]),
            Route(r + "/git/trees/{sha:path}", self.get_tree, methods=["GET"]),
            Route(r + "/collaborators/{username}/permission", self.permission, methods=["GET"]),
            Route(r + "/check-runs", self.create_check, methods=["POST"]),
            Route(r + "/check-runs/{check_id:int}", self.update_check, methods=["PATCH"]),
            Route(r + "/commits/{ref}/check-runs", self.list_checks, methods=["GET"]),
            *self.code_scanning.routes(r),
        ]

    def _headers(self) -> dict[str, str]:
        # Every REST response carries the primary rate limit
        # (docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
        # #checking-the-status-of-your-rate-limit).
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(max(self.rate_remaining, 0)),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-used": str(5000 - max(self.rate_remaining, 0)),
            "x-ratelimit-resource": "core",
        }

    def _answer(self, operation: str, payload: Any, status: int = 200,
                headers: dict[str, str] | None = None) -> JSONResponse:
        op(operation).check_response(status, payload)
        return JSONResponse(payload, status_code=status, headers={**self._headers(),
                                                                   **(headers or {})})

    def _gate(self, request: Request) -> tuple[Repo | None, Response | None]:
        """Token, repository, rate limits and injected failures, in GitHub's order."""
        self.requests.append((request.method, request.url.path))
        params = request.path_params
        repo = self.repos.get(f"{params.get('owner')}/{params.get('repo')}")
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        entry = self.tokens.get(token) if scheme.lower() in {"token", "bearer"} else None
        # Installation tokens expire after one hour (docs.github.com/en/apps/creating-github
        # -apps/authenticating-with-a-github-app/generating-an-installation-access-token
        # -for-a-github-app); a missing, unknown or expired token is "Bad credentials".
        if entry is None or entry[1] < time.time():
            self.refused_tokens += 1
            return None, error(401, "Bad credentials")
        if repo is None or repo.installation_id != entry[0]:
            # A repository the installation cannot see is "Not Found", not 403: GitHub does
            # not confirm that a private repository exists (docs.github.com/en/rest/
            # using-the-rest-api/troubleshooting-the-rest-api, "404 ... for an existing
            # repository").
            return None, error(404, "Not Found")
        self.rate_remaining -= 1
        if self.rate_remaining < 0:
            # Primary limit: 403 with x-ratelimit-remaining 0 (docs.github.com/en/rest/
            # using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit).
            return None, error(403, "API rate limit exceeded for installation.",
                               headers=self._headers())
        writes = request.method in {"POST", "PATCH", "PUT", "DELETE"}
        if writes:
            now = time.monotonic()
            last = self._last_write.get(entry[0])
            too_soon = last is not None and now - last < self.write_spacing_s
            self._last_write[entry[0]] = now
            self.write_times.append(now)
            if self.secondary_limits > 0 or too_soon:
                # Secondary limits guard content creation ("make requests serially",
                # "wait at least one second between each request"): "a 403 or 429
                # response", with retry-after when GitHub sets one (docs.github.com/en/rest/
                # using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits,
                # #exceeding-the-rate-limit).
                self.secondary_limits = max(0, self.secondary_limits - 1)
                self.secondary_refusals += 1
                headers = self._headers()
                if self.secondary_retry_after is not None:
                    headers["retry-after"] = str(self.secondary_retry_after)
                return None, error(self.secondary_status, "You have exceeded a secondary rate "
                                   "limit and have been temporarily blocked from content "
                                   "creation. Please retry your request again later.",
                                   headers=headers)
        injected = self._injected(request, after=False)
        if injected:
            return None, injected
        status = self.faults.pick(request, write=writes) if self.faults else None
        if status is not None:
            return None, self._failure(status, self.faults.retry_after if self.faults else None)
        return repo, None

    def _failure(self, status: int, retry_after: int | None) -> Response:
        if status in (403, 429) and retry_after is not None:
            self.secondary_refusals += 1
            headers = {**self._headers(), "retry-after": str(retry_after)}
            return error(status, "You have exceeded a secondary rate limit and have been "
                         "temporarily blocked from content creation. Please retry your "
                         "request again later.", headers=headers)
        return error(status, "Server Error" if status >= 500 else "Error")

    def _injected(self, request: Request, *, after: bool) -> Response | None:
        for item in self.injected:
            if (item.times > 0 and item.method == request.method
                    and re.search(item.path, request.url.path) and item.apply_first == after):
                item.times -= 1
                return self._failure(item.status, item.retry_after)
        return None

    async def _body(self, request: Request, operation: str) -> tuple[Any, Response | None]:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return None, error(400, "Problems parsing JSON")
        problems = op(operation).check_body(body)
        if problems:
            # GitHub validates bodies against the operation's schema and answers 422
            # (docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api).
            return None, error(422, "Invalid request.", problems)
        return body, None

    def _paginate(self, request: Request, items: list[Any], *, cap: int | None = None,
                  default: int = 30) -> tuple[list[Any], dict[str, str]]:
        """per_page (max 100, default 30) and page, with a Link header
        (docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api)."""
        per_page = min(int(request.query_params.get("per_page", default)), 100)
        page = max(int(request.query_params.get("page", 1)), 1)
        if cap is not None:
            items = items[:cap]
        last = max(1, -(-len(items) // per_page))
        links = []
        base = str(request.url.remove_query_params(["page"]))
        sep = "&" if "?" in base else "?"
        if page < last:
            links.append(f'<{base}{sep}page={page + 1}>; rel="next"')
            links.append(f'<{base}{sep}page={last}>; rel="last"')
        headers = {"link": ", ".join(links)} if links else {}
        return items[(page - 1) * per_page: page * per_page], headers

    def _user(self) -> dict[str, Any]:
        user = op("pulls__create-review").example("200")["user"]
        user.update({"login": self.bot_login, "type": "Bot", "id": 9_000_001,
                     "html_url": f"https://github.com/apps/{self.bot_login.removesuffix('[bot]')}"})
        return user

    # Endpoints ----------------------------------------------------------------------

    def _app_jwt_problem(self, request: Request) -> Response | None:
        """Endpoints of the App itself take only the App JWT, never an installation token:
        RS256, iss = app id, exp at most ten minutes ahead (docs.github.com/en/apps/
        creating-github-apps/authenticating-with-a-github-app/
        generating-a-json-web-token-jwt-for-a-github-app). A JWT accepted, an injected
        failure is the answer."""
        self.requests.append((request.method, request.url.path))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, self.public_key_pem, algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"]})
        except jwt.PyJWTError as exc:
            return error(401, f"A JSON web token could not be decoded ({exc})")
        if scheme.lower() != "bearer" or str(claims["iss"]) != str(self.app_id):
            return error(401, "'Issuer' claim ('iss') must be an Integer")
        if claims["exp"] - time.time() > 600:
            return error(401, "'Expiration time' claim ('exp') is too far in the future")
        # Failures ``inject`` asked for (not the random ``set_faults`` ones: those are the
        # installation endpoints' weather).
        return self._injected(request, after=False)

    async def access_token(self, request: Request) -> Response:
        refused = self._app_jwt_problem(request)
        if refused:
            return refused
        installation = request.path_params["installation_id"]
        # An installation the App does not have (uninstalled, or another App's) is 404
        # (docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app).
        if installation not in {r.installation_id for r in self.repos.values()}:
            return error(404, "Not Found")
        _, problem = await self._body(request, "apps__create-installation-access-token")
        if problem:
            return problem
        self.token_requests += 1
        value = "ghs_" + secrets.token_hex(18)
        expires = time.time() + self.token_ttl_s
        self.tokens[value] = (installation, expires)
        payload = op("apps__create-installation-access-token").example("201")
        payload.update({"token": value, "expires_at": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))})
        return self._answer("apps__create-installation-access-token", payload, 201)

    async def get_repo(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        payload = op("repos__get").example("200")
        payload.update({"name": repo.name, "full_name": f"{repo.owner}/{repo.name}",
                        "default_branch": repo.default_branch, "language": "Python"})
        # GitHub's example mixes in a fork's "parent"/"source" that omit required fields.
        payload.pop("parent", None)
        payload.pop("source", None)
        return self._answer("repos__get", payload)

    def _pull(self, repo: Repo, request: Request) -> Pull | None:
        """None (answered 404) for a number that is no pull request of the repository
        (docs.github.com/en/rest/pulls/pulls#get-a-pull-request, status codes)."""
        return repo.pulls.get(request.path_params["number"])

    async def get_pull(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        pull = self._pull(repo, request)
        if pull is None:
            return error(404, "Not Found")
        payload = op("pulls__get").example("200")
        payload.update({"number": pull.number, "changed_files": len(pull.files),
                        "additions": sum(f.additions for f in pull.files),
                        "deletions": sum(f.deletions for f in pull.files)})
        payload["requested_teams"] = []  # the example's team lacks the required "type"
        for label in payload["labels"]:
            # githubkit parses with GitHub's 2026-03-10 description, where labels carry
            # archived_at/archived_by; the 2022-11-28 example predates them.
            label.update({"archived_at": None, "archived_by": None})
        payload["head"]["sha"] = pull.head_sha
        payload["base"]["sha"] = pull.base_sha
        if pull.push_after is not None:
            reads, sha = pull.push_after
            pull.push_after = (reads - 1, sha) if reads > 1 else None
            if reads <= 1:
                pull.head_sha = sha
        return self._answer("pulls__get", payload)

    async def list_pulls(self, request: Request) -> Response:
        """Open pull requests, newest first (docs.github.com/en/rest/pulls/pulls
        #list-pull-requests: state defaults to open, sort to created, direction to desc)."""
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        state = request.query_params.get("state", "open")
        pulls = sorted((p for p in repo.pulls.values() if state in ("all", p.state)),
                       key=lambda p: p.number, reverse=True)
        page, headers = self._paginate(request, pulls)
        items = []
        for pull in page:
            item = op("pulls__list").example("200")[0]
            item.update({"number": pull.number, "state": pull.state, "draft": False})
            item["head"].update({"sha": pull.head_sha, "ref": f"branch-{pull.number}"})
            item["base"].update({"sha": pull.base_sha, "ref": repo.default_branch})
            item["user"]["login"] = pull.author
            item["requested_teams"] = []  # as in get_pull
            for label in item["labels"]:
                label.update({"archived_at": None, "archived_by": None})
            items.append(item)
        return self._answer("pulls__list", items, headers=headers)

    async def list_files(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        pull = self._pull(repo, request)
        if pull is None:
            return error(404, "Not Found")
        # "Responses include a maximum of 3000 files"
        # (docs.github.com/en/rest/pulls/pulls#list-pull-requests-files).
        page, headers = self._paginate(request, pull.files, cap=3000)
        payload = [f.payload(repo.owner, repo.name, pull.head_sha) for f in page]
        return self._answer("pulls__list-files", payload, headers=headers)

    def _review_payload(self, repo: Repo, pull: Pull, review_id: int, body: str, state: str,
                        commit_id: str) -> dict[str, Any]:
        payload = op("pulls__create-review").example("200")
        url = f"https://github.com/{repo.owner}/{repo.name}/pull/{pull.number}"
        payload.update({"id": review_id, "body": body, "state": state, "commit_id": commit_id,
                        "user": self._user(), "author_association": "NONE",
                        "html_url": f"{url}#pullrequestreview-{review_id}",
                        "pull_request_url": f"{API}/repos/{repo.owner}/{repo.name}/pulls/"
                                            f"{pull.number}"})
        payload["_links"]["html"]["href"] = payload["html_url"]
        payload["_links"]["pull_request"]["href"] = payload["pull_request_url"]
        if state == "PENDING":
            payload.pop("submitted_at", None)
        return payload

    async def reviews_endpoint(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        pull = self._pull(repo, request)
        if pull is None:
            return error(404, "Not Found")
        key = (f"{repo.owner}/{repo.name}", pull.number)
        stored = self.reviews.setdefault(key, [])
        if request.method == "GET":
            page, headers = self._paginate(request, [r["payload"] for r in stored])
            return self._answer("pulls__list-reviews", page, headers=headers)
        body, problem = await self._body(request, "pulls__create-review")
        if problem:
            return problem
        refused = self._refuse_review(pull, body, stored)
        if refused:
            return refused
        state = {"COMMENT": "COMMENTED", "APPROVE": "APPROVED",
                 "REQUEST_CHANGES": "CHANGES_REQUESTED"}.get(body.get("event", ""), "PENDING")
        review_id = next(self._ids)
        payload = self._review_payload(repo, pull, review_id, body.get("body", ""), state,
                                       body.get("commit_id", pull.head_sha))
        stored.append({"id": review_id, "state": state, "payload": payload,
                       "comments": body.get("comments", [])})
        if state != "PENDING":  # a pending review's comments are the author's draft
            for comment in body.get("comments", []):
                self._add_review_comment(repo, pull.number, review_id, comment,
                                         body.get("commit_id", pull.head_sha), self.bot_login)
        after = self._injected(request, after=True)
        return after or self._answer("pulls__create-review", payload)

    def _refuse_review(self, pull: Pull, body: dict[str, Any],
                       stored: list[dict[str, Any]]) -> Response | None:
        """GitHub's checks on a new review
        (docs.github.com/en/rest/pulls/reviews#create-a-review-for-a-pull-request)."""
        event = body.get("event")
        if event in {"COMMENT", "REQUEST_CHANGES"} and not body.get("body"):
            # "body: Required when using REQUEST_CHANGES or COMMENT for the event parameter."
            return error(422, "Unprocessable Entity", ["Body can't be blank"])
        if len(body.get("body", "")) > 65536:
            # Bodies are limited to 65,536 characters: GitHub answers 422 "Body is too
            # long (maximum is 65536 characters)" with documentation_url
            # docs.github.com/rest/issues/comments#create-an-issue-comment.
            return error(422, "Unprocessable Entity",
                         ["Body is too long (maximum is 65536 characters)"])
        if any(r["state"] == "PENDING" for r in stored):
            # A user (here, the app) has at most one pending review per pull request, and
            # while it has one GitHub refuses any new review, a submitted COMMENT too. The
            # REST pages do not say so; the 422 is GitHub's answer as reported in
            # github.com/microsoft/vscode-pull-request-github/issues/1317 and observed
            # with event COMMENT in github.com/max-sixty/tend/pull/1171.
            return error(422, "Unprocessable Entity",
                         ["User can only have one pending review per pull request"])
        files = {f.filename: f for f in pull.files}
        for comment in body.get("comments", []):
            file = files.get(comment["path"])
            if file is None or file.patch is None:
                return error(422, "Unprocessable Entity", ["Path could not be resolved"])
            if len(comment["body"]) > 65536:
                return error(422, "Unprocessable Entity",
                             ["Body is too long (maximum is 65536 characters)"])
            lines = commentable(file.patch)[comment.get("side", "RIGHT")]
            # The whole review is refused, without saying which comment was wrong.
            if comment.get("line") not in lines:
                return error(422, "Unprocessable Entity", ["Line could not be resolved"])
            start = comment.get("start_line")
            start_lines = commentable(file.patch)[comment.get("start_side", "RIGHT")]
            if start is not None and (start not in start_lines or start >= comment["line"]
                                      or start_lines[start] != lines[comment["line"]]):
                return error(422, "Unprocessable Entity", [
                    "Pull request review thread start line must be part of the same hunk "
                    "as the line."])
        return None

    async def delete_review(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        pull = self._pull(repo, request)
        stored = self.reviews.get((f"{repo.owner}/{repo.name}", request.path_params["number"]), [])
        found = [r for r in stored if r["id"] == request.path_params["review_id"]]
        if pull is None or not found:
            return error(404, "Not Found")
        if found[0]["state"] != "PENDING":
            # "Deletes a pending review" — a submitted one cannot be deleted
            # (docs.github.com/en/rest/pulls/reviews#delete-a-pending-review-for-a-pull-request).
            return error(422, "Unprocessable Entity", ["Can not delete a non-pending review"])
        stored.remove(found[0])
        return self._answer("pulls__delete-pending-review", found[0]["payload"])

    def _comment_payload(self, repo: Repo, number: int, comment_id: int,
                         body: str) -> dict[str, Any]:
        payload = op("issues__create-comment").example("201")
        payload.update({"id": comment_id, "body": body, "user": self._user(),
                        "author_association": "NONE",
                        "url": f"{API}/repos/{repo.owner}/{repo.name}/issues/comments/{comment_id}",
                        "html_url": f"https://github.com/{repo.owner}/{repo.name}/pull/{number}"
                                    f"#issuecomment-{comment_id}",
                        "issue_url": f"{API}/repos/{repo.owner}/{repo.name}/issues/{number}"})
        return payload

    async def issue_comments(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        number = request.path_params["number"]
        if number not in repo.pulls:
            return error(404, "Not Found")
        full = f"{repo.owner}/{repo.name}"
        if request.method == "GET":
            mine = [c["payload"] for c in self.comments.values()
                    if c["repo"] == full and c["number"] == number]
            page, headers = self._paginate(request, mine)
            return self._answer("issues__list-comments", page, headers=headers)
        body, problem = await self._body(request, "issues__create-comment")
        if problem:
            return problem
        if len(body["body"]) > 65536:
            # docs.github.com/rest/issues/comments#create-an-issue-comment: 422 "Body is
            # too long (maximum is 65536 characters)".
            return error(422, "Validation Failed",
                         [{"resource": "IssueComment", "code": "custom", "field": "body",
                           "message": "body is too long (maximum is 65536 characters)"}])
        comment_id = next(self._ids)
        payload = self._comment_payload(repo, number, comment_id, body["body"])
        self.comments[comment_id] = {"repo": full, "number": number, "payload": payload}
        lost = self._injected(request, after=True)  # posted, and the answer is lost
        if lost is not None:
            return lost
        return self._answer("issues__create-comment", payload, 201)

    async def update_comment(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        stored = self.comments.get(request.path_params["comment_id"])
        if stored is None or stored["repo"] != f"{repo.owner}/{repo.name}":
            return error(404, "Not Found")
        body, problem = await self._body(request, "issues__update-comment")
        if problem:
            return problem
        if len(body["body"]) > 65536:
            # The same limit as creating; docs.github.com/rest/issues/comments
            # #update-an-issue-comment lists 422 "Validation failed".
            return error(422, "Validation Failed", [{"resource": "IssueComment",
                         "code": "custom", "field": "body",
                         "message": "body is too long (maximum is 65536 characters)"}])
        stored["payload"]["body"] = body["body"]
        return self._answer("issues__update-comment", stored["payload"])

    def _resolve(self, repo: Repo, ref: str) -> dict[str, bytes] | None:
        return repo.trees.get(ref)

    async def get_content(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        ref = request.query_params.get("ref", repo.default_branch)
        tree = self._resolve(repo, ref)
        path = request.path_params["path"]
        if tree is None or path not in tree:
            return error(404, "Not Found")
        data = tree[path]
        payload = op("repos__get-content").example("200", "response-if-content-is-a-file")
        # Files over 1 MB come without content ("encoding": "none")
        # (docs.github.com/en/rest/repos/contents#get-repository-content).
        large = len(data) > 1_000_000
        payload.update({"name": path.rsplit("/", 1)[-1], "path": path, "size": len(data),
                        "encoding": "none" if large else "base64",
                        "content": "" if large else base64.b64encode(data).decode(),
                        "sha": hashlib.sha1(data).hexdigest()})
        return self._answer("repos__get-content", payload)

    async def compare(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        base, dots, head = request.path_params["basehead"].partition("...")
        found = repo.comparisons.get((base, head)) if dots else None
        if found is None:
            # A commit that does not exist (force-pushed away) is 404 "Not Found"
            # (docs.github.com/en/rest/commits/commits#compare-two-commits, status codes).
            return error(404, "Not Found")
        merge_base, files = found
        payload = op("repos__compare-commits-with-basehead").example("200")
        payload["merge_base_commit"]["sha"] = merge_base
        payload["base_commit"]["sha"] = merge_base
        # "includes up to 300 changed files for the entire comparison"
        # (docs.github.com/en/rest/commits/commits#compare-two-commits).
        payload["files"] = [f.payload(repo.owner, repo.name, head) for f in files[:300]]
        return self._answer("repos__compare-commits-with-basehead", payload)

    async def get_tree(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        tree = self._resolve(repo, request.path_params["sha"])
        if tree is None:
            # docs.github.com/en/rest/git/trees#get-a-tree, status codes: 404 for an
            # unknown tree SHA or ref.
            return error(404, "Not Found")
        payload = op("git__get-tree").example("200", "response-recursively-retrieving-a-tree")
        template = payload["tree"][-1]
        entries = sorted(tree.items())
        payload["tree"] = [
            {**template, "path": path, "type": "blob", "mode": "100644", "size": len(data),
             "sha": hashlib.sha1(data).hexdigest()}
            for path, data in entries[: self.tree_limit]
        ]
        payload["truncated"] = len(entries) > self.tree_limit
        return self._answer("git__get-tree", payload)

    async def permission(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        username = request.path_params["username"]
        if username not in self.roles:
            return error(404, "Not Found")  # not a GitHub user
        role = self.roles[username]
        # "permission" keeps the legacy four values: maintain reads as write, triage as read
        # (docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user).
        legacy = {"maintain": "write", "triage": "read"}.get(role, role)
        payload = op("repos__get-collaborator-permission-level").example(
            "200", "response-if-user-has-admin-permissions")
        payload.update({"permission": legacy, "role_name": role})
        # The example's user lacks the collaborator's own "role_name" the schema requires.
        payload["user"].update({"login": username, "role_name": role})
        return self._answer("repos__get-collaborator-permission-level", payload)

    def _check_refusal(self, body: dict[str, Any]) -> Response | None:
        output = body.get("output") or {}
        # "The Checks API limits the number of annotations to a maximum of 50 per API
        # request"; summary and text are "Maximum length: 65535 characters"
        # (docs.github.com/en/rest/checks/runs#create-a-check-run).
        if len(output.get("annotations", [])) > 50:
            return error(422, "Invalid request.",
                         ["Only 50 annotations may be sent per request."])
        for key in ("summary", "text"):
            if len(output.get(key) or "") > 65535:
                return error(422, "Invalid request.", [f"output.{key} is too long"])
        return None

    def _check_payload(self, repo: Repo, check_id: int, run: dict[str, Any]) -> dict[str, Any]:
        example = "example-of-completed-conclusion" if run["status"] == "completed" else \
            "example-of-in-progress-conclusion"
        payload = op("checks__create").example("201", example)
        payload.update({"id": check_id, "name": run["name"], "head_sha": run["head_sha"],
                        "external_id": run.get("external_id"),
                        "status": run["status"], "conclusion": run.get("conclusion"),
                        "details_url": run.get("details_url"),
                        "completed_at": run.get("completed_at")})
        payload["output"].update({"title": run["output"].get("title"),
                                  "summary": run["output"].get("summary"),
                                  "text": run["output"].get("text"),
                                  "annotations_count": len(run["annotations"])})
        return payload

    async def create_check(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        body, problem = await self._body(request, "checks__create")
        if problem:
            return problem
        refused = self._check_refusal(body)
        if refused:
            return refused
        check_id = next(self._ids)
        output = dict(body.get("output") or {})
        run = {"name": body["name"], "head_sha": body["head_sha"],
               "external_id": body.get("external_id"),
               "status": body.get("status", "queued"), "conclusion": body.get("conclusion"),
               "details_url": body.get("details_url"), "completed_at": body.get("completed_at"),
               "annotations": list(output.pop("annotations", [])), "output": output,
               "repo": f"{repo.owner}/{repo.name}", "history": [body]}
        self.check_runs[check_id] = run
        lost = self._injected(request, after=True)  # created, and the answer is lost
        if lost is not None:
            return lost
        return self._answer("checks__create", self._check_payload(repo, check_id, run), 201)

    async def list_checks(self, request: Request) -> Response:
        """Check runs of a commit, newest first, filtered by check_name (docs.github.com/en/
        rest/checks/runs#list-check-runs-for-a-git-reference)."""
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        ref, name = request.path_params["ref"], request.query_params.get("check_name")
        full = f"{repo.owner}/{repo.name}"
        runs = [(i, r) for i, r in sorted(self.check_runs.items(), reverse=True)
                if r["repo"] == full and r["head_sha"] == ref and name in (None, r["name"])]
        page, headers = self._paginate(request, runs)
        payload = {"total_count": len(runs),
                   "check_runs": [self._check_payload(repo, i, r) for i, r in page]}
        return self._answer("checks__list-for-ref", payload, headers=headers)

    async def update_check(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        run = self.check_runs.get(request.path_params["check_id"])
        if run is None or run["repo"] != f"{repo.owner}/{repo.name}":
            return error(404, "Not Found")
        body, problem = await self._body(request, "checks__update")
        if problem:
            return problem
        refused = self._check_refusal(body)
        if refused:
            return refused
        output = dict(body.get("output") or {})
        # "Each time you update the check run, annotations are appended to the list of
        # annotations that already exist" (docs.github.com/en/rest/checks/runs
        # #update-a-check-run).
        run["annotations"].extend(output.pop("annotations", []))
        run["output"].update(output)
        for key in ("status", "conclusion", "details_url", "completed_at"):
            if key in body:
                run[key] = body[key]
        if body.get("conclusion") and "status" not in body:
            run["status"] = "completed"  # "Providing conclusion will automatically set
            # the status parameter to completed."
        run["history"].append(body)
        return self._answer("checks__update", self._check_payload(repo, run_id(self, run), run))


    # Review comments, threads and reactions -----------------------------------------

    def _person(self, login: str) -> dict[str, Any]:
        if login == self.bot_login:
            return self._user()
        user = op("pulls__create-review").example("200")["user"]
        user.update({"login": login, "type": "User", "html_url": f"https://github.com/{login}",
                     "id": int(hashlib.sha1(login.encode()).hexdigest()[:6], 16)})
        return dict(user)

    def _add_review_comment(self, repo: Repo, number: int, review_id: int,
                            spec: dict[str, Any], commit_id: str, login: str,
                            in_reply_to: int | None = None) -> int:
        comment_id = next(self._ids)
        base = f"{API}/repos/{repo.owner}/{repo.name}"
        html = f"https://github.com/{repo.owner}/{repo.name}/pull/{number}#discussion_r{comment_id}"
        payload = op("pulls__list-review-comments").example("200")[0]
        payload.update({
            "id": comment_id, "node_id": f"PRRC_kwDO{comment_id}",
            "pull_request_review_id": review_id, "body": spec.get("body", ""),
            "path": spec["path"], "line": spec.get("line"), "original_line": spec.get("line"),
            "side": spec.get("side", "RIGHT"), "start_line": spec.get("start_line"),
            "original_start_line": spec.get("start_line"),
            "start_side": spec.get("start_side") if spec.get("start_line") else None,
            "commit_id": commit_id, "original_commit_id": commit_id,
            "user": self._person(login), "author_association": "NONE",
            "url": f"{base}/pulls/comments/{comment_id}", "html_url": html,
            "pull_request_url": f"{base}/pulls/{number}"})
        payload["_links"] = {"self": {"href": payload["url"]}, "html": {"href": html},
                             "pull_request": {"href": payload["pull_request_url"]}}
        # "in_reply_to_id" is present on replies only.
        payload.pop("in_reply_to_id", None)
        full = f"{repo.owner}/{repo.name}"
        if in_reply_to is None:
            thread = f"PRRT_kwDO{comment_id}"
            self.threads[thread] = {"id": thread, "repo": full, "number": number,
                                    "comments": [comment_id], "resolved": False}
        else:
            payload["in_reply_to_id"] = in_reply_to
            thread = self.review_comments[in_reply_to]["thread"]
            self.threads[thread]["comments"].append(comment_id)
        self.review_comments[comment_id] = {"repo": full, "number": number, "payload": payload,
                                            "review_id": review_id, "thread": thread,
                                            "reactions": []}
        return comment_id

    def _comment_with_reactions(self, stored: dict[str, Any]) -> dict[str, Any]:
        # Each comment carries a summary of its reactions ("reaction-rollup").
        counts = {k: 0 for k in ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes",
                                 "rocket")}
        for content, _ in stored["reactions"]:
            counts[content] += 1
        rollup = {"url": f"{stored['payload']['url']}/reactions",
                  "total_count": len(stored["reactions"]), **counts}
        return {**stored["payload"], "reactions": rollup}

    async def list_review_comments(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        pull = self._pull(repo, request)
        if pull is None:
            return error(404, "Not Found")
        full = f"{repo.owner}/{repo.name}"
        items = [self._comment_with_reactions(c) for _, c in sorted(self.review_comments.items())
                 if c["repo"] == full and c["number"] == pull.number]
        page, headers = self._paginate(request, items)
        return self._answer("pulls__list-review-comments", page, headers=headers)

    async def get_review_comment(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        stored = self.review_comments.get(request.path_params["comment_id"])
        if stored is None or stored["repo"] != f"{repo.owner}/{repo.name}":
            return error(404, "Not Found")
        return self._answer("pulls__get-review-comment", self._comment_with_reactions(stored))

    async def reply_to_review_comment(self, request: Request) -> Response:
        """"This must be the ID of a top-level review comment, not a reply to that comment.
        Replies to replies are not supported." (docs.github.com/rest/pulls/comments
        #create-a-reply-for-a-review-comment); the reply is written by the token's owner."""
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        pull = self._pull(repo, request)
        stored = self.review_comments.get(request.path_params["comment_id"])
        if pull is None or stored is None or stored["repo"] != f"{repo.owner}/{repo.name}" \
                or stored["number"] != pull.number:
            return error(404, "Not Found")
        body, problem = await self._body(request, "pulls__create-reply-for-review-comment")
        if problem:
            return problem
        if "in_reply_to_id" in stored["payload"]:
            return error(422, "Unprocessable Entity", ["Replies to replies are not supported"])
        if not body["body"].strip() or len(body["body"]) > 65536:
            return error(422, "Unprocessable Entity",
                         ["Body can't be blank" if not body["body"].strip()
                          else "Body is too long (maximum is 65536 characters)"])
        reply_id = self._add_review_comment(
            repo, pull.number, stored["review_id"],
            {**{k: stored["payload"].get(k) for k in ("path", "line", "side")},
             "body": body["body"]},
            stored["payload"]["commit_id"], self.bot_login, stored["payload"]["id"])
        payload = self._comment_with_reactions(self.review_comments[reply_id])
        lost = self._injected(request, after=True)  # posted, and the answer is lost
        if lost is not None:
            return lost
        return self._answer("pulls__create-reply-for-review-comment", payload, 201)

    def replies_to(self, comment_id: int) -> list[dict[str, Any]]:
        """The replies in the thread of review comment ``comment_id``, oldest first."""
        thread = self.threads[self.review_comments[comment_id]["thread"]]
        return [self.review_comments[c]["payload"] for c in thread["comments"][1:]]

    async def list_reactions(self, request: Request) -> Response:
        repo, problem = self._gate(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        stored = self.review_comments.get(request.path_params["comment_id"])
        if stored is None or stored["repo"] != f"{repo.owner}/{repo.name}":
            return error(404, "Not Found")
        wanted = request.query_params.get("content")
        items = []
        for index, (content, login) in enumerate(stored["reactions"]):
            if wanted and content != wanted:
                continue
            item = op("reactions__list-for-pull-request-review-comment").example("200")[0]
            item.update({"id": index + 1, "content": content, "user": self._person(login),
                         "node_id": f"REA_{stored['payload']['id']}_{index}"})
            items.append(item)
        page, headers = self._paginate(request, items)
        return self._answer("reactions__list-for-pull-request-review-comment", page,
                            headers=headers)

    # GraphQL ------------------------------------------------------------------------

    async def graphql(self, request: Request) -> Response:
        """POST /graphql: the query is parsed and validated against GitHub's schema and run
        against this fake's state; errors come back as GitHub sends them, with status 200
        and an ``errors`` list (docs.github.com/en/graphql/guides/forming-calls-with-graphql)."""
        self.requests.append((request.method, request.url.path))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        entry = self.tokens.get(token) if scheme.lower() in {"token", "bearer"} else None
        if entry is None or entry[1] < time.time():
            return error(401, "Bad credentials")
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return error(400, "Problems parsing JSON")
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str):
            return JSONResponse({"errors": [{"message": "A query attribute must be specified "
                                             "and must be a string."}]})
        try:
            document = graphql.parse(query)
        except graphql.GraphQLError as exc:
            return JSONResponse({"errors": [exc.formatted]})
        problems = graphql.validate(GRAPHQL_SCHEMA, document)
        if problems:
            return JSONResponse({"errors": [p.formatted for p in problems]})
        result = graphql.execute_sync(GRAPHQL_SCHEMA, document,
                                      root_value=self._graph_root(entry[0]),
                                      variable_values=body.get("variables"))
        answer: dict[str, Any] = {} if result.data is None else {"data": result.data}
        if result.errors:
            answer["errors"] = [_graphql_error(e) for e in result.errors]
        return JSONResponse(answer, headers=self._headers())

    def _graph_root(self, installation: int) -> dict[str, Any]:
        def repository(_: Any, owner: str, name: str, followRenames: bool = True) -> Any:
            repo = self.repos.get(f"{owner}/{name}")
            if repo is None or repo.installation_id != installation:
                raise _NotFound(f"Could not resolve to a Repository with the name "
                                f"'{owner}/{name}'.")
            return {"pullRequest": lambda _, number: self._graph_pull(repo, number)}

        def resolve(_: Any, input: dict[str, Any]) -> Any:
            thread = self.threads.get(str(input["threadId"]))
            repo = self.repos.get(thread["repo"]) if thread else None
            if thread is None or repo is None or repo.installation_id != installation:
                raise _NotFound(f"Could not resolve to a node with the global id of "
                                f"'{input['threadId']}'")
            thread["resolved"] = True
            self.resolved_threads.append(thread["id"])
            return {"thread": self._graph_thread(thread)}

        return {"repository": repository, "resolveReviewThread": resolve}

    def _graph_pull(self, repo: Repo, number: int) -> Any:
        if number not in repo.pulls:
            raise _NotFound(f"Could not resolve to a PullRequest with the number of {number}.")
        full = f"{repo.owner}/{repo.name}"
        threads = [t for t in self.threads.values() if t["repo"] == full and t["number"] == number]

        def review_threads(_: Any, first: int | None = None, after: str | None = None,
                           last: int | None = None, before: str | None = None) -> Any:
            return _connection([self._graph_thread(t) for t in threads], first, after, last)

        return {"reviewThreads": review_threads}

    def _graph_thread(self, thread: dict[str, Any]) -> dict[str, Any]:
        def comments(_: Any, first: int | None = None, after: str | None = None,
                     last: int | None = None, before: str | None = None,
                     skip: int | None = None) -> Any:
            nodes = []
            for comment_id in thread["comments"]:
                payload = self.review_comments[comment_id]["payload"]
                login = payload["user"]["login"]
                # GraphQL names a bot by its slug, without REST's "[bot]" suffix.
                bot = payload["user"]["type"] == "Bot"
                nodes.append({"body": payload["body"], "author": {
                    "__typename": "Bot" if bot else "User",
                    "login": login.removesuffix("[bot]")}})
            return _connection(nodes, first, after, last)

        return {"id": thread["id"], "isResolved": thread["resolved"], "comments": comments}

    # The App's own endpoints (App JWT only) ------------------------------------------

    async def get_app(self, request: Request) -> Response:
        refused = self._app_jwt_problem(request)
        if refused:
            return refused
        payload = op("apps__get-authenticated").example("200")
        payload.update({"id": self.app_id, "slug": self.app_slug, "name": self.app_slug,
                        "html_url": f"https://github.com/apps/{self.app_slug}"})
        if self.app_permissions is not None:
            payload["permissions"] = dict(self.app_permissions)
        if self.app_events is not None:
            payload["events"] = list(self.app_events)
        if self.installations_count is not None:
            payload["installations_count"] = self.installations_count
        return self._answer("apps__get-authenticated", payload)

    async def get_hook_config(self, request: Request) -> Response:
        """The App's webhook; its secret is never shown (docs.github.com/en/rest/apps/
        webhooks#get-a-webhook-configuration-for-an-app)."""
        refused = self._app_jwt_problem(request)
        if refused:
            return refused
        payload = op("apps__get-webhook-config-for-app").example("200")
        if self.app_hook_url is not None:
            payload["url"] = self.app_hook_url
        payload["insecure_ssl"] = self.app_hook_insecure_ssl
        return self._answer("apps__get-webhook-config-for-app", payload)

    async def list_deliveries(self, request: Request) -> Response:
        """Newest first, paginated by an opaque cursor in the Link header
        (docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook)."""
        refused = self._app_jwt_problem(request)
        if refused:
            return refused
        items = list(self.deliveries)
        wanted = request.query_params.get("status")
        if wanted == "failure":
            items = [d for d in items if d["status_code"] >= 400 or d["status_code"] == 0]
        elif wanted == "success":
            items = [d for d in items if 200 <= d["status_code"] < 400]
        per_page = min(int(request.query_params.get("per_page", 30)), 100)
        cursor = request.query_params.get("cursor")
        start = 0
        if cursor:
            ids = [str(d["id"]) for d in items]
            if not cursor.startswith("v1_") or cursor[3:] not in ids:
                return error(422, "Validation failed, or the endpoint has been spammed.")
            start = ids.index(cursor[3:])
        page = items[start:start + per_page]
        headers = {}
        if start + per_page < len(items):
            url = request.url.remove_query_params(["cursor"])
            nxt = url.include_query_params(cursor=f"v1_{items[start + per_page]['id']}")
            headers["link"] = f'<{nxt}>; rel="next"'
        return self._answer("apps__list-webhook-deliveries", page, headers=headers)

    async def redeliver(self, request: Request) -> Response:
        refused = self._app_jwt_problem(request)
        if refused:
            return refused
        delivery_id = request.path_params["delivery_id"]
        found = [d for d in self.deliveries if d["id"] == delivery_id]
        if not found:
            return error(404, "Not Found")
        self.redelivered.append(delivery_id)
        guid = found[0]["guid"]
        if self.hook is not None and self.hook.knows(guid):
            # Accepted now, delivered soon after, its attempt listed with the App's answer.
            answer = self._answer("apps__redeliver-webhook-delivery", {}, 202)
            answer.background = BackgroundTask(self.hook.resend, guid)
            return answer
        self.add_delivery(guid=guid, event=found[0]["event"], action=found[0]["action"],
                          redelivery=True)
        return self._answer("apps__redeliver-webhook-delivery", {}, 202)


async def _not_served(request: Request, exc: Exception) -> Response:
    return error(404, "Not Found")


def run_id(fake: FakeGitHub, run: dict[str, Any]) -> int:
    return next(i for i, r in fake.check_runs.items() if r is run)


class _NotFound(Exception):
    """GraphQL's NOT_FOUND error type."""


def _graphql_error(exc: graphql.GraphQLError) -> dict[str, Any]:
    data = dict(exc.formatted)
    if isinstance(exc.original_error, _NotFound):
        data["type"] = "NOT_FOUND"
    return data


def _connection(nodes: list[Any], first: int | None, after: str | None,
                last: int | None) -> dict[str, Any]:
    """A cursor connection: GitHub requires ``first`` or ``last``, at most 100
    (docs.github.com/en/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api
    #node-limit)."""
    if first is None and last is None:
        raise graphql.GraphQLError("You must provide a `first` or `last` value to properly "
                                   "paginate the connection.")
    if (first or 0) > 100 or (last or 0) > 100:
        raise graphql.GraphQLError("Requesting more than 100 records on the connection is "
                                   "not allowed.")
    start = int(base64.b64decode(after).decode().removeprefix("cursor:")) + 1 if after else 0
    size = first if first is not None else (last or 0)
    page = nodes[start:start + size]
    end = start + len(page) - 1
    return {"nodes": page, "pageInfo": {
        "hasNextPage": start + len(page) < len(nodes),
        "endCursor": base64.b64encode(f"cursor:{end}".encode()).decode() if page else None}}
