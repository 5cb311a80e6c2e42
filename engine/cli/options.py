"""Arguments several commands share, and argument types that refuse nonsense at parse time.

A count given as `--limit -1` or a port of 18765000 is a usage error (exit 2, argparse's
own message), not something a handler discovers later or, worse, passes on.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable

__all__ = ["add_state_option", "count", "host", "port", "state_url"]

DEFAULT_STATE = ".specsync/state.db"


def count(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "count"  # argparse names the type in some messages
    return parse


def port(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value


_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def host(text: str) -> str:
    """An argparse type: an IP address or a host name to listen on (`256.1.1.1` is neither)."""
    looks_numeric = all(part.isdigit() for part in text.split("."))
    if ":" in text or looks_numeric:
        import ipaddress

        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None
        return text
    if len(text) > 253 or not all(_HOST_LABEL.fullmatch(p) for p in text.rstrip(".").split(".")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name or IP address")
    return text


def add_state_option(parser: argparse.ArgumentParser) -> None:
    """`--state URL`, read with `state_url()`."""
    parser.add_argument("--state", metavar="URL",
                        help="the state store: a SQLite path or a postgresql:// URL "
                        f"(default: $SPECSYNC_STATE, else {DEFAULT_STATE})")


def state_url(given: str | None) -> str | None:
    """`--state`, else $SPECSYNC_STATE; None lets the store choose its default file."""
    return given or os.environ.get("SPECSYNC_STATE")
