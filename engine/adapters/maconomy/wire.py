"""The Maconomy adapter's HTTP side: authentication, container links, specifications, pages.

Every request names its answer format in Accept, set in the request itself (httpx fills
in `*/*` when a request is built, so a hook's `setdefault` would never send it):
`application/json` on the v1 API (F-CT-V1), `application/vnd.deltek.maconomy.
containers+json; version=5.0` on the current API (F-ACCEPT-V2, F-CT-V2) and the
authentication type version 2.0 on `/auth` (F-ACCEPT-AUTH). Fact ids are those of
tests/contracts/maconomy/facts.json; the adapter module docstring lists their sources.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import orjson

from engine.adapters.base import AdapterContext
from engine.adapters.http import HttpSession
from engine.adapters.maconomy.options import MaconomyOptions
from engine.errors import FatalError

__all__ = ["Container", "FieldSpec", "Page", "Wire"]

log = logging.getLogger("engine.adapters.maconomy")

V1_ACCEPT = "application/json"
CONTAINERS_TYPE = "application/vnd.deltek.maconomy.containers+json"
AUTH_ACCEPT = "application/vnd.deltek.maconomy.authentication+json; charset=utf-8; version=2.0"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a container's filter pane, from its specification."""

    type: str  # lower case without spaces: string, integer, amount, autotimestamp, ...
    unfilterable: bool = False


@dataclass
class Container:
    """What the adapter knows of one Maconomy container."""

    name: str
    resource: str | None = None  # the v1 container resource URL
    filter_href: str | None = None  # its data:filter link
    specification_href: str | None = None  # its specification link
    fields: dict[str, FieldSpec] | None = None  # None: the specification is unknown
    specification_status: int | None = None  # the specification answer's status


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    row_offset: int | None
    row_count: int | None


# A filter answer's shape, `panes.filter.records[].data` (F-RESP-VALUES): decoded against
# it, each row's wrapper and `meta` are skipped rather than built as dicts and dropped.
# That halves the CPU of decoding a page (a no-change reconcile's largest cost).
class _Row(msgspec.Struct):
    data: dict[str, Any]


class _Pane(msgspec.Struct):
    records: list[_Row]
    meta: Any = None


class _Panes(msgspec.Struct):
    filter: _Pane


class _Answer(msgspec.Struct):
    panes: _Panes


_PAGE = msgspec.json.Decoder(_Answer)


def parse_specification(spec: Any) -> dict[str, FieldSpec] | None:
    """The filter pane's fields, from either shape of `panes.filter.fields`.

    Real specifications key fields by name in an object (F-RESP-SPEC); a list of
    `{name, ...}` is read too. Names are lower-cased; None when the answer has no
    filter pane fields.
    """
    try:
        fields = spec["panes"]["filter"]["fields"]
    except (KeyError, TypeError):
        return None
    if isinstance(fields, Mapping):
        items = [(str((f.get("name") if isinstance(f, Mapping) else None) or name), f)
                 for name, f in fields.items()]
    elif isinstance(fields, list):
        items = [(str(f.get("name")), f) for f in fields
                 if isinstance(f, Mapping) and f.get("name")]
    else:
        return None
    out: dict[str, FieldSpec] = {}
    for name, attrs in items:
        attrs = attrs if isinstance(attrs, Mapping) else {}
        kind = str(attrs.get("type") or "").replace(" ", "").lower()
        out[name.lower()] = FieldSpec(kind, attrs.get("unfilterable") is True)
    return out


class Wire:
    """Authentication and the Maconomy resources one connection reads."""

    def __init__(self, options: MaconomyOptions, username: str, password: str,
                 session_factory: Any, context: AdapterContext) -> None:
        self.options = options
        self.context = context
        self._basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.session: HttpSession = session_factory(
            auth=self._authorize, on_unauthorized=self._after_401,
            on_response=self._keep_token)
        # Logging out must not itself trigger "401 -> log in again".
        self.plain: HttpSession = session_factory()
        self.token: str | None = None
        self.logins = 0
        self._containers: dict[str, Container] = {}

    # ------------------------------------------------------------------ auth

    async def _authorize(self, request: httpx.Request) -> None:
        """X-Reconnect with the token; before there is one, Basic credentials with
        `Maconomy-Authentication: X-Reconnect`, which the answer trades for a token
        (F-AUTH-BASIC-FIRST, F-AUTH-RECONNECT)."""
        if self.token is not None:
            request.headers["Authorization"] = f"X-Reconnect {self.token}"
        else:
            request.headers["Authorization"] = f"Basic {self._basic}"
            request.headers["Maconomy-Authentication"] = "X-Reconnect"

    async def _after_401(self) -> None:
        if self.token is None:  # the credentials themselves were refused
            raise FatalError(f"maconomy: the user name or password was refused for system "
                             f"{self.options.shortname!r} (401)", status=401)
        self.token = None  # expired: the retry sends the credentials again

    async def _keep_token(self, response: httpx.Response) -> None:
        token = response.headers.get("Maconomy-Reconnect")
        if token and token != self.token:
            self.context.redactor.add(token)
            if response.request.headers.get("authorization", "").startswith("Basic "):
                self.logins += 1
            self.token = token

    async def logout(self) -> None:
        """End the session: X-Log-Out on a request made with the token (F-AUTH-LOGOUT),
        or on the /auth resource with `logout_via_auth` (F-AUTH-LOGOUT-VIA-AUTH)."""
        if self.token is None:
            return
        token, self.token = self.token, None
        headers = {"Authorization": f"X-Reconnect {token}",
                   "Maconomy-Authentication": "X-Log-Out"}
        if self.options.has("logout_via_auth"):
            url, accept = f"{self.options.api_path}/auth/{self.options.shortname}", AUTH_ACCEPT
        else:
            found = next((c.resource for c in self._containers.values() if c.resource), None)
            accept = V1_ACCEPT
            if found is None:
                return  # no resource read yet that a logout could ride on
            url = found
        try:
            await self.plain.request("GET", url, headers={**headers, "Accept": accept},
                                     expected=(401, 403, 404))
        except Exception as exc:  # logging out is a courtesy; never fail a run on it
            log.debug("maconomy logout failed: %s", type(exc).__name__)

    # ------------------------------------------------------------------ containers

    def container_name(self, obj: str) -> str:
        return self.options.containers[obj]

    def current_path(self, obj: str) -> str:
        return (f"{self.options.api_path}/containers/{self.options.shortname}/"
                f"{self.container_name(obj)}")

    def v1_path(self, obj: str) -> str:
        return f"{self.options.v1_path}/{self.options.shortname}/{self.container_name(obj)}"

    @property
    def containers_accept(self) -> str:
        return f"{CONTAINERS_TYPE}; version={self.options.containers_version}"

    async def container(self, obj: str) -> Container:
        """The container's links and specification, read once per adapter."""
        found = self._containers.get(obj)
        if found is not None:
            return found
        container = Container(self.container_name(obj))
        needs_v1 = not (self.options.has("filter_endpoint")
                        and self.options.has("specification_path"))
        if needs_v1:
            await self._read_links(obj, container)
        if self.options.has("specification_path"):
            response = await self.session.request(
                "GET", self.current_path(obj), headers={"Accept": self.containers_accept},
                expected=(400, 403, 404, 405, 406))
        elif container.specification_href:
            response = await self.session.request(
                "GET", container.specification_href, headers={"Accept": V1_ACCEPT},
                expected=(400, 403, 404, 405, 406))
        else:
            response = None
        if response is not None:
            container.specification_status = response.status_code
            if response.status_code == 200:
                container.fields = parse_specification(_json(response, "specification"))
        self._containers[obj] = container
        return container

    async def _read_links(self, obj: str, container: Container) -> None:
        """GET the v1 container resource and keep its links (F-PATH-V1, F-V1-LINKS)."""
        path = self.v1_path(obj)
        response = await self.session.request("GET", path, headers={"Accept": V1_ACCEPT},
                                              expected=(404, 405))
        if response.status_code != 200:
            if self.options.has("filter_endpoint"):
                return  # listing goes through the current API's filter resource
            raise FatalError(
                f"maconomy: this server has no v1 container resource at {path} "
                f"({response.status_code}); set options.v1_path to where its "
                "/containers/v1 API lives, or add filter_endpoint to options.unconfirmed "
                "and run `specsync check` again to see whether that works here",
                status=response.status_code)
        container.resource = str(response.request.url)
        links = _json(response, "container resource").get("links") or {}
        if isinstance(links, list):  # tolerate a list of {rel, href}
            links = {link.get("rel"): link for link in links if isinstance(link, Mapping)}
        container.filter_href = _href(links.get("data:filter"))
        container.specification_href = _href(links.get("specification"))
        if container.filter_href is None and not self.options.has("filter_endpoint"):
            raise FatalError(f"maconomy: the container {container.name!r} offers no "
                             "data:filter link, so it cannot be listed (a singleton "
                             "container?); check options.containers")

    # ------------------------------------------------------------------ pages

    async def page(self, obj: str, container: Container, *, restriction: str | None,
                   fields: list[str] | None, limit: int, offset: int,
                   order: list[str]) -> Page:
        """One filter read. `order` items are `+field`/`-field` (F-V1-FILTER-QUERY)."""
        if self.options.has("filter_endpoint"):
            body: dict[str, Any] = {"limit": limit, "offset": offset}
            if restriction:
                body["restriction"] = restriction  # never an empty one (F-R-EMPTY)
            if fields is not None:
                body["fields"] = fields
            if order and self.options.has("filter_orderby"):
                body["orderby"] = ",".join(order)
            response = await self.session.request(
                "POST", f"{self.current_path(obj)}/filter", content=orjson.dumps(body),
                headers={"Content-Type": self.containers_accept,
                         "Accept": self.containers_accept}, idempotent=True)
        else:
            assert container.filter_href is not None
            params: dict[str, Any] = {}
            if restriction:
                params["restriction"] = restriction
            params["limit"] = limit
            if offset:
                params["offset"] = offset
            if fields is not None:
                params["fields"] = ",".join(fields)
            if order:
                params["orderby"] = ",".join(order)
            response = await self.session.request(
                "GET", container.filter_href, params=params, headers={"Accept": V1_ACCEPT})
        content = _content(response)
        try:
            pane = _PAGE.decode(content).panes.filter
        except msgspec.ValidationError:
            raise FatalError(f"maconomy: the filter answer for {obj} has no "
                             "panes.filter.records[].data") from None
        except msgspec.DecodeError as exc:
            raise FatalError(f"maconomy: the {obj} filter answer is not JSON ({exc})") from None
        rows = [record.data for record in pane.records]
        meta = pane.meta if isinstance(pane.meta, dict) else {}
        return Page(rows, meta.get("rowOffset"), meta.get("rowCount"))

    def can_order(self) -> bool:
        """Whether filter reads can ask for an order (v1 always; the filter resource only
        with filter_orderby)."""
        return not self.options.has("filter_endpoint") or self.options.has("filter_orderby")


def _href(link: Any) -> str | None:
    if isinstance(link, Mapping) and isinstance(link.get("href"), str):
        return link["href"]
    return None


def _content(response: httpx.Response) -> bytes:
    content = response.content
    # httpx 0.28 links a response and its stream both ways (encode/httpx#3733): the
    # page's bytes would wait for a full garbage collection. Cut the loop so they go
    # as soon as the page is decoded; the response was read and closed already.
    response.stream = httpx.ByteStream(b"")
    return content


def _json(response: httpx.Response, what: str) -> Any:
    content = _content(response)
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise FatalError(f"maconomy: the {what} answer is not JSON ({exc})") from None
