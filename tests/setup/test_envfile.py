"""`.env` edits keep the operator's lines, and the private key is never readable by others."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.config import load_settings
from bot.errors import ConfigError
from bot.setup.envfile import update_env_file, write_private_key
from bot.setup.run import make_plan, setup_settings


def test_a_new_env_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    assert update_env_file(path, {"APP_ID": "7", "WEBHOOK_SECRET": "s3cr'et with space"}) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert dotenv_values(path) == {"APP_ID": "7", "WEBHOOK_SECRET": "s3cr'et with space"}


def test_keys_change_in_place_and_other_lines_stay(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# comment\nAPP_ID=1\nOTHER=\"x y\"  # note\n\nAPP_SLUG=old\nPRIVATE_KEY=k\n")
    path.chmod(0o640)
    removed = update_env_file(path, {"APP_SLUG": "new", "APP_ID": "2", "PORT": "8080"},
                              remove=["PRIVATE_KEY", "NOT_THERE"])
    assert removed == ["PRIVATE_KEY"]
    assert path.read_text() == (
        "# comment\nAPP_ID=2\nOTHER=\"x y\"  # note\n\nAPP_SLUG=new\nPORT=8080\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the operator's choice stays


def test_an_unwritable_env_file_is_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"env file: cannot write .*: No such file"):
        update_env_file(tmp_path / "no-such-folder" / ".env", {"APP_ID": "1"})


def test_the_private_key_is_owner_only_even_over_an_old_file(tmp_path: Path) -> None:
    old = tmp_path / "data" / "github-app-1.pem"
    old.parent.mkdir()
    old.write_text("old")
    old.chmod(0o644)
    path = write_private_key(tmp_path / "data", "github-app-1.pem", "-----BEGIN-----")
    assert path == old
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "-----BEGIN-----\n"


def test_setup_reads_only_what_it_needs(tmp_path: Path) -> None:
    # An APP_ID without a key stops `serve`; it must not stop the command that fixes it.
    path = tmp_path / ".env"
    path.write_text("APP_ID=5\nPUBLIC_URL=https://audit.example.org\nDATA_DIR=/srv/audit\n")
    with pytest.raises(ConfigError, match="PRIVATE_KEY"):
        load_settings({}, env_file=path)
    settings = setup_settings(path, {"GITHUB_API_URL": "https://ghe.example.org/api/v3"})
    plan = make_plan(settings, env_file=path)
    assert plan.web_url == "https://ghe.example.org"
    assert plan.api_url == "https://ghe.example.org/api/v3"
    assert plan.data_dir == Path("/srv/audit")
    assert plan.manifest["hook_attributes"]["url"] == "https://audit.example.org/webhooks/github"


def test_github_com_by_default_and_ghes_from_the_flag(tmp_path: Path) -> None:
    settings = setup_settings(tmp_path / "missing.env", {})
    plan = make_plan(settings, env_file=tmp_path / ".env")
    assert (plan.web_url, plan.api_url) == ("https://github.com", "https://api.github.com")
    plan = make_plan(settings, env_file=tmp_path / ".env", github_url="https://git.acme.io/")
    assert (plan.web_url, plan.api_url) == ("https://git.acme.io", "https://git.acme.io/api/v3")
    with pytest.raises(ConfigError, match="--github-url"):
        make_plan(settings, env_file=tmp_path / ".env", github_url="git.acme.io")
