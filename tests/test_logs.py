from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from engine.logs import configure_logging, log_context

TOKEN = "hubspot-private-app-token-123"


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger (and the loggers configure_logging touches) back afterwards."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    noisy = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    for handler in list(root.handlers):
        if handler not in saved[1]:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved[0])
    for name, level in noisy.items():
        logging.getLogger(name).setLevel(level)


def _emit(log: logging.Logger) -> None:
    with log_context(integration="kleer-hubspot", sync="companies", run_id="run-7"):
        log.info("run started with token %s", TOKEN)
        with log_context(record="811218-9876"):
            log.warning(
                "record rejected",
                extra={"status": 400, "reason": "Bearer abcdefgh12345678 invalid", "ok": False},
            )
        log.debug("debug is below the level and not written")


def test_json_lines(root_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, secrets=[TOKEN], stream=stream)
    _emit(logging.getLogger("engine.sync"))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert {k: first[k] for k in ("level", "logger", "message")} == {
        "level": "info",
        "logger": "engine.sync",
        "message": "run started with token ***",
    }
    assert (first["integration"], first["sync"], first["run_id"]) == (
        "kleer-hubspot",
        "companies",
        "run-7",
    )
    assert "record" not in first
    assert second["record"] == "[personnummer]"
    assert second["status"] == 400 and second["ok"] is False
    assert second["reason"] == "Bearer *** invalid"
    assert TOKEN not in stream.getvalue()


def test_text_mode_is_logfmt(root_logging: None, snapshot) -> None:
    stream = io.StringIO()
    configure_logging("INFO", secrets=[TOKEN], stream=stream)
    _emit(logging.getLogger("engine.sync"))
    lines = [re.sub(r"^ts=\S+ ", "ts=<ts> ", line) for line in stream.getvalue().splitlines()]
    assert lines == snapshot


def test_exceptions_are_redacted(root_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, secrets=[TOKEN], stream=stream)
    try:
        raise RuntimeError(f"refused {TOKEN} for 19811218-9876")
    except RuntimeError:
        logging.getLogger("engine.runner").exception("sync failed")
    entry = json.loads(stream.getvalue())
    assert "RuntimeError: refused *** for [personnummer]" in entry["exception"]
    assert TOKEN not in stream.getvalue() and "9876" not in stream.getvalue()


def test_tokens_learned_later_are_masked(root_logging: None) -> None:
    stream = io.StringIO()
    redactor = configure_logging("INFO", stream=stream)
    redactor.add("rotated-cinode-token")
    logging.getLogger("engine.adapters").info("got rotated-cinode-token")
    assert "got ***" in stream.getvalue()


def test_reconfiguring_replaces_only_our_handler(root_logging: None) -> None:
    root = logging.getLogger()
    before = len(root.handlers)
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", stream=first)
    configure_logging("DEBUG", json=True, stream=second)
    assert len(root.handlers) == before + 1
    logging.getLogger("engine.x").debug("hello")
    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["message"] == "hello"
    assert logging.getLogger("httpx").level == logging.WARNING


def test_context_does_not_leak_between_blocks(root_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    with log_context(sync="a"):
        pass
    logging.getLogger("engine.x").info("outside")
    assert "sync" not in json.loads(stream.getvalue())


@pytest.mark.parametrize("json_lines", [False, True], ids=["logfmt", "json"])
def test_uvicorns_colour_copy_of_the_message_is_left_out(root_logging: None,
                                                         json_lines: bool) -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=json_lines, stream=stream)
    logging.getLogger("tests.like_uvicorn").info(  # uvicorn adds color_message so
        "Started server process [%d]", 42,
        extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"})
    line = stream.getvalue()
    assert "Started server process [42]" in line
    assert "color_message" not in line and "\\u001b" not in line and "\x1b" not in line


def test_the_job_queue_library_logs_one_line_without_a_traceback(root_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        raise ConnectionError("server closed the connection unexpectedly")
    except ConnectionError:
        logging.getLogger("procrastinate.worker").exception("Job ended with status: Error")
        logging.getLogger("procrastinate.utils").error(
            "update_heartbeats error", extra={"exception": "Traceback (most recent call "
                                              "last):\n  File \"x.py\", line 1\nOSError: gone"})
    text = stream.getvalue()
    assert "Traceback" not in text and 'File "' not in text
    assert "ConnectionError: server closed the connection unexpectedly" in text
    assert "OSError: gone" in text
    assert len(text.strip().splitlines()) == 2
