"""The report page: links to the change and to each finding's lines on the forge (GitHub,
GitHub Enterprise, GitLab, self-managed GitLab), triage for the right roles with its history,
read-only for signed-link readers, and findings paged."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from bot.config import Settings
from bot.signing import issue_report_token
from tests.web.api.conftest import Api, start_api
from tests.web.browser import Browser

SHA = "9f" * 20
BASE_SHA = "1a" * 20


def _finding_link(html: str, finding_id: int) -> str:
    found = re.search(rf'<a href="([^"]+)" id="link-{finding_id}"', html)
    assert found, f"finding {finding_id} has no link"
    return found.group(1).replace("&amp;", "&")


@pytest.mark.parametrize(("env", "kind", "name", "change", "lines", "old_lines"), [
    ({}, "github", "acme/shop",
     "https://github.com/acme/shop/pull/5",
     f"https://github.com/acme/shop/blob/{SHA}/app/run%20it.py#L3-L7",
     f"https://github.com/acme/shop/blob/{BASE_SHA}/old.py#L2"),
    ({"GITHUB_API_URL": "https://ghe.example.com/api/v3"}, "github", "acme/shop",
     "https://ghe.example.com/acme/shop/pull/5",
     f"https://ghe.example.com/acme/shop/blob/{SHA}/app/run%20it.py#L3-L7",
     f"https://ghe.example.com/acme/shop/blob/{BASE_SHA}/old.py#L2"),
    ({}, "gitlab", "group/sub/shop",
     "https://gitlab.com/group/sub/shop/-/merge_requests/5",
     f"https://gitlab.com/group/sub/shop/-/blob/{SHA}/app/run%20it.py#L3-7",
     f"https://gitlab.com/group/sub/shop/-/blob/{BASE_SHA}/old.py#L2"),
    ({"GITLAB_URL": "https://git.example.org/gitlab"}, "gitlab", "group/shop",
     "https://git.example.org/gitlab/group/shop/-/merge_requests/5",
     f"https://git.example.org/gitlab/group/shop/-/blob/{SHA}/app/run%20it.py#L3-7",
     f"https://git.example.org/gitlab/group/shop/-/blob/{BASE_SHA}/old.py#L2"),
], ids=["github", "github-enterprise", "gitlab", "gitlab-self-managed"])
def test_links_to_the_change_and_the_exact_lines(
    make_settings: Callable[..., Settings], redis_url: str, env: dict[str, str], kind: str,
    name: str, change: str, lines: str, old_lines: str,
) -> None:
    for api in start_api(make_settings(REDIS_URL=redis_url, **env)):
        project = api.project(name, kind=kind)
        task = api.task(project, pr_number=5, head_sha=SHA, base_sha=BASE_SHA)
        new = api.finding(task, path="app/run it.py", start_line=3, end_line=7,
                          rule_id="py.shell-injection", source="static:rules")
        old = api.finding(task, path="old.py", start_line=2, end_line=2, side="old")
        browser = Browser(api)
        browser.login(api.user(admin=True).email)
        html = browser.get(f"/reports/{task.id}").text
        assert re.search(r'<a href="([^"]+)" id="change-link"', html).group(1) == change  # type: ignore[union-attr]
        commit = re.search(r'<a href="([^"]+)" id="commit-link"', html).group(1)  # type: ignore[union-attr]
        assert commit == change.split("/pull/")[0].split("/-/merge_requests/")[0] + (
            "/-/commit/" if kind == "gitlab" else "/commit/") + SHA
        assert _finding_link(html, new.id) == lines
        assert _finding_link(html, old.id) == old_lines
        assert "py.shell-injection" in html and "static:rules" in html


def test_local_and_archive_reports_link_nowhere(api: Api) -> None:
    task = api.task(api.project("uploads", kind="archive"), head_sha=SHA)
    finding = api.finding(task)
    browser = Browser(api)
    browser.login(api.user(admin=True).email)
    html = browser.get(f"/reports/{task.id}").text
    assert f'id="link-{finding.id}"' not in html and 'id="commit-link"' not in html
    assert "src/app.py:10–12" in html


def test_triage_from_the_page_with_a_note_and_history(api: Api) -> None:
    project = api.project("acme/shop")
    task = api.task(project, head_sha=SHA)
    finding = api.finding(task, title="Shell from input")
    twin = api.finding(api.task(project), fingerprint=finding.fingerprint)
    member = api.user("dev@example.com")
    api.grant(member, project)
    browser = Browser(api)
    browser.login(member.email)
    page = browser.get(f"/reports/{task.id}")
    assert f'id="fp-{finding.id}"' in page.text and f'id="note-{finding.id}"' in page.text
    answer = browser.submit(f"/findings/{finding.id}/triage",
                            {"state": "false_positive", "reason": "input is a constant",
                             "back": f"/reports/{task.id}"})
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"/reports/{task.id}?notice=triaged#finding-{finding.id}")
    after = browser.get(answer.headers["location"]).text
    assert f'<span class="state" id="state-{finding.id}">False positive</span>' in after
    assert "Open → False positive by dev@example.com (web): input is a constant" in after
    # One model: the API sees the same state on the fingerprint's other record, and the
    # history the page wrote.
    client = api.as_user(member)
    assert client.get(f"/api/v1/findings/{twin.id}").json()["status"] == "false_positive"
    [event] = client.get(f"/api/v1/findings/{finding.id}/history").json()["items"]
    assert (event["source"], event["reason"]) == ("web", "input is a constant")


def test_viewers_and_link_readers_read_only(api: Api) -> None:
    project = api.project("acme/shop")
    task = api.task(project, head_sha=SHA)
    finding = api.finding(task)
    viewer = api.user()
    admin = api.as_user(api.user(admin=True))
    admin.post(f"/api/v1/projects/{project.id}/members",
               json={"user_id": viewer.id, "role": "viewer"})
    browser = Browser(api)
    browser.login(viewer.email)
    page = browser.get(f"/reports/{task.id}")
    assert page.status_code == 200 and 'class="triage"' not in page.text
    refused = browser.submit(f"/findings/{finding.id}/triage", {"state": "wont_fix"})
    assert refused.status_code == 403

    token = issue_report_token(api.settings, task.id)
    anonymous = httpx.get(f"{api.base}/reports/{task.id}", params={"token": token})
    assert anonymous.status_code == 200
    assert 'class="triage"' not in anonymous.text and 'id="read-only"' in anonymous.text
    assert 'id="login-link"' in anonymous.text  # navigation: log in instead of log out
    posted = httpx.post(f"{api.base}/findings/{finding.id}/triage",
                        data={"state": "wont_fix", "csrf": "x"})
    assert posted.status_code == 401
    assert api.as_user(viewer).get(f"/api/v1/findings/{finding.id}").json()["status"] == "open"


def test_findings_are_paged_worst_first(api: Api) -> None:
    task = api.task(api.project("acme/big"), head_sha=SHA)
    for n in range(60):
        api.finding(task, severity="low", title=f"Low {n:02d}", path=f"f{n:02d}.py")
    api.finding(task, severity="critical", title="The worst", path="z.py")
    browser = Browser(api)
    browser.login(api.user(admin=True).email)
    first = browser.get(f"/reports/{task.id}").text
    assert first.count('<article class="finding') == 50
    assert first.index("The worst") < first.index("Low 00")
    assert "Page 1 of 2" in first
    second = browser.get(f"/reports/{task.id}", params={"page": 2}).text
    assert second.count('<article class="finding') == 11
    assert "Low 59" in second and "The worst" not in second
    only = browser.get(f"/reports/{task.id}", params={"severity": "critical"}).text
    assert only.count('<article class="finding') == 1
