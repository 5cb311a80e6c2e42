"""Projects: list, search, add, get, replace, delete, tags, and the sales pipelines.

Contract models: `ProjectAddEditModel` for POST and PUT (required title, customerId;
`estimatedValue` and `contractValue` are int32, so `3450000.0` is refused; `location` is
a `LocationModel` object, of which the sandbox keeps `locationId`). There is no PATCH:
PUT replaces the edit model, so a property left out becomes null (`location` included:
a PUT without it drops the project's location), except the pipeline, stage, state,
priority and currency, which keep their values [assumed]. Reads: `ProjectModel` (GET,
POST, PUT, tags), `ProjectBaseModel` (the list and the search), which has no state,
stage or timestamp. `GET /projects` lists Won projects only [assumed].

Search (`SearchProjectQueryModel`): `pipelines`, `projectStates`, `customers`,
`salesManagers`, `intermediators`, `customerId`, `title` (Contains), `identification`
(the project identifier, Equals [assumed]), `customerIdentifier`,
`corporateIdentityNumber` (of the customer). `ProjectQuerySort`: 0 CreatedDateTime,
1 Title, 2 Identifier, 3 CustomerIdentifier, 4 SeoId, 5 UpdatedDateTime,
6 LastTouchDateTime (the sandbox touches a project only by updating it).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.sandbox.cinode.errors import invalid, stream_array
from engine.sandbox.cinode.resource import Resource, RouteSpec
from engine.sandbox.cinode.search import indexed_search, matches, page_and_sort
from engine.sandbox.cinode.seed import PIPELINES, STATE_TITLES
from engine.sandbox.cinode.store import Record
from engine.sandbox.cinode.validation import Body

__all__ = ["Projects", "stage_pipeline"]

_SORTS = {0: "createdDateTime", 1: "title", 2: "identifier", 3: "customerIdentifier",
          4: "seoId", 5: "updatedDateTime", 6: "updatedDateTime"}


def stage_pipeline(stage_id: int) -> Record | None:
    """The pipeline a stage belongs to."""
    return next((p for p in PIPELINES if any(s["id"] == stage_id for s in p["stages"])),
                None)


class Projects(Resource):
    """`/projects`, `/projects/{id}`, `/projects/{id}/tags`, `/projects/pipelines`."""

    def routes(self) -> list[RouteSpec]:
        return [
            ("/projects", self.list_won, ["GET"]),
            ("/projects", self.create, ["POST"]),
            ("/projects/pipelines", self.pipelines, ["GET"]),
            ("/projects/search", self.search, ["POST"]),
            ("/projects/{id:int}", self.get, ["GET"]),
            ("/projects/{id:int}", self.put, ["PUT"]),
            ("/projects/{id:int}", self.delete, ["DELETE"]),
            ("/projects/{id:int}/tags", self.tag, ["POST"]),
        ]

    def fields(self, body: Body, current: Record | None) -> Record:
        """Validated `ProjectAddEditModel` in stored names (`pipelineStageId` -> stage,
        `projectState` -> state, `location.locationId` -> locationId)."""
        store = self.store
        values: Record = {
            "title": body.text("title", required=True, max_length=250),
            "customerId": body.integer("customerId", required=True),
            "description": body.text("description", max_length=4000),
            "identifier": body.text("identifier", max_length=100),
            "customerIdentifier": body.text("customerIdentifier", max_length=100),
            "intermediatorId": body.integer("intermediatorId"),
            "estimatedCloseDate": body.moment("estimatedCloseDate"),
            "estimatedValue": body.integer("estimatedValue"),
            "contractValue": body.integer("contractValue"),
            "probability": body.integer("probability"),
            "teamId": body.integer("teamId"),
            "stateReasonId": body.integer("stateReasonId"),
            "salesManagerIds": body.int_list("salesManagerIds") or [],
            "projectManagerIds": body.int_list("projectManagerIds") or [],
            "locationId": None,
        }
        location = body.obj("location", "Cinode.Api.Models.LocationModel")
        if location is not None:
            values["locationId"] = location.integer("locationId")
            for name in ("city", "country", "countryCode", "displayName", "formattedAddress",
                         "latitude", "longitude", "name", "phoneNumber", "street",
                         "streetNumber", "webSiteUrl", "zipCode"):
                location.text(name)
        pipeline_id = body.integer("pipelineId", allowed=[p["id"] for p in PIPELINES])
        stage_id = body.integer("pipelineStageId")
        state = body.integer("projectState", allowed=STATE_TITLES)
        priority = body.integer("priority", allowed=(3, 5, 8))
        currency = body.integer("currencyId", allowed=store.currency_ids)
        previous = current or {}
        customer = values["customerId"]
        if customer is not None and store.customers.get(customer) is None:
            body.fail("customerId", f"Customer {customer} was not found.")
        if values["intermediatorId"] is not None and \
                store.customers.get(values["intermediatorId"]) is None:
            body.fail("intermediatorId", f"Customer {values['intermediatorId']} was not found.")
        for field in ("salesManagerIds", "projectManagerIds"):
            missing = [uid for uid in values[field] if store.users.get(uid) is None]
            if missing:
                body.fail(field, f"Company user(s) {missing} were not found.")
        if pipeline_id is None and stage_id is not None:
            owner = stage_pipeline(stage_id)
            pipeline_id = owner["id"] if owner else None
        pipeline_id = pipeline_id or previous.get("pipelineId") or PIPELINES[0]["id"]
        pipeline = next((p for p in PIPELINES if p["id"] == pipeline_id), PIPELINES[0])
        stages = {s["id"]: s for s in pipeline["stages"]}
        if stage_id is None:
            stage_id = previous.get("currentStageId")
            if stage_id not in stages:
                stage_id = pipeline["stages"][0]["id"]
        elif stage_id not in stages:
            body.fail("pipelineStageId",
                      f"Stage {stage_id} does not belong to pipeline {pipeline_id}.")
        body.check()
        values["pipelineId"] = pipeline_id
        values["currentStageId"] = stage_id
        if values["probability"] is None and current is None:
            values["probability"] = stages[stage_id]["probability"]
        values["priority"] = priority or previous.get("priority") or 5
        values["currencyId"] = currency or previous.get("currencyId") or 1
        values["currentState"] = state if state is not None else previous.get(
            "currentState", 0)
        return values

    async def list_won(self, request: Request) -> Response:
        return stream_array(self.views.project_base(p) for p in self.store.projects.iter()
                            if p.get("currentState") == 30)

    async def get(self, request: Request) -> Response:
        record = self.found(self.store.projects.get(self.path_id(request)))
        return JSONResponse(self.views.project_model(record))

    async def create(self, request: Request) -> Response:
        values = self.fields(await self.body(request), None)
        pid = self.store.next_id("project")
        owner = self.store.owner_id
        record = {"id": pid, "companyId": self.store.company_id, "seoId": str(pid),
                  "tags": [], "stateHistory": [], "createdById": owner, "updatedById": owner,
                  **values}
        stored = self.store.store_project(record, None)
        self.notify("projects", "created", stored)
        return self.created(self.views.project_model(stored), "projects")

    async def put(self, request: Request) -> Response:
        current = self.found(self.store.projects.get(self.path_id(request)))
        values = self.fields(await self.body(request), current)
        stored = self.store.store_project(
            {**current, **values, "updatedById": self.store.owner_id}, current)
        self.notify("projects", "updated", stored)
        return JSONResponse(self.views.project_model(stored))

    async def delete(self, request: Request) -> Response:
        current = self.found(self.store.projects.get(self.path_id(request)))
        self.store.projects.delete(current["id"])
        self.notify("projects", "deleted", current)
        return self.deleted()

    async def tag(self, request: Request) -> Response:
        return await self.replace_tags(request, "projects", self.views.project_model)

    async def pipelines(self, request: Request) -> Response:
        return JSONResponse([{**p, "stages": [dict(s) for s in p["stages"]]}
                             for p in PIPELINES])

    async def search(self, request: Request) -> Response:
        data = await self.json(request) or {}
        if not isinstance(data, dict):
            raise invalid("", "A search model is required.")
        sort_by, order, page, per_page = page_and_sort(data, 0, _SORTS,
                                                       self.settings.max_items_per_page)
        body = Body(data)
        sets = {name: set(body.int_list(name) or []) for name in (
            "pipelines", "customers", "salesManagers", "intermediators")}
        sets["projectStates"] = set(body.int_list("projectStates", allowed=STATE_TITLES)
                                    or [])
        customer = body.integer("customerId")
        title = body.text("title")
        exact = {"identifier": body.text("identification"),
                 "customerIdentifier": body.text("customerIdentifier")}
        orgno = body.text("corporateIdentityNumber")
        body.check()
        fields = {"pipelines": "pipelineId", "projectStates": "currentState",
                  "customers": "customerId", "intermediators": "intermediatorId"}

        def keep(project: Record) -> bool:
            for name, field in fields.items():
                if sets[name] and project.get(field) not in sets[name]:
                    return False
            if sets["salesManagers"] and not sets["salesManagers"] & set(
                    project.get("salesManagerIds") or []):
                return False
            if customer is not None and project.get("customerId") != customer:
                return False
            if title and not matches(project.get("title"), title, 0):
                return False
            if not all(matches(project.get(f), v, 3) for f, v in exact.items() if v):
                return False
            if orgno:
                owner = self.store.customers.get(project.get("customerId"))
                return owner is not None and owner.get("corporateIdentityNumber") == orgno
            return True

        filtered = any(sets.values()) or customer is not None or bool(title) or \
            any(exact.values()) or bool(orgno)
        result, total = indexed_search(self.store.projects, keep, _SORTS[sort_by], order,
                                       page, per_page, exact=exact, filtered=filtered)
        return JSONResponse(self.views.search_result(
            [self.views.project_base(p) for p in result], total, sort_by, order, page,
            per_page))
