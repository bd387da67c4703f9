"""Hostile archives are refused as a whole with a clear reason; ordinary ones pass."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.errors import BadInput
from bot.forges.local.zipcheck import ZipLimits, vet_archive

Builder = Callable[[zipfile.ZipFile], None]


def build(tmp_path: Path, fill: Builder, name: str = "upload.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        fill(archive)
        encrypt = archive.comment == b"encrypt-me"
    if encrypt:
        # Python's zipfile cannot write encrypted members; set the flag bit (APPNOTE 4.4.4)
        # in the local header (offset 6) and the central directory header (offset 8).
        raw = bytearray(path.read_bytes())
        local = raw.find(b"PK\x03\x04")
        central = raw.find(b"PK\x01\x02")
        raw[local + 6] |= 0x1
        raw[central + 8] |= 0x1
        path.write_bytes(bytes(raw))
    return path


def _symlink(archive: zipfile.ZipFile) -> None:
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive.writestr(info, "/etc/passwd")


def _encrypted(archive: zipfile.ZipFile) -> None:
    archive.writestr("secret.txt", b"x" * 10)
    archive.comment = b"encrypt-me"  # build() sets the encryption flag bit in both headers


HOSTILE: list[tuple[str, Builder, str]] = [
    ("zip-slip", lambda a: a.writestr("../../etc/cron.d/x", "boom"), "outside the archive"),
    ("zip-slip-inner", lambda a: a.writestr("src/../../x", "boom"), "outside the archive"),
    ("absolute", lambda a: a.writestr("/etc/passwd", "boom"), "outside the archive"),
    ("windows-drive", lambda a: a.writestr("C:/Windows/x", "boom"), "outside the archive"),
    ("symlink", _symlink, "symbolic link"),
    ("encrypted", _encrypted, "encrypted"),
    ("nested", lambda a: a.writestr("inner.zip", b"PK\x03\x04"), "nested archive"),
    ("bomb", lambda a: a.writestr("zeros.txt", b"\0" * (8 * 1024 * 1024)), "compression bomb"),
]


@pytest.mark.parametrize(
    ("fill", "reason"), [(h[1], h[2]) for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_archives_are_refused(tmp_path: Path, fill: Builder, reason: str) -> None:
    with pytest.raises(BadInput, match=reason):
        vet_archive(build(tmp_path, fill))


def test_too_many_files(tmp_path: Path) -> None:
    def fill(archive: zipfile.ZipFile) -> None:
        for i in range(30):
            archive.writestr(f"f{i}.txt", "x")

    with pytest.raises(BadInput, match="30 entries"):
        vet_archive(build(tmp_path, fill), ZipLimits(max_files=20))


def test_too_large_in_total(tmp_path: Path) -> None:
    def fill(archive: zipfile.ZipFile) -> None:
        for i in range(4):
            archive.writestr(f"f{i}.txt", bytes(range(256)) * 400)

    with pytest.raises(BadInput, match="in total"):
        vet_archive(build(tmp_path, fill), ZipLimits(max_total_bytes=200_000))


def test_lying_header_is_caught_while_streaming(tmp_path: Path) -> None:
    path = build(tmp_path, lambda a: a.writestr("data.txt", b"A" * 5000))
    # Shrink the declared size in both headers: the stream must not trust them.
    raw = bytearray(path.read_bytes())
    size = (5000).to_bytes(4, "little")
    assert raw.count(size) == 2
    path.write_bytes(bytes(raw).replace(size, (10).to_bytes(4, "little")))
    with pytest.raises(BadInput, match="corrupt"):
        vet_archive(path)


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(BadInput, match="not a readable ZIP"):
        vet_archive(path)


def test_ordinary_archive_passes(tmp_path: Path) -> None:
    def fill(archive: zipfile.ZipFile) -> None:
        archive.writestr("repo-main/src/app.py", "print('hello')\n" * 200)
        archive.writestr("repo-main/README.md", "# hi\n")
        archive.writestr("repo-main/docs/", "")

    vet_archive(build(tmp_path, fill))
