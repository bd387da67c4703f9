"""Secret detection: credentials committed in code, reported masked and masked before prompts.

detect-secrets' plugins supply most key formats and the keyword heuristics; our own table
(``rules/secrets.yml``) adds the formats it lacks (LLM providers' keys, GitLab's newer tokens,
passwords in URLs) and a high-entropy check limited to assignments to secret-sounding names.
A match never carries the full value: only a masked preview leaves this module.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from detect_secrets.filters import heuristic
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import DENYLIST
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from bot.analysis.rendered_paths import RENDER_PREFIX, path_of_each_line
from bot.analysis.secret_placeholders import (
    HEURISTIC_KINDS,
    is_placeholder,
    likely_example,
    placeholder_prefix,
)
from bot.findings import Category, Finding, Severity

logger = logging.getLogger(__name__)

CWE_HARDCODED_CREDENTIALS = "CWE-798"
CREDENTIAL_FIX = (
    "Revoke and rotate the credential now (it stays in the git history), then read it from "
    "the environment or a secret manager instead of the source."
)

# detect-secrets plugin -> our kind. Left out: PrivateKeyDetector (it sees only the BEGIN
# line; _private_keys() masks the whole block), and BasicAuthDetector, NpmDetector and
# KeywordDetector, whose unbounded patterns backtrack for seconds on crafted lines: bounded
# rules in secrets.yml and _KEYWORD_ASSIGNMENT (built on its DENYLIST) take their place.
_PLUGIN_KINDS: tuple[tuple[type[BasePlugin], str, str], ...] = (
    (AWSKeyDetector, "aws-access-key", "AWS access key"),
    (ArtifactoryDetector, "artifactory-token", "Artifactory token"),
    (AzureStorageKeyDetector, "azure-storage-key", "Azure storage account key"),
    (DiscordBotTokenDetector, "discord-token", "Discord bot token"),
    (GitHubTokenDetector, "github-token", "GitHub token"),
    (GitLabTokenDetector, "gitlab-token", "GitLab token"),
    (JwtTokenDetector, "jwt", "JSON Web Token"),
    (MailchimpDetector, "mailchimp-key", "Mailchimp API key"),
    (OpenAIDetector, "openai-api-key", "OpenAI API key"),
    (PypiTokenDetector, "pypi-token", "PyPI token"),
    (SendGridDetector, "sendgrid-key", "SendGrid API key"),
    (SlackDetector, "slack-token", "Slack token"),
    (SquareOAuthDetector, "square-oauth-secret", "Square OAuth secret"),
    (StripeDetector, "stripe-key", "Stripe key"),
    (TelegramBotTokenDetector, "telegram-token", "Telegram bot token"),
    (TwilioKeyDetector, "twilio-key", "Twilio API key"),
)
_EXTRA_TITLES = {
    "private-key": "Private key",
    "password": "Hard-coded password or secret",
    "generic-secret": "High-entropy secret",
}

_NEWLINE = re.compile("\n")
# Longer lines are minified or generated code: only the bounded format rules look at them.
_MAX_LINE = 2000
_PRIVATE_KEY_BEGIN = re.compile(r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----")
_PRIVATE_KEY_END = re.compile(r"-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----")
_KEY_BODY_LINE = re.compile(rf"^{RENDER_PREFIX}[\s+\"'`]*[A-Za-z0-9+/=]{{16,}}[\s\"'`,;\\n]*$")
_SENSITIVE_WORDS = (
    r"(?:secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|passw(?:or)?d|pwd|"
    r"credential|auth[_-]?key|client[_-]?secret|signing[_-]?key|encryption[_-]?key)"
)
# Every quantifier is bounded and names start at a token boundary, so a crafted line costs
# linear time (an unbounded \w*secret\w* backtracks cubically on "secretsecret...").
_NAME = rf"(?<![\w.\-])[\w.\-]{{0,40}}{_SENSITIVE_WORDS}[\w.\-]{{0,40}}"
_KEYWORDS = "(?:" + "|".join(DENYLIST) + ")"
_ENTROPY_ASSIGNMENT = re.compile(
    rf"(?i){_NAME}[\"'\]]{{0,2}}\s*(?:=>|:=|==|[:=]|\()\s*@?"
    r"(?P<q>[\"'`])(?P<secret>[A-Za-z0-9+/=_\-.~]{16,200})(?P=q)"
)
# detect-secrets' keyword heuristic (its DENYLIST of names), quoted values, any file type;
# set...( covers setters such as setPassword("...").
_KEYWORD_ASSIGNMENT = re.compile(
    rf"(?i)(?<![\w.\-])(?:[\w.\-]{{0,40}}{_KEYWORDS}[\w.\-]{{0,40}}[\"'\]]{{0,2}}\s*"
    rf"(?:=>|:=|===?|!==?|[:=])|set[\w]{{0,20}}{_KEYWORDS}\w{{0,20}}\s*\()\s*@?"
    r"(?P<q>[\"'`])(?P<secret>[^\"'`\n]{1,200})(?P=q)"
)
# In .env files, Dockerfiles, shell and config formats values are often unquoted.
_UNQUOTED_ASSIGNMENT = re.compile(
    rf"(?i)^{RENDER_PREFIX}\s*(?:export\s+|ENV\s+|ARG\s+|set\s+|-\s+)?[\"']?{_NAME}[\"']?\s*[=:]\s*"
    r"(?P<secret>[^\s\"'#][^\s#]{5,199})\s*$"
)
_CONFIG_FILES = re.compile(
    r"(?:^|/)(?:\.env(?:\.[\w.-]+)?|[\w.-]+\.env|Dockerfile[\w.-]*|[\w.-]+\.dockerfile|"
    r"Containerfile|[\w.-]+\.(?:conf|cfg|ini|properties|toml|tfvars|sh|bash|zsh|ya?ml))$"
)
# Every word detect-secrets' KeywordDetector and our entropy check key on contains one of these.
_KEYWORD_HINT = re.compile(r"(?i)key|pass|pwd|secret|token|credential|contrase")
@dataclass(frozen=True)
class SecretMatch:
    """One credential: where it is and a masked preview. Columns are 0-based, end exclusive."""

    kind: str
    line: int
    start: int
    end_line: int
    end: int
    preview: str
    placeholder: str | None = None

    @property
    def rule_id(self) -> str:
        return f"secret/{self.kind}"

    @property
    def title(self) -> str:
        return _titles().get(self.kind, "Credential")


@dataclass(frozen=True)
class _Hit:
    kind: str
    begin: int  # offsets in the text
    finish: int
    value: str


@lru_cache(maxsize=1)
def _own_rules() -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    text = resources.files("bot.analysis").joinpath("rules/secrets.yml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return tuple((r["kind"], r["title"], re.compile(r["pattern"])) for r in data["rules"])


@lru_cache(maxsize=1)
def _plugins() -> tuple[tuple[BasePlugin, str], ...]:
    return tuple((plugin_class(), kind) for plugin_class, kind, _ in _PLUGIN_KINDS)


@lru_cache(maxsize=1)
def _titles() -> dict[str, str]:
    titles = {kind: title for _, kind, title in _PLUGIN_KINDS}
    titles.update(_EXTRA_TITLES)
    titles.update({kind: title for kind, title, _ in _own_rules()})
    return titles


def _entropy(value: str) -> float:
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _line_starts(text: str) -> list[int]:
    return [0, *(match.end() for match in _NEWLINE.finditer(text))]


def _private_keys(text: str) -> Iterator[_Hit]:
    for begin in _PRIVATE_KEY_BEGIN.finditer(text):
        end = _PRIVATE_KEY_END.search(text, begin.end(), begin.end() + 20_000)
        if end is not None:
            finish = end.end()
        else:
            # A truncated block (a diff hunk, a string cut short): take the key-body lines after it.
            finish = text.find("\n", begin.end())
            finish = len(text) if finish < 0 else finish
            while finish < len(text):
                next_end = text.find("\n", finish + 1)
                next_end = len(text) if next_end < 0 else next_end
                if not _KEY_BODY_LINE.match(text[finish + 1 : next_end]):
                    break
                finish = next_end
        yield _Hit("private-key", begin.start(), finish, text[begin.start() : finish])


def _scannable(text: str) -> str:
    """The text with over-long lines emptied (line numbers kept): see _MAX_LINE."""
    if len(text) <= _MAX_LINE:
        return text
    return "\n".join("" if len(line) > _MAX_LINE else line for line in text.split("\n"))


def _candidate_lines(text: str) -> tuple[set[int], set[int]]:
    """Line indexes worth a per-line look: where a plugin's regex matches somewhere (a match in
    a line is also a match in the whole text, so this never drops one), and where a
    secret-sounding word appears (for the name-based checks)."""
    starts = _line_starts(text)
    format_lines: set[int] = set()
    for plugin, _ in _plugins():
        regexes: Iterable[re.Pattern[str]] = getattr(plugin, "denylist", ())
        for regex in regexes:
            for match in regex.finditer(text):
                first = _index_of(starts, match.start())
                last = _index_of(starts, max(match.start(), match.end() - 1))
                format_lines.update(range(first, last + 1))
    keyword_lines = {_index_of(starts, m.start()) for m in _KEYWORD_HINT.finditer(text)}
    return format_lines, keyword_lines


def _config_like(path: str, lines: list[str]) -> list[bool]:
    """Per line, whether it belongs to a config file. Without a path (a prompt chunk, a
    diff) the text's own headers say which file each line is in."""
    if path:
        return [bool(_CONFIG_FILES.search(path))] * len(lines)
    return [bool(_CONFIG_FILES.search(p)) if p else False for p in path_of_each_line(lines)]


def _line_hits(path: str, text: str, starts: list[int]) -> Iterator[_Hit]:
    plugins = _plugins()
    scan = _scannable(text)
    format_lines, keyword_lines = _candidate_lines(scan)
    lines = scan.split("\n")
    config_like = _config_like(path, lines)
    for number in sorted(format_lines | keyword_lines):
        line = lines[number]
        if len(line) < 8:
            continue
        offset = starts[number]
        if number in format_lines:
            for plugin, kind in plugins:
                for value in set(plugin.analyze_string(line)):
                    yield from _occurrences(kind, value, line, offset)
        if number not in keyword_lines:
            continue
        for match in _KEYWORD_ASSIGNMENT.finditer(line):
            if not heuristic.is_indirect_reference(line):
                yield _hit("password", match, offset)
        if config_like[number]:
            for match in _UNQUOTED_ASSIGNMENT.finditer(line):
                # Unquoted words (policy: strict) are settings; a password has a digit or symbol.
                if re.search(r"[\d\W_]", match.group("secret")):
                    yield _hit("password", match, offset)
        for match in _ENTROPY_ASSIGNMENT.finditer(line):
            value = match.group("secret")
            if _entropy(value) >= 3.5 and re.search(r"\d", value) and re.search(r"[A-Za-z]", value):
                yield _hit("generic-secret", match, offset)


def _hit(kind: str, match: re.Match[str], offset: int) -> _Hit:
    return _Hit(kind, offset + match.start("secret"), offset + match.end("secret"),
                match.group("secret"))


def _occurrences(kind: str, value: str, line: str, offset: int) -> Iterator[_Hit]:
    if not isinstance(value, str) or not value:
        return
    for found in re.finditer(re.escape(value), line):
        yield _Hit(kind, offset + found.start(), offset + found.end(), value)


def _scan(path: str, text: str) -> list[_Hit]:
    """Every credential in the text, the most specific detector winning on overlaps."""
    starts = _line_starts(text)
    candidates: list[_Hit] = []
    for kind, _, pattern in _own_rules():
        for match in pattern.finditer(text):
            group: str | int = next(
                (name for name in ("secret", "legacy")
                 if name in pattern.groupindex and match.group(name) is not None),
                0,
            )
            candidates.append(_Hit(kind, match.start(group), match.end(group), match.group(group)))
    candidates.extend(_private_keys(text))
    candidates.extend(_line_hits(path, text, starts))
    accepted: list[_Hit] = []  # kept sorted by offset; accepted hits never overlap
    for hit in candidates:
        line_index = _index_of(starts, hit.begin)
        line_end = starts[line_index + 1] - 1 if line_index + 1 < len(starts) else len(text)
        line = text[starts[line_index] : line_end]
        if hit.kind != "private-key" and (
            is_placeholder(hit.kind, hit.value, line)
            or placeholder_prefix(hit.value, _whole_token(line, hit.begin - starts[line_index]))
        ):
            continue
        at = bisect.bisect_left(accepted, hit.begin, key=lambda h: h.begin)
        if at > 0 and accepted[at - 1].finish > hit.begin:
            continue
        if at < len(accepted) and accepted[at].begin < hit.finish:
            continue
        accepted.insert(at, hit)
    return accepted


_TOKEN_CHARS = re.compile(r"[\w\-.]+")


def _whole_token(line: str, column: int) -> str:
    """The run of word characters around ``column``: a plugin may report only a token's
    prefix (detect-secrets' GitHub detector gives "ghp" for "ghp_xxxx..."), while whether it
    is a placeholder shows in the whole token."""
    for match in _TOKEN_CHARS.finditer(line):
        if match.start() <= column < match.end():
            return match.group()
    return ""


def _index_of(starts: list[int], offset: int) -> int:
    """The 0-based line holding ``offset``, given each line's starting offset."""
    return max(bisect.bisect_right(starts, offset) - 1, 0)


def _preview(hit: _Hit) -> str:
    if hit.kind == "private-key":
        return hit.value.split("\n", 1)[0].strip()[:64]
    if hit.kind in HEURISTIC_KINDS or len(hit.value) < 16:
        return "********"
    return hit.value[:4] + "********"


def _to_match(hit: _Hit, starts: list[int], placeholder: str | None = None) -> SecretMatch:
    first = _index_of(starts, hit.begin)
    last = _index_of(starts, max(hit.begin, hit.finish - 1))
    return SecretMatch(
        kind=hit.kind,
        line=first + 1,
        start=hit.begin - starts[first],
        end_line=last + 1,
        end=hit.finish - starts[last],
        preview=_preview(hit),
        placeholder=placeholder,
    )


def find_secrets(path: str, text: str, lines: Collection[int] | None = None) -> list[SecretMatch]:
    """Credentials in ``text`` (a file's new version); only those touching ``lines`` if given."""
    starts = _line_starts(text)
    matches = [_to_match(hit, starts) for hit in _scan(path, text)]
    if lines is not None:
        wanted = set(lines)
        matches = [m for m in matches if any(n in wanted for n in range(m.line, m.end_line + 1))]
    logger.debug("secret scan of %s: %d match(es)", path, len(matches))
    return matches


class SecretMasker:
    """Replaces secrets with placeholders, numbering each distinct value once across calls,
    so that several chunks of one review name the same secret alike."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}

    def mask(self, text: str, *, path: str = "") -> tuple[str, list[SecretMatch]]:
        starts = _line_starts(text)
        pieces: list[str] = []
        matches: list[SecretMatch] = []
        cursor = 0
        for hit in _scan(path, text):
            number = self._numbers.setdefault(hit.value, len(self._numbers) + 1)
            placeholder = f"<secret:{hit.kind}:{number}>"
            pieces.append(text[cursor : hit.begin])
            pieces.append(placeholder)
            # A block over several lines (a private key) keeps its line breaks and each line's
            # diff marker, so that masked hunks keep their shape and line numbers.
            for rest in text[hit.begin : hit.finish].split("\n")[1:]:
                pieces.append("\n" + (rest[:1] if rest[:1] in ("+", "-", " ") else ""))
            cursor = hit.finish
            matches.append(_to_match(hit, starts, placeholder))
        pieces.append(text[cursor:])
        return "".join(pieces), matches


def mask_secrets(text: str, *, path: str = "") -> tuple[str, list[SecretMatch]]:
    """``text`` with every secret replaced by ``<secret:kind:n>``, and the matches replaced."""
    return SecretMasker().mask(text, path=path)


def secret_findings(path: str, text: str, lines: Collection[int] | None = None) -> list[Finding]:
    """Findings for the credentials on ``lines``: CWE-798, masked quote; critical, except a
    name-heuristic match in documentation (medium: usually an example)."""
    masked, matches = mask_secrets(text, path=path)
    masked_lines = masked.split("\n")  # masking keeps line breaks, so lines still align
    wanted = set(lines) if lines is not None else None
    findings: list[Finding] = []
    seen: set[tuple[int, int, str]] = set()
    for match in matches:
        span = range(match.line, match.end_line + 1)
        if (wanted is not None and wanted.isdisjoint(span)) or (
            (match.line, match.end_line, match.kind) in seen
        ):
            continue
        seen.add((match.line, match.end_line, match.kind))
        quoted = "\n".join(masked_lines[match.line - 1 : match.end_line])
        example = likely_example(match.kind, path)
        findings.append(
            Finding(
                path=path,
                start_line=match.line,
                end_line=match.end_line,
                severity=Severity.MEDIUM if example else Severity.CRITICAL,
                category=Category.SECURITY,
                title=f"{match.title} committed in the code",
                message=(
                    f"{match.title} ({match.preview}) is written into the source. "
                    "Anyone who can read the repository or its history can use it. "
                    + CREDENTIAL_FIX
                    + (" It is in documentation, where such values are usually examples: "
                       "use an obvious placeholder if it is one." if example else "")
                ),
                cwe=CWE_HARDCODED_CREDENTIALS,
                suggestion=None,
                confidence=0.6 if match.kind in HEURISTIC_KINDS else 0.9,
                source=f"static:{match.rule_id}",
                rule_id=match.rule_id,
                quote=quoted[:2000],
            )
        )
    return findings
