"""engine.cli.core with commands made up for the test: parsing into typed arguments,
dispatch, exit codes, --debug anywhere, usage errors and a closed stdout."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli.core import Command, UsageError, build_parser, command, group, run
from engine.errors import SpecsyncError

ROOT = Path(__file__).parents[2]


@dataclass(frozen=True)
class EchoArgs:
    words: list[str]
    times: int


def _echo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("words", nargs="*", help="what to say")
    p.add_argument("--times", type=int, default=1, help="how often")


def _failing(exc: BaseException) -> Command:
    @dataclass(frozen=True)
    class NoArgs:
        pass

    def handler(args: NoArgs) -> int:
        raise exc

    return command("fail", help="raise", example="specsync fail", args=NoArgs, handler=handler)


def test_the_handler_gets_its_dataclass(capsys: pytest.CaptureFixture[str]) -> None:
    received: list[EchoArgs] = []

    def echo(args: EchoArgs) -> int:
        received.append(args)
        return 3

    echo_command = command("echo", help="say it", example="specsync echo hi", args=EchoArgs,
                           handler=echo, arguments=_echo_arguments)
    assert run([echo_command], ["echo", "a", "b", "--times", "2"]) == 3
    assert received == [EchoArgs(words=["a", "b"], times=2)]


def test_the_parser_holds_exactly_the_commands_it_is_given() -> None:
    one = command("one", help="first", example="specsync one", args=EchoArgs,
                  handler=lambda args: 0, arguments=_echo_arguments)
    parser = build_parser([one])
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(sub.choices) == ["one"]
    assert "example:\n  specsync one" in sub.choices["one"].format_help()


def test_no_command_and_a_bare_group_print_help_and_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    inner = command("up", help="start", example="specsync box up", args=EchoArgs,
                    handler=lambda args: 0, arguments=_echo_arguments)
    box = group("box", help="a group", example="specsync box up", subcommands=(inner,))
    assert run([box], []) == 2
    assert "usage: specsync" in capsys.readouterr().err
    assert run([box], ["box"]) == 2
    assert "usage: specsync box" in capsys.readouterr().err
    assert run([box], ["box", "up"]) == 0


@pytest.mark.parametrize("argv", [["fail"], ["fail", "--debug"], ["--debug", "fail"]],
                         ids=["plain", "debug-after", "debug-before"])
def test_debug_is_accepted_before_and_after_the_command(
        argv: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPECSYNC_DEBUG", raising=False)
    if "--debug" in argv:
        with pytest.raises(RuntimeError, match="boom"):
            run([_failing(RuntimeError("boom"))], argv)
    else:
        assert run([_failing(RuntimeError("boom"))], argv) == 1
        err = capsys.readouterr().err
        assert "internal error: RuntimeError: boom" in err and "--debug" in err
        assert "Traceback" not in err


def test_specsync_debug_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECSYNC_DEBUG", "1")
    with pytest.raises(RuntimeError):
        run([_failing(RuntimeError("boom"))], ["fail"])


@pytest.mark.parametrize(("exc", "code", "says"), [
    pytest.param(SpecsyncError("no such sync"), 1, "specsync: error: no such sync", id="specsync"),
    pytest.param(UsageError("--x is wrong"), 2, "specsync fail: error: --x is wrong", id="usage"),
    pytest.param(KeyboardInterrupt(), 130, "specsync: interrupted", id="interrupt"),
])
def test_exit_codes(exc: BaseException, code: int, says: str,
                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run([_failing(exc)], ["fail"]) == code
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_a_usage_error_shows_the_commands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    run([_failing(UsageError("bad"))], ["fail"])
    assert capsys.readouterr().err.startswith("usage: specsync fail")


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_is_141_without_a_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    @dataclass(frozen=True)
    class NoArgs:
        pass

    def talk(args: NoArgs) -> int:
        print("x" * 100_000)
        return 0

    talker = command("talk", help="print", example="specsync talk", args=NoArgs, handler=talk)
    monkeypatch.setattr("sys.stdout", _ClosedPipe())
    assert run([talker], ["talk"]) == 141
    assert capsys.readouterr().err == ""


def test_version_is_read_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[bool] = []

    def version() -> str:
        asked.append(True)
        return "specsync 9.9"

    assert run([], ["--help"], version=version) == 0
    assert not asked
    assert run([], ["--version"], version=version) == 0
    assert capsys.readouterr().out.endswith("specsync 9.9\n")


def _closed_early(argv: list[str]) -> tuple[int, str]:
    """`python -m engine ARGV | head -c 0`: the reader is gone before anything is written."""
    with subprocess.Popen([sys.executable, "-m", "engine", *argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        err = process.stderr.read()
        return process.wait(timeout=60), err


def test_docs_into_a_closed_pipe_is_quiet() -> None:
    assert _closed_early(["docs", str(ROOT / "specs" / "maconomy-cinode")]) == (141, "")
