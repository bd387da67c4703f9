"""The manifest auditbot ships and builds, checked by the rules GitHub applies to one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.errors import ConfigError
from bot.setup.manifest import (
    FEATURES,
    MANIFEST_PATH,
    Feature,
    build_manifest,
    github_web_url,
    load_manifest,
    registration_url,
)
from tests.fakes.fake_github_manifest import manifest_problems

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://audit.example.org"
# What GitHub refused in the manifest auditbot shipped before (issue 15).
OLD_APP_YML = """
name: auditbot
url: https://github.com/apps/auditbot
hook_attributes: {url: https://example.com/webhooks/github}
redirect_url: https://example.com/
public: false
default_events: [pull_request, push, check_run, check_suite, issue_comment, installation,
                 installation_repositories]
default_permissions: {pull_requests: write, checks: write, contents: read, issues: write,
                      metadata: read, statuses: write}
"""


def test_github_accepts_the_shipped_app_yml() -> None:
    assert manifest_problems(load_manifest()) == []
    # The root app.yml (Probot's place for it) is the packaged file, not a copy.
    assert (ROOT / "app.yml").resolve() == MANIFEST_PATH.resolve()


def test_the_rules_refuse_what_github_refused_in_the_old_manifest() -> None:
    assert manifest_problems(yaml.safe_load(OLD_APP_YML)) == [
        "Default events unsupported: installation and installation_repositories",
        "Default events are not supported by permissions: installation and "
        "installation_repositories",
    ]


def test_the_app_asks_only_for_what_auditbot_uses() -> None:
    manifest = load_manifest()
    assert manifest["default_permissions"] == {
        "pull_requests": "write",
        "checks": "write",
        "contents": "read",
        "issues": "write",
        "metadata": "read",
    }
    assert manifest["default_events"] == [
        "pull_request", "push", "check_run", "check_suite", "issue_comment",
        "pull_request_review_comment"]
    assert manifest["public"] is False


def test_the_built_manifest_points_at_public_url_and_github_accepts_it() -> None:
    manifest = build_manifest(load_manifest(), public_url=PUBLIC_URL + "/", name="audit-acme")
    assert manifest["hook_attributes"]["url"] == PUBLIC_URL + "/webhooks/github"
    assert manifest["redirect_url"] == PUBLIC_URL + "/setup/callback"
    assert manifest["name"] == "audit-acme"
    assert manifest_problems(manifest) == []


def test_a_public_url_with_a_path_keeps_it() -> None:
    manifest = build_manifest(load_manifest(), public_url="https://example.org/tools/auditbot")
    assert manifest["hook_attributes"]["url"] == "https://example.org/tools/auditbot/webhooks/github"


CODE_SCANNING = FEATURES["code_scanning"]


def test_a_feature_adds_its_permissions_and_events_together() -> None:
    manifest = build_manifest(load_manifest(), public_url=PUBLIC_URL, features=[CODE_SCANNING])
    assert CODE_SCANNING.flag == "--code-scanning"
    assert manifest["default_permissions"]["security_events"] == "write"
    assert manifest["default_events"][-1] == "code_scanning_alert"
    assert manifest_problems(manifest) == []
    # The event alone is what GitHub refuses: that is why a feature carries both.
    events_only = build_manifest(load_manifest(), public_url=PUBLIC_URL, features=[
        Feature(flag="--x", help="", events=("code_scanning_alert",))])
    assert manifest_problems(events_only) == [
        "Default events are not supported by permissions: code_scanning_alert"]


def test_features_merge_to_the_higher_access_and_each_event_once() -> None:
    reads = Feature(flag="--a", help="", permissions={"contents": "write", "checks": "read"},
                    events=("push", "pull_request_review_comment"))
    manifest = build_manifest(load_manifest(), public_url=PUBLIC_URL, features=[reads])
    assert manifest["default_permissions"]["contents"] == "write"  # read -> write
    assert manifest["default_permissions"]["checks"] == "write"  # write stays write
    assert manifest["default_events"].count("push") == 1
    assert manifest_problems(manifest) == []


@pytest.mark.parametrize(
    ("api_url", "web_url"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://api.github.com/", "https://github.com"),
        ("https://api.acme.ghe.com", "https://acme.ghe.com"),
        ("https://github.acme.internal/api/v3", "https://github.acme.internal"),
        ("http://127.0.0.1:8080/api/v3/", "http://127.0.0.1:8080"),
    ],
    ids=["github.com", "slash", "ghe.com", "ghes", "ghes-port"],
)
def test_github_web_url_from_the_api_url(api_url: str, web_url: str) -> None:
    assert github_web_url(api_url) == web_url


def test_an_api_url_of_unknown_shape_asks_for_the_web_url() -> None:
    with pytest.raises(ConfigError, match=r"GITHUB_API_URL.*--github-url"):
        github_web_url("http://127.0.0.1:8080")


def test_registration_url_for_an_account_and_an_organisation() -> None:
    assert registration_url("https://github.com", "s t") == (
        "https://github.com/settings/apps/new?state=s%20t")
    assert registration_url("https://github.com/", "abc", org="acme corp") == (
        "https://github.com/organizations/acme%20corp/settings/apps/new?state=abc")


def test_an_unreadable_manifest_is_one_config_error(tmp_path: Path) -> None:
    path = tmp_path / "app.yml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="not a mapping"):
        load_manifest(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_manifest(tmp_path / "missing.yml")
