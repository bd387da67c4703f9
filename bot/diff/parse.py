"""Unified diffs as the forges send them, parsed into plain frozen dataclasses.

GitHub's ``patch`` of a PR file and GitLab's ``diff`` of an MR diff are header-less (they
start at the first ``@@``); the local-git forge hands over a whole ``git diff``. Both go
through ``unidiff`` (a well-kept parser) and come out as :class:`FileDiff`. Bytes that are
not UTF-8 are decoded with replacement and a patch that does not parse becomes a file with
``no_patch_reason`` set: parsing never raises on forge input.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

logger = logging.getLogger(__name__)

Status = Literal["added", "modified", "removed", "renamed"]
Side = Literal["new", "old"]

NO_PATCH = "not reviewable: no patch"
BINARY = "not reviewable: binary file"
UNPARSABLE = "not reviewable: patch does not parse"

_DEV_NULL = "/dev/null"
_BODY_KINDS = frozenset("+- ")
_STATUSES: dict[str, Status] = {
    "added": "added",
    "new": "added",
    "modified": "modified",
    "changed": "modified",
    "removed": "removed",
    "deleted": "removed",
    "renamed": "renamed",
    # GitHub's "copied" file is a new file with a history; comment on it like an added one.
    "copied": "added",
}
_C_ESCAPE = re.compile(rb'\\([0-7]{3}|[abtnvfr"\\])')
_C_SIMPLE = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34, b"\\": 92}


class DiffLine(NamedTuple):
    """One body line of a hunk; ``text`` has no line ending (CR of CRLF removed too).

    A NamedTuple rather than a frozen dataclass: a big PR has hundreds of thousands of
    lines and a frozen dataclass costs ~4x more to build.
    """

    kind: Literal["+", "-", " "]
    text: str
    old_lineno: int | None
    new_lineno: int | None


@dataclass(frozen=True, slots=True)
class Hunk:
    source_start: int
    source_length: int
    target_start: int
    target_length: int
    section_header: str
    lines: tuple[DiffLine, ...]

    @property
    def new_range(self) -> tuple[int, int] | None:
        """First and last new-side line shown by the hunk; None for a pure deletion."""
        if self.target_length == 0:
            return None
        return self.target_start, self.target_start + self.target_length - 1

    @property
    def old_range(self) -> tuple[int, int] | None:
        if self.source_length == 0:
            return None
        return self.source_start, self.source_start + self.source_length - 1

    def commentable(self, side: Side = "new") -> tuple[int, ...]:
        """Sorted line numbers of this hunk the forges accept an inline comment on."""
        if side == "new":
            return tuple(ln.new_lineno for ln in self.lines if ln.new_lineno is not None)
        return tuple(ln.old_lineno for ln in self.lines if ln.kind == "-" and ln.old_lineno)


@dataclass(frozen=True)
class FileDiff:
    """One changed file. ``hunks`` is empty for binary files and files without a patch."""

    path: str
    old_path: str | None
    status: Status
    hunks: tuple[Hunk, ...] = ()
    binary: bool = False
    no_patch_reason: str | None = None
    old_mode: str | None = None
    new_mode: str | None = None
    _cache: dict[str, frozenset[int]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @property
    def mode_changed(self) -> bool:
        return (
            self.old_mode is not None
            and self.new_mode is not None
            and (self.old_mode != self.new_mode)
        )

    @property
    def reviewable(self) -> bool:
        return self.no_patch_reason is None and bool(self.hunks)

    def added_lines(self) -> set[int]:
        """New-side numbers of added lines."""
        return {
            ln.new_lineno
            for h in self.hunks
            for ln in h.lines
            if ln.kind == "+" and ln.new_lineno is not None
        }

    def removed_lines(self) -> set[int]:
        """Old-side numbers of removed lines."""
        return {
            ln.old_lineno
            for h in self.hunks
            for ln in h.lines
            if ln.kind == "-" and ln.old_lineno is not None
        }

    def commentable(self, side: Side = "new") -> frozenset[int]:
        """Lines GitHub and GitLab accept an inline comment on.

        New side: added and context lines inside hunks. Old side: removed lines.
        """
        cached = self._cache.get(side)
        if cached is None:
            cached = frozenset(n for h in self.hunks for n in h.commentable(side))
            self._cache[side] = cached
        return cached

    def __hash__(self) -> int:
        return hash((self.path, self.old_path, self.status, self.hunks, self.binary))


def decode(data: str | bytes) -> str:
    """Text of a patch or file: UTF-8, undecodable bytes replaced (never a crash)."""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data


def normalize_status(status: str | None) -> Status | None:
    return _STATUSES.get(status.lower()) if status else None


def parse_patch(
    path: str,
    patch: str | bytes | None,
    *,
    old_path: str | None = None,
    status: str | None = None,
    changes: int | None = None,
) -> FileDiff:
    """Parse one header-less patch (GitHub ``patch``, GitLab ``diff``).

    ``patch`` None or empty means the forge omitted it (too large, collapsed, binary):
    the file is kept with ``no_patch_reason`` so the summary can list it, unless the
    forge says nothing changed in the content (``changes == 0``: a pure rename or a
    mode change).
    """
    st = normalize_status(status)
    if st is None:
        st = "renamed" if old_path and old_path != path else "modified"
    old = old_path if old_path and old_path != path else None
    if st == "renamed" and old is None:
        st = "modified"
    text = decode(patch) if patch is not None else ""
    if not text.strip():
        reason = None if changes == 0 else NO_PATCH
        return FileDiff(path=path, old_path=old, status=st, no_patch_reason=reason)
    if text.startswith("Binary files") or text.startswith("GIT binary patch"):
        return FileDiff(path, old, st, binary=True, no_patch_reason=BINARY)
    if text.startswith(("diff --git ", "--- ")):
        # Some producers keep git's file header: parse it as a whole diff, keep our names.
        parsed = parse_unified_diff(text)
        if len(parsed) == 1:
            return replace(parsed[0], path=path, old_path=old, status=st)
    # Placeholder names: the real ones are ours already, and a name may hold a newline.
    src = _DEV_NULL if st == "added" else "a/file"
    dst = _DEV_NULL if st == "removed" else "b/file"
    if not text.endswith("\n"):
        text += "\n"
    try:
        files = PatchSet(f"--- {src}\n+++ {dst}\n{text}")
    except (UnidiffParseError, UnicodeError, ValueError) as exc:
        logger.warning("patch of %s does not parse: %s", path, _why(exc))
        return FileDiff(path, old, st, no_patch_reason=f"{UNPARSABLE} ({_why(exc)})")
    if len(files) != 1:
        return FileDiff(path, old, st, no_patch_reason=UNPARSABLE)
    pf = files[0]
    hunks = tuple(_convert_hunk(h) for h in pf)
    if pf.is_binary_file:
        return FileDiff(path, old, st, binary=True, no_patch_reason=BINARY)
    return FileDiff(path=path, old_path=old, status=st, hunks=hunks)


def parse_unified_diff(text: str | bytes) -> list[FileDiff]:
    """Parse a full ``git diff`` (several files, with ``diff --git`` headers)."""
    body = decode(text)
    if not body.strip():
        return []
    if not body.endswith("\n"):
        body += "\n"
    try:
        patchset = PatchSet(body)
    except (UnidiffParseError, UnicodeError, ValueError) as exc:
        # One bad file must not hide the others: parse file by file.
        logger.warning("diff does not parse as a whole (%s); parsing per file", _why(exc))
        return [f for part in _split_git_diff(body) for f in _parse_one_part(part)]
    return [_convert_file(pf) for pf in patchset]


def _parse_one_part(part: str) -> list[FileDiff]:
    try:
        return [_convert_file(pf) for pf in PatchSet(part)]
    except (UnidiffParseError, UnicodeError, ValueError) as exc:
        m = re.match(r"diff --git (\S+) (\S+)", part)
        path = _strip_prefix(_unquote(m.group(2))) if m else "(unknown)"
        return [FileDiff(path, None, "modified", no_patch_reason=f"{UNPARSABLE} ({_why(exc)})")]


def _why(exc: Exception) -> str:
    """The parser's reason without the offending line: code may hold a secret, and this
    text reaches logs and the PR summary."""
    return str(exc).split(":", 1)[0].strip()[:80] or type(exc).__name__


def _split_git_diff(body: str) -> list[str]:
    starts = [m.start() for m in re.finditer(r"(?m)^diff --git ", body)] or [0]
    bounds = [*starts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds) if body[a:b].strip()]


def _convert_file(pf: object) -> FileDiff:
    source = _unquote(getattr(pf, "source_file", "") or "")
    target = _unquote(getattr(pf, "target_file", "") or "")
    added = source == _DEV_NULL
    removed = target == _DEV_NULL
    src_path = None if added else _strip_prefix(source)
    dst_path = None if removed else _strip_prefix(target)
    path = dst_path or src_path or "(unknown)"
    status: Status
    if added:
        status = "added"
    elif removed:
        status = "removed"
    elif src_path != dst_path:
        status = "renamed"
    else:
        status = "modified"
    old_path = src_path if status == "renamed" else None
    binary = bool(getattr(pf, "is_binary_file", False))
    hunks = () if binary else tuple(_convert_hunk(h) for h in pf)  # type: ignore[attr-defined]
    return FileDiff(
        path=path,
        old_path=old_path,
        status=status,
        hunks=hunks,
        binary=binary,
        no_patch_reason=BINARY if binary else None,
        old_mode=getattr(pf, "source_mode", None),
        new_mode=getattr(pf, "target_mode", None),
    )


def _convert_hunk(h: object) -> Hunk:
    # The hottest loop of parsing (one pass per body line of the PR): slices and
    # ``_make`` (tuple.__new__, no Python-level __new__) cost about 40 % less than the plain way.
    make = DiffLine._make
    lines: list[DiffLine] = []
    for ln in h:  # type: ignore[attr-defined]
        kind = ln.line_type
        if kind not in _BODY_KINDS:
            continue  # "\ No newline at end of file" and stray empty lines
        text = ln.value
        if text[-1:] == "\n":
            text = text[:-1]
        if text[-1:] == "\r":
            text = text[:-1]
        lines.append(make((kind, text, ln.source_line_no, ln.target_line_no)))
    return Hunk(
        source_start=h.source_start,  # type: ignore[attr-defined]
        source_length=h.source_length,  # type: ignore[attr-defined]
        target_start=h.target_start,  # type: ignore[attr-defined]
        target_length=h.target_length,  # type: ignore[attr-defined]
        section_header=h.section_header.rstrip("\r\n"),  # type: ignore[attr-defined]
        lines=tuple(lines),
    )


def _escape_value(esc: bytes) -> int:
    return int(esc, 8) if len(esc) == 3 else _C_SIMPLE[esc]


def _strip_prefix(p: str) -> str:
    # git's default a/ b/ prefixes and the i/ w/ c/ o/ 1/ 2/ of diff.mnemonicPrefix.
    if len(p) > 2 and p[1] == "/" and p[0] in "abciow12":
        return p[2:]
    return p


def _unquote(p: str) -> str:
    """Undo git's C-style quoting of paths with special or non-ASCII bytes."""
    if len(p) < 2 or not (p.startswith('"') and p.endswith('"')):
        return p
    raw = p[1:-1].encode("utf-8", errors="surrogateescape")
    raw = _C_ESCAPE.sub(lambda m: bytes([_escape_value(m.group(1))]), raw)
    return raw.decode("utf-8", errors="replace")
