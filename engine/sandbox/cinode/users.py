"""Company users (employees): lists, search, the full model, add/edit/patch, tags and
access levels (`PUT users/{companyUserId}/permissions`).

Contract models: `CompanyUserAddModel` (POST; required email, firstName, lastName,
gender, password, confirmPassword), `CompanyUserEditModel` (PUT replaces it: a property
left out becomes null, except `status` and `gender`, which keep their values),
`ICompanyUserEmployeePatchDocument` (PATCH, which alone sets `internalIdentifier`; it
spells `firstname`/`lastname` in lower case), `CompanyUserPermissionsEditModel`
(`permissions: AccessLevel[]`, CompanyAdmin only, answers `RoleModel[]`).
`GET users/{id}/roles` is the user's project roles (`CompanyUserProjectAssignmentModel`),
not access levels. Plain lists return active users only [assumed from the README's
"GET active Users" example]; the search takes `includeDisconnected`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.sandbox.cinode.errors import Problem, invalid, stream_array
from engine.sandbox.cinode.resource import Resource, RouteSpec
from engine.sandbox.cinode.search import page_and_sort, search
from engine.sandbox.cinode.store import Record
from engine.sandbox.cinode.validation import Body, apply_patch, require_patch_type
from engine.sandbox.cinode.views import ACCESS_LEVELS

__all__ = ["Users"]

_EDIT = ("status", "employmentStartDate", "employmentEndDate", "employmentNumber",
         "invoicingGoal", "mobility", "availabilityPercent", "availableFromDate", "title",
         "email", "taxTable", "baseSalary", "provision", "hourlyTargetRate", "selfCost",
         "locationId", "defaultCurrencyId", "displayCurrencyId", "firstName", "lastName",
         "dateOfBirth", "gender", "companyCalendarId", "timezoneId", "phone")
_PATCH_EXTRA = ("desiredAssignment", "internalIdentifier", "twitter", "linkedIn",
                "homepage", "blog", "gitHub")
_ADD = ("email", "firstName", "lastName", "gender", "status", "teamId", "title",
        "languageId", "employmentNumber", "employmentStartDate", "locationId",
        "defaultCurrencyId", "displayCurrencyId")
_SORTS = {0: "createdDateTime", 1: "firstName", 2: "lastName", 3: "companyUserEmail",
          4: "updatedDateTime"}
_ADMIN = 400  # AccessLevel CompanyAdmin


class Users(Resource):
    """`/users`, `/users-full`, `/users/{id}/...` and `/addresses/{id}/users`."""

    def routes(self) -> list[RouteSpec]:
        return [
            ("/users", self.list_users, ["GET"]),
            ("/users", self.create, ["POST"]),
            ("/users/extended", self.list_users, ["GET"]),
            ("/users/search", self.search, ["POST"]),
            ("/users/{id:int}", self.get, ["GET"]),
            ("/users/{id:int}", self.put, ["PUT"]),
            ("/users/{id:int}", self.patch, ["PATCH"]),
            ("/users/{id:int}", self.delete, ["DELETE"]),
            ("/users/{id:int}/tags", self.tag, ["POST"]),
            ("/users/{id:int}/permissions", self.permissions, ["PUT"]),
            ("/users/{id:int}/roles", self.project_roles, ["GET"]),
            ("/users-full/{id:int}", self.get_full, ["GET"]),
            ("/addresses/{id:int}/users", self.at_address, ["GET"]),
        ]

    # ------------------------------------------------------------------ validation

    def fields(self, body: Body, *, mode: str) -> Record:
        """Validated fields (stored names) of the add model, the edit model or the patch
        document. Properties outside the model are ignored, as ASP.NET binding does."""
        creating = mode == "add"
        store = self.store
        values: Record = {
            "firstName": body.text("firstName", required=True, max_length=100),
            "lastName": body.text("lastName", required=True, max_length=100),
            "companyUserEmail": body.text("email", required=True, max_length=250),
            "title": body.text("title"),
            "employmentNumber": body.text("employmentNumber", max_length=50),
            "employmentStartDate": body.moment("employmentStartDate"),
            "employmentEndDate": body.moment("employmentEndDate"),
            "dateOfBirth": body.moment("dateOfBirth"),
            "availableFromDate": body.moment("availableFromDate"),
            "phone": body.text("phone", max_length=50),
            "taxTable": body.text("taxTable", max_length=10),
            "baseSalary": body.integer("baseSalary"),
            "availabilityPercent": body.integer("availabilityPercent"),
            "invoicingGoal": body.integer("invoicingGoal"),
            "provision": body.integer("provision"),
            "hourlyTargetRate": body.integer("hourlyTargetRate"),
            "selfCost": body.integer("selfCost"),
            "mobility": body.integer("mobility"),
            "teamId": body.integer("teamId"),
            "companyCalendarId": body.integer("companyCalendarId"),
            "timezoneId": body.text("timezoneId"),
            "internalIdentifier": body.text("internalIdentifier", max_length=100),
            **{name: body.text(name) for name in ("desiredAssignment", "twitter", "linkedIn",
                                                  "homepage", "blog", "gitHub")},
            "locationId": body.integer("locationId", allowed=store.office_ids),
            "defaultCurrencyId": body.integer("defaultCurrencyId",
                                              allowed=store.currency_ids),
            "displayCurrencyId": body.integer("displayCurrencyId",
                                              allowed=store.currency_ids),
            "languageId": body.integer("languageId", allowed=store.language_ids),
        }
        status = body.integer("status", allowed=(0, 2, 3))
        gender = body.integer("gender", required=creating, allowed=(0, 1, 2))
        if status is not None or creating:
            values["status"] = 3 if status is None else status  # [assumed] active
        if gender is not None:
            values["gender"] = gender
        percent = values["availabilityPercent"]
        if percent is not None and not 0 <= percent <= 100:
            body.fail("availabilityPercent",
                      "The field AvailabilityPercent must be between 0 and 100.")
        if creating:
            password = body.text("password", required=True)
            confirm = body.text("confirmPassword", required=True)
            if password and confirm and password != confirm:
                body.fail("confirmPassword",
                          "The password and confirmation password do not match.")
            body.boolean("addProfile")
            body.boolean("mustChangePassword")
        model = {"add": _ADD, "edit": _EDIT, "patch": (*_EDIT, *_PATCH_EXTRA)}[mode]
        kept = {"companyUserEmail" if name == "email" else name for name in model}
        return {key: value for key, value in values.items() if key in kept}

    def _check_email(self, body: Body, email: str | None, own_id: int | None) -> None:
        if email is None:
            return
        owner = self.store.email_owner(email)
        if owner is not None and owner != own_id:
            body.fail("email", f"The email '{email}' is already in use.")

    # ------------------------------------------------------------------ reads

    async def list_users(self, request: Request) -> Response:
        return stream_array(self.views.user_extended(u) for u in self.store.users.iter()
                            if u.get("status") != 0)

    async def get(self, request: Request) -> Response:
        record = self.found(self.store.users.get(self.path_id(request)))
        return JSONResponse(self.views.user_model(record))

    async def get_full(self, request: Request) -> Response:
        record = self.found(self.store.users.get(self.path_id(request)))
        return JSONResponse(self.views.user_full(record))

    async def project_roles(self, request: Request) -> Response:
        self.found(self.store.users.get(self.path_id(request)))
        return JSONResponse({"assigned": [], "prospect": []})

    async def at_address(self, request: Request) -> Response:
        office = self.path_id(request)
        return stream_array(self.views.user_extended(u) for u in self.store.users.iter()
                            if u.get("locationId") == office and u.get("status") != 0)

    async def search(self, request: Request) -> Response:
        data = await self.json(request) or {}
        if not isinstance(data, dict):
            raise invalid("", "A search model is required.")
        sort_by, order, page, per_page = page_and_sort(data, 0, _SORTS,
                                                       self.settings.max_items_per_page)
        body = Body(data)
        term = body.text("term")
        disconnected = bool(body.boolean("includeDisconnected"))
        body.check()

        def keep(user: Record) -> bool:
            if user.get("status") == 0 and not disconnected:
                return False
            if not term:
                return True
            name = f"{user.get('firstName')} {user.get('lastName')} " \
                   f"{user.get('companyUserEmail')}"
            return term.casefold() in name.casefold()

        result, total = search(self.store.users.iter(), keep, _SORTS[sort_by], order, page,
                               per_page)
        return JSONResponse(self.views.search_result(
            [self.views.user_extended(u) for u in result], total, sort_by, order, page,
            per_page))

    # ------------------------------------------------------------------ writes

    async def create(self, request: Request) -> Response:
        body = await self.body(request)
        values = self.fields(body, mode="add")
        self._check_email(body, values["companyUserEmail"], None)
        body.check()
        uid = self.store.next_id("user")
        record = {
            "id": uid, "companyUserId": uid, "companyId": self.store.company_id,
            "seoId": f"{uid}-{values['firstName'].lower()}", "companyUserType": 0,
            "twitter": None, "linkedIn": None, "homepage": None, "blog": None,
            "gitHub": None, "tags": [], "permissions": [200], **values,
            "languageId": values.get("languageId") or 1,
            "defaultCurrencyId": values.get("defaultCurrencyId") or 1,
        }
        stored = self.store.store_user(record, None)
        self.notify("users", "created", stored)
        return self.created(self.views.user_full(stored), "users")

    async def put(self, request: Request) -> Response:
        current = self.found(self.store.users.get(self.path_id(request)))
        body = await self.body(request)
        values = self.fields(body, mode="edit")
        self._check_email(body, values["companyUserEmail"], current["id"])
        body.check()
        stored = self.store.store_user({**current, **values}, current)
        self.notify("users", "updated", stored)
        return JSONResponse(self.views.user_full(stored))

    async def patch(self, request: Request) -> Response:
        current = self.found(self.store.users.get(self.path_id(request)))
        require_patch_type(request)
        renamed = {"firstName": "firstname", "lastName": "lastname"}
        document = {renamed.get(k, k): current.get("companyUserEmail" if k == "email" else k)
                    for k in (*_EDIT, *_PATCH_EXTRA)}
        patched = apply_patch(document, await self.json(request), document.keys())
        back = {v: k for k, v in renamed.items()}
        body = Body({back.get(k, k): v for k, v in patched.items()})
        values = self.fields(body, mode="patch")
        self._check_email(body, values["companyUserEmail"], current["id"])
        body.check()
        stored = self.store.store_user({**current, **values}, current)
        self.notify("users", "updated", stored)
        return JSONResponse(self.views.user_full(stored))

    async def delete(self, request: Request) -> Response:
        current = self.found(self.store.users.get(self.path_id(request)))
        if current.get("status") != 0:
            raise invalid("status", "The user must be disconnected (status 0) before it can "
                                    "be deleted.")
        first = request.query_params.get("firstName")
        last = request.query_params.get("lastName")
        if first != current.get("firstName") or last != current.get("lastName"):
            raise invalid("firstName", "The first and last name must match the user's name.")
        self.store.delete_user(current)
        self.notify("users", "deleted", current)
        return self.deleted()

    async def tag(self, request: Request) -> Response:
        return await self.replace_tags(request, "users", self.views.user_model)

    async def permissions(self, request: Request) -> Response:
        """Replace a user's access levels; the caller must be CompanyAdmin."""
        caller = self.store.users.get(getattr(request.state, "user_id", None))
        if caller is None or _ADMIN not in (caller.get("permissions") or []):
            raise Problem(403)
        current = self.found(self.store.users.get(self.path_id(request)))
        body = await self.body(request)
        levels = body.int_list("permissions", allowed=ACCESS_LEVELS) or []
        body.check()
        permissions = sorted(set(levels))
        stored = self.store.users.put({**current, "permissions": permissions})
        self.notify("users", "updated", stored)
        return JSONResponse([self.views.role(level) for level in permissions])
