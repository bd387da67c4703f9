"""Structural and taint rules, run by Semgrep CE once per job over every file of a change.

Our rules live in ``engine_rules/<language>.yml`` as package data, written in Semgrep's rule
syntax plus our own fields under ``metadata``: ``severity`` (ours, not Semgrep's three levels),
``cwe``, ``title``, ``fix`` and ``examples`` (positive and negative code that the test suite
runs). Semgrep's parser knows no YAML anchors, so the tables are read with PyYAML (shared
sources and sanitizers are anchors there) and handed to Semgrep as one JSON config.

Semgrep runs as a subprocess: its wheel pins many libraries, so the project's setup puts it in
its own virtual environment (``.semgrep-venv``, see scripts/lib.sh), and a deployment may put
``semgrep`` on PATH instead. It never reaches the network: local rule files only,
``--metrics off``, no version check, and ``--experimental`` (the native command line, which
starts in a fraction of the Python one's 8 s). ``--disable-nosem``: a ``nosemgrep`` comment is
written by the pull request's author; our own suppressions are handled in suppressions.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from bot.errors import ConfigError
from bot.findings import Category, Finding, Severity

logger = logging.getLogger(__name__)

# The line-rule tables (rules/<language>.yml) that the engine's rules replace, in the files the
# engine reads (engine_covers). SQL files, GitLab CI, Kubernetes manifests, Makefiles and zsh
# keep their line rules: no parser, or no engine rules for them yet.
ENGINE_LANGUAGES = frozenset({
    "python", "javascript", "go", "java", "ruby", "php", "shell", "github-actions", "c",
})
# The suffixes of each Semgrep language's files (Dockerfiles and workflows go by name).
_SUFFIXES = {
    "python": (".py", ".pyw"),
    "javascript": (".js", ".jsx", ".mjs", ".cjs", ".vue"),
    "typescript": (".ts", ".tsx", ".mts", ".cts"),
    "go": (".go",),
    "java": (".java",),
    "ruby": (".rb",),
    "php": (".php", ".phtml"),
    "bash": (".sh", ".bash"),
    "c": (".c", ".h"),
    "cpp": (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".h"),
    "dockerfile": (".dockerfile",),
}
_ENGINE_SUFFIXES = frozenset(suffix for suffixes in _SUFFIXES.values() for suffix in suffixes)
TIMEOUT_S = 60
_REQUIRED = ("severity", "cwe", "title", "fix", "examples")


@dataclass(frozen=True)
class EngineRule:
    id: str  # ours: "python/code-eval"; Semgrep's id has a dot for the slash
    languages: tuple[str, ...]
    severity: Severity
    category: Category
    cwe: str | None
    title: str
    message: str
    fix: str
    # (code, path or None): a path when the rule applies to some file names only
    positive: tuple[tuple[str, str | None], ...]
    negative: tuple[tuple[str, str | None], ...]
    # metadata.needs: text a file must contain for the rule to match there (a regex that
    # every sink satisfies). Semgrep's own prefilter only knows literal words, so a taint rule
    # whose sink is $DB.get(...) ran its whole analysis on every file with "get" in it.
    needs: re.Pattern[str] | None = None


@dataclass(frozen=True)
class EngineResult:
    findings: list[Finding]
    errors: list[str]  # rule or parse errors worth showing in the check run
    ran: bool  # False when Semgrep is not installed
    # Files Semgrep could not parse in full (it still reports what it read): the line rules
    # read them too.
    unparsed: frozenset[str] = frozenset()


def engine_covers(path: str) -> bool:
    """Whether the engine reads this file (and its rules stand in for the line rules)."""
    pure = PurePosixPath(path)
    if pure.suffix.lower() in _ENGINE_SUFFIXES or _is_dockerfile(pure.name):
        return True
    if pure.suffix.lower() not in (".yml", ".yaml"):
        return False
    return pure.parent.as_posix().endswith(".github/workflows") or pure.stem == "action"


def _is_dockerfile(name: str) -> bool:
    return name in ("Dockerfile", "Containerfile") or name.startswith(
        ("Dockerfile.", "Containerfile.")
    )


def _scan_name(relative: PurePosixPath) -> PurePosixPath:
    """The name the file gets in the scan folder: Semgrep knows a Dockerfile by the name
    Dockerfile or the suffix .dockerfile only, not Dockerfile.prod or Containerfile."""
    if _is_dockerfile(relative.name) and relative.name != "Dockerfile":
        return relative.with_name(relative.name + ".dockerfile")
    return relative


def semgrep_id(rule_id: str) -> str:
    return rule_id.replace("/", ".", 1)


def parse_rules(text: str, where: str) -> tuple[list[dict[str, Any]], list[EngineRule]]:
    """One rule file: the Semgrep rules (metadata kept) and our view of each; ConfigError
    names the file and the rule when a field is missing or wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(where, f"not valid YAML: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ConfigError(where, "expected a mapping with a list under 'rules'")
    raw: list[dict[str, Any]] = []
    rules: list[EngineRule] = []
    for item in data["rules"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ConfigError(where, "every rule needs an id")
        meta = item.get("metadata")
        missing = [k for k in _REQUIRED if not isinstance(meta, dict) or k not in meta]
        if missing or not isinstance(meta, dict):
            raise ConfigError(where, f"rule {item['id']} lacks metadata {', '.join(missing)}")
        examples = meta["examples"] if isinstance(meta["examples"], dict) else {}
        try:
            rule = EngineRule(
                id=item["id"].replace(".", "/", 1),
                languages=tuple(item.get("languages") or ()),
                severity=Severity(meta["severity"]),
                category=Category(meta.get("category", "security")),
                cwe=str(meta["cwe"]) if meta["cwe"] else None,
                title=str(meta["title"]),
                message=str(item.get("message", "")),
                fix=str(meta["fix"]),
                positive=_examples(examples.get("positive")),
                negative=_examples(examples.get("negative")),
                needs=re.compile(str(meta["needs"]), re.M) if meta.get("needs") else None,
            )
        except (ValueError, re.error) as error:
            raise ConfigError(where, f"rule {item['id']}: {error}") from error
        if not rule.positive or not rule.negative:
            raise ConfigError(where, f"rule {item['id']} needs positive and negative examples")
        clean = {k: v for k, v in item.items() if k != "metadata"}
        clean["metadata"] = {"auditbot_id": rule.id}
        clean.setdefault("severity", "ERROR")
        raw.append(clean)
        rules.append(rule)
    return raw, rules


def _examples(items: Any) -> tuple[tuple[str, str | None], ...]:
    return tuple(
        (str(x["code"]), str(x["path"])) if isinstance(x, dict) else (str(x), None)
        for x in items or ()
    )


@lru_cache(maxsize=1)
def builtin_rules() -> tuple[tuple[dict[str, Any], ...], tuple[EngineRule, ...]]:
    folder = resources.files("bot.analysis").joinpath("engine_rules")
    raw: list[dict[str, Any]] = []
    rules: list[EngineRule] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yml", ".yaml")):
            file_raw, file_rules = parse_rules(entry.read_text("utf-8"), entry.name)
            raw += file_raw
            rules += file_rules
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise ConfigError("engine_rules", "duplicate rule ids")
    return tuple(raw), tuple(rules)


def find_semgrep() -> str | None:
    """``semgrep`` on PATH, else the one the project's setup installed beside the source."""
    found = shutil.which("semgrep")
    if found:
        return found
    local = Path(__file__).resolve().parents[2] / ".semgrep-venv" / "bin" / "semgrep"
    return str(local) if local.is_file() else None


def _safe_relative(path: str) -> PurePosixPath | None:
    """The path as a relative one inside the scan folder; None for absolute paths or ``..``
    (the pull request names its files: never write outside the folder)."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(p in ("..", "") for p in pure.parts):
        return None
    return pure


def run_engine(
    files: Mapping[str, str],
    *,
    extra_rules: Iterable[tuple[dict[str, Any], EngineRule]] = (),
    disabled: frozenset[str] = frozenset(),
    binary: str | None = None,
) -> EngineResult:
    """Every engine finding in ``files`` (path -> text), whole files; the caller keeps the
    ones on changed lines."""
    return EngineScan(files, extra_rules=extra_rules, disabled=disabled, binary=binary).result()


class EngineScan:
    """One Semgrep run in the background: the constructor writes the files and starts it,
    ``result()`` waits. The offline stage runs the line rules and the secret scanner in
    between, so the two overlap instead of adding up."""

    def __init__(
        self,
        files: Mapping[str, str],
        *,
        extra_rules: Iterable[tuple[dict[str, Any], EngineRule]] = (),
        disabled: frozenset[str] = frozenset(),
        binary: str | None = None,
    ) -> None:
        self._done: EngineResult | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._names: dict[str, str] = {}
        binary = binary or find_semgrep()
        self.ran = binary is not None and Path(binary).is_file()
        if binary is None or not self.ran:
            # Said once in the summary by the offline stage (offline._engine_missing).
            self._done = EngineResult([], [], ran=False)
            return
        raw, rules = builtin_rules()
        pairs = [*zip(raw, rules, strict=True), *extra_rules]
        pairs = [(r, rule) for r, rule in pairs if rule.id not in disabled]
        self._by_id = {rule.id: rule for _, rule in pairs}
        if not files or not pairs:
            self._done = EngineResult([], [], ran=True)
            return
        self._tmp = tempfile.TemporaryDirectory(prefix="auditbot-engine-")
        tmp = Path(self._tmp.name)
        root = tmp / "src"
        texts: dict[str, str] = {}
        for path, text in files.items():
            relative = _safe_relative(path)
            if relative is None:
                continue
            relative = _scan_name(relative)
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
            self._names[relative.as_posix()] = path
            texts[relative.as_posix()] = text
        root.mkdir(exist_ok=True)
        # Without an ignore file Semgrep skips tests/, node_modules/ and the like by default.
        (root / ".semgrepignore").write_text("# every file auditbot hands over is scanned\n")
        config = tmp / "rules.json"
        config.write_text(json.dumps({"rules": _narrowed(pairs, texts)}), "utf-8")
        self._started = time.monotonic()
        self._process = _start(binary, config, root, tmp)

    def result(self) -> EngineResult:
        if self._done is not None:
            return self._done
        assert self._process is not None and self._tmp is not None
        try:
            output = _finish(self._process, Path(self._tmp.name), self._started)
            self._done = _results(output, self._names, self._by_id)
        finally:
            self._tmp.cleanup()
        return self._done


def _narrowed(
    pairs: Iterable[tuple[dict[str, Any], EngineRule]], texts: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The Semgrep rules for this scan: a rule with ``needs`` runs only on the files that
    contain it (paths.include), and not at all when none does."""
    rules = []
    for raw, rule in pairs:
        if rule.needs is None or "paths" in raw:
            rules.append(raw)
            continue
        suffixes = _rule_suffixes(rule.languages)
        wanted = [name for name, text in texts.items()
                  if (suffixes is None or name.lower().endswith(suffixes))
                  and rule.needs.search(text)]
        if wanted:
            rules.append({**raw, "paths": {"include": ["/" + _glob_escape(n) for n in wanted]}})
    return rules


def _rule_suffixes(languages: Iterable[str]) -> tuple[str, ...] | None:
    """The file suffixes a rule's languages read; None when one of them goes by file name."""
    suffixes: list[str] = []
    for language in languages:
        if language not in _SUFFIXES or language == "dockerfile":
            return None
        suffixes += _SUFFIXES[language]
    return tuple(suffixes)


def _glob_escape(name: str) -> str:
    # Backslashes, not [x] classes: Semgrep turns "[]]" into a regex PCRE refuses, and the
    # whole run fails (a pull request names its files).
    return re.sub(r"([\\\[\]*?])", r"\\\1", name)


def _start(binary: str, config: Path, root: Path, home: Path) -> subprocess.Popen[bytes]:
    command = [
        binary, "scan", "--experimental", "--config", str(config), "--json", "--quiet",
        "--metrics", "off", "--disable-version-check", "--disable-nosem", "--no-git-ignore",
        "--jobs", "2", "--timeout", "10", "--max-target-bytes", "2000000", ".",
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),  # Semgrep keeps a settings file there; not the worker's home
        "SEMGREP_SEND_METRICS": "off",
        "SEMGREP_ENABLE_VERSION_CHECK": "0",
    }
    # Output goes to files, not pipes: nobody reads a pipe while the caller works, and a
    # full pipe would stall Semgrep.
    with (home / "out.json").open("wb") as out, (home / "err.txt").open("wb") as errors:
        return subprocess.Popen(  # noqa: S603 - a fixed command line, no shell
            command, cwd=root, env=env, stdout=out, stderr=errors
        )


def _finish(process: subprocess.Popen[bytes], home: Path, started: float) -> dict[str, Any]:
    try:
        code = process.wait(timeout=max(TIMEOUT_S - (time.monotonic() - started), 1))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return {"errors": [{"message": f"the analysis engine took over {TIMEOUT_S} s"}]}
    out = home / "out.json"
    try:
        parsed: dict[str, Any] = json.loads(out.read_bytes() or b"{}") if out.exists() else {}
    except ValueError:
        parsed = {}
    if code not in (0, 1) and not parsed.get("results"):
        lines = (home / "err.txt").read_text("utf-8", "replace").strip().splitlines()
        tail = lines[-1:] or ["no output"]
        parsed.setdefault("errors", []).append(
            {"message": f"the analysis engine failed ({code}): {tail[0][:300]}"}
        )
    return parsed


def _results(
    output: Mapping[str, Any], names: Mapping[str, str], by_id: Mapping[str, EngineRule]
) -> EngineResult:
    findings: list[Finding] = []
    for item in output.get("results") or ():
        meta = (item.get("extra") or {}).get("metadata") or {}
        rule = by_id.get(str(meta.get("auditbot_id", "")))
        path = names.get(str(item.get("path", "")).removeprefix("./"))
        if rule is None or path is None:
            continue
        start, end = item["start"]["line"], item["end"]["line"]
        findings.append(
            Finding(
                path=path,
                start_line=start,
                end_line=max(end, start),
                severity=rule.severity,
                category=rule.category,
                title=rule.title,
                message=f"{rule.message} Fix: {rule.fix}",
                cwe=rule.cwe,
                confidence=0.8 if rule.severity.at_least(Severity.HIGH) else 0.6,
                source=f"static:{rule.id}",
                rule_id=rule.id,
            )
        )
    errors = []
    unparsed = set()
    for error in output.get("errors") or ():
        if error.get("level") == "warn":
            # A file Semgrep could not fully parse: the rest of it was still read.
            kind = str(error.get("type", "")).lower()
            if "syntax" in kind or "lexical" in kind:
                path = names.get(str(error.get("path", "")).removeprefix("./"))
                if path is not None:
                    unparsed.add(path)
            continue
        rule_id = error.get("rule_id")
        text = str(error.get("message", "")).strip().splitlines()[0:1] or ["unknown error"]
        errors.append(f"{rule_id}: {text[0]}" if rule_id else text[0])
    return EngineResult(findings, errors, ran=True, unparsed=frozenset(unparsed))
