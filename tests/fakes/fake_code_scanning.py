"""GitHub code scanning for the fake GitHub (``FakeGitHub.code_scanning``).

Refuses what GitHub refuses, each rule naming its page:

- every request body is validated against the operation of GitHub's OpenAPI description
  (``tests/fixtures/github_openapi/code-scanning__*.json``) and every answer against its
  response schema, as the rest of the fake does;
- an upload's ``sarif`` must be base64 of gzip of JSON (400), at most 10 MB compressed (413);
  its content is then checked as GitHub's processing checks it: the SARIF 2.1.0 schema
  (``tests/fixtures/sarif``), and GitHub's own rules for uploads (docs.github.com/
  code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning:
  tool.driver.name, each result's message, ruleId and a physical location with a region;
  the limits of 20 runs per file, 25,000 results and rules per run, 1,000 locations per
  result, 20 tags per rule; and since July 2025 no two runs of one tool and category in one
  upload). What fails there makes the upload's processing "failed" with the errors;
- a repository without Advanced Security answers uploads 403, an App without
  ``security_events`` answers every code scanning call 403 (``mode``).

Uploads become alerts: one per tool, rule and partial fingerprint (GitHub matches results
across analyses by them), with an instance per ref; an alert the newest analysis of its
category on the default branch lacks is "fixed". ``dismiss`` plays a person in the Security
tab and returns the ``code_scanning_alert`` webhook payload GitHub would send.
"""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import itertools
import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from tests.fakes.fake_github import FakeGitHub, Repo

SARIF_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json")
    .read_text()
)
ALERT_EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "github" / \
    "code_scanning_alert.closed_by_user.json"
MAX_COMPRESSED = 10 * 1024 * 1024
NO_GHAS = "Advanced Security must be enabled for this repository to use code scanning."
NO_PERMISSION = "Resource not accessible by integration"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def category_of(run: dict[str, Any]) -> str:
    """"The category is the part of automationDetails.id before its last slash"."""
    ident = str((run.get("automationDetails") or {}).get("id") or "")
    return ident.rsplit("/", 1)[0] + "/" if "/" in ident else ident


def ingestion_errors(log: Any) -> list[str]:
    """Why code scanning would not process ``log`` (empty when it would)."""
    errors = [f"{'/'.join(str(p) for p in e.absolute_path) or 'log'}: {e.message}"
              for e in jsonschema.Draft4Validator(SARIF_SCHEMA).iter_errors(log)][:10]
    if errors:
        return errors
    runs = log.get("runs") or []
    if len(runs) > 20:
        errors.append(f"SARIF file has {len(runs)} runs; the limit is 20")
    seen: set[tuple[str, str]] = set()
    for index, run in enumerate(runs):
        driver = run["tool"]["driver"]
        key = (driver["name"], category_of(run))
        if key in seen:
            errors.append(f"run {index}: more than one run of tool {key[0]!r} with category "
                          f"{key[1]!r} in one upload")
        seen.add(key)
        results = run.get("results") or []
        rules = driver.get("rules") or []
        if len(results) > 25_000 or len(rules) > 25_000:
            errors.append(f"run {index}: more than 25,000 results or rules")
        for rule in rules:
            if len((rule.get("properties") or {}).get("tags") or []) > 20:
                errors.append(f"rule {rule.get('id')}: more than 20 tags")
        for number, result in enumerate(results):
            where = f"run {index} result {number}"
            if not (result.get("message") or {}).get("text"):
                errors.append(f"{where}: no message text")
            if not result.get("ruleId"):
                errors.append(f"{where}: no ruleId")
            locations = result.get("locations") or []
            if not locations or len(locations) > 1000:
                errors.append(f"{where}: needs 1 to 1,000 locations")
                continue
            physical = locations[0].get("physicalLocation") or {}
            uri = (physical.get("artifactLocation") or {}).get("uri")
            if not uri or uri.startswith("/") or "://" in uri:
                errors.append(f"{where}: expected a relative artifact location")
            if not (physical.get("region") or {}).get("startLine"):
                errors.append(f"{where}: expected a region with startLine")
    return errors[:20]


class CodeScanning:
    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.mode = "enabled"  # "enabled" | "no-ghas" | "no-permission"
        self.polls_until_processed = 0  # GET sarif answers "pending" this many times
        self.uploads: dict[str, dict[str, Any]] = {}
        self.bodies: list[dict[str, Any]] = []  # each upload's request body, as sent
        self.alerts: dict[str, dict[int, dict[str, Any]]] = {}  # repo -> number -> alert
        self.patches: list[tuple[int, dict[str, Any]]] = []
        self._numbers = itertools.count(1)

    def routes(self, r: str) -> list[Route]:
        return [
            Route(r + "/code-scanning/sarifs", self.upload, methods=["POST"]),
            Route(r + "/code-scanning/sarifs/{sarif_id}", self.get_sarif, methods=["GET"]),
            Route(r + "/code-scanning/alerts", self.list_alerts, methods=["GET"]),
            Route(r + "/code-scanning/alerts/{number:int}", self.alert,
                  methods=["GET", "PATCH"]),
        ]

    # Endpoints ----------------------------------------------------------------------

    async def _allowed(self, request: Request) -> tuple[Repo | None, Response | None]:
        from tests.fakes.fake_github import error

        repo, problem = self.fake._gate(request)
        if problem or repo is None:
            return None, problem or error(404, "Not Found")
        if self.mode == "no-permission":
            # An installation token without security_events
            # (docs.github.com/rest/code-scanning: "needs security_events: write").
            return None, error(403, NO_PERMISSION)
        return repo, None

    async def upload(self, request: Request) -> Response:
        from tests.fakes.fake_github import error

        repo, problem = await self._allowed(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        body, problem = await self.fake._body(request, "code-scanning__upload-sarif")
        if problem:
            return problem
        if self.mode == "no-ghas":
            # "Response if the repository is archived or if GitHub Advanced Security is not
            # enabled for this repository" (upload-an-analysis-as-sarif-data, 403).
            return error(403, NO_GHAS)
        try:
            compressed = base64.b64decode(body["sarif"], validate=True)
        except (binascii.Error, ValueError):
            return error(400, "Invalid request: sarif is not base64")
        if len(compressed) > MAX_COMPRESSED:
            return error(413, "Payload Too Large")
        try:
            log = json.loads(gzip.decompress(compressed))
        except (OSError, ValueError, EOFError):
            return error(400, "Invalid request: sarif is not gzip-compressed JSON")
        self.bodies.append(body)
        sarif_id = str(uuid.uuid4())
        full = f"{repo.owner}/{repo.name}"
        errors = ingestion_errors(log)
        self.uploads[sarif_id] = {"repo": full, "ref": body["ref"],
                                  "commit_sha": body["commit_sha"], "log": log,
                                  "errors": errors, "polls": 0}
        if not errors:
            self._analyse(repo, body["ref"], body["commit_sha"], log)
        base = f"https://api.github.com/repos/{full}/code-scanning/sarifs/{sarif_id}"
        return self.fake._answer("code-scanning__upload-sarif", {"id": sarif_id, "url": base},
                                 202)

    async def get_sarif(self, request: Request) -> Response:
        from tests.fakes.fake_github import error

        repo, problem = await self._allowed(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        upload = self.uploads.get(request.path_params["sarif_id"])
        if upload is None or upload["repo"] != f"{repo.owner}/{repo.name}":
            return error(404, "Not Found")
        upload["polls"] += 1
        status = "pending" if upload["polls"] <= self.polls_until_processed else (
            "failed" if upload["errors"] else "complete")
        payload: dict[str, Any] = {"processing_status": status, "analyses_url": (
            f"https://api.github.com/repos/{upload['repo']}/code-scanning/analyses"
            f"?sarif_id={request.path_params['sarif_id']}")}
        if status == "failed":
            payload["errors"] = upload["errors"]
        return self.fake._answer("code-scanning__get-sarif", payload)

    async def list_alerts(self, request: Request) -> Response:
        from tests.fakes.fake_github import error

        repo, problem = await self._allowed(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        alerts = self.alerts.get(f"{repo.owner}/{repo.name}", {})
        wanted = request.query_params.get("tool_name")
        items = [self._payload(repo, a) for _, a in sorted(alerts.items())
                 if not wanted or a["tool"] == wanted]
        for item in items:
            item.pop("dismissal_approved_by", None)
        page, headers = self.fake._paginate(request, items)
        return self.fake._answer("code-scanning__list-alerts-for-repo", page, headers=headers)

    async def alert(self, request: Request) -> Response:
        from tests.fakes.fake_github import error

        repo, problem = await self._allowed(request)
        if problem or repo is None:
            return problem or error(404, "Not Found")
        found = self.alerts.get(f"{repo.owner}/{repo.name}", {}).get(
            request.path_params["number"])
        if found is None:
            return error(404, "Not Found")
        if request.method == "GET":
            return self.fake._answer("code-scanning__get-alert", self._payload(repo, found))
        body, problem = await self.fake._body(request, "code-scanning__update-alert")
        if problem:
            return problem
        if body.get("state") == "dismissed" and not body.get("dismissed_reason"):
            # "You must provide dismissed_reason when you set the state to dismissed"
            # (docs.github.com/rest/code-scanning/code-scanning#update-a-code-scanning-alert).
            return error(400, "dismissed_reason is required when state is dismissed")
        self.patches.append((found["number"], body))
        if body.get("state") == "dismissed":
            found.update(dismissed=True, dismissed_reason=body["dismissed_reason"],
                         dismissed_comment=body.get("dismissed_comment"),
                         dismissed_by=self.fake.bot_login, dismissed_at=_now())
        elif body.get("state") == "open":
            found.update(dismissed=False, dismissed_reason=None, dismissed_comment=None,
                         dismissed_by=None, dismissed_at=None)
        return self.fake._answer("code-scanning__update-alert", self._payload(repo, found))

    # State --------------------------------------------------------------------------

    def _analyse(self, repo: Repo, ref: str, commit: str, log: dict[str, Any]) -> None:
        """Match the results to alerts; on the default branch an alert of the analysed
        categories that this analysis lacks is fixed."""
        full = f"{repo.owner}/{repo.name}"
        alerts = self.alerts.setdefault(full, {})
        default = ref == f"refs/heads/{repo.default_branch}"
        for run in log["runs"]:
            tool, category = run["tool"]["driver"]["name"], category_of(run)
            seen: set[int] = set()
            for result in run.get("results") or []:
                key = (tool, result["ruleId"],
                       json.dumps(result.get("partialFingerprints") or {}, sort_keys=True))
                alert = next((a for a in alerts.values() if a["key"] == key), None)
                if alert is None:
                    number = next(self._numbers)
                    alert = alerts[number] = {
                        "number": number, "key": key, "tool": tool, "rule": result["ruleId"],
                        "category": category, "created_at": _now(), "dismissed": False,
                        "dismissed_reason": None, "dismissed_comment": None,
                        "dismissed_by": None, "dismissed_at": None, "instances": {}}
                location = result["locations"][0]["physicalLocation"]
                region = location["region"]
                alert["instances"][ref] = {
                    "ref": ref, "commit_sha": commit, "category": category,
                    "message": result["message"]["text"], "path": location["artifactLocation"]
                    ["uri"], "start_line": region["startLine"],
                    "end_line": region.get("endLine", region["startLine"]), "fixed": False}
                alert["latest_ref"] = ref
                seen.add(alert["number"])
            if default:
                for alert in alerts.values():
                    instance = alert["instances"].get(ref)
                    if alert["tool"] == tool and alert["category"] == category and instance \
                            and alert["number"] not in seen:
                        instance["fixed"] = True

    def state(self, alert: dict[str, Any]) -> str:
        if alert["dismissed"]:
            return "dismissed"
        instances = alert["instances"].values()
        return "fixed" if instances and all(i["fixed"] for i in instances) else "open"

    def _payload(self, repo: Repo, alert: dict[str, Any]) -> dict[str, Any]:
        from tests.fakes.fake_github import op

        full = f"{repo.owner}/{repo.name}"
        payload = op("code-scanning__get-alert").example("200")
        instance = alert["instances"][alert["latest_ref"]]
        state = self.state(alert)
        url = f"https://api.github.com/repos/{full}/code-scanning/alerts/{alert['number']}"
        payload.update({
            "number": alert["number"], "created_at": alert["created_at"], "url": url,
            "html_url": f"https://github.com/{full}/security/code-scanning/{alert['number']}",
            "instances_url": f"{url}/instances", "state": state,
            "fixed_at": _now() if state == "fixed" else None,
            "dismissed_by": self.fake._person(alert["dismissed_by"])
            if alert["dismissed_by"] else None,
            "dismissed_at": alert["dismissed_at"], "dismissed_reason": alert["dismissed_reason"],
            "dismissed_comment": alert["dismissed_comment"],
            "tool": {"name": alert["tool"], "guid": None, "version": "1.0.0"},
        })
        payload.pop("dismissal_approved_by", None)
        payload["rule"].update({"id": alert["rule"], "name": alert["rule"]})
        payload["most_recent_instance"].update({
            "ref": instance["ref"], "commit_sha": instance["commit_sha"],
            "analysis_key": "auditbot", "category": instance["category"],
            "state": "fixed" if instance["fixed"] else ("dismissed" if alert["dismissed"]
                                                        else "open"),
            "message": {"text": instance["message"]},
            "location": {"path": instance["path"], "start_line": instance["start_line"],
                         "end_line": instance["end_line"], "start_column": 1,
                         "end_column": 1}})
        return payload

    def by_rule(self, full: str, rule: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts.get(full, {}).values() if a["rule"] == rule]

    def dismiss(self, full: str, number: int, reason: str, comment: str | None,
                login: str) -> dict[str, Any]:
        """A person dismisses alert ``number`` in the Security tab; returns the
        ``code_scanning_alert`` ``closed_by_user`` webhook payload (octokit's example with
        this alert in it)."""
        alert = self.alerts[full][number]
        alert.update(dismissed=True, dismissed_reason=reason, dismissed_comment=comment,
                     dismissed_by=login, dismissed_at=_now())
        repo = self.fake.repos[full]
        event = copy.deepcopy(json.loads(ALERT_EXAMPLE.read_text()))
        event["alert"] = {k: v for k, v in self._payload(repo, alert).items()
                          if k in event["alert"] or k in {"dismissed_comment",
                                                          "most_recent_instance"}}
        event["sender"] = self.fake._person(login)
        event["repository"].update(full_name=full, name=repo.name)
        event["installation"] = {"id": repo.installation_id, "node_id": "MDIzOkluc3RhbGw="}
        return event
