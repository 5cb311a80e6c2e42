"""The Maconomy simulator's control calls: a user's changes in Maconomy's UI.

Under `/_sandbox/records/{container}` (not Maconomy traffic; the contract checker skips
`/_sandbox`): `POST` creates a record, `GET`/`PATCH`/`DELETE .../{id}` read, change and
delete one. Every change sets `transactiontimestamp`/`changeddate` from the clock and
increments `versionnumber` (`stamp`), so delta sync can be exercised.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.maconomy import seed
from engine.sandbox.maconomy.answers import error
from engine.sandbox.maconomy.restriction import maconomy_timestamp
from engine.sandbox.maconomy.store import Container

__all__ = ["Control", "stamper"]


def stamper(key: str, touched: set[Any]) -> Callable[
        [dict[str, Any], datetime, dict[str, Any] | None], None]:
    """The write hook of one collection: stamp the record, note its id as touched."""

    def stamp(record: dict[str, Any], now: datetime, previous: dict[str, Any] | None) -> None:
        touched.add(record[key])
        record["transactiontimestamp"] = maconomy_timestamp(now)
        record["changeddate"] = now.date().isoformat()
        if previous is None:
            if not record.get("createddate"):
                record["createddate"] = now.date().isoformat()
            record["versionnumber"] = 1
        else:
            record["versionnumber"] = int(previous.get("versionnumber") or 0) + 1

    return stamp


class Control:
    """The `/_sandbox/records/...` calls over the simulator's containers."""

    def __init__(self, containers: dict[str, Container]) -> None:
        self.containers = containers

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/records/{container}", self.create, methods=["POST"]),
            Route("/records/{container}/{id}", self.record, methods=["GET", "PATCH", "DELETE"]),
        ]

    def _container(self, request: Request) -> Container | Response:
        name = request.path_params["container"].lower()
        container = self.containers.get(name)
        if container is None:
            return error(404, f"Unknown container {name!r}; known: "
                         f"{', '.join(sorted(self.containers))}.", "notFound")
        return container

    async def record(self, request: Request) -> Response:
        container = self._container(request)
        if isinstance(container, Response):
            return container
        store = container.collection
        record_id = request.path_params["id"]
        if request.method == "GET":
            record = store.get(record_id)
        elif request.method == "DELETE":
            if not store.delete(record_id):
                return error(404, f"No record {record_id!r} in {container.name}.", "notFound")
            return Response(status_code=204)
        else:
            changes = await _changes(request, container)
            if isinstance(changes, Response):
                return changes
            changes.pop(store.key, None)
            record = store.patch(record_id, changes)
        if record is None:
            return error(404, f"No record {record_id!r} in {container.name}.", "notFound")
        return JSONResponse({"data": record})

    async def create(self, request: Request) -> Response:
        container = self._container(request)
        if isinstance(container, Response):
            return container
        changes = await _changes(request, container)
        if isinstance(changes, Response):
            return changes
        store = container.collection
        number = str(changes.pop(store.key, "") or "")
        if not number:
            make = seed.customer_number if store.key == "customernumber" else seed.job_number
            index = store.size
            while store.get(make(index)) is not None:
                index += 1
            number = make(index)
        elif store.get(number) is not None:
            return error(409, f"Record {number!r} already exists in {container.name}.",
                         "request")
        record = container.defaults(number)
        record.update(changes)
        return JSONResponse({"data": store.put(record)}, status_code=201)


async def _changes(request: Request, container: Container) -> dict[str, Any] | Response:
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        return error(400, "Request body is not valid JSON.", "request")
    if not isinstance(body, dict):
        return error(400, "Request body must be a JSON object of field values.", "request")
    changes = {str(k).lower(): v for k, v in body.items()}
    unknown = [k for k in changes if k not in container.fields]
    if unknown:
        return error(400, f"Unknown field {unknown[0]!r} in container {container.name!r}.",
                     "request")
    # A job's "active" mirrors "closed" (Maconomy shows one; the seed filters on the other).
    if "closed" in changes and "active" in container.fields:
        changes["active"] = not changes["closed"]
    elif "active" in changes and "closed" in container.fields:
        changes["closed"] = not changes["active"]
    return changes
