"""A fake GitLab REST API v4 (starlette) for the endpoints auditbot calls, on 127.0.0.1.

Each rule names the GitLab documentation page it comes from. Anything else answers 404.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
# GitLab's own description of the bodies these endpoints take: the Grape ``params`` blocks
# of lib/api/discussions.rb (gitlabhq/gitlabhq 05f0ebb), name -> (required, type). Grape
# answers a missing required parameter with 400 "<name> is missing" and a value of the
# wrong type with 400 "<name> is invalid"; unknown parameters are ignored.
PARAMS: dict[str, dict[str, tuple[bool, type]]] = {
    "add discussion note": {"body": (True, str), "created_at": (False, str)},
    "get discussion": {},
}
# docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit
STATES = {"pending", "running", "success", "failed", "canceled", "skipped"}
_TERMINAL = {"success", "failed", "canceled", "skipped"}
_EVENT = {"pending": "enqueue", "running": "run", "success": "succeed", "failed": "drop",
          "canceled": "cancel", "skipped": "skip"}


def diff_rows(path: str, patch: str) -> list[tuple[int, int | None, int | None, str]]:
    """``(hunk, old_line, new_line, line_code)`` as GitLab numbers a text diff: added rows
    have no old line, removed rows no new line; the line code is ``sha1(path)_old_new``
    with the running counters."""
    rows: list[tuple[int, int | None, int | None, str]] = []
    hunk, old, new = -1, 0, 0
    digest = hashlib.sha1(path.encode()).hexdigest()
    for line in patch.splitlines():
        header = _HUNK.match(line)
        if header:
            hunk, old, new = hunk + 1, int(header.group(1)), int(header.group(2))
            continue
        if hunk < 0 or line.startswith("\\"):
            continue
        code = f"{digest}_{old}_{new}"
        if line.startswith("+"):
            rows.append((hunk, None, new, code))
            new += 1
        elif line.startswith("-"):
            rows.append((hunk, old, None, code))
            old += 1
        else:
            rows.append((hunk, old, new, code))
            old, new = old + 1, new + 1
    return rows


@dataclass
class MRDiff:
    old_path: str
    new_path: str
    diff: str
    new_file: bool = False
    deleted_file: bool = False
    renamed_file: bool = False
    too_large: bool = False

    def payload(self) -> dict[str, Any]:
        # docs.gitlab.com/api/merge_requests/#list-merge-request-diffs
        return {"old_path": self.old_path, "new_path": self.new_path, "a_mode": "100644",
                "b_mode": "100644", "diff": "" if self.too_large else self.diff,
                "new_file": self.new_file, "renamed_file": self.renamed_file,
                "deleted_file": self.deleted_file, "generated_file": False,
                "too_large": self.too_large, "collapsed": False}


@dataclass
class MR:
    iid: int
    project_id: int
    source_project_id: int
    source_branch: str
    versions: list[tuple[str, str, str]]  # (base, start, head), oldest first
    diffs: list[MRDiff]
    pipeline_id: int | None = None
    state: str = "opened"  # opened, closed, locked, merged
    draft: bool = False
    author: str = "alice"
    target_branch: str = "main"


@dataclass
class Project:
    id: int
    path: str
    default_branch: str = "main"
    commits: set[str] = field(default_factory=set)
    trees: dict[str, dict[str, bytes]] = field(default_factory=dict)
    comparisons: dict[tuple[str, str], list[MRDiff]] = field(default_factory=dict)
    mrs: dict[int, MR] = field(default_factory=dict)


class FakeGitLab:
    def __init__(self, *, token: str = "glpat-test-token", user_id: int = 99) -> None:
        self.token = token
        self.user = {"id": user_id, "username": "auditbot", "name": "auditbot", "state": "active",
                     "avatar_url": None, "web_url": "http://gitlab.local/auditbot"}
        self.projects: dict[int, Project] = {}
        self.notes: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self.discussions: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        # [method, path regex, status, times, headers, message]
        self.injected: list[list[Any]] = []
        self.members: dict[tuple[int, str], int] = {}  # (project, username) -> access level
        self.usernames: list[str] = []  # users that exist; their id is 1000 + index
        self.has_diffs_endpoint = True  # False: a GitLab older than 15.7
        self.awards: dict[int, list[dict[str, Any]]] = {}  # note id -> award emoji
        self.resolved_discussions: list[str] = []  # discussion ids, in order resolved
        self.delay_s = 0.0  # how long every answer takes (a slow or distant instance)
        # The token itself (GET /personal_access_tokens/self): None answers 404, as a
        # GitLab older than 15.5 does.
        self.token_scopes: list[str] | None = ["api"]
        self.token_expires_at: str | None = None
        self.hooks: dict[int, list[dict[str, Any]]] = {}  # project id -> its webhooks
        self._ids = itertools.count(500)
        # A path GitLab's API does not serve, or a method a path does not take, falls to
        # the catch-all "route :any, '*path'" of lib/api/api.rb (gitlab.com/gitlab-org/
        # gitlab): error!('404 Not Found', 404), {"error": "404 Not Found"}. Grape tries
        # that ANY route before answering 405, so there is no 405.
        not_served = {404: _no_route, 405: _no_route}
        self.app = Starlette(routes=self._routes(), exception_handlers=not_served)

    def add_project(self, project_id: int, path: str, **kw: Any) -> Project:
        project = Project(project_id, path, **kw)
        self.projects[project_id] = project
        return project

    def inject(self, method: str, path: str, status: int, *, times: int = 1,
               headers: dict[str, str] | None = None, message: str = "Retry later") -> None:
        self.injected.append([method, path, status, times, headers or {}, message])

    def person(self, username: str) -> dict[str, Any]:
        """Another user (created on first use), as GitLab shows a note's author."""
        if username not in self.usernames:
            self.usernames.append(username)
        return {"id": 1000 + self.usernames.index(username), "username": username,
                "name": username, "state": "active", "avatar_url": None,
                "web_url": f"http://gitlab.local/{username}"}

    def reply(self, pid: int, iid: int, discussion_id: str, body: str, username: str) -> int:
        """``username`` answers in a discussion of the merge request."""
        found = [d for d in self.discussions[(pid, iid)] if d["id"] == discussion_id]
        note = {**self._note(body), "author": self.person(username),
                "type": found[0]["notes"][0]["type"],
                "resolvable": found[0]["notes"][0]["resolvable"], "resolved": False}
        found[0]["notes"].append(note)
        self.notes.setdefault((pid, iid), []).append(note)
        return int(note["id"])

    def award(self, note_id: int, name: str, username: str) -> None:
        """``username`` reacts to a note with emoji ``name`` ("thumbsdown", "thumbsup")."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        self.awards.setdefault(note_id, []).append({
            "id": next(self._ids), "name": name, "user": self.person(username),
            "created_at": now, "updated_at": now, "awardable_id": note_id,
            "awardable_type": "Note"})

    def add_hook(self, pid: int, url: str, **kw: Any) -> dict[str, Any]:
        """A project webhook as docs.gitlab.com/api/project_webhooks/ shows it (the secret
        token is never shown)."""
        hook = {"id": next(self._ids), "url": url, "project_id": pid, "name": None,
                "description": None, "push_events": True, "push_events_branch_filter": "",
                "issues_events": False, "confidential_issues_events": False,
                "merge_requests_events": True, "tag_push_events": False, "note_events": True,
                "confidential_note_events": False, "job_events": False,
                "pipeline_events": False, "wiki_page_events": False,
                "deployment_events": False, "releases_events": False,
                "enable_ssl_verification": True, "alert_status": "executable",
                "disabled_until": None, "created_at": "2026-11-01T10:00:00.000Z", **kw}
        self.hooks.setdefault(pid, []).append(hook)
        return hook

    def _routes(self) -> list[Route]:
        p = "/api/v4/projects/{pid:int}"
        mr = p + "/merge_requests/{iid:int}"
        return [
            Route("/api/v4/user", self.get_user, methods=["GET"]),
            Route("/api/v4/users", self.find_users, methods=["GET"]),
            Route("/api/v4/personal_access_tokens/self", self.token_self, methods=["GET"]),
            Route("/api/v4/projects", self.list_projects, methods=["GET"]),
            Route(p + "/members/all/{user_id:int}", self.member, methods=["GET"]),
            Route(p, self.get_project, methods=["GET"]),
            Route(p + "/hooks", self.list_hooks, methods=["GET"]),
            Route(p + "/merge_requests", self.list_mrs, methods=["GET"]),
            Route(mr, self.get_mr, methods=["GET"]),
            Route(mr + "/versions", self.versions, methods=["GET"]),
            Route(mr + "/diffs", self.diffs, methods=["GET"]),
            Route(mr + "/changes", self.changes, methods=["GET"]),
            Route(mr + "/notes", self.notes_endpoint, methods=["GET", "POST"]),
            Route(mr + "/notes/{note_id:int}", self.edit_note, methods=["PUT"]),
            Route(mr + "/discussions", self.create_discussion, methods=["POST"]),
            Route(mr + "/discussions", self.list_discussions, methods=["GET"]),
            Route(mr + "/discussions/{discussion_id}", self.resolve_discussion,
                  methods=["PUT"]),
            Route(mr + "/discussions/{discussion_id}", self.get_discussion, methods=["GET"]),
            Route(mr + "/discussions/{discussion_id}/notes", self.add_discussion_note,
                  methods=["POST"]),
            Route(mr + "/notes/{note_id:int}/award_emoji", self.list_awards, methods=["GET"]),
            Route(p + "/repository/files/{file_path:path}/raw", self.raw_file, methods=["GET"]),
            Route(p + "/repository/tree", self.tree, methods=["GET"]),
            Route(p + "/repository/compare", self.compare, methods=["GET"]),
            Route(p + "/statuses/{sha}", self.set_status, methods=["POST"]),
        ]

    # Plumbing -----------------------------------------------------------------------

    def _gate(self, request: Request) -> Response | None:
        self.requests.append((request.method, request.url.path))
        if self.delay_s:
            time.sleep(self.delay_s)  # the server's own thread: only this fake waits
        # docs.gitlab.com/api/rest/authentication/: PRIVATE-TOKEN header; else 401.
        if request.headers.get("private-token") != self.token:
            return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
        for item in self.injected:
            method, path, status, times, headers, message = item
            if times > 0 and method == request.method and re.search(path, request.url.path):
                item[3] -= 1
                # Rate limits answer 429 with Retry-After
                # (docs.gitlab.com/security/rate_limits/ "Response headers").
                return JSONResponse({"message": message}, status_code=status, headers=headers)
        if "pid" in request.path_params and request.path_params["pid"] not in self.projects:
            # 404 for a resource that does not exist or the user may not see, "404 Project
            # Not Found" (docs.gitlab.com/api/rest/troubleshooting/, status codes).
            return not_found("Project")
        return None

    def _mr(self, request: Request) -> MR | None:
        project = self.projects[request.path_params["pid"]]
        return project.mrs.get(request.path_params["iid"])

    def _page(self, request: Request, items: list[Any], default: int = 20) -> Response:
        """Offset pagination with x-* headers and Link (docs.gitlab.com/api/rest/#pagination):
        per_page defaults to 20 and is at most 100."""
        per_page = min(int(request.query_params.get("per_page", default)), 100)
        page = max(int(request.query_params.get("page", 1)), 1)
        pages = max(1, -(-len(items) // per_page))
        headers = {"x-page": str(page), "x-per-page": str(per_page), "x-total": str(len(items)),
                   "x-total-pages": str(pages), "x-next-page": "", "x-prev-page": ""}
        if page < pages:
            headers["x-next-page"] = str(page + 1)
            nxt = str(request.url.include_query_params(page=page + 1, per_page=per_page))
            headers["link"] = f'<{nxt}>; rel="next"'
        return JSONResponse(items[(page - 1) * per_page: page * per_page], headers=headers)

    def _note(self, body: str, *, system: bool = False) -> dict[str, Any]:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return {"id": next(self._ids), "type": None, "body": body, "author": dict(self.user),
                "created_at": now, "updated_at": now, "system": system,
                "noteable_type": "MergeRequest", "resolvable": False}

    # Endpoints ----------------------------------------------------------------------

    async def get_user(self, request: Request) -> Response:
        return self._gate(request) or JSONResponse(self.user)

    async def find_users(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        name = request.query_params.get("username")
        found = [{"id": 1000 + i, "username": u, "name": u, "state": "active"}
                 for i, u in enumerate(self.usernames) if u == name]
        return self._page(request, found)

    async def member(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        # docs.gitlab.com/api/members/: access_level 10 guest ... 30 developer, 40
        # maintainer, 50 owner; 404 for a user who is not a member.
        index = request.path_params["user_id"] - 1000
        if not 0 <= index < len(self.usernames):
            return not_found("User")
        username = self.usernames[index]
        level = self.members.get((request.path_params["pid"], username))
        if level is None:
            return not_found("Member")
        return JSONResponse({"id": 1000 + index, "username": username, "state": "active",
                             "access_level": level})

    async def token_self(self, request: Request) -> Response:
        # docs.gitlab.com/api/personal_access_tokens/#get-details-on-a-personal-access-token
        if (problem := self._gate(request)) is not None:
            return problem
        if self.token_scopes is None:
            return JSONResponse({"error": "404 Not Found"}, status_code=404)
        return JSONResponse({
            "id": 4242, "name": "auditbot", "revoked": False, "description": None,
            "created_at": "2026-11-01T10:00:00.000Z", "scopes": self.token_scopes,
            "user_id": self.user["id"], "last_used_at": None, "active": True,
            "expires_at": self.token_expires_at})

    def _level(self, pid: int) -> int | None:
        return self.members.get((pid, str(self.user["username"])))

    async def list_projects(self, request: Request) -> Response:
        # docs.gitlab.com/api/projects/#list-all-projects: membership=true lists the
        # user's projects, each with its ``permissions`` (project_access, group_access).
        if (problem := self._gate(request)) is not None:
            return problem
        if request.query_params.get("membership") not in ("true", "True"):
            return JSONResponse({"error": "this fake lists only membership=true"},
                                status_code=400)
        floor = int(request.query_params.get("min_access_level", 0))
        items = []
        for project in self.projects.values():
            level = self._level(project.id)
            if level is None or level < floor:
                continue
            items.append({
                "id": project.id, "path_with_namespace": project.path,
                "default_branch": project.default_branch,
                "web_url": f"http://gitlab.local/{project.path}",
                "permissions": {"project_access": {"access_level": level,
                                                   "notification_level": 3},
                                "group_access": None}})
        return self._page(request, items)

    async def list_hooks(self, request: Request) -> Response:
        # docs.gitlab.com/api/project_webhooks/: Maintainer or more; less is 403.
        if (problem := self._gate(request)) is not None:
            return problem
        pid = request.path_params["pid"]
        if (self._level(pid) or 0) < 40:
            return JSONResponse({"message": "403 Forbidden"}, status_code=403)
        return self._page(request, list(self.hooks.get(pid, [])))

    async def get_project(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        project = self.projects[request.path_params["pid"]]
        return JSONResponse({"id": project.id, "path_with_namespace": project.path,
                             "default_branch": project.default_branch})

    async def list_mrs(self, request: Request) -> Response:
        """docs.gitlab.com/api/merge_requests/#list-project-merge-requests: ``state``
        (opened, closed, locked, merged; all by default), newest first by default; the
        items carry ``sha`` (the head) but no ``diff_refs`` (only a single MR does)."""
        if (problem := self._gate(request)) is not None:
            return problem
        project = self.projects[request.path_params["pid"]]
        state = request.query_params.get("state", "all")
        if state not in {"opened", "closed", "locked", "merged", "all"}:
            return JSONResponse({"error": "state does not have a valid value"}, status_code=400)
        if request.query_params.get("order_by", "created_at") != "created_at" or \
                request.query_params.get("sort", "desc") != "desc":
            return JSONResponse({"error": "this fake sorts by created_at desc only"},
                                status_code=400)
        items = [
            {"id": mr.iid + 10000, "iid": mr.iid, "project_id": mr.project_id,
             "source_project_id": mr.source_project_id, "target_project_id": mr.project_id,
             "state": mr.state, "source_branch": mr.source_branch,
             "target_branch": mr.target_branch, "draft": mr.draft,
             "work_in_progress": mr.draft, "author": self.person(mr.author),
             "sha": mr.versions[-1][2] if mr.versions else None}
            for mr in sorted(project.mrs.values(), key=lambda m: m.iid, reverse=True)
            if state in ("all", mr.state)
        ]
        return self._page(request, items)

    async def get_mr(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        mr = self._mr(request)
        if mr is None:
            return not_found("Merge Request")
        base, start, head = mr.versions[-1] if mr.versions else (None, None, None)
        # diff_refs is null until GitLab has computed the first version, for seconds after
        # the MR is opened (gitlab.com/gitlab-org/gitlab/-/issues/386562: "The API
        # documentation does not state that behavior").
        refs = {"base_sha": base, "start_sha": start, "head_sha": head} if mr.versions else None
        pipeline = {"id": mr.pipeline_id, "sha": head, "status": "running"} \
            if mr.pipeline_id else None
        return JSONResponse({"id": mr.iid + 10000, "iid": mr.iid, "project_id": mr.project_id,
                             "source_project_id": mr.source_project_id,
                             "target_project_id": mr.project_id,
                             "source_branch": mr.source_branch,
                             "target_branch": mr.target_branch,
                             "sha": head, "diff_refs": refs, "head_pipeline": pipeline,
                             "state": mr.state, "changes_count": str(len(mr.diffs))})

    async def versions(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        mr = self._mr(request)
        if mr is None:
            return not_found("Merge Request")
        # docs.gitlab.com/api/merge_requests/#get-merge-request-diff-versions: newest first.
        items = [{"id": i + 1, "head_commit_sha": h, "base_commit_sha": b,
                  "start_commit_sha": s, "created_at": "2026-01-01T00:00:00.000Z",
                  "merge_request_id": mr.iid + 10000, "state": "collected",
                  "real_size": str(len(mr.diffs))}
                 for i, (b, s, h) in enumerate(mr.versions)]
        return self._page(request, list(reversed(items)))

    async def diffs(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        mr = self._mr(request)
        # docs.gitlab.com/api/merge_requests/#list-merge-request-diffs: "Introduced in
        # GitLab 15.7"; an older instance answers 404.
        if mr is None or not self.has_diffs_endpoint:
            return not_found("Merge Request" if mr is None else "")
        return self._page(request, [d.payload() for d in mr.diffs])

    async def changes(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        mr = self._mr(request)
        if mr is None:
            return not_found("Merge Request")
        # The deprecated single-response endpoint: the MR with every diff in "changes"
        # (docs.gitlab.com/api/merge_requests/#retrieve-merge-request-changes).
        return JSONResponse({"iid": mr.iid, "project_id": mr.project_id,
                             "changes": [d.payload() for d in mr.diffs]})

    async def notes_endpoint(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        if self._mr(request) is None:
            return not_found("Merge Request")
        key = (request.path_params["pid"], request.path_params["iid"])
        notes = self.notes.setdefault(key, [])
        if request.method == "GET":
            # Newest first unless asked otherwise: sort defaults to desc on created_at
            # (docs.gitlab.com/api/notes/#list-all-merge-request-notes; lib/api/notes.rb,
            # "values: %w[asc desc], default: 'desc'").
            newest_first = request.query_params.get("sort", "desc") != "asc"
            return self._page(request, list(reversed(notes)) if newest_first else notes)
        body = json.loads(await request.body())
        if not body.get("body"):
            # "body" is required (docs.gitlab.com/api/notes/#create-new-merge-request-note);
            # a missing required parameter is Grape's 400 "<name> is missing".
            return JSONResponse({"error": "body is missing"}, status_code=400)
        # docs.gitlab.com/api/notes/: a note body holds at most 1,000,000 characters.
        if len(body["body"]) > 1_000_000:
            return JSONResponse({"message": {"note": ["is too long (maximum is 1000000 "
                                                      "characters)"]}}, status_code=400)
        note = self._note(body["body"])
        notes.append(note)
        return JSONResponse(note, status_code=201)

    async def edit_note(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        key = (request.path_params["pid"], request.path_params["iid"])
        found = [n for n in self.notes.get(key, []) if n["id"] == request.path_params["note_id"]]
        if not found:
            return not_found("Note")
        if found[0]["author"]["id"] != self.user["id"]:
            # Only a note's author may edit it (docs.gitlab.com/api/notes/
            # #modify-existing-merge-request-note; the API checks :admin_note): 403.
            return JSONResponse({"message": "403 Forbidden"}, status_code=403)
        found[0]["body"] = json.loads(await request.body())["body"]
        return JSONResponse(found[0])

    def _bad_position(self, mr: MR, position: dict[str, Any]) -> str | None:
        """Why GitLab would refuse ``position``
        (docs.gitlab.com/api/discussions/#create-a-new-thread-in-the-merge-request-diff)."""
        if position.get("position_type") != "text":
            return "position_type must be text"
        shas = (position.get("base_sha"), position.get("start_sha"), position.get("head_sha"))
        if shas not in mr.versions:
            return "Note {:position=>[\"is incomplete\"]}"
        diff = next((d for d in mr.diffs if d.new_path == position.get("new_path")
                     and d.old_path == position.get("old_path")), None)
        # A line that is not in the diff, an unchanged line without both old_line and
        # new_line, or missing paths: GitLab cannot compute the note's line code.
        line_code = "Note {:line_code=>[\"can't be blank\", \"must be a valid line code\"]}"
        if diff is None:
            return line_code
        rows = diff_rows(diff.new_path, diff.diff)
        wanted = (position.get("old_line"), position.get("new_line"))
        match = [r for r in rows if (r[1], r[2]) == wanted]
        if not match:
            return line_code
        line_range = position.get("line_range")
        if line_range:
            codes = {r[3]: r[0] for r in rows}
            start = line_range.get("start", {}).get("line_code")
            end = line_range.get("end", {}).get("line_code")
            if start not in codes or end not in codes or codes[start] != codes[end]:
                return line_code
        return None

    async def create_discussion(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        mr = self._mr(request)
        if mr is None:
            return not_found("Merge Request")
        body = json.loads(await request.body())
        position = body.get("position")
        if position is not None:
            reason = self._bad_position(mr, position)
            if reason:
                return JSONResponse({"message": f"400 Bad request - {reason}"}, status_code=400)
        # Notes on the diff start resolvable threads
        # (docs.gitlab.com/api/discussions/#resolve-a-merge-request-thread).
        note = {**self._note(body["body"]), "type": "DiffNote" if position else
                "DiscussionNote", "position": position, "resolvable": True,
                "resolved": False, "resolved_by": None}
        discussion = {"id": hashlib.sha1(str(note["id"]).encode()).hexdigest(),
                      "individual_note": False, "notes": [note]}
        key = (request.path_params["pid"], request.path_params["iid"])
        self.discussions.setdefault(key, []).append(discussion)
        self.notes.setdefault(key, []).append(note)  # discussion notes are notes too
        return JSONResponse(discussion, status_code=201)

    async def list_discussions(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        if self._mr(request) is None:
            return not_found("Merge Request")
        key = (request.path_params["pid"], request.path_params["iid"])
        # General notes are discussions too, each an "individual_note" of one note
        # (docs.gitlab.com/api/discussions/#list-project-merge-request-discussion-items).
        threaded = {id(n) for d in self.discussions.get(key, []) for n in d["notes"]}
        single = [{"id": hashlib.sha1(f"note{n['id']}".encode()).hexdigest(),
                   "individual_note": True, "notes": [n]}
                  for n in self.notes.get(key, []) if id(n) not in threaded]
        return self._page(request, [*self.discussions.get(key, []), *single])

    async def resolve_discussion(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        key = (request.path_params["pid"], request.path_params["iid"])
        found = [d for d in self.discussions.get(key, [])
                 if d["id"] == request.path_params["discussion_id"]]
        if not found:
            return not_found("Discussion")
        # "resolved" is required; only resolvable threads (on the diff) can be resolved
        # (docs.gitlab.com/api/discussions/#resolve-a-merge-request-thread).
        value = request.query_params.get("resolved")
        if value not in {"true", "false"}:
            return JSONResponse({"error": "resolved is missing"}, status_code=400)
        if not found[0]["notes"][0].get("resolvable"):
            return JSONResponse({"message": "400 Bad request - Discussion is not resolvable"},
                                status_code=400)
        for note in found[0]["notes"]:
            note["resolved"] = value == "true"
            note["resolved_by"] = dict(self.user) if value == "true" else None
        if value == "true":
            self.resolved_discussions.append(found[0]["id"])
        return JSONResponse(found[0])

    def _discussion(self, request: Request) -> dict[str, Any] | None:
        key = (request.path_params["pid"], request.path_params["iid"])
        found = [d for d in self.discussions.get(key, [])
                 if d["id"] == request.path_params["discussion_id"]]
        return found[0] if found else None

    async def get_discussion(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        if self._mr(request) is None:
            return not_found("Merge Request")
        # docs.gitlab.com/api/discussions/#get-single-merge-request-discussion-item
        discussion = self._discussion(request)
        return JSONResponse(discussion) if discussion else not_found("Discussion")

    async def add_discussion_note(self, request: Request) -> Response:
        """docs.gitlab.com/api/discussions/#add-note-to-existing-merge-request-thread: the
        note joins the thread as a DiscussionNote by the token's user."""
        if (problem := self._gate(request)) is not None:
            return problem
        if self._mr(request) is None:
            return not_found("Merge Request")
        body, problem = await _params(request, "add discussion note")
        if problem is not None:
            return problem
        discussion = self._discussion(request)
        if discussion is None:
            return not_found("Discussion")
        if not body["body"].strip():
            # The note model's own validation: bad_request!("Note #{note.errors.messages}").
            return JSONResponse({"message": "400 Bad request - Note {:note=>[\"can't be "
                                            "blank\"]}"}, status_code=400)
        first = discussion["notes"][0]
        note = {**self._note(body["body"]), "type": "DiscussionNote",
                "resolvable": first["resolvable"], "resolved": False}
        discussion["notes"].append(note)
        key = (request.path_params["pid"], request.path_params["iid"])
        self.notes.setdefault(key, []).append(note)
        return JSONResponse(note, status_code=201)

    def thread_notes(self, pid: int, iid: int, discussion_id: str) -> list[dict[str, Any]]:
        found = [d for d in self.discussions[(pid, iid)] if d["id"] == discussion_id]
        return list(found[0]["notes"])

    async def list_awards(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        key = (request.path_params["pid"], request.path_params["iid"])
        # The reactions of a note, paginated; an unknown note is 404
        # (docs.gitlab.com/api/emoji_reactions/, reactions on comments).
        if not any(n["id"] == request.path_params["note_id"] for n in self.notes.get(key, [])):
            return not_found("Note")
        return self._page(request, self.awards.get(request.path_params["note_id"], []))

    async def raw_file(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        project = self.projects[request.path_params["pid"]]
        tree = project.trees.get(request.query_params.get("ref", project.default_branch))
        path = request.path_params["file_path"]
        # docs.gitlab.com/api/repository_files/#get-raw-file-from-repository: the raw bytes;
        # ref defaults to the default branch; a missing file is "404 File Not Found".
        if tree is None or path not in tree:
            return not_found("File")
        return Response(tree[path], media_type="text/plain")

    async def tree(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        project = self.projects[request.path_params["pid"]]
        tree = project.trees.get(request.query_params.get("ref", project.default_branch))
        # docs.gitlab.com/api/repositories/#list-repository-tree: paginated (20 a page by
        # default), "404 Tree Not Found" for an unknown ref.
        if tree is None:
            return not_found("Tree")
        items = [{"id": hashlib.sha1(data).hexdigest(), "name": p.rsplit("/", 1)[-1],
                  "type": "blob", "path": p, "mode": "100644"} for p, data in sorted(tree.items())]
        return self._page(request, items)

    async def compare(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        project = self.projects[request.path_params["pid"]]
        key = (request.query_params.get("from", ""), request.query_params.get("to", ""))
        # docs.gitlab.com/api/repositories/#compare-branches-tags-or-commits: one answer
        # with every diff (not paginated); a ref that does not exist is a 404.
        if key not in project.comparisons:
            return not_found("Ref")
        return JSONResponse({"commit": {"id": key[1]}, "commits": [], "compare_timeout": False,
                             "compare_same_ref": key[0] == key[1],
                             "diffs": [d.payload() for d in project.comparisons[key]]})

    async def set_status(self, request: Request) -> Response:
        if (problem := self._gate(request)) is not None:
            return problem
        project = self.projects[request.path_params["pid"]]
        sha = request.path_params["sha"]
        # The commit must exist in this project: an MR from a fork has its commits in the
        # source project (docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit);
        # GitLab answers "404 Commit Not Found" (lib/api/commit_statuses.rb,
        # "not_found! 'Commit' unless commit", gitlab.com/gitlab-org/gitlab).
        if sha not in project.commits:
            return not_found("Commit")
        body = json.loads(await request.body())
        # "state" is one of the listed values, else Grape's 400 (same page and file).
        if body.get("state") not in STATES:
            return JSONResponse({"error": "state does not have a valid value"}, status_code=400)
        name = body.get("name") or body.get("context") or "default"
        previous = [s for s in self.statuses if s["project_id"] == project.id
                    and s["sha"] == sha and s["name"] == name and s["ref"] == body.get("ref")]
        # A status still pending or running is updated in place through its state machine;
        # a transition it does not allow (pending -> pending, running -> running, running
        # -> pending) is "Cannot transition status via :<event> from :<state>", 400
        # (lib/api/commit_statuses.rb rescues StateMachines::InvalidTransition with
        # render_api_error!(e.message, 400); the docs page does not list transitions).
        if previous and previous[-1]["status"] not in _TERMINAL:
            current = previous[-1]
            if current["status"] == body["state"] or (current["status"], body["state"]) == (
                    "running", "pending"):
                event = _EVENT[body["state"]]
                return JSONResponse({"message": f"Cannot transition status via :{event} from "
                                                f":{current['status']}"}, status_code=400)
            current.update(status=body["state"], description=body.get("description"),
                           target_url=body.get("target_url"))
            current["history"].append(body)
            return JSONResponse(current, status_code=201)
        status = {"id": next(self._ids), "project_id": project.id, "sha": sha, "name": name,
                  "ref": body.get("ref"), "status": body["state"],
                  "description": body.get("description"), "target_url": body.get("target_url"),
                  "pipeline_id": body.get("pipeline_id"), "history": [body],
                  "author": dict(self.user), "allow_failure": False}
        self.statuses.append(status)
        return JSONResponse(status, status_code=201)


async def _params(request: Request, operation: str) -> tuple[dict[str, Any], Response | None]:
    """The request's parameters (JSON or form body), checked against ``PARAMS``."""
    if request.headers.get("content-type", "").startswith("application/json"):
        raw = await request.body()
        body = json.loads(raw) if raw else {}
    else:
        body = dict(await request.form())
    if not isinstance(body, dict):
        return {}, JSONResponse({"error": "body is invalid"}, status_code=400)
    for name, (required, kind) in PARAMS[operation].items():
        if name not in body:
            if required:
                return {}, JSONResponse({"error": f"{name} is missing"}, status_code=400)
            continue
        if not isinstance(body[name], kind):
            return {}, JSONResponse({"error": f"{name} is invalid"}, status_code=400)
    return body, None


def not_found(what: str) -> JSONResponse:
    return JSONResponse({"message": f"404 {what} Not Found"}, status_code=404)


async def _no_route(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "404 Not Found"}, status_code=404)
