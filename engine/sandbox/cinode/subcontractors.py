"""Subcontractors: list, add, get and delete; Cinode has no update for them.

`/subcontractors/{id}` has GET and DELETE only in Cinode's document, so every field of
`CompanyUserSubcontractorAddEditModel` is set when the subcontractor is created (POST,
with `password`/`passwordConfirm`) and never changed through the API. A new
subcontractor is active (`CompanyUserSubcontractorStatus` 1). DELETE names the person
(`firstName`, `lastName` query parameters), as the user delete does.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.sandbox.cinode.errors import invalid, stream_array
from engine.sandbox.cinode.resource import Resource, RouteSpec
from engine.sandbox.cinode.store import Record
from engine.sandbox.cinode.validation import Body

__all__ = ["Subcontractors"]


class Subcontractors(Resource):
    """`/subcontractors` and `/subcontractors/{id}`."""

    def routes(self) -> list[RouteSpec]:
        return [
            ("/subcontractors", self.list_all, ["GET"]),
            ("/subcontractors", self.create, ["POST"]),
            ("/subcontractors/{id:int}", self.get, ["GET"]),
            ("/subcontractors/{id:int}", self.delete, ["DELETE"]),
        ]

    def fields(self, body: Body) -> Record:
        store = self.store
        values: Record = {
            "firstName": body.text("firstName", required=True, max_length=100),
            "lastName": body.text("lastName", required=True, max_length=100),
            "email": body.text("email", required=True, max_length=250),
            "gender": body.integer("gender", required=True, allowed=(0, 1, 2)),
            "languageId": body.integer("languageId", required=True,
                                       allowed=store.language_ids),
            "title": body.text("title"), "phone": body.text("phone", max_length=50),
            "profileLanguageId": body.integer("profileLanguageId",
                                              allowed=store.language_ids),
            "tariff": body.integer("tariff"),
            "currencyId": body.integer("currencyId", allowed=store.currency_ids),
            "companyCalendarId": body.integer("companyCalendarId"),
            "companyAddressId": body.integer("companyAddressId", allowed=store.office_ids),
            "companyName": body.text("companyName", max_length=250),
            "companyIdentifier": body.text("companyIdentifier", max_length=50),
            "internalIdentifier": body.text("internalIdentifier", max_length=100),
            "linkedIn": body.text("linkedIn"), "rating": body.integer("rating"),
        }
        body.boolean("createProfile")
        password = body.text("password", required=True)
        confirm = body.text("passwordConfirm", required=True)
        if password and confirm and password != confirm:
            body.fail("passwordConfirm",
                      "The password and confirmation password do not match.")
        body.check()
        return values

    async def list_all(self, request: Request) -> Response:
        return stream_array(self.views.subcontractor_base(s)
                            for s in self.store.subcontractors.iter())

    async def get(self, request: Request) -> Response:
        record = self.found(self.store.subcontractors.get(self.path_id(request)))
        return JSONResponse(self.views.subcontractor_model(record))

    async def create(self, request: Request) -> Response:
        values = self.fields(await self.body(request))
        sid = self.store.next_id("user")
        record = {"id": sid, "companyUserId": sid, "companyId": self.store.company_id,
                  "seoId": f"{sid}-{values['firstName'].lower()}", "companyUserType": 20,
                  "status": 1, "tags": [], **values}
        stored = self.store.subcontractors.put(record)
        self.notify("subcontractors", "created", stored)
        return self.created(self.views.subcontractor_model(stored), "subcontractors")

    async def delete(self, request: Request) -> Response:
        current = self.found(self.store.subcontractors.get(self.path_id(request)))
        first = request.query_params.get("firstName")
        last = request.query_params.get("lastName")
        if first != current.get("firstName") or last != current.get("lastName"):
            raise invalid("firstName", "The first and last name must match the "
                                       "subcontractor's name.")
        self.store.subcontractors.delete(current["id"])
        self.notify("subcontractors", "deleted", current)
        return self.deleted()
