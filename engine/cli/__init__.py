"""The `specsync` command line.

    from engine.cli import main
    main(["validate", "specs"])        # returns the exit code

`core.py` turns a list of `Command`s into a parser and runs one (exit codes, --debug,
usage errors, a closed stdout); `program.py` holds the one list; each other module is a
group of commands: `spec` (validate, test, docs), `sync` (plan, run, check, explain),
`state` (status, history), `serve`, `sandbox`, `demo`. Handlers import what they need
when they run, so `specsync --help` loads no engine module beyond these.
"""

from __future__ import annotations

from engine.cli.program import COMMANDS, main

__all__ = ["COMMANDS", "main"]
