"""No planted secret ever leaves the analyzers: not in findings, not in logs, not in masked text.

The values are fake but shaped like real credentials; they are assembled here from two halves
so that this file itself does not look like it holds live keys.
"""

from __future__ import annotations

import logging

import pytest

from bot.analysis.secrets import SecretMatch, find_secrets, mask_secrets
from bot.analysis.static import analyze_file

PLANTED: dict[str, str] = {
    "aws-access-key": "AKIA" + "Q7ZT2LMXK9VB3NRW",
    "aws-secret-key": "9vQx2LmZr0Rt5YwVb3Nc" + "Kp7Hd1Gs9Ea4Tu6Io2Pl",
    "openai-api-key": "sk-proj-" + "Wq3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz1Xc3Vb5Nm7Qw9Er1",
    "anthropic-api-key": "sk-ant-api03-"
    + "Zx8Cv6Bn4Mq2Wr9Ty7Ui5Op3As1Df8Gh6Jk4Lz2Xc0Vb8Nm6Qw4Er2"
    + "Ty0Ui8Op6As4Df2Gh0Jk8Lz6Xc4Vb2Nm0Qw8E",
    "google-api-key": "AIzaSy" + "Q1w2E3r4T5y6U7i8O9p0Aa1Ss2Dd3Ff4G",
    "github-token": "ghp_" + "Lm3Nb5Vc7Xz9Aq1Ws3Ed5Rf7Tg9Yh1Uj3Ik5",
    "gitlab-token": "glpat-" + "Rf7Tg9Yh1Uj3Ik5Ol7Pq",
    "slack-token": "xoxb-" + "1029384756-5647382910-Qw3Er5Ty7Ui9Op1As3Df5Gh7",
    "stripe-key": "sk_live_" + "Mn7Bv5Cx3Zl1Kj9Hg7Fd5Sa3",
    "sendgrid-key": "SG." + "Aq1Ws3Ed5Rf7Tg9Yh1Uj3I.k5Ol7Pq9Zx1Cv3Bn5Mq7Wr9Ty1Ui3Op5As7Df9Gh1Jk3L",
    "jwt": "eyJhbGciOiJIUzI1NiJ9."
    + "eyJzdWIiOiJvcHMiLCJyb2xlIjoiYWRtaW4ifQ.Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9",
    "url-password": "Vq8" + "!dbPassRw2",
    "password": "Tx5" + "#mLq9Wz!p",
    "generic-secret": "Hd9Gs3Ea7Tu1" + "Io4Pl6Mn2Bv8",
}
KEY_BODY = "MIIEowIBAAKCAQEA" + "q7vR2mN9pL4kT8wZ1cB6yH3jF5dG0sA2eU7iO9pQ4rT6yW8uI1oP3aS5dF7gH9"


def _python_source() -> str:
    p = PLANTED
    return "\n".join([
        "import os",
        f'AWS_ACCESS_KEY_ID = "{p["aws-access-key"]}"',
        f'aws_secret_access_key = "{p["aws-secret-key"]}"',
        f'OPENAI = "{p["openai-api-key"]}"',
        f'ANTHROPIC = "{p["anthropic-api-key"]}"',
        f'GEMINI = "{p["google-api-key"]}"',
        f'GH = "{p["github-token"]}"',
        f'GL = "{p["gitlab-token"]}"',
        f'SLACK = "{p["slack-token"]}"',
        f'STRIPE = "{p["stripe-key"]}"',
        f'SENDGRID = "{p["sendgrid-key"]}"',
        f'ADMIN_JWT = "{p["jwt"]}"',
        f'DB = "postgresql://app:{p["url-password"]}@db.internal/app"',
        f'password = "{p["password"]}"',
        f'signing_token = "{p["generic-secret"]}"',
        'KEY = """-----BEGIN RSA PRIVATE KEY-----',
        KEY_BODY,
        '-----END RSA PRIVATE KEY-----"""',
        "",
    ])


def _values() -> list[str]:
    return [*PLANTED.values(), KEY_BODY]


def test_every_planted_kind_is_found() -> None:
    kinds = {match.kind for match in find_secrets("app/settings.py", _python_source())}
    assert set(PLANTED) | {"private-key"} <= kinds


def test_masked_text_holds_no_planted_value() -> None:
    masked, matches = mask_secrets(_python_source(), path="app/settings.py")
    for value in _values():
        assert value not in masked
    assert len(matches) == len(PLANTED) + 1
    assert "<secret:private-key:" in masked


def test_masking_a_diff_keeps_its_shape() -> None:
    diff = "".join(f"+{line}\n" for line in _python_source().split("\n"))
    masked, _ = mask_secrets(diff)
    assert masked.count("\n") == diff.count("\n")
    assert all(line.startswith("+") for line in masked.split("\n") if line)
    for value in _values():
        assert value not in masked


def test_matches_carry_only_a_masked_preview() -> None:
    for match in find_secrets("app/settings.py", _python_source()):
        assert isinstance(match, SecretMatch)
        text = repr(match) + match.preview
        for value in _values():
            assert value not in text
            assert value[4:16] not in text


@pytest.mark.parametrize(
    "path",
    ["app/settings.py", "web/src/config.ts", "deploy/values.yaml", "service/.env", "cmd/main.go"],
)
def test_no_planted_value_in_findings_or_logs(path: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    findings = analyze_file(path, _python_source())
    assert findings
    dumped = "\n".join(f.model_dump_json() for f in findings)
    for value in _values():
        assert value not in dumped
        assert value not in caplog.text
    assert all(r.getMessage() for r in caplog.records)  # records were formatted without error


def test_keys_inside_minified_lines_are_masked_too() -> None:
    # Lines over 2,000 characters skip the name-based checks, not the key formats.
    formats = ["openai-api-key", "anthropic-api-key", "google-api-key", "github-token",
               "gitlab-token", "slack-token", "stripe-key", "aws-access-key", "jwt"]
    line = "var a=1;" * 400 + ";".join(f'k{n}="{PLANTED[kind]}"' for n, kind in enumerate(formats))
    masked, matches = mask_secrets(line + "\n", path="dist/app.min.js")
    assert len(line) > 2000
    assert {m.kind for m in matches} >= set(formats)
    for kind in formats:
        assert PLANTED[kind] not in masked
