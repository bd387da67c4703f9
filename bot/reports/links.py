"""Links from a report to the code on the forge: the pull request or commit, and each
finding's exact lines, on github.com, GitHub Enterprise Server, gitlab.com or a self-managed
GitLab. The web host comes from the settings the adapters already use (`GITHUB_API_URL`,
`GITLAB_URL`), so a report links to the instance the code lives on."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from bot.config import Settings


@dataclass(frozen=True)
class ForgeHosts:
    github: str  # https://github.com, or https://ghe.example.com for GitHub Enterprise
    gitlab: str  # https://gitlab.com, or the self-managed instance (with its path prefix)

    @classmethod
    def from_settings(cls, settings: Settings) -> ForgeHosts:
        return cls(github=github_web_url(settings.github_api_url),
                   gitlab=settings.gitlab_url.rstrip("/"))


def github_web_url(api_url: str) -> str:
    """The web host of a GitHub API: api.github.com serves github.com; a GitHub Enterprise
    Server's API lives at https://HOST/api/v3 and its pages at https://HOST."""
    parts = urlsplit(api_url.rstrip("/"))
    host = parts.netloc.lower()
    if host == "api.github.com":
        return "https://github.com"
    if host.startswith("api.") and host.endswith(".ghe.com"):  # GHE.com data residency
        return f"{parts.scheme}://{host.removeprefix('api.')}"
    path = parts.path
    if path.endswith("/api/v3"):
        path = path.removesuffix("/api/v3")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _segments(path: str) -> str:
    # Each segment quoted, slashes kept: a path with spaces, '#' or '?' still links to the file.
    return "/".join(quote(part, safe="") for part in path.split("/"))


@dataclass(frozen=True)
class RepoLinks:
    """Links into one repository; ``kind`` is the project's: github or gitlab."""

    kind: str
    base: str  # https://github.com/owner/repo

    @classmethod
    def of(cls, hosts: ForgeHosts, kind: str | None, full_name: str | None) -> RepoLinks | None:
        if not full_name or kind not in ("github", "gitlab"):
            return None  # local and archive projects live nowhere a browser can go
        host = hosts.github if kind == "github" else hosts.gitlab
        return cls(kind, f"{host}/{_segments(full_name)}")

    def change(self, number: int) -> str:
        if self.kind == "gitlab":
            return f"{self.base}/-/merge_requests/{number}"
        return f"{self.base}/pull/{number}"

    def commit(self, sha: str) -> str:
        if self.kind == "gitlab":
            return f"{self.base}/-/commit/{quote(sha, safe='')}"
        return f"{self.base}/commit/{quote(sha, safe='')}"

    def lines(self, sha: str, path: str, start: int, end: int) -> str:
        """GitHub ``blob/{sha}/{path}#L{start}-L{end}``; GitLab
        ``-/blob/{sha}/{path}#L{start}-{end}``; one line is ``#L{start}`` on both."""
        start = max(1, start)
        end = max(start, end)
        blob = f"{quote(sha, safe='')}/{_segments(path)}"
        if self.kind == "gitlab":
            anchor = f"L{start}" if end == start else f"L{start}-{end}"
            return f"{self.base}/-/blob/{blob}#{anchor}"
        anchor = f"L{start}" if end == start else f"L{start}-L{end}"
        return f"{self.base}/blob/{blob}#{anchor}"
