"""Links to the forge: the web host of each API, paths quoted segment by segment, and the
line anchors GitHub and GitLab each use."""

from __future__ import annotations

import pytest

from bot.reports.links import ForgeHosts, RepoLinks, github_web_url

HOSTS = ForgeHosts(github="https://github.com", gitlab="https://gitlab.example.org/git")


@pytest.mark.parametrize(("api", "web"), [
    ("https://api.github.com", "https://github.com"),
    ("https://api.github.com/", "https://github.com"),
    ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
    ("https://ghe.example.com/api/v3/", "https://ghe.example.com"),
    ("https://api.octocorp.ghe.com", "https://octocorp.ghe.com"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
], ids=["github.com", "trailing-slash", "enterprise-server", "enterprise-slash",
        "ghe.com", "test-server"])
def test_github_web_host(api: str, web: str) -> None:
    assert github_web_url(api) == web


def test_paths_are_quoted_per_segment() -> None:
    links = RepoLinks.of(HOSTS, "github", "acme/shop")
    assert links is not None
    assert links.lines("abc", "a dir/x#y?.py", 5, 5) == \
        "https://github.com/acme/shop/blob/abc/a%20dir/x%23y%3F.py#L5"
    assert links.lines("abc", "f.py", 9, 3) == "https://github.com/acme/shop/blob/abc/f.py#L9"


def test_gitlab_anchors_and_subgroups() -> None:
    links = RepoLinks.of(HOSTS, "gitlab", "group/sub/shop")
    assert links is not None
    assert links.lines("abc", "f.py", 2, 8) == \
        "https://gitlab.example.org/git/group/sub/shop/-/blob/abc/f.py#L2-8"
    assert links.change(7) == "https://gitlab.example.org/git/group/sub/shop/-/merge_requests/7"
    assert links.commit("abc") == "https://gitlab.example.org/git/group/sub/shop/-/commit/abc"


@pytest.mark.parametrize("kind", ["local", "archive", None])
def test_projects_off_any_forge_have_no_links(kind: str | None) -> None:
    assert RepoLinks.of(HOSTS, kind, "/srv/repo") is None
