"""A browser as the page tests need one: an httpx client that keeps cookies, reads the CSRF
token out of the page it was given, and logs in through the login form like a person."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.web.api.conftest import PASSWORD, Api

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class Browser:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = httpx.Client(base_url=api.base, timeout=30,
                                   headers={"Accept": "text/html"})
        api.clients.append(self.client)  # closed with the fixture
        self.last: httpx.Response | None = None

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        self.last = self.client.get(path, **kwargs)
        return self.last

    def submit(self, path: str, data: dict[str, str], *, page: str | None = None,
               **kwargs: Any) -> httpx.Response:
        """POST a form with the CSRF token of ``page`` (default: the last page seen)."""
        html = page if page is not None else (self.last.text if self.last is not None else "")
        self.last = self.client.post(path, data={"csrf": csrf_of(html), **data}, **kwargs)
        return self.last

    def login(self, email: str, password: str = PASSWORD, next_path: str = "/") -> httpx.Response:
        form = self.get(f"/login?next={next_path}")
        assert form.status_code == 200, form.text
        return self.submit("/login", {"email": email, "password": password, "next": next_path},
                           page=form.text)
