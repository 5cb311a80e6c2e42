"""The `specsync` program: its one list of commands, their help, their typed arguments,
what importing it costs, and argument checks that answer with exit 2."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest

from engine.cli import COMMANDS, main
from engine.cli.core import Command, build_parser

ROOT = Path(__file__).parents[2]
# dispatch and help bookkeeping, not arguments a handler reads
_NOT_ARGUMENTS = {"help", "debug", "version", "specsync:run", "specsync:parser"}


def _walk(commands: tuple[Command, ...], prefix: str = "specsync") -> Iterator[tuple[str, Command]]:
    for cmd in commands:
        path = f"{prefix} {cmd.name}"
        yield path, cmd
        yield from _walk(cmd.subcommands, path)


def _parsers(parser: argparse.ArgumentParser,
             path: str = "specsync") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


PARSERS = dict(_parsers(build_parser(COMMANDS, version=lambda: "x")))
COMMAND_PATHS = dict(_walk(COMMANDS))


def test_command_names_are_unique_and_in_the_parser() -> None:
    names = [cmd.name for cmd in COMMANDS]
    assert len(names) == len(set(names))
    assert set(COMMAND_PATHS) == set(PARSERS) - {"specsync"}


@pytest.mark.parametrize("path", sorted(COMMAND_PATHS))
def test_each_command_has_help_and_one_example_of_itself(path: str) -> None:
    cmd = COMMAND_PATHS[path]
    assert cmd.help and cmd.example.startswith(path + " "), cmd.example
    assert f"example:\n  {cmd.example}\n" in PARSERS[path].format_help()


@pytest.mark.parametrize("path", sorted(PARSERS))
def test_every_option_and_argument_has_help_text(path: str) -> None:
    for action in PARSERS[path]._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, f"{path}: {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize("path", sorted(p for p, c in COMMAND_PATHS.items() if c.run))
def test_the_arguments_dataclass_matches_the_parser(path: str) -> None:
    args_type = COMMAND_PATHS[path].args
    assert args_type is not None
    dests = {a.dest for a in PARSERS[path]._actions} - _NOT_ARGUMENTS
    assert {f.name for f in fields(args_type)} == dests
    assert args_type.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_docs_formats_are_the_renderers() -> None:
    from engine.cli.spec import DOCS_FORMATS
    from engine.docs.render import FORMATS

    assert DOCS_FORMATS == FORMATS


def test_readme_command_table_names_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Commands", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"`specsync ([a-z]+)", table))
    assert documented == {cmd.name for cmd in COMMANDS}


def test_help_imports_no_engine_module_outside_the_cli() -> None:
    code = ("import sys\nfrom engine.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True, cwd=ROOT)
    loaded = done.stderr.split()
    assert [m for m in loaded if m.startswith("engine.") and not m.startswith("engine.cli")] == []
    assert not {"asyncio", "rich", "jinja2", "httpx", "json"} & set(loaded)
    assert "usage: specsync" in done.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"specsync {version('specsync')}\n"


@pytest.mark.parametrize(("argv", "says"), [
    pytest.param(["history", "--limit", "-1"], "argument --limit: must be at least 1",
                 id="history"),
    pytest.param(["history", "--limit", "ten"], "expected a whole number", id="not-a-number"),
    pytest.param(["status", "--limit", "-1"], "argument --limit: must be at least 0", id="status"),
    pytest.param(["sandbox", "up", "--records", "-5"], "--records: must be at least 0",
                 id="sandbox-records"),
    pytest.param(["demo", "--records", "-1"], "--records: must be at least 1", id="demo"),
    pytest.param(["serve", "spec.yaml", "--port", "18765000"], "a port is 0 to 65535",
                 id="serve-port"),
    pytest.param(["serve", "spec.yaml", "--log-level", "loud"], "argument --log-level",
                 id="serve-log-level"),
    pytest.param(["sandbox", "up", "--faults", "bogus"], "argument --faults: fault 'bogus'",
                 id="faults-no-value"),
    pytest.param(["sandbox", "up", "--faults", "foo=1"], "unknown fault 'foo'",
                 id="faults-unknown"),
    pytest.param(["sandbox", "up", "--host", "256.1.1.1"], "'256.1.1.1' is not an IP address",
                 id="sandbox-host"),
    pytest.param(["serve", "spec.yaml", "--host", "bad_host"], "is not a host name",
                 id="serve-host"),
])
def test_bad_arguments_are_usage_errors(argv: list[str], says: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and err.startswith("usage: specsync") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # refused before anything was created


@pytest.mark.parametrize(("argv", "debug"), [
    (["history"], False),
    (["--debug", "history"], True),
    (["history", "--debug"], True),
    (["sandbox", "--debug", "up"], True),
    (["sandbox", "up", "--debug"], True),
    (["--debug", "plan", "spec.yaml", "--json"], True),
    (["plan", "spec.yaml", "--debug", "--json"], True),
])
def test_debug_anywhere(argv: list[str], debug: bool) -> None:
    parser = build_parser(COMMANDS)
    assert parser.parse_args(argv).debug is debug
