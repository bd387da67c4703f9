"""Tokens and passwords: what `bot.web.auth` accepts and what it refuses."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import jwt
import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.signing import (
    ExpiredToken,
    InvalidToken,
    issue_report_token,
    report_url,
    verify_report_token,
)
from bot.web.auth import hash_password, issue_access_token, verify_access_token, verify_password


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def _secret(settings: Settings) -> str:
    assert settings.jwt_secret is not None
    return settings.jwt_secret.get_secret_value()


def _claims(**override: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"iss": "auditbot", "aud": "api", "sub": "7", "iat": now,
                                 "exp": now + 600, "jti": "abc"}
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


def test_access_token_round_trip(settings: Settings) -> None:
    claims = verify_access_token(settings, issue_access_token(settings, 42))
    assert claims.user_id == 42
    assert len(claims.jti) == 32


def test_alg_none_is_refused(settings: Settings) -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        verify_access_token(settings, f"{header}.{body}.")


def test_wrong_key_is_refused(settings: Settings) -> None:
    token = jwt.encode(_claims(), "another-key-" + "y" * 32, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_access_token(settings, token)


def test_other_hmac_algorithm_with_the_right_key_is_refused(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(JWT_SECRET="k" * 80)  # long enough for HS512 without a warning
    token = jwt.encode(_claims(), _secret(settings), algorithm="HS512")
    with pytest.raises(InvalidToken):
        verify_access_token(settings, token)


def test_expired_token_is_refused_as_expired(settings: Settings) -> None:
    now = int(time.time())
    token = jwt.encode(_claims(iat=now - 3600, exp=now - 60), _secret(settings), algorithm="HS256")
    with pytest.raises(ExpiredToken):
        verify_access_token(settings, token)


def test_tampered_payload_is_refused(settings: Settings) -> None:
    header, _, signature = issue_access_token(settings, 1).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(_claims(sub="1", aud="api")).encode())
    token = f"{header}.{forged.rstrip(b'=').decode()}.{signature}"
    with pytest.raises(InvalidToken):
        verify_access_token(settings, token)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "jti"])
def test_each_required_claim_is_checked(settings: Settings, missing: str) -> None:
    token = jwt.encode(_claims(**{missing: None}), _secret(settings), algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_access_token(settings, token)


def test_token_issued_in_the_future_is_refused(settings: Settings) -> None:
    now = int(time.time())
    token = jwt.encode(_claims(iat=now + 3600, exp=now + 7200), _secret(settings),
                       algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_access_token(settings, token)


def test_report_token_is_not_an_access_token_and_back(settings: Settings) -> None:
    with pytest.raises(InvalidToken):
        verify_access_token(settings, issue_report_token(settings, "7"))
    with pytest.raises(InvalidToken):
        verify_report_token(settings, issue_access_token(settings, 7), "7")


def test_report_token_opens_only_its_task_for_90_days(settings: Settings) -> None:
    token = issue_report_token(settings, "task-a")
    verify_report_token(settings, token, "task-a")
    with pytest.raises(InvalidToken):
        verify_report_token(settings, token, "task-b")
    claims = jwt.decode(token, _secret(settings), algorithms=["HS256"], audience="report")
    assert claims["sub"] == "task-a"
    assert claims["exp"] - claims["iat"] == 90 * 24 * 3600
    assert report_url(settings, "task-a").startswith("http://localhost:3000/reports/task-a?token=")


def test_no_jwt_secret_is_a_config_error(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings().model_copy(update={"jwt_secret": None})
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        issue_report_token(settings, "x")


def test_password_hash_is_argon2_and_verifies() -> None:
    digest = hash_password("a long passphrase")
    assert digest.startswith("$argon2id$")
    assert verify_password(digest, "a long passphrase")
    assert not verify_password(digest, "a long passphrasE")
    assert not verify_password("not a hash", "x")
