"""Customers and what hangs off them: addresses, contacts, managers and tags.

Contract models: `CompanyCustomerAddModel` (POST: `countryId` and `turnOverCurrencyId`
may be given; `status` is readOnly, so a new customer is active whatever is sent),
`CompanyCustomerEditModel` (PUT: neither country nor currency, status readOnly),
`CompanyCustomerPatchModel` (PATCH, derived from the operation's own examples: the only
way to change `status`, a JSON boolean, and `countryId`/`turnOverCurrencyId`),
`CompanyCustomerDeleteModel` (DELETE names the customer). Reads answer
`CompanyCustomerBaseModel`/`...ExtendedModel`/`...Model`: none carries a timestamp, so
the search's UpdatedDateTime sort (13) orders by a value no answer shows.

Addresses (`CompanyCustomerAddressAddEditModel`, PUT replaces the whole address),
contacts (`CompanyCustomerContactAddEditModel`), managers (`companyUserIds`, added to
the list) and tags (the posted list replaces the customer's tags).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.sandbox.cinode.errors import Problem, invalid, stream_array
from engine.sandbox.cinode.resource import Resource, RouteSpec
from engine.sandbox.cinode.search import indexed_search, matches, page_and_sort
from engine.sandbox.cinode.store import Record
from engine.sandbox.cinode.validation import Body, apply_patch, require_patch_type

__all__ = ["Customers"]

_EDIT = ("name", "description", "corporateIdentityNumber", "vatNumber", "identification",
         "email", "homepage", "phone", "fax", "intermediator", "size")
_PATCH = (*_EDIT, "status", "countryId", "turnOver", "turnOverCurrencyId")
_SORTS = {0: "createdDateTime", 1: "name", 2: "description", 3: "identification",
          4: "seoId", 5: "status", 6: "phone", 7: "email", 8: "fax", 9: "homepage",
          10: "corporateIdentityNumber", 11: "vatNumber", 12: "intermediator",
          13: "updatedDateTime", 14: "updatedDateTime"}
_ADDRESS = ("street1", "street2", "zipCode", "city", "country", "email", "comments")
_CONTACT = ("email", "phone1", "phone2", "title", "comments")


class Customers(Resource):
    """`/customers`, `/customers/{id}` and its addresses, contacts, managers and tags."""

    def routes(self) -> list[RouteSpec]:
        child = "/customers/{id:int}"
        return [
            ("/customers", self.list_base, ["GET"]),
            ("/customers", self.create, ["POST"]),
            ("/customers/extended", self.list_extended, ["GET"]),
            ("/customers/search", self.search, ["POST"]),
            (child, self.get, ["GET"]),
            (child, self.put, ["PUT"]),
            (child, self.patch, ["PATCH"]),
            (child, self.delete, ["DELETE"]),
            (f"{child}/addresses", self.add_address, ["POST"]),
            (f"{child}/addresses/{{child:int}}", self.address, ["GET", "PUT", "DELETE"]),
            (f"{child}/contacts", self.contacts, ["GET", "POST"]),
            (f"{child}/contacts/{{child:int}}", self.contact, ["GET", "PUT", "DELETE"]),
            (f"{child}/managers", self.managers, ["GET", "POST"]),
            (f"{child}/managers/{{child:int}}", self.remove_manager, ["DELETE"]),
            (f"{child}/tags", self.tag, ["POST"]),
        ]

    # ------------------------------------------------------------------ validation

    def fields(self, body: Body, *, mode: str) -> Record:
        """Validated fields of the add model, the edit model or the patch document."""
        store = self.store
        values: Record = {
            "name": body.text("name", required=True, max_length=250),
            "description": body.text("description", max_length=4000),
            "corporateIdentityNumber": body.text("corporateIdentityNumber", max_length=50),
            "vatNumber": body.text("vatNumber", max_length=50),
            "identification": body.text("identification", max_length=100),
            "email": body.text("email", max_length=250),
            "homepage": body.text("homepage"), "phone": body.text("phone", max_length=50),
            "fax": body.text("fax", max_length=50),
            "intermediator": bool(body.boolean("intermediator")),
            "size": body.integer("size", allowed=range(9)),
        }
        if mode in ("add", "patch"):
            values["countryId"] = body.integer("countryId", allowed=store.country_ids)
            values["turnOver"] = body.integer("turnOver", int64=True)
            values["turnOverCurrencyId"] = body.integer("turnOverCurrencyId",
                                                        allowed=store.currency_ids)
        if mode == "patch":
            status = body.boolean("status")
            if status is not None:
                values["status"] = int(status)  # read back as `Status` 1/0
        body.check()
        return values

    # ------------------------------------------------------------------ customers

    async def list_base(self, request: Request) -> Response:
        return stream_array(self.views.customer_base(c) for c in self.store.customers.iter())

    async def list_extended(self, request: Request) -> Response:
        return stream_array(self.views.customer_extended(c)
                            for c in self.store.customers.iter())

    async def get(self, request: Request) -> Response:
        record = self.found(self.store.customers.get(self.path_id(request)))
        return JSONResponse(self.views.customer_model(record))

    async def create(self, request: Request) -> Response:
        values = self.fields(await self.body(request), mode="add")
        cid = self.store.next_id("customer")
        slug = "".join(ch if ch.isalnum() else "-" for ch in values["name"].lower())
        record = {"id": cid, "companyId": self.store.company_id, "seoId": f"{cid}-{slug}",
                  "status": 1, "addresses": [], "contacts": [], "tags": [], "managers": [],
                  **values}
        stored = self.store.customers.put(record)
        self.notify("customers", "created", stored)
        return self.created(self.views.customer_model(stored), "customers")

    async def put(self, request: Request) -> Response:
        current = self.found(self.store.customers.get(self.path_id(request)))
        values = self.fields(await self.body(request), mode="edit")
        stored = self.store.customers.put({**current, **values})
        self.notify("customers", "updated", stored)
        return JSONResponse(self.views.customer_model(stored))

    async def patch(self, request: Request) -> Response:
        current = self.found(self.store.customers.get(self.path_id(request)))
        require_patch_type(request)
        document = {k: current.get(k) for k in _PATCH}
        document["status"] = bool(current.get("status", 1))
        patched = apply_patch(document, await self.json(request), document.keys())
        values = self.fields(Body(patched), mode="patch")
        stored = self.store.customers.put({**current, **values})
        self.notify("customers", "updated", stored)
        return JSONResponse(self.views.customer_model(stored))

    async def delete(self, request: Request) -> Response:
        current = self.found(self.store.customers.get(self.path_id(request)))
        data = await self.json(request)
        name = data.get("customerVerificationName") if isinstance(data, dict) else None
        if name != current.get("name"):
            raise invalid("customerVerificationName",
                          "The verification name does not match the customer's name.")
        self.store.customers.delete(current["id"])
        self.notify("customers", "deleted", current)
        return self.deleted()

    async def search(self, request: Request) -> Response:
        data = await self.json(request) or {}
        if not isinstance(data, dict):
            raise invalid("", "A search model is required.")
        sort_by, order, page, per_page = page_and_sort(data, 1, _SORTS,
                                                       self.settings.max_items_per_page)
        body = Body(data)
        filters = []
        for field in ("name", "identification", "corporateIdentityNumber"):
            wanted = body.text(field)
            operator = body.integer(f"{field}Operator", allowed=(0, 1, 2, 3)) or 0
            if wanted not in (None, ""):
                filters.append((field, wanted, operator))
        body.check()

        def keep(customer: Record) -> bool:
            return all(matches(customer.get(f), w, op) for f, w, op in filters)

        exact = {f: w for f, w, op in filters if op == 3}
        result, total = indexed_search(self.store.customers, keep, _SORTS[sort_by], order,
                                       page, per_page, exact=exact, filtered=bool(filters),
                                       partial=self.store.customer_index_fields)
        return JSONResponse(self.views.search_result(
            [self.views.customer_base(c) for c in result], total, sort_by, order, page,
            per_page))

    async def tag(self, request: Request) -> Response:
        return await self.replace_tags(request, "customers", self.views.customer_model)

    # ------------------------------------------------------------------ children

    @staticmethod
    def _address_fields(body: Body) -> Record:
        values: Record = {f: body.text(f) for f in _ADDRESS}
        values["addressType"] = body.integer("addressType", allowed=(0, 1, 2, 3)) or 0
        body.check()
        return values

    @staticmethod
    def _contact_fields(body: Body) -> Record:
        values = {"firstName": body.text("firstName", required=True),
                  "lastName": body.text("lastName", required=True),
                  **{f: body.text(f) for f in _CONTACT}}
        body.check()
        return values

    async def add_address(self, request: Request) -> Response:
        current = self.found(self.store.customers.get(self.path_id(request)))
        address = {"id": self.store.next_id("child"),
                   **self._address_fields(await self.body(request))}
        stored = self.store.customers.put(
            {**current, "addresses": [*current.get("addresses", []), address]})
        self.notify("customers", "updated", stored)
        return JSONResponse(self.views.address(stored, address), status_code=201)

    async def address(self, request: Request) -> Response:
        return await self._child(request, "addresses", self._address_fields,
                                 self.views.address)

    async def contacts(self, request: Request) -> Response:
        current = self.found(self.store.customers.get(self.path_id(request)))
        if request.method == "GET":
            return JSONResponse([self.views.contact(current, c)
                                 for c in current.get("contacts", [])])
        contact = {"id": self.store.next_id("child"), "createdDateTime": self.store.now_text(),
                   **self._contact_fields(await self.body(request))}
        stored = self.store.customers.put(
            {**current, "contacts": [*current.get("contacts", []), contact]})
        view = self.views.contact(stored, contact)
        self.notify("contacts", "created", view)
        return JSONResponse(view, status_code=201)

    async def contact(self, request: Request) -> Response:
        return await self._child(request, "contacts", self._contact_fields,
                                 self.views.contact)

    async def _child(self, request: Request, kind: str, parse: Callable[[Body], Record],
                     view: Callable[[Record, Record], Record]) -> Response:
        """GET/PUT/DELETE of one address or contact kept inside its customer."""
        current = self.found(self.store.customers.get(self.path_id(request)))
        child_id = self.path_id(request, "child")
        children = list(current.get(kind, []))
        position = next((i for i, c in enumerate(children) if c["id"] == child_id), None)
        if position is None:
            raise Problem(404)
        if request.method == "GET":
            return JSONResponse(view(current, children[position]))
        if request.method == "PUT":
            kept = {k: v for k, v in children[position].items()
                    if k in ("id", "createdDateTime")}
            children[position] = {**kept, **parse(await self.body(request))}
            stored = self.store.customers.put({**current, kind: children})
            updated = view(stored, children[position])
            self._notify_child(kind, "updated", stored, updated)
            return JSONResponse(updated)
        removed = children.pop(position)
        stored = self.store.customers.put({**current, kind: children})
        self._notify_child(kind, "deleted", stored, view(stored, removed))
        return self.deleted()

    def _notify_child(self, kind: str, action: str, customer: Record, child: Record) -> None:
        if kind == "contacts":
            self.notify("contacts", action, child)
        else:
            self.notify("customers", "updated", customer)

    async def managers(self, request: Request) -> Response:
        current = self.found(self.store.customers.get(self.path_id(request)))
        if request.method == "GET":
            return JSONResponse(self.views.managers(current))
        body = await self.body(request)
        ids = body.int_list("companyUserIds") or []
        missing = [uid for uid in ids if self.store.users.get(uid) is None]
        if missing:
            body.fail("companyUserIds", f"Company user(s) {missing} were not found.")
        body.check()
        managers = list(current.get("managers", []))
        managers.extend(uid for uid in ids if uid not in managers)
        stored = self.store.customers.put({**current, "managers": managers})
        self.notify("customers", "updated", stored)
        return JSONResponse(self.views.managers(stored))

    async def remove_manager(self, request: Request) -> Response:
        current = self.found(self.store.customers.get(self.path_id(request)))
        manager = self.path_id(request, "child")
        if manager not in current.get("managers", []):
            raise Problem(404)
        stored = self.store.customers.put({**current, "managers": [
            m for m in current["managers"] if m != manager]})
        self.notify("customers", "updated", stored)
        return self.deleted()
