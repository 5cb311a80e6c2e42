"""Many tenants from the same spec files: each its own credentials and setup values.

An integration vendor runs one spec for hundreds of customers. A tenants file names them;
each tenant gives the values of the spec's `${ENV}` references (literal text, or a
`${VAR}` of this process's environment, so secrets stay in the secret store) and may
override setup values:

    tenants:
      acme:
        environment:
          MACONOMY_URL: https://acme.maconomy.example
          MACONOMY_PASSWORD: ${ACME_MACONOMY_PASSWORD}
        setup:
          maconomy-cinode: {project_types: [Fixed]}
        integrations: [maconomy-cinode]      # optional: default every spec served

A tenant's integration runs under the *scope* `acme:maconomy-cinode`: that is its name in
the state store (links, cursors, runs, inbox sources), in metrics and logs, and in its
webhook URL (`/webhooks/acme:maconomy-cinode/cinode`). Without a tenants file the scope
is the integration's own name, exactly as in the embedded mode, so a store moved from
SQLite keeps every link. A tenant's environment is its own: a variable it does not give
is missing for it, never borrowed from the process or another tenant (only the process's
own `SPECSYNC_*` settings, such as the egress policy, hold for every tenant).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from engine.adapters.ratelimit import RateBudgets
from engine.errors import SpecsyncError
from engine.redact import Redactor
from engine.runner.deployment import Deployment
from engine.spec.environment import resolve_text
from engine.spec.model import Connection, Spec, build_spec
from engine.state.base import StateStore
from engine.sync.runtime import Runtime, utc_now

__all__ = ["Tenant", "TenantDeployment", "TenantsError", "load_tenants", "scope_name",
           "split_scope"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SEPARATOR = ":"


class TenantsError(SpecsyncError):
    """The tenants file is wrong; the message names the file, the tenant and the key."""


def scope_name(tenant: str | None, integration: str) -> str:
    """The state-store name of a tenant's integration (`acme:maconomy-cinode`)."""
    return f"{tenant}{_SEPARATOR}{integration}" if tenant else integration


def split_scope(scope: str) -> tuple[str | None, str]:
    """(tenant, integration) of a scope; tenant None for the single-tenant deployment."""
    tenant, sep, integration = scope.partition(_SEPARATOR)
    return (tenant, integration) if sep else (None, scope)


@dataclass(frozen=True)
class Tenant:
    name: str
    environment: Mapping[str, str]  # resolved values: never printed
    setup: Mapping[str, Mapping[str, Any]]
    integrations: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        return f"Tenant({self.name!r}, variables={sorted(self.environment)})"


def _where(path: Path, node: Any, key: str | None = None) -> str:
    """`file:line` of a key (or of the mapping) in a ruamel round-trip document."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return str(path)
    try:
        line = (lc.key(key)[0] if key is not None else lc.line) + 1
    except (KeyError, TypeError):
        line = lc.line + 1
    return f"{path}:{line}"


def load_tenants(path: str | Path, environ: Mapping[str, str] | None = None) -> list[Tenant]:
    """Read a tenants file; TenantsError names the place of the first problem."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    file = Path(path)
    environ = dict(os.environ) if environ is None else environ
    try:
        text = file.read_text(encoding="utf-8")
        # The plain loader first (a thousand tenants load in a fraction of the time);
        # a problem is then located by reading the file again, keeping line numbers.
        data = YAML(typ="safe", pure=True).load(text)
    except OSError as exc:
        raise TenantsError(f"{file}: cannot read the tenants file: {exc.strerror}") from None
    except YAMLError as exc:
        raise TenantsError(f"{file}: not valid YAML: {exc}") from None
    try:
        return _read_tenants(file, data, environ)
    except TenantsError:
        _read_tenants(file, YAML(typ="rt").load(text), environ)
        raise


def _read_tenants(file: Path, data: Any, environ: Mapping[str, str]) -> list[Tenant]:
    if not isinstance(data, dict) or not isinstance(data.get("tenants"), dict):
        raise TenantsError(f"{file}: expected a mapping `tenants:` of tenant names")
    tenants: list[Tenant] = []
    for name, raw in data["tenants"].items():
        at = _where(file, data["tenants"], name)
        if not isinstance(name, str) or not _NAME.match(name):
            raise TenantsError(f"{at}: tenant name {name!r} must be lower-case letters, "
                               "digits, '-' or '_' (at most 63), starting with a letter or "
                               "digit")
        raw = raw or {}
        if not isinstance(raw, dict):
            raise TenantsError(f"{at}: tenant `{name}` must be a mapping")
        unknown = sorted(set(raw) - {"environment", "setup", "integrations"})
        if unknown:
            raise TenantsError(f"{_where(file, raw, unknown[0])}: tenant `{name}` has the "
                               f"unknown key `{unknown[0]}` (environment, setup, "
                               "integrations)")
        env = raw.get("environment") or {}
        if not isinstance(env, dict):
            raise TenantsError(f"{_where(file, raw, 'environment')}: `environment` of "
                               f"`{name}` must map variable names to text")
        resolved: dict[str, str] = {}
        for var, value in env.items():
            missing: list[str] = []
            resolved[str(var)] = resolve_text(str(value), environ, missing)
            if missing:
                raise TenantsError(f"{_where(file, env, var)}: tenant `{name}` sets {var} "
                                   f"from ${{{missing[0]}}}, which this process's "
                                   "environment does not have")
        setup = raw.get("setup") or {}
        if not isinstance(setup, dict) or not all(isinstance(v, dict) for v in setup.values()):
            raise TenantsError(f"{_where(file, raw, 'setup')}: `setup` of `{name}` must map "
                               "integration names to their setup values")
        wanted = raw.get("integrations")
        if wanted is not None and (not isinstance(wanted, list)
                                   or not all(isinstance(i, str) for i in wanted)):
            raise TenantsError(f"{_where(file, raw, 'integrations')}: `integrations` of "
                               f"`{name}` must be a list of integration names")
        tenants.append(Tenant(name, resolved, {k: dict(v) for k, v in setup.items()},
                              tuple(wanted) if wanted is not None else None))
    if not tenants:
        raise TenantsError(f"{file}: no tenants are listed")
    return tenants


def _plain(value: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (build_spec expects them)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def tenant_spec(spec: Spec, tenant: Tenant) -> Spec:
    """The spec as this tenant runs it: its scope name and its setup values.

    A setup value must keep the type the spec's own value has (the spec's filters and
    templates were type-checked against it); a name the spec does not declare is refused.
    """
    overrides = tenant.setup.get(spec.integration, {})
    scope = scope_name(tenant.name, spec.integration)
    if not overrides:
        return replace(spec, integration=scope)
    for key, value in overrides.items():
        if key not in spec.setup:
            raise TenantsError(f"tenant `{tenant.name}`: setup `{key}` is not a setup value "
                               f"of {spec.integration} ({', '.join(sorted(spec.setup))})")
        if type(_plain(value)) is not type(spec.setup[key]):
            raise TenantsError(
                f"tenant `{tenant.name}`: setup `{key}` of {spec.integration} is "
                f"{type(_plain(value)).__name__}, the spec's value is "
                f"{type(spec.setup[key]).__name__}")
    raw = dict(spec.raw)
    raw["setup"] = {**dict(spec.raw.get("setup") or {}), **_plain(dict(overrides))}
    rebuilt = build_spec(spec.path, raw, spec.content_hash)
    return replace(rebuilt, integration=scope)


class TenantDeployment(Deployment):
    """A Deployment whose runtimes each have their tenant's environment."""

    def webhook_secret(self, connection: Connection) -> str | None:
        ref = connection.webhooks.get("secret")
        if not ref:
            return None
        environ = self.environ
        for runtime in self.runtimes.values():
            if any(c is connection for c in runtime.spec.connections.values()):
                environ = runtime.environ
                break
        missing: list[str] = []
        value = resolve_text(str(ref), environ, missing)
        if missing:
            raise KeyError(missing[0])
        return value


def tenant_deployment(specs: Iterable[Spec], tenants: Iterable[Tenant], store: StateStore, *,
                      transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
                      budgets: RateBudgets | None = None, redactor: Redactor | None = None,
                      clock: Callable[[], datetime] = utc_now) -> TenantDeployment:
    """Every tenant's integrations as one Deployment keyed by scope."""
    by_name = {spec.integration: spec for spec in specs}
    budgets = RateBudgets() if budgets is None else budgets  # an empty one is falsy
    redactor = redactor or Redactor()
    scoped: dict[str, Spec] = {}
    runtimes: dict[str, Runtime] = {}
    # The process's own settings (egress policy: SPECSYNC_ALLOW_LOOPBACK, ...) hold for
    # every tenant; credentials never come from here.
    policy = {k: v for k, v in os.environ.items() if k.startswith("SPECSYNC_")}
    for tenant in tenants:
        names = tenant.integrations if tenant.integrations is not None else tuple(by_name)
        for integration in names:
            if integration not in by_name:
                raise TenantsError(f"tenant `{tenant.name}` names the integration "
                                   f"`{integration}`, which no spec served defines "
                                   f"({', '.join(sorted(by_name))})")
            spec = tenant_spec(by_name[integration], tenant)
            scoped[spec.integration] = spec
            runtimes[spec.integration] = Runtime(
                spec, store, environ={**policy, **tenant.environment},
                transports=dict(transports or {}), budgets=budgets, redactor=redactor,
                clock=clock)
    return TenantDeployment(scoped, runtimes, {})
