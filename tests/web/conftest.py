"""Fixtures of the page tests: the app over real HTTP, and Debian's Chromium for the tests
that drive a real browser (installed by the first test that needs it, when missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.web.api.conftest import Api, start_api

# Screenshots the browser tests keep for people to look at (ignored by git).
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


@pytest.fixture
def api(make_settings: Callable[..., Settings], redis_url: str) -> Iterator[Api]:
    yield from start_api(make_settings(REDIS_URL=redis_url))


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, timeout=300,
                       capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False,
                       timeout=900, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("Debian's chromium package is not installed and could not be installed "
                    "(apt-get install chromium)")
    return found
