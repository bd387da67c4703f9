"""Safety checks on an uploaded ZIP before anything in it is read: an archive that fails
one is refused as a whole, with a message that says what was wrong.

The archive comes from a user: it may try zip-slip paths, symlinks, encrypted members,
nested archives, millions of entries, or a compression bomb. Sizes in the central
directory can lie, so the checks also stream each member with a hard cap.
"""

from __future__ import annotations

import posixpath
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bot.errors import BadInput

NESTED_ARCHIVE_SUFFIXES = (
    ".zip",
    ".jar",
    ".war",
    ".ear",
    ".apk",
    ".tar",
    ".tgz",
    ".tar.gz",
    ".gz",
    ".bz2",
    ".xz",
    ".7z",
    ".rar",
    ".zst",
)
_READ_BLOCK = 1 << 16


@dataclass(frozen=True)
class ZipLimits:
    max_files: int = 20_000
    max_total_bytes: int = 512 * 1024 * 1024  # uncompressed
    max_member_bytes: int = 64 * 1024 * 1024
    max_ratio: float = 100.0  # uncompressed / compressed, per member and overall
    min_ratio_bytes: int = 1024 * 1024  # ratios of small members are not meaningful


def vet_archive(path: Path, limits: ZipLimits = ZipLimits()) -> None:
    """Raise BadInput naming the first problem; return quietly for a safe archive."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadInput(f"{path.name} is not a readable ZIP archive: {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_files:
            raise BadInput(
                f"archive refused: {len(infos)} entries, more than the limit of {limits.max_files}"
            )
        total = 0
        compressed = 0
        for info in infos:
            _vet_name(info)
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise BadInput(f"archive refused: {info.filename!r} is encrypted")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BadInput(f"archive refused: {info.filename!r} is a symbolic link")
            if info.filename.lower().endswith(NESTED_ARCHIVE_SUFFIXES):
                raise BadInput(f"archive refused: {info.filename!r} is a nested archive")
            if info.file_size > limits.max_member_bytes:
                raise BadInput(
                    f"archive refused: {info.filename!r} unpacks to {info.file_size} bytes, "
                    f"more than the limit of {limits.max_member_bytes}"
                )
            _vet_ratio(info.filename, info.file_size, info.compress_size, limits)
            total += info.file_size
            compressed += info.compress_size
            if total > limits.max_total_bytes:
                raise BadInput(
                    "archive refused: it unpacks to more than "
                    f"{limits.max_total_bytes} bytes in total"
                )
        _vet_ratio("the archive", total, compressed, limits)
        # The central directory can lie about sizes: read every member with a hard cap.
        streamed = 0
        for info in infos:
            if info.is_dir():
                continue
            streamed += _stream_size(archive, info, limits)
            if streamed > limits.max_total_bytes:
                raise BadInput(
                    "archive refused: it unpacks to more than "
                    f"{limits.max_total_bytes} bytes in total"
                )


def _vet_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    normalised = posixpath.normpath(name.replace("\\", "/"))
    if (
        name.startswith(("/", "\\"))
        or (len(name) > 1 and name[1] == ":")
        or normalised == ".."
        or normalised.startswith("../")
        or "/../" in f"/{name.replace(chr(92), '/')}/"
        or "\0" in name
    ):
        raise BadInput(f"archive refused: {name!r} points outside the archive")


def _vet_ratio(name: str, size: int, compressed: int, limits: ZipLimits) -> None:
    if size < limits.min_ratio_bytes:
        return
    ratio = size / max(compressed, 1)
    if ratio > limits.max_ratio:
        raise BadInput(
            f"archive refused: {name!r} expands {ratio:.0f} times "
            f"(limit {limits.max_ratio:.0f}), a compression bomb"
        )


def _stream_size(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits) -> int:
    size = 0
    try:
        with archive.open(info) as member:
            while block := member.read(_READ_BLOCK):
                size += len(block)
                if size > limits.max_member_bytes:
                    raise BadInput(
                        f"archive refused: {info.filename!r} unpacks to more than "
                        f"{limits.max_member_bytes} bytes"
                    )
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BadInput(f"archive refused: {info.filename!r} is corrupt ({exc})") from exc
    except NotImplementedError as exc:
        raise BadInput(f"archive refused: {info.filename!r}: {exc}") from exc
    return size
