"""Merging findings from several sources, and fingerprints that survive line shifts.

The rule: two findings are the same problem when they are on the same path and side, their
line ranges overlap, and either their CWEs belong to a common family (CWE-259 and CWE-798 are
both "hard-coded credentials"), or at least one has no CWE and both have the same category.
Same-problem findings (transitively) become one: the primary is the worst (severity), then the
best written for the reader (a model's message about this very code, then our own rules' texts,
then Bandit's generic ones), then the most confident, then the longer message; it keeps
its lines, message and title, takes the highest confidence, the first CWE, rule id and quote
any member has, and a source naming every member ("static:python/eval+llm:openai/gpt-4o").
The output is sorted, so the same findings in any order give the same list.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from bot.findings import Finding

# CWE -> families. A CWE may sit in two families (CWE-94: code injection, and Flask's debug
# mode, which Bandit files under it), so "same family" is a non-empty intersection.
_FAMILIES: dict[str, frozenset[str]] = {}
_FAMILY_ORDER: dict[str, int] = {}
for _family, _cwes in {
    "credentials": (798, 259, 321, 522, 547),
    "exec": (77, 78, 88, 94, 95, 917),
    "sql": (89, 564, 943),
    "deserialization": (502, 915),
    "crypto": (261, 326, 327, 328, 759, 760, 916),
    "tls": (295, 297, 319, 757),
    "random": (330, 331, 338),
    "path": (22, 23, 36, 73, 377),
    "ssrf": (918,),
    "xss": (79, 80, 116),
    "cors": (346, 942),
    "debug": (11, 215, 489, 94, 1295),
    "ci": (829, 1395),
    "permissions": (250, 269, 732, 276),
}.items():
    _FAMILY_ORDER[_family] = len(_FAMILY_ORDER)
    for _number in _cwes:
        key = f"CWE-{_number}"
        _FAMILIES[key] = _FAMILIES.get(key, frozenset()) | {_family}

_WHITESPACE = re.compile(r"\s+")


def cwe_families(cwe: str | None) -> frozenset[str]:
    """The families a CWE belongs to; an unknown CWE is its own family."""
    if not cwe:
        return frozenset()
    return _FAMILIES.get(cwe, frozenset({cwe}))


def normalise_code(lines: Iterable[str]) -> str:
    """Lines stripped, inner whitespace collapsed, blank lines dropped."""
    cleaned = (_WHITESPACE.sub(" ", line).strip() for line in lines)
    return "\n".join(line for line in cleaned if line)


def fingerprint(finding: Finding, code_lines: Sequence[str]) -> str:
    """A stable id for the problem: path, category, CWE family and the normalised code of its
    lines, never the line number, so that it survives code moving up or down.

    ``code_lines`` is either the whole file on the finding's side (index 0 is line 1) or
    exactly the finding's own lines; the two readings agree whenever both fit. When neither
    fits, the finding's own quote stands in for the code.
    """
    span = finding.end_line - finding.start_line + 1
    if len(code_lines) >= finding.end_line:
        code = normalise_code(code_lines[finding.start_line - 1 : finding.end_line])
    elif len(code_lines) == span:
        code = normalise_code(code_lines)
    else:
        code = ""
    if not code and finding.quote:
        code = normalise_code(finding.quote.split("\n"))
    # One family, the first in the table's order: a rule replaced by another that files the
    # same problem under a neighbouring CWE (CWE-95 and CWE-94, code injection) keeps the
    # fingerprint, so a dismissal made under the old rule still holds.
    families = cwe_families(finding.cwe)
    family = min(families, key=lambda f: (_FAMILY_ORDER.get(f, len(_FAMILY_ORDER)), f)) \
        if families else "-"
    key = "\0".join((finding.path, finding.category.value, family, code))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _same_problem(a: Finding, b: Finding) -> bool:
    if a.path != b.path or a.side != b.side:
        return False
    if a.start_line > b.end_line or b.start_line > a.end_line:
        return False
    if a.cwe and b.cwe:
        return bool(cwe_families(a.cwe) & cwe_families(b.cwe))
    return a.category == b.category


def _primary_key(finding: Finding) -> tuple[int, int, float, int, str]:
    # The merged finding takes the highest confidence of its members anyway: confidence
    # only picks whose words the reader sees, and a text written for this code reads best.
    return (finding.severity.rank, _author_rank(finding.source), finding.confidence,
            len(finding.message), finding.source)


def _author_rank(source: str) -> int:
    if source.startswith("llm:"):
        return 2
    return 0 if source.startswith("static:bandit/") else 1


def _order_key(finding: Finding) -> tuple[str, str, int, int, int, str, str, str]:
    return (finding.path, finding.side, finding.start_line, finding.end_line,
            -finding.severity.rank, finding.source, finding.title, finding.message)


def _combine(group: list[Finding]) -> Finding:
    if len(group) == 1:
        return group[0]
    primary = max(group, key=_primary_key)
    others = sorted((f for f in group if f is not primary), key=_order_key)
    sources: list[str] = []
    for member in [primary, *others]:
        for part in member.source.split("+"):
            if part not in sources:
                sources.append(part)
    suggestion = primary.suggestion or next(
        (f.suggestion for f in others if f.suggestion and
         (f.start_line, f.end_line) == (primary.start_line, primary.end_line)),
        None,
    )
    return primary.model_copy(
        update={
            "severity": max((f.severity for f in group), key=lambda s: s.rank),
            "confidence": max(f.confidence for f in group),
            "cwe": primary.cwe or next((f.cwe for f in others if f.cwe), None),
            "rule_id": primary.rule_id or next((f.rule_id for f in others if f.rule_id), None),
            "quote": primary.quote or next((f.quote for f in others if f.quote), None),
            "suggestion": suggestion,
            "source": "+".join(sources),
        }
    )


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per problem (see the module's rule), in a deterministic order."""
    items = sorted(findings, key=_order_key)
    parent = list(range(len(items)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for i, first in enumerate(items):
        for j in range(i + 1, len(items)):
            second = items[j]
            if (second.path, second.side) != (first.path, first.side) or (
                second.start_line > first.end_line
            ):
                # Sorted by path, side, start line: nothing later can overlap ``first``.
                break
            if _same_problem(first, second):
                parent[root(j)] = root(i)
    groups: dict[int, list[Finding]] = {}
    for index, finding in enumerate(items):
        groups.setdefault(root(index), []).append(finding)
    return sorted((_combine(group) for group in groups.values()), key=_order_key)
