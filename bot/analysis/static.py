"""Offline analysis of one file: the language rule tables, the secret detector, and Bandit for
Python, merged into one list of Findings on the new side.

Rules are data: ``rules/<language>.yml`` gives a language's file globs, comment markers,
regex ``macros`` (written ``<<NAME>>`` inside patterns) and a list of rules (id, patterns,
severity, category, CWE, message, fix, examples). A rule matches a line when one of its
``patterns`` matches and none of its ``exclude`` patterns does; rules with ``multiline: true``
match across lines. With ``in_code: true`` (a language's default, which a rule may override)
a match only counts when it starts outside string literals and trailing comments: a message
quoting ``eval()`` is no finding. Languages whose strings are the code (shell, YAML, SQL)
keep it off.
``file_requires`` / ``file_excludes`` (on the language or the rule) are searched in the whole
file and gate the rule, e.g. a workflow step that checks out the PR's head only matters in a
``pull_request_target`` workflow.
"""

from __future__ import annotations

import bisect
import dataclasses
import fnmatch
import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

import yaml

from bot.analysis.bandit_runner import bandit_findings
from bot.analysis.code_spans import CodeMap
from bot.analysis.engine import ENGINE_LANGUAGES
from bot.analysis.merge import fingerprint, merge_findings
from bot.analysis.secrets import mask_secrets, secret_findings
from bot.errors import ConfigError
from bot.findings import Category, Finding, Severity

logger = logging.getLogger(__name__)

_REGEX_FLAGS = {"ignorecase": re.IGNORECASE}
MAX_LINE = 2000


@dataclass(frozen=True)
class Example:
    code: str
    path: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    language: str
    title: str
    message: str
    fix: str
    severity: Severity
    category: Category
    cwe: str | None
    confidence: float
    patterns: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...] = ()
    file_requires: tuple[re.Pattern[str], ...] = ()
    file_excludes: tuple[re.Pattern[str], ...] = ()
    globs: tuple[str, ...] = ()
    multiline: bool = False
    # Only matches that start in code count: not inside a string literal or a trailing
    # comment on that line (a message that says "never pass verify=False" is no finding).
    in_code: bool = False
    positive: tuple[Example, ...] = ()
    negative: tuple[Example, ...] = ()
    # All patterns as one alternation, so a line costs one search; None when a pattern uses
    # numbered groups (back-references would shift in the alternation).
    combined: re.Pattern[str] | None = None
    # The patterns with ^ and $ at line ends, for a first search of the whole file.
    prefilter: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class Language:
    name: str
    globs: tuple[str, ...]
    comments: tuple[str, ...]
    example_path: str
    file_requires: tuple[re.Pattern[str], ...] = ()
    rules: tuple[Rule, ...] = field(default_factory=tuple)


_MACRO = re.compile(r"<<(\w+)>>")


def _expand(pattern: str, macros: dict[str, str], where: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in macros:
            raise ConfigError(where, f"unknown macro <<{name}>>")
        return f"(?:{macros[name]})"

    return _MACRO.sub(one, pattern)


def _compile(
    patterns: Any, where: str, flags: int = 0, macros: dict[str, str] | None = None
) -> tuple[re.Pattern[str], ...]:
    if patterns is None:
        return ()
    if isinstance(patterns, str):
        patterns = [patterns]
    try:
        return tuple(re.compile(_expand(p, macros or {}, where), flags) for p in patterns)
    except re.error as error:
        raise ConfigError(where, f"bad regular expression: {error}") from error


def _examples(items: Any) -> tuple[Example, ...]:
    examples = []
    for item in items or ():
        if isinstance(item, dict):
            examples.append(Example(code=item["code"], path=item.get("path")))
        else:
            examples.append(Example(code=str(item)))
    return tuple(examples)


def _rule(data: dict[str, Any], language: str, where: str, macros: dict[str, str],
          in_code: bool = False) -> Rule:
    flags = 0
    for name in data.get("flags", ()):
        flags |= _REGEX_FLAGS[name]
    examples = data.get("examples") or {}
    rule = Rule(
        id=data["id"],
        language=language,
        title=data["title"],
        message=data["message"],
        fix=data["fix"],
        severity=Severity(data["severity"]),
        category=Category(data.get("category", "security")),
        cwe=data.get("cwe"),
        confidence=float(data.get("confidence", 0.7)),
        patterns=_compile(data["patterns"], where,
                          flags | (re.M | re.S if data.get("multiline") else 0), macros),
        exclude=_compile(data.get("exclude"), where, flags, macros),
        file_requires=_compile(data.get("file_requires"), where, re.M),
        file_excludes=_compile(data.get("file_excludes"), where, re.M),
        globs=tuple(data.get("globs", ())),
        multiline=bool(data.get("multiline", False)),
        in_code=bool(data.get("in_code", in_code)),
        positive=_examples(examples.get("positive")),
        negative=_examples(examples.get("negative")),
    )
    flags = rule.patterns[0].flags
    if all(p.groups == 0 for p in rule.patterns) and len(rule.patterns) > 1:
        joined = "|".join(f"(?:{p.pattern})" for p in rule.patterns)
        rule = dataclasses.replace(rule, combined=re.compile(joined, flags),
                                   prefilter=(re.compile(joined, flags | re.M),))
    else:
        rule = dataclasses.replace(
            rule, prefilter=tuple(re.compile(p.pattern, p.flags | re.M) for p in rule.patterns)
        )
    if not rule.positive or not rule.negative:
        raise ConfigError(where, f"rule {rule.id} needs a positive and a negative example")
    return rule


@lru_cache(maxsize=1)
def load_languages() -> tuple[Language, ...]:
    """Every rule table shipped in bot/analysis/rules (secrets.yml is the detector's own)."""
    folder = resources.files("bot.analysis").joinpath("rules")
    languages = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith((".yml", ".yaml")) or entry.name.startswith("secrets."):
            continue
        data: dict[str, Any] = yaml.safe_load(entry.read_text("utf-8"))
        name = data["language"]
        languages.append(
            Language(
                name=name,
                globs=tuple(data["globs"]),
                comments=tuple(data.get("comments", ())),
                example_path=data["example_path"],
                file_requires=_compile(data.get("file_requires"), entry.name, re.M),
                rules=tuple(
                    _rule(rule, name, entry.name, data.get("macros") or {},
                          in_code=bool(data.get("in_code", False)))
                    for rule in data["rules"]
                ),
            )
        )
    ids = [rule.id for language in languages for rule in language.rules]
    duplicates = {rule_id for rule_id in ids if ids.count(rule_id) > 1}
    if duplicates:
        raise ConfigError("bot/analysis/rules", f"duplicate rule ids: {sorted(duplicates)}")
    return tuple(languages)


def all_rules() -> list[Rule]:
    return [rule for language in load_languages() for rule in language.rules]


def _glob_match(path: str, globs: Sequence[str]) -> bool:
    name = PurePosixPath(path).name
    pattern = _globs_regex(tuple(globs))
    return bool(pattern.match(path) or pattern.match(name) or pattern.match("/" + path))


@lru_cache(maxsize=256)
def _globs_regex(globs: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a table's globs, each matched as fnmatch would match the path, the file
    name, or "*/" + glob against "/" + path."""
    parts = [fnmatch.translate(g) for g in globs] + [fnmatch.translate("*/" + g) for g in globs]
    return re.compile("|".join(f"(?:{p})" for p in parts))


def languages_for(path: str, content: str) -> list[Language]:
    """The rule tables that apply to this file (a YAML file may be CI config or Kubernetes)."""
    return [
        language for language in load_languages()
        if _glob_match(path, language.globs)
        and all(p.search(content) for p in language.file_requires)
    ]


def _rule_applies(rule: Rule, path: str, content: str) -> bool:
    if rule.globs and not _glob_match(path, rule.globs):
        return False
    if not all(p.search(content) for p in rule.file_requires):
        return False
    return not any(p.search(content) for p in rule.file_excludes)


def _line_of(starts: list[int], offset: int) -> int:
    """The 1-based line holding ``offset``, given each line's starting offset."""
    return max(bisect.bisect_right(starts, offset), 1)


def _rule_hits(rule: Rule, language: Language, content: str,
               source_lines: list[str], code: CodeMap) -> list[tuple[int, int]]:
    hits: list[tuple[int, int]] = []
    if rule.multiline:
        starts = [0, *(match.end() for match in re.finditer("\n", content))]
        for pattern in rule.patterns:
            for match in pattern.finditer(content):
                first = _line_of(starts, match.start())
                last = _line_of(starts, max(match.start(), match.end() - 1))
                if not any(p.search(source_lines[first - 1]) for p in rule.exclude):
                    hits.append((first, last))
        return hits
    patterns = (rule.combined,) if rule.combined is not None else rule.patterns
    # Most rules match nowhere in a file: one search of the whole text skips them. Across
    # lines a pattern can only fail where a lookahead sees the next line's code, which is
    # then the better reading anyway (eval( with a literal on the next line).
    if not any(p.search(content) for p in rule.prefilter):
        return hits
    for number, line in enumerate(source_lines, start=1):
        if not any(p.search(line) for p in patterns):
            continue
        stripped = line.lstrip()
        if language.comments and stripped.startswith(language.comments):
            continue
        if rule.in_code and not any(code.in_code(number, line, m.start())
                                    for p in patterns for m in p.finditer(line)):
            continue
        if not any(p.search(line) for p in rule.exclude):
            hits.append((number, number))
    return hits


def rule_findings(path: str, content: str, lines: Collection[int] | None = None,
                  skip_languages: Collection[str] = ()) -> list[Finding]:
    """Findings from the language rule tables alone, but for ``skip_languages`` (those the
    engine covers in this run). Lines longer than MAX_LINE (minified or generated code) are
    not matched: patterns with .* would cost quadratic time there."""
    source_lines = content.split("\n")
    scan_lines = ["" if len(line) > MAX_LINE else line for line in source_lines]
    scan = "\n".join(scan_lines) if len(content) > MAX_LINE else content
    wanted = set(lines) if lines is not None else None
    findings: list[Finding] = []
    for language in languages_for(path, content):
        if language.name in skip_languages:
            continue
        code = CodeMap(language.name, content, language.comments)
        for rule in language.rules:
            if not _rule_applies(rule, path, content):
                continue
            for first, last in sorted(set(_rule_hits(rule, language, scan, scan_lines, code))):
                if wanted is not None and not wanted.intersection(range(first, last + 1)):
                    continue
                quote, _ = mask_secrets("\n".join(source_lines[first - 1 : last]), path=path)
                findings.append(
                    Finding(
                        path=path,
                        start_line=first,
                        end_line=last,
                        severity=rule.severity,
                        category=rule.category,
                        title=rule.title,
                        message=f"{rule.message} Fix: {rule.fix}",
                        cwe=rule.cwe,
                        confidence=rule.confidence,
                        source=f"static:{rule.id}",
                        rule_id=rule.id,
                        quote=quote[:2000],
                    )
                )
    return findings


def is_python(path: str) -> bool:
    return path.endswith((".py", ".pyw"))


def analyze_file(path: str, content: str, lines: Collection[int] | None = None,
                 *, engine_ran: bool = False) -> list[Finding]:
    """Every offline finding for one file's new version but the engine's, limited to
    ``lines`` (1-based, the added lines of a diff) when given; merged, fingerprinted and
    sorted. With ``engine_ran`` the engine's rules stand in for the line rules of the
    languages it covers, and for Bandit."""
    findings = secret_findings(path, content, lines)
    findings.extend(rule_findings(path, content, lines,
                                  skip_languages=ENGINE_LANGUAGES if engine_ran else ()))
    if is_python(path) and not engine_ran:
        findings.extend(bandit_findings(path, content, lines))
    source_lines = content.split("\n")
    merged = [
        finding.model_copy(update={"fingerprint": fingerprint(finding, source_lines)})
        for finding in merge_findings(findings)
    ]
    logger.debug("offline analysis of %s: %d finding(s)", path, len(merged))
    return merged
