"""Writing settings into `.env` without disturbing what the operator wrote there: a key that
is present is changed on its own line, a new key goes at the end, comments, blank lines and
every other line stay as they were.

The file is read with python-dotenv's parser, the one `load_settings` reads it with, so a
value spanning lines or quoted is one binding here too. (dotenv's own ``set_key`` drops the
blank lines before a key it replaces, hence this.) The file is replaced atomically and keeps
its mode; a new one is readable by its owner only, since it holds secrets.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from dotenv.parser import parse_stream

from bot.errors import ConfigError

OWNER_ONLY = 0o600


def update_env_file(
    path: Path, values: Mapping[str, str], *, remove: Iterable[str] = ()
) -> list[str]:
    """Set ``values`` in ``path`` and drop the keys in ``remove``; returns the keys removed."""
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        mode = (path.stat().st_mode & 0o777) if path.exists() else OWNER_ONLY
        new, removed = _edit(text, values, set(remove))
        _replace(path, new, mode)
    except OSError as exc:
        raise ConfigError("env file", f"cannot write {path}: {exc.strerror or exc}") from None
    return removed


def _edit(text: str, values: Mapping[str, str], remove: set[str]) -> tuple[str, list[str]]:
    out: list[str] = []
    done: set[str] = set()
    removed: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        original = binding.original.string
        # A binding's text starts with the blank lines before it: those stay.
        lead = original[: len(original) - len(original.lstrip())]
        key = binding.key
        if key is not None and key in remove:
            removed.append(key)
            out.append(lead)
        elif key is not None and key in values:
            out.append(lead + _line(key, values[key]))
            done.add(key)
        else:
            out.append(original)
    result = "".join(out)
    missing = [key for key in values if key not in done]
    if missing and result and not result.endswith("\n"):
        result += "\n"
    result += "".join(_line(key, values[key]) for key in missing)
    return result, list(dict.fromkeys(removed))


def _line(key: str, value: str) -> str:
    if value.isalnum():
        return f"{key}={value}\n"
    # dotenv's single-quoted values decode \\ and \'.
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"{key}='{escaped}'\n"


def _replace(path: Path, text: str, mode: int) -> None:
    fd, temporary = tempfile.mkstemp(prefix=".env.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), mode)
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_private_key(folder: Path, name: str, pem: str) -> Path:
    """Save ``pem`` as ``folder/name``, readable by its owner only (made so before a byte
    is written, so the key is never readable by others, not even for a moment)."""
    path = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY)
        with os.fdopen(fd, "w", encoding="ascii") as file:
            os.fchmod(file.fileno(), OWNER_ONLY)  # an older file of that name kept its mode
            file.write(pem if pem.endswith("\n") else pem + "\n")
    except OSError as exc:
        raise ConfigError("DATA_DIR", f"cannot write the private key to {path}: "
                          f"{exc.strerror or exc}") from None
    return path
