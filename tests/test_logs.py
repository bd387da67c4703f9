"""Log lines carry the delivery or task id and never a registered secret."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import bind, register_secrets, setup_logging


@pytest.fixture(autouse=True)
def _restore_root_logger() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_ids_and_mask_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json")
    register_secrets(["hunter2-very-secret"])
    log = logging.getLogger("bot.test")
    with bind(delivery_id="d-1", task_id="t-9"):
        log.info("token is %s", "hunter2-very-secret")
    log.info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert lines[0]["delivery_id"] == "d-1" and lines[0]["task_id"] == "t-9"
    assert lines[0]["message"] == "token is ***"
    assert "delivery_id" not in lines[1]


def test_console_lines_are_readable(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "console")
    with bind(task_id="t-2"):
        logging.getLogger("bot.test").warning("careful")
    err = capsys.readouterr().err
    assert "WARNING" in err and "task=t-2" in err and "careful" in err


def test_a_traceback_is_masked_too(capsys: pytest.CaptureFixture[str]) -> None:
    # Exceptions from HTTP clients and drivers often quote the URL or header that failed.
    setup_logging("INFO", "json")
    register_secrets(["redis-password-4321"])
    try:
        raise ConnectionError("cannot reach redis://:redis-password-4321@cache:6379/0")
    except ConnectionError:
        logging.getLogger("bot.test").exception("queue down")
    entry = json.loads(capsys.readouterr().err.strip())
    assert "redis-password-4321" not in json.dumps(entry)
    assert "redis://:***@cache:6379/0" in entry["exception"]


def test_a_multi_line_secret_is_masked_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
    setup_logging("INFO", "json")
    register_secrets([pem])
    logging.getLogger("bot.test").error("bad key %s", pem)
    entry = json.loads(capsys.readouterr().err.strip())
    assert entry["message"] == "bad key ***"
