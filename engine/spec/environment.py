"""Resolve a connection's `${ENV}` references at run time, and only then.

Specs carry references, never secrets; the values are read from the environment when a
run needs them and live only in the resolved `ConnectionConfig`, whose repr hides them.
A missing variable is named in the error; its value never appears anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from engine.adapters.base import ConnectionConfig
from engine.errors import SpecsyncError
from engine.redact import fixed
from engine.spec.model import Connection

__all__ = ["ENV_REF", "MissingEnvironmentError", "resolve_connection", "resolve_text", "secrets_of"]

ENV_REF = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


_SET_THEM = fixed("set them (e.g. from `specsync sandbox up`, or your secret store) and "
                  "run again")


class MissingEnvironmentError(SpecsyncError):
    def __init__(self, names: list[str], connection: str, *, what: str = ""):
        self.names = names
        listing = ", ".join(names)
        super().__init__(
            f"connection `{connection}` needs the environment variable(s) {listing}"
            f"{f' for its {what}' if what else ''}; " + _SET_THEM
        )


def resolve_text(text: str, environ: Mapping[str, str], missing: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            missing.append(name)
            return ""
        return environ[name]

    return ENV_REF.sub(replace, text)


def resolve_connection(connection: Connection, environ: Mapping[str, str]) -> ConnectionConfig:
    missing: list[str] = []
    base_url = resolve_text(connection.base_url or "", environ, missing)
    auth = {k: resolve_text(v, environ, missing) for k, v in connection.auth.items()}
    options = {k: resolve_text(v, environ, missing) if isinstance(v, str) else v
               for k, v in connection.options.items()}
    if missing:
        raise MissingEnvironmentError(sorted(set(missing)), connection.name)
    rate = None
    if connection.rate_limit:
        rate = (connection.rate_limit[0], connection.rate_limit[1].total_seconds())
    return ConnectionConfig(connection.name, connection.adapter, base_url, auth, options, rate)


def secrets_of(configs: Mapping[str, ConnectionConfig]) -> list[str]:
    """Every secret value in use, for the log redactor."""
    return [v for c in configs.values() for v in c.auth.values() if v]
