"""Look-ups: the company (whose addresses are its offices), currencies, languages, tags.

There is no country list (no such path in Cinode's document) and no office-location
list: offices are `CompanyModel.addresses` with `addressType` 3 (LocationAddress), from
`GET /v0.1/companies/{companyId}`. Languages are `GET /v0.1/languages`, outside the
company (the route is marked `!`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.sandbox.cinode.resource import Resource, RouteSpec
from engine.sandbox.cinode.seed import CURRENCIES

__all__ = ["Lookups"]


class Lookups(Resource):
    """`/v0.1/companies/{companyId}`, `/currencies`, `/tags`, `/v0.1/languages`."""

    def routes(self) -> list[RouteSpec]:
        return [
            ("", self.company, ["GET"]),
            ("/currencies", self.currencies, ["GET"]),
            ("/tags", self.list_tags, ["GET"]),
            ("/tags/{id:int}", self.get_tag, ["GET"]),
            ("!/v0.1/languages", self.languages, ["GET"]),
        ]

    async def company(self, request: Request) -> Response:
        return JSONResponse(self.views.company())

    async def currencies(self, request: Request) -> Response:
        return JSONResponse([dict(c) for c in CURRENCIES])

    async def languages(self, request: Request) -> Response:
        return JSONResponse(self.views.languages())

    async def list_tags(self, request: Request) -> Response:
        return JSONResponse(self.views.tags_base(self.store.tags.values()))

    async def get_tag(self, request: Request) -> Response:
        tag = self.found(self.store.tags.get(self.path_id(request)))
        return JSONResponse(self.views.tag(tag))
