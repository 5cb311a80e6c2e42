"""What every group of Cinode routes shares: the tenant's store, its views, webhooks.

A concept module (users, customers, projects, ...) subclasses `Resource` and lists its
routes in `routes()` as `(path under /v0.1/companies/{companyId}, handler, methods)`;
the sandbox wraps each handler with bearer auth, the company check and the plan's rate
limit. Paths outside the company (`/v0.1/languages`) say so with a leading `!`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.sandbox.cinode.errors import Problem, read_json
from engine.sandbox.cinode.store import Record
from engine.sandbox.cinode.validation import Body

if TYPE_CHECKING:
    from engine.sandbox.cinode.app import CinodeSandbox

__all__ = ["ACTION", "ENTITY", "Handler", "Resource", "RouteSpec"]

Handler = Callable[[Request], Awaitable[Response]]
RouteSpec = tuple[str, Handler, list[str]]

#: `WebhookEntityType` and `ActionType` values the sandbox's changes notify.
ENTITY = {"users": 3, "subcontractors": 4, "customers": 5, "projects": 6, "contacts": 10}
ACTION = {"created": 2, "updated": 3, "deleted": 4}


class Resource:
    """Base of one concept's routes."""

    def __init__(self, sandbox: CinodeSandbox) -> None:
        self.sandbox = sandbox
        self.store = sandbox.store
        self.views = sandbox.views
        self.settings = sandbox.settings

    def routes(self) -> list[RouteSpec]:
        raise NotImplementedError

    # -- helpers

    @staticmethod
    def path_id(request: Request, name: str = "id") -> int:
        return int(request.path_params[name])

    @staticmethod
    def found(record: Record | None) -> Record:
        if record is None:
            raise Problem(404)
        return record

    @staticmethod
    async def json(request: Request) -> Any:
        return await read_json(request)

    async def body(self, request: Request) -> Body:
        return Body(await read_json(request))

    def created(self, view: Record, kind: str) -> Response:
        """201 with the created model and its Location."""
        return JSONResponse(view, status_code=201, headers={
            "location": f"/v0.1/companies/{self.store.company_id}/{kind}/{view['id']}"})

    async def replace_tags(self, request: Request, kind: str,
                           view: Callable[[Record], Record]) -> Response:
        """`PUT .../{kind}/{id}/tags`: the record's whole tag list, by id or new name."""
        records = getattr(self.store, kind)
        current = self.found(records.get(self.path_id(request)))
        tags = self.store.resolve_tags(await self.json(request))
        stored = records.put({**current, "tags": tags})
        self.notify(kind, "updated", stored)
        return JSONResponse(view(stored))

    def notify(self, kind: str, action: str, record: Record) -> None:
        self.sandbox.deliveries.notify(ENTITY[kind], ACTION[action], record)

    @staticmethod
    def deleted() -> Response:
        """Cinode's DELETE answers 200 with no body (the contract declares 200)."""
        return Response(status_code=200)
