"""ZIP archives as all-added changes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bot.errors import BadInput
from bot.forges.base import ChangeSource, ChangeTarget
from bot.forges.local.archive import EMPTY_BASE, ArchiveSource


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


async def test_text_files_become_added_files(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "src.zip",
        {
            "proj-main/app.py": b"import os\nos.system(input())\n",
            "proj-main/.auditbot.yml": b"review:\n  max_comments: 5\n",
            "proj-main/img.png": b"\x89PNG\0\0data",
            "proj-main/latin.txt": "café".encode("latin-1"),
            "proj-main/big.txt": b"x" * 2000,
            "proj-main/../escape.py": b"print(1)\n",
        },
    )
    source = ArchiveSource(archive, max_file_bytes=1000)
    assert isinstance(source, ChangeSource)
    change = await source.fetch_change(ChangeTarget())
    by_path = {f.path: f for f in change.files}
    assert set(by_path) == {"app.py", ".auditbot.yml", "img.png"}
    assert by_path["app.py"].patch == "@@ -0,0 +1,2 @@\n+import os\n+os.system(input())"
    assert by_path["app.py"].additions == 2
    assert by_path["img.png"].binary
    reasons = {s.path: s.reason for s in change.skipped}
    assert reasons == {
        "latin.txt": "not UTF-8 text",
        "big.txt": "larger than 1000 bytes",
        "../escape.py": "unsafe path in archive",
    }
    assert change.base_sha == EMPTY_BASE
    assert len(change.head_sha) == 64
    assert await source.read_repo_config(change.head_sha) == "review:\n  max_comments: 5\n"
    assert await source.read_file("app.py", change.base_sha) is None
    tree = await source.list_tree(change.head_sha)
    assert tree == [".auditbot.yml", "app.py", "img.png", "latin.txt"]


async def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(BadInput):
        await ArchiveSource(path).fetch_change(ChangeTarget())
