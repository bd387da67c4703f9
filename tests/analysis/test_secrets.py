"""Secret detection and masking: every planted secret is found, and none leaks."""

from __future__ import annotations

import logging
from importlib import resources

import pytest
import yaml

from bot.analysis.secrets import SecretMasker, find_secrets, mask_secrets, secret_findings
from bot.findings import Severity


def _own_examples(kind: str) -> list[tuple[str, str]]:
    text = resources.files("bot.analysis").joinpath("rules/secrets.yml").read_text("utf-8")
    cases = []
    for rule in yaml.safe_load(text)["rules"]:
        cases.extend((rule["kind"], line) for line in rule["examples"][kind])
    return cases


@pytest.mark.parametrize(("kind", "line"), _own_examples("positive"))
def test_own_rule_positive_examples(kind: str, line: str) -> None:
    assert kind in {m.kind for m in find_secrets("example.py", line)}


@pytest.mark.parametrize(("kind", "line"), _own_examples("negative"))
def test_own_rule_negative_examples(kind: str, line: str) -> None:
    assert find_secrets("example.py", line) == []


def test_mask_replaces_each_value_with_a_stable_placeholder() -> None:
    key = "AKIA" + "Z7Q2MXLP4KT8WZ1C"
    text = f'a = "{key}"\nb = "{key}"\npassword = "Tr0ub4dor&3x"\n'
    masked, matches = mask_secrets(text)
    assert key not in masked
    assert "Tr0ub4dor&3x" not in masked
    assert masked.count("<secret:aws-access-key:1>") == 2
    assert "<secret:password:2>" in masked
    assert [(m.line, m.kind) for m in matches] == [(1, "aws-access-key"), (2, "aws-access-key"),
                                                   (3, "password")]


def test_masker_numbers_secrets_alike_across_chunks() -> None:
    token = "ghp_" + "R4nd0mT0k3nV4lu3Xq7vR2mN9pL4kT8wZ1cB6"
    masker = SecretMasker()
    first, _ = masker.mask(f"TOKEN = '{token}'")
    second, _ = masker.mask(f"headers = {{'Authorization': 'token {token}'}}")
    assert "<secret:github-token:1>" in first
    assert "<secret:github-token:1>" in second


def test_private_key_block_is_masked_whole() -> None:
    body = "MIIEowIBAAKCAQEAxq7vR2mN9pL4kT8wZ1cB6yH3jF5dG0sA2eU7iO9pQ4rT6yW8"
    text = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n{body[::-1]}\n-----END RSA PRIVATE KEY-----\n"
    masked, matches = mask_secrets(text)
    assert body not in masked and body[::-1] not in masked
    assert [(m.kind, m.line, m.end_line) for m in matches] == [("private-key", 1, 4)]


def test_findings_are_critical_and_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sk-proj-" + "Rk9vT2xQ7mN4pL8wZ1cB6yH3jF5dG0sA2eU7iO9pQ4rT6yW8"
    text = f'import openai\nclient = openai.OpenAI(api_key="{secret}")\n'
    findings = secret_findings("bot/llm.py", text)
    assert len(findings) == 1
    finding = findings[0]
    assert finding.severity is Severity.CRITICAL
    assert finding.cwe == "CWE-798"
    assert finding.source == "static:secret/openai-api-key"
    assert (finding.start_line, finding.end_line) == (2, 2)
    # The title's own capitals (no "a openai ... api key").
    assert finding.message.startswith("OpenAI or OpenAI-compatible API key (sk-p")
    dumped = finding.model_dump_json()
    assert secret not in dumped
    assert secret[8:20] not in dumped
    assert secret not in caplog.text


def test_lines_limit_the_scan() -> None:
    key = "AKIA" + "Z7Q2MXLP4KT8WZ1C"
    text = f"x = 1\nkey = '{key}'\n"
    assert find_secrets("a.py", text, lines=[1]) == []
    assert [m.line for m in find_secrets("a.py", text, lines=[2])] == [2]


@pytest.mark.parametrize(
    "line",
    [
        'password = os.environ["DB_PASSWORD"]',
        'password = "${DB_PASSWORD}"',
        'api_key = "your-api-key-here"',
        'PASSWORD_ENV = "DB_PASSWORD"',
        'secret_file = "/run/secrets/db"',
        'password = ""',
        'aws_key = "AKIAIOSFODNN7EXAMPLE"',
        'token = get_token()',
    ],
)
def test_references_and_placeholders_are_not_secrets(line: str) -> None:
    assert find_secrets("settings.py", line) == []


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (".env", "DB_PASSWORD=Hq4!mLz9wX"),
        ("app/.env.production", "SECRET_KEY=Hq4mLz9wXa7Rt2Yv"),
        ("Dockerfile", "ENV API_TOKEN=Hq4mLz9wXa7Rt2YvK3"),
        ("src/db.ts", 'const password: string = "N7v#pQ2x!LmR8";'),
        ("config/app.properties", "spring.datasource.password=Secr3t!x9"),
        ("docker-compose.yml", "      POSTGRES_PASSWORD: Pg9!xLm2qR"),
        ("cmd/main.go", 'const dbPassword = "N7v#pQ2x!LmR8"'),
        ("App.java", 'private static final String PASSWORD = "N7v#pQ2x!LmR8";'),
        ("scripts/db.sh", "export PGPASSWORD='N7v#pQ2x!LmR8'"),
    ],
)
def test_hard_coded_passwords_across_file_types(path: str, line: str) -> None:
    assert find_secrets(path, line), line


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (".env", "DB_PASSWORD="),
        (".env", "DB_PASSWORD=${VAULT_DB_PASSWORD}"),
        (".env.example", "OPENAI_API_KEY=your-openai-key-here"),
        ("Dockerfile", "ARG NPM_TOKEN"),
        ("deploy.sh", "export API_TOKEN=$(vault read -field=token secret/api)"),
        ("src/db.ts", 'const password: string = process.env.DB_PASSWORD ?? "";'),
        ("app.py", 'password = input("Password: ")'),
        ("app.py", "PASSWORD_MIN_LENGTH = 12"),
    ],
)
def test_references_in_config_files_are_not_secrets(path: str, line: str) -> None:
    assert find_secrets(path, line) == []


# The formats detect-secrets' plugins supply, each with a line that holds one and the same
# line reading the value from the environment. Every value is made up.
PLUGIN_EXAMPLES = [
    ("artifactory-token",
     'ARTIFACTORY_API_KEY = "AKCp8C3J27XDCG2LmlZGEONYlgCtjfIZ4SOcMz9CPVNPkNa1Hedcm4pMbXDuCL1m"',
     'ARTIFACTORY_API_KEY = os.environ["ARTIFACTORY_API_KEY"]'),
    ("azure-storage-key",
     'CONN = "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=J0kGODKdinZnLXicaBAg8WY'
     '1jzIRlNQb0prFmbh7+wy5yq1XoY1BaIMcAxYmfsB4HbQLXjjlAFbVV6q9rXxtND==;EndpointSuffix=core.wi'
     'ndows.net"',
     'CONN = os.environ["AZURE_STORAGE_CONNECTION_STRING"]'),
    ("discord-token",
     'bot.run("N0NpUmkVO8JmR8y4EMfAdggc.G9qpVT.zqA05MFsHl7UeioEJP2NNern66n")',
     'bot.run(os.environ["DISCORD_TOKEN"])'),
    ("mailchimp-key",
     'client.set_config({"api_key": "ber02pdclsx7ifxi2v7icb4wtcbe4etu-us14", "server": "us14"})',
     'client.set_config({"api_key": os.environ["MAILCHIMP_KEY"], "server": "us14"})'),
    ("pypi-token",
     "password = pypi-AgEIcHlwaS5vcmcieeCIxVc57VVTiY96vwfRE5e32A8Yb3FKaNQyyLaMeffOhq4AUvy7VSLDCD"
     "1IfHWGbtMfEbo9ShFXNQ6",
     "password = ${PYPI_TOKEN}"),
    ("square-oauth-secret",
     'SQUARE_OAUTH_SECRET = "sq0csp-Fq5axtjRNmHkW5vQ7CF5puzQqmOBZZW6m4nyoL6unii"',
     'SQUARE_OAUTH_SECRET = settings.SQUARE_OAUTH_SECRET'),
    ("telegram-token",
     'bot = telebot.TeleBot("7750142177:AAr7n1AyOHFRuT11NCue1cr3McRTrKwtPYK")',
     'bot = telebot.TeleBot(os.environ["TELEGRAM_TOKEN"])'),
    ("twilio-key",
     'client = Client("ACbiz3mbrpjdh2g8xemm4qla48clorw876", auth_token)',
     'client = Client(os.environ["TWILIO_ACCOUNT_SID"], auth_token)'),
]


@pytest.mark.parametrize(("kind", "line", "reference"), PLUGIN_EXAMPLES,
                         ids=[kind for kind, _, _ in PLUGIN_EXAMPLES])
def test_detect_secrets_formats(kind: str, line: str, reference: str) -> None:
    matches = find_secrets("app/settings.py", line)
    assert kind in {m.kind for m in matches}
    masked, _ = mask_secrets(line)
    assert "<secret:" in masked
    assert find_secrets("app/settings.py", reference) == []


def test_a_password_in_documentation_is_medium_but_a_key_format_stays_critical() -> None:
    password = "    password: 's00pers3cret'\n"
    key = 'export AWS_ACCESS_KEY_ID="AKIA' + 'Z7Q2MXLP4KT8WZ1C"\n'
    docs = secret_findings("docs/setup.md", password + key)
    assert [(f.start_line, f.severity) for f in docs] == [
        (1, Severity.MEDIUM), (2, Severity.CRITICAL)
    ]
    assert "usually examples" in docs[0].message
    assert secret_findings("README", password)[0].severity is Severity.MEDIUM
    code = secret_findings("app/config.py", "password = 's00pers3cret'\n")
    assert [f.severity for f in code] == [Severity.CRITICAL]
