"""The sandbox's control API for Cinode records: what a person does in Cinode's UI.

`POST /_sandbox/records/{object}` creates a record from the vendor's add model (the
same validation as the API); `GET|PATCH|DELETE /_sandbox/records/{object}/{id}` shows the
stored record, changes it (stored names, e.g. `{"description": ...}`) or deletes it,
notifying webhooks as the UI would. A project PATCH takes `currentState` and
`currentStageId`/`pipelineStageId` to move it along its pipelines. Objects: users,
subcontractors, customers, projects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.cinode.errors import Problem, invalid, read_json
from engine.sandbox.cinode.projects import stage_pipeline
from engine.sandbox.cinode.resource import ACTION, ENTITY
from engine.sandbox.cinode.seed import STATE_TITLES
from engine.sandbox.cinode.store import Record
from engine.sandbox.platform import Collection

if TYPE_CHECKING:
    from engine.sandbox.cinode.app import CinodeSandbox

__all__ = ["Control"]

_OBJECTS = ("users", "subcontractors", "customers", "projects")


class Control:
    """`/_sandbox/records/...` over one sandbox."""

    def __init__(self, sandbox: CinodeSandbox) -> None:
        self.sandbox = sandbox
        self.store = sandbox.store

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/records/{object}", self.create, methods=["POST"]),
            Route("/records/{object}/{id:int}", self.record,
                  methods=["GET", "PATCH", "DELETE"]),
        ]

    def _collection(self, name: str) -> Collection:
        if name not in _OBJECTS:
            raise invalid("object", f"Unknown object {name!r}; expected one of "
                                    f"{', '.join(_OBJECTS)}.")
        collection: Collection = getattr(self.store, name)
        return collection

    async def record(self, request: Request) -> Response:
        """Inspect, change or delete a record as a Cinode user would in the UI."""
        name = request.path_params["object"]
        try:
            collection = self._collection(name)
            current = collection.get(int(request.path_params["id"]))
            if current is None:
                raise Problem(404)
            notify = self.sandbox.deliveries.notify
            if request.method == "GET":
                return JSONResponse(current)
            if request.method == "DELETE":
                collection.delete(current["id"])
                notify(ENTITY[name], ACTION["deleted"], current)
                return Response(status_code=204)
            changes = await read_json(request)
            if not isinstance(changes, dict):
                raise invalid("", "Expected a JSON object of changes.")
            if name == "projects":
                stored = self._move_project(current, dict(changes))
            elif name == "users":
                stored = self.store.store_user({**current, **changes, "id": current["id"]},
                                               current)
            else:
                stored = collection.put({**current, **changes, "id": current["id"]})
            notify(ENTITY[name], ACTION["updated"], stored)
            return JSONResponse(stored)
        except Problem as problem:
            return problem.response()

    def _move_project(self, current: Record, changes: Record) -> Record:
        stage_id = changes.pop("pipelineStageId", changes.pop("currentStageId", None))
        if stage_id is not None:
            pipeline = stage_pipeline(stage_id)
            if pipeline is None:
                raise invalid("currentStageId", f"Stage {stage_id} does not exist.")
            changes["pipelineId"] = pipeline["id"]
            changes["currentStageId"] = stage_id
        if "currentState" in changes and changes["currentState"] not in STATE_TITLES:
            raise invalid("currentState", f"State {changes['currentState']} does not exist.")
        return self.store.store_project({**current, **changes, "id": current["id"]}, current)

    async def create(self, request: Request) -> Response:
        """Create a record as a UI user would; the body is the vendor's add model."""
        name = request.path_params["object"]
        creatable = ("users", "subcontractors", "customers", "projects")
        handler = getattr(self.sandbox.resources.get(name), "create", None) \
            if name in creatable else None
        if handler is None:
            return invalid("object", f"Unknown object {name!r}.").response()
        try:
            response: Response = await handler(request)
            return response
        except Problem as problem:
            return problem.response()
