"""Accounts over real HTTP: login, refresh rotation and reuse, logout, me, registration by
invitation, throttling, and the API's refusal of bad tokens."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import jwt
from sqlalchemy import select

from bot.store.models import OneTimeToken, RefreshToken
from tests.web.api.conftest import PASSWORD, Api


def test_login_me_and_bad_passwords(api: Api) -> None:
    admin = api.user("root@example.com", admin=True)
    tokens = api.login("ROOT@example.com")
    assert tokens["token_type"] == "Bearer"
    me = api.client(tokens["access_token"]).get("/api/v1/auth/me").json()
    assert me["email"] == "root@example.com"
    assert me["is_admin"] is True
    assert me["project_ids"] is None
    wrong = httpx.post(f"{api.base}/api/v1/auth/login",
                       json={"email": admin.email, "password": "nope nope nope"})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    unknown = httpx.post(f"{api.base}/api/v1/auth/login",
                         json={"email": "nobody@example.com", "password": PASSWORD})
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]


def test_api_refuses_missing_and_bad_tokens(api: Api) -> None:
    api.user("a@example.com")
    assert api.client().get("/api/v1/projects").status_code == 401
    secret = api.settings.jwt_secret
    assert secret is not None
    now = int(time.time())
    claims = {"iss": "auditbot", "aud": "api", "sub": "1", "iat": now, "exp": now + 60,
              "jti": "x"}
    bad = [
        "not-a-jwt",
        jwt.encode(claims, "wrong-key-" + "z" * 40, algorithm="HS256"),
        jwt.encode({**claims, "exp": now - 100, "iat": now - 200},
                   secret.get_secret_value(), algorithm="HS256"),
        jwt.encode({**claims, "aud": "report"}, secret.get_secret_value(), algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
    ]
    good = api.login("a@example.com")["access_token"]
    head, body, sig = good.split(".")
    bad.append(f"{head}.{body}.{sig[:-4]}AAAA")
    for token in bad:
        answer = api.client(token).get("/api/v1/auth/me")
        assert answer.status_code == 401, token
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert api.client(good).get("/api/v1/auth/me").status_code == 200


def test_refresh_rotates_and_reuse_revokes_the_family(api: Api) -> None:
    user = api.user()
    first = api.login(user.email)
    second = httpx.post(f"{api.base}/api/v1/auth/refresh",
                        json={"refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"]
    third = httpx.post(f"{api.base}/api/v1/auth/refresh",
                       json={"refresh_token": second["refresh_token"]}).json()
    # The first token comes back (stolen): refused, and the whole family with it.
    replay = httpx.post(f"{api.base}/api/v1/auth/refresh",
                        json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    after = httpx.post(f"{api.base}/api/v1/auth/refresh",
                       json={"refresh_token": third["refresh_token"]})
    assert after.status_code == 401
    # Another login is another family and still works.
    other = api.login(user.email)
    assert httpx.post(f"{api.base}/api/v1/auth/refresh",
                      json={"refresh_token": other["refresh_token"]}).status_code == 200


def test_logout_revokes_the_refresh_token(api: Api) -> None:
    user = api.user()
    tokens = api.login(user.email)
    client = api.client(tokens["access_token"])
    assert client.post("/api/v1/auth/logout",
                       json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    answer = httpx.post(f"{api.base}/api/v1/auth/refresh",
                        json={"refresh_token": tokens["refresh_token"]})
    assert answer.status_code == 401


def test_login_throttling_engages_and_spares_other_accounts(api: Api) -> None:
    victim = api.user()
    bystander = api.user()
    for _ in range(5):
        answer = httpx.post(f"{api.base}/api/v1/auth/login",
                            json={"email": victim.email, "password": "wrong password!"})
        assert answer.status_code == 401
    # Even the right password is refused now, with a Retry-After.
    locked = httpx.post(f"{api.base}/api/v1/auth/login",
                        json={"email": victim.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert api.login(bystander.email)["access_token"]


def test_registration_is_closed_without_an_invitation(api: Api) -> None:
    answer = httpx.post(f"{api.base}/api/v1/auth/register",
                        json={"email": "new@example.com", "password": "long enough pw"})
    assert answer.status_code == 403


def test_invitation_registers_once_for_its_address(api: Api) -> None:
    admin = api.as_user(api.user(admin=True))
    invite = admin.post("/api/v1/invitations",
                        json={"email": "Ann@Example.com", "is_admin": False})
    assert invite.status_code == 201
    token = invite.json()["token"]
    assert invite.json()["url"].endswith(f"/register?invitation={token}")
    wrong = httpx.post(f"{api.base}/api/v1/auth/register",
                       json={"email": "eve@example.com", "password": "long enough pw",
                             "invitation": token})
    assert wrong.status_code == 403
    # A refused attempt does not spend the invitation: its address can still use it.
    invite2 = {"token": token}
    made = httpx.post(f"{api.base}/api/v1/auth/register",
                      json={"email": "ann@example.com", "password": "long enough pw",
                            "invitation": invite2["token"]})
    assert made.status_code == 201, made.text
    assert made.json()["is_admin"] is False
    again = httpx.post(f"{api.base}/api/v1/auth/register",
                       json={"email": "ann@example.com", "password": "long enough pw",
                             "invitation": invite2["token"]})
    assert again.status_code == 403
    assert api.login("ann@example.com", "long enough pw")["access_token"]


def test_members_cannot_invite_or_list_users(api: Api) -> None:
    member = api.as_user(api.user())
    assert member.post("/api/v1/invitations", json={"email": "x@example.com"}).status_code == 403
    assert member.get("/api/v1/users").status_code == 403


def test_open_registration_makes_members_never_admins(api_factory: object) -> None:
    with api_factory(OPEN_REGISTRATION="true") as api:  # type: ignore[operator]
        first = httpx.post(f"{api.base}/api/v1/auth/register",
                           json={"email": "first@example.com", "password": "long enough pw"})
        assert first.status_code == 201
        assert first.json()["is_admin"] is False
        taken = httpx.post(f"{api.base}/api/v1/auth/register",
                           json={"email": "FIRST@example.com", "password": "long enough pw"})
        assert taken.status_code == 409


def test_disabled_user_loses_access(api: Api) -> None:
    admin = api.as_user(api.user(admin=True))
    user = api.user()
    tokens = api.login(user.email)
    assert admin.patch(f"/api/v1/users/{user.id}", json={"is_active": False}).status_code == 200
    assert api.client(tokens["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert httpx.post(f"{api.base}/api/v1/auth/refresh",
                      json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_refresh_and_reset_tokens_are_stored_only_hashed(api: Api) -> None:
    user = api.user()
    raw = api.login(user.email)["refresh_token"]
    admin = api.as_user(api.user(admin=True))
    invitation = admin.post("/api/v1/invitations", json={"email": "x@example.com"}).json()

    async def stored(session: Any) -> list[str]:
        rows = [*await session.scalars(select(RefreshToken)),
                *await session.scalars(select(OneTimeToken))]
        return [str(value) for row in rows for value in vars(row).values()]

    values = api.run(stored)
    for secret in (raw, invitation["token"]):
        assert secret not in values
        assert hashlib.sha256(secret.encode()).hexdigest() in values
