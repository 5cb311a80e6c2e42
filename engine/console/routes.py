"""The console's pages and actions under /console, mounted by the runner app.

    GET  /console/                                   overview
    GET  /console/syncs/{integration}/{sync}          one sync: runs, failing records, audit
    GET  /console/syncs/{integration}/{sync}/records/{key}   one record, explained
    GET  /console/api/progress                        runs in progress (JSON, polled)
    POST /console/actions                             run, retry, retry-all, pause, resume,
                                                      acknowledge (operator role)
    GET|POST /console/login, POST /console/logout
    GET  /console/static/...                          CSS and JavaScript (no data)

Everything but the login page and the static files needs a session (or a bearer token);
without one a page redirects to the login and the API answers 401, with no data either
way. Actions check the origin, the CSRF token and the role, in that order, and every
action (refused ones too) is kept in the audit log with who asked.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict
from datetime import UTC
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from engine.console.auth import (
    SESSION_SECONDS,
    Authenticator,
    LoginThrottle,
    Principal,
    same_origin,
)
from engine.console.privacy import masked
from engine.console.render import SECURITY_HEADERS, Renderer, zone_of
from engine.console.settings import ConsoleSettings
from engine.console.views import overview, record_url, sync_page
from engine.redact import Redactor
from engine.runner.context import RunnerContext
from engine.state.base import AuditEntry

if TYPE_CHECKING:
    from engine.runner.app import Runner

__all__ = ["NOTICES", "Console"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_FORM_LIMIT = 16_384
_NAME = re.compile(r"^[\w .@'-]{1,60}$")
NOTICES = {
    "run-started": "Run started. Progress shows below while it runs.",
    "retry-started": "Retry started.",
    "busy": "A run of this sync is in progress: try again when it has finished.",
    "refused-paused": "The sync is paused: resume it first.",
    "paused": "Paused: no scheduled or webhook run starts until it is resumed.",
    "resumed": "Resumed: the next scheduled slot runs as usual.",
    "acknowledged": "Acknowledged: still retried every run, no longer counted for alerts.",
    "not-failing": "That record is not failing any more.",
    "unknown": "There is no such sync.",
}
_ACTIONS = ("run", "retry", "retry-all", "pause", "resume", "acknowledge")


class Console:
    """The console of one runner; `routes()` are added to the runner app."""

    def __init__(self, runner: Runner, settings: ConsoleSettings, *,
                 public_url: str | None = None) -> None:
        self.runner = runner
        self.settings = settings
        self.public_url = public_url.rstrip("/") if public_url else None
        self.auth = Authenticator(settings)
        self.throttle = LoginThrottle()
        self.renderer = Renderer()
        self.redact = Redactor()

    @property
    def ctx(self) -> RunnerContext:
        return self.runner.ctx

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/console", self._to_overview, methods=["GET"]),
            Route("/console/", self._guard(self.overview_page), methods=["GET"]),
            Route("/console/login", self.login_page, methods=["GET"]),
            Route("/console/login", self.login, methods=["POST"]),
            Route("/console/logout", self.logout, methods=["POST"]),
            Route("/console/api/progress", self._guard(self.progress_api, api=True),
                  methods=["GET"]),
            Route("/console/api/conflicts", self._guard(self.conflicts_api, api=True),
                  methods=["GET"]),
            Route("/console/actions", self.act, methods=["POST"]),
            Route("/console/syncs/{integration}/{sync}", self._guard(self.sync_page_),
                  methods=["GET"]),
            Route("/console/syncs/{integration}/{sync}/records/{key:path}",
                  self._guard(self.record_page), methods=["GET"]),
            Mount("/console/static",
                  app=StaticFiles(packages=[("engine.console", "static")]),
                  name="console-static"),
        ]

    # -- plumbing ---------------------------------------------------------------------------
    def _secure(self, request: Request) -> bool:
        return request.url.scheme == "https" or bool(
            self.public_url and self.public_url.startswith("https://"))

    def _origin(self, request: Request) -> str:
        if self.public_url:
            parts = urlsplit(self.public_url)
            return f"{parts.scheme}://{parts.netloc}"
        return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"

    def principal(self, request: Request) -> Principal | None:
        token = self.auth.bearer(request.headers.get("authorization"))
        if token is not None:
            return token
        for secure in (True, False):
            found = self.auth.open(request.cookies.get(self.auth.cookie_name(secure)))
            if found is not None:
                return found
        return None

    def _page(self, request: Request, template: str, status_code: int = 200,
              **context: Any) -> Response:
        raw = request.cookies.get("tz")
        zone = zone_of(raw)
        known = raw if raw and (raw == "UTC" or zone is not UTC) else None
        return self.renderer.page(template, context, zone=zone, zone_name=known,
                                  status_code=status_code)

    def _guard(self, handler: Callable[[Request, Principal], Awaitable[Response]], *,
               api: bool = False) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            if not self.settings.console_on:
                return self._off()
            principal = self.principal(request)
            if principal is None:
                if api:
                    return JSONResponse({"error": "log in first"}, status_code=401,
                                        headers=SECURITY_HEADERS)
                target = request.url.path + (f"?{request.url.query}" if request.url.query
                                             else "")
                return RedirectResponse(f"/console/login?{urlencode({'next': target})}",
                                        status_code=303, headers=SECURITY_HEADERS)
            return await handler(request, principal)

        return guarded

    def _off(self) -> Response:
        return Response("The console is off: set SPECSYNC_CONSOLE_OPERATOR (and, for "
                        "read-only access, SPECSYNC_CONSOLE_VIEWER) and restart serve.\n",
                        status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)

    async def _on_work_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Adapter calls run where the adapters live (their connection pools)."""
        work = self.runner.work
        if work is not None and work.running:
            return await work.run(coro)
        return await coro

    @staticmethod
    async def _form(request: Request) -> dict[str, str] | None:
        """An urlencoded form of at most 16 KiB; None otherwise."""
        if request.headers.get("content-type", "").split(";")[0].strip() != \
                "application/x-www-form-urlencoded":
            return None
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _FORM_LIMIT:
                return None
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[-1] for name, values in parsed.items()}

    @staticmethod
    def _next(value: str | None, fallback: str = "/console/") -> str:
        """Only a path inside the console: never an open redirect."""
        if value and value.startswith("/console/") and "//" not in value \
                and "\\" not in value:
            return value
        return fallback

    # -- login ------------------------------------------------------------------------------
    async def _to_overview(self, request: Request) -> Response:
        return RedirectResponse("/console/", status_code=308)

    async def login_page(self, request: Request) -> Response:
        if not self.settings.console_on:
            return self._off()
        if self.principal(request) is not None:
            return RedirectResponse(self._next(request.query_params.get("next")),
                                    status_code=303)
        return self._page(request, "login.html", principal=None, error=None,
                          next=self._next(request.query_params.get("next")), name="")

    async def login(self, request: Request) -> Response:
        if not self.settings.console_on:
            return self._off()
        if not same_origin(request.headers, self._origin(request)):
            return self._refused(request, None, "This form was posted from another site.")
        client = request.client.host if request.client else "?"
        form = await self._form(request) or {}
        target = self._next(form.get("next"))
        name = " ".join(form.get("name", "").split())
        if self.throttle.blocked(client):
            return self._page(request, "login.html", status_code=429, principal=None,
                              error="Too many failed attempts: wait a few minutes.",
                              next=target, name=name)
        principal = self.auth.login(name, form.get("secret", "")) if _NAME.match(name) \
            else None
        if principal is None:
            self.throttle.failed(client)
            await asyncio.sleep(0.5)  # guessing costs time
            error = ("Give your name (letters, digits, spaces, . @ ' -), then your password."
                     if not _NAME.match(name) else "That password is not right.")
            return self._page(request, "login.html", status_code=401, principal=None,
                              error=error, next=target, name=name)
        self.throttle.succeeded(client)
        await self._audit(principal, "login", "ok")
        response = RedirectResponse(target, status_code=303)
        secure = self._secure(request)
        response.set_cookie(self.auth.cookie_name(secure), self.auth.seal(principal),
                            max_age=SESSION_SECONDS, path="/console" if not secure else "/",
                            secure=secure, httponly=True, samesite="strict")
        return response

    async def logout(self, request: Request) -> Response:
        principal = self.principal(request)
        form = await self._form(request) or {}
        if principal is not None and same_origin(request.headers, self._origin(request)) \
                and self.auth.csrf_ok(principal, form.get("csrf")):
            await self._audit(principal, "logout", "ok")
        response = RedirectResponse("/console/login", status_code=303)
        for secure in (True, False):
            response.delete_cookie(self.auth.cookie_name(secure),
                                   path="/" if secure else "/console")
        return response

    # -- pages ------------------------------------------------------------------------------
    async def overview_page(self, request: Request, principal: Principal) -> Response:
        view = await asyncio.to_thread(overview, self.ctx)
        return self._page(request, "overview.html", principal=principal, view=view,
                          notice=NOTICES.get(request.query_params.get("notice", "")))

    async def sync_page_(self, request: Request, principal: Principal) -> Response:
        integration, sync = request.path_params["integration"], request.path_params["sync"]
        page = await asyncio.to_thread(sync_page, self.ctx, integration, sync)
        if page is None:
            return self._page(request, "missing.html", status_code=404, principal=principal,
                              what=f"sync {integration}/{sync}")
        return self._page(request, "sync.html", principal=principal, page=page,
                          notice=NOTICES.get(request.query_params.get("notice", "")),
                          quote=quote)

    async def record_page(self, request: Request, principal: Principal) -> Response:
        from engine.sync.explain import explain_record

        integration, sync = request.path_params["integration"], request.path_params["sync"]
        key = request.path_params["key"]
        runtime = self.ctx.deployment.runtimes.get(integration)
        if runtime is None or sync not in runtime.spec.syncs:
            return self._page(request, "missing.html", status_code=404, principal=principal,
                              what=f"sync {integration}/{sync}")
        problem = None
        try:
            found = await self._on_work_loop(explain_record(runtime, sync, key))
        except Exception as exc:  # the source cannot be reached: say so, show what we know
            problem = runtime.redactor.text(f"{type(exc).__name__}: {exc}")[:300]
            found = None
        failure = await asyncio.to_thread(self.ctx.store.get_failure, integration, sync, key)
        link = found.link if found else None
        url = record_url(self.ctx, integration, sync, link.target_id) if link else None
        definition = runtime.spec.syncs[sync]
        return self._page(request, "record.html", principal=principal, integration=integration,
                          sync=sync, definition=definition, key=key, found=found,
                          problem=problem, failure=failure, target_url=url,
                          redact=self.redact.text, quote=quote, mask=masked,
                          notice=NOTICES.get(request.query_params.get("notice", "")))

    async def progress_api(self, request: Request, principal: Principal) -> Response:
        runs = []
        for progress in self.ctx.progress.snapshot():
            item = asdict(progress)
            item["started_at"] = progress.started_at.isoformat()
            item["percent"] = progress.percent
            runs.append(item)
        return JSONResponse({"running": runs}, headers=SECURITY_HEADERS)

    async def conflicts_api(self, request: Request, principal: Principal) -> Response:
        """The newest conflicts of two-way fields (S28): values masked as stored, and
        masked again all the same."""
        from engine.redact import Redactor

        redact = Redactor()
        found = await asyncio.to_thread(self.ctx.store.list_conflicts, None, 50)
        return JSONResponse({"conflicts": [
            {"at": c.at.isoformat(), "integration": c.integration, "sync": c.sync,
             "key": c.source_key, "field": c.field,
             "source_value": redact.text(c.source_value),
             "target_value": redact.text(c.target_value), "kept": c.winner,
             "policy": c.policy} for c in found]}, headers=SECURITY_HEADERS)

    # -- actions ----------------------------------------------------------------------------
    def _refused(self, request: Request, principal: Principal | None, why: str,
                 status_code: int = 403) -> Response:
        return self._page(request, "refused.html", status_code=status_code,
                          principal=principal, why=why)

    async def _audit(self, principal: Principal, action: str, outcome: str, *,
                     integration: str | None = None, sync: str | None = None,
                     key: str | None = None, detail: str | None = None) -> None:
        entry = AuditEntry(self.ctx.clock(), principal.name, principal.role, action, outcome,
                           integration, sync, key, detail)
        await asyncio.to_thread(self.ctx.store.append_audit, entry)
        log.info("console action", extra={"actor": principal.who, "action": action,
                                          "outcome": outcome, "integration": integration,
                                          "sync": sync})

    async def act(self, request: Request) -> Response:
        if not self.settings.console_on:
            return self._off()
        if not same_origin(request.headers, self._origin(request)):
            return self._refused(request, None, "This form was posted from another site.")
        principal = self.principal(request)
        if principal is None:
            return self._refused(request, None, "Log in first.", status_code=401)
        form = await self._form(request)
        if form is None or not self.auth.csrf_ok(principal, form.get("csrf")):
            return self._refused(request, principal, "This form has expired or was not ours: "
                                 "reload the page and try again.")
        action = form.get("action", "")
        integration, sync = form.get("integration", ""), form.get("sync", "")
        key = form.get("key") or None
        back = self._next(form.get("next"), f"/console/syncs/{quote(integration)}/"
                                            f"{quote(sync)}")
        if action not in _ACTIONS:
            return self._refused(request, principal, "There is no such action.", 400)
        if not principal.may_act:
            await self._audit(principal, action, "refused: read-only role",
                              integration=integration, sync=sync, key=key)
            return self._refused(request, principal, "Your role may look, not act: log in "
                                 "as an operator to do this.")
        notice = await self._perform(principal, action, integration, sync, key)
        joiner = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{joiner}notice={notice}", status_code=303)

    async def _perform(self, principal: Principal, action: str, integration: str,
                       sync: str, key: str | None) -> str:
        spec = self.ctx.deployment.specs.get(integration)
        if spec is None or sync not in spec.syncs:
            await self._audit(principal, action, "refused: no such sync",
                              integration=integration, sync=sync, key=key)
            return "unknown"
        control, store, now = self.runner.control, self.ctx.store, self.ctx.clock()
        notice: str
        if action == "run":
            outcome: str = await control.request_run(integration, sync)
            notice = {"started": "run-started", "paused": "refused-paused"}.get(outcome,
                                                                                 outcome)
        elif action in ("retry", "retry-all"):
            outcome = await control.request_retry(integration, sync,
                                                  [key] if action == "retry" and key else None)
            notice = {"started": "retry-started", "paused": "refused-paused"}.get(outcome,
                                                                                   outcome)
        elif action in ("pause", "resume"):
            await asyncio.to_thread(store.set_paused, integration, sync, action == "pause",
                                    by=principal.who, at=now)
            outcome, notice = "done", "paused" if action == "pause" else "resumed"
        else:  # acknowledge
            done = bool(key) and await asyncio.to_thread(
                store.acknowledge_failure, integration, sync, key or "", by=principal.who,
                at=now)
            outcome, notice = ("done", "acknowledged") if done else ("not failing",
                                                                     "not-failing")
        await self._audit(principal, action, outcome, integration=integration, sync=sync,
                          key=key)
        return notice
