"""Response models, rendered from stored records with exactly the contract's properties.

Each function returns one model of Cinode's OpenAPI document (tests/contracts/cinode):
no property the model does not declare, null only where it is `nullable`. A non-nullable
object property without a value (a customer with no country, a user with no office) is
left out rather than sent as null; no response model marks a property required.

Timestamps are Cinode's: UTC printed without a zone. Customers, the project list and
project search results carry none (their models have no such property), which is why a
changed-since read of projects has to GET each project (`ProjectModel.updatedDateTime`).
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.sandbox.cinode.seed import COMPANY, COMPANY_ADDRESSES, CURRENCIES, LANGUAGES
from engine.sandbox.cinode.store import CinodeStore, Record

__all__ = ["ACCESS_LEVELS", "Views"]

#: `AccessLevel` (x-enumNames) of the contract: what `PUT users/{id}/permissions` takes.
ACCESS_LEVELS = {0: "NoAccess", 50: "Anonymous", 100: "Read", 110: "Subcontractor",
                 115: "Candidate", 150: "RestrictedCompanyUser", 180: "CompanyApiUser",
                 200: "CompanyUser", 240: "PartnerManager", 250: "CompanyRecruiter",
                 270: "TeamManager", 300: "CompanyManager", 400: "CompanyAdmin",
                 500: "Owner"}


def _some(view: Record) -> Record:
    """Leave out the keys whose value is None (non-nullable objects and enums)."""
    return {k: v for k, v in view.items() if v is not None}


class Views:
    """Renders stored records of one `CinodeStore` as Cinode's response models."""

    def __init__(self, store: CinodeStore) -> None:
        self.store = store
        self.company_id = store.company_id

    def links(self, kind: str, record_id: int, methods: list[str]) -> list[Record]:
        href = f"/v0.1/companies/{self.company_id}/{kind}/{record_id}"
        return [{"href": href, "rel": "self", "methods": methods}]

    # ------------------------------------------------------------------ look-ups

    def company_address(self, address: Record | None) -> Record | None:
        """`CompanyAddressModel`."""
        if address is None:
            return None
        return {"id": address["id"], "companyId": self.company_id,
                "addressType": address["addressType"], "street1": address.get("street1"),
                "street2": address.get("street2"), "zipCode": address.get("zipCode"),
                "city": address.get("city"), "country": address.get("country"),
                "email": address.get("email"), "comments": address.get("comments"),
                "links": self.links("addresses", address["id"], ["GET"])}

    def company(self) -> Record:
        """`CompanyModel`: the offices are its addresses with `addressType` 3."""
        return _some({
            "id": self.company_id, "name": COMPANY["name"],
            "description": COMPANY["description"], "seoId": f"{self.company_id}-konsultbolaget",
            "corporateIdentityNumber": COMPANY["corporateIdentityNumber"],
            "vatNumber": COMPANY["vatNumber"], "countryId": COMPANY["countryId"],
            "registrationYear": COMPANY["registrationYear"],
            "isTaxRegistered": COMPANY["isTaxRegistered"],
            "addresses": [self.company_address(a) for a in COMPANY_ADDRESSES],
            "currencies": [dict(c) for c in CURRENCIES],
            "defaultCurrency": self.store.currency(1),
            "tags": self.tags_base(self.store.tags.values()),
            "links": [{"href": f"/v0.1/companies/{self.company_id}", "rel": "self",
                       "methods": ["GET"]}],
        })

    @staticmethod
    def languages() -> list[Record]:
        """`ProfileLanguageModel[]`."""
        return [dict(lang) for lang in LANGUAGES]

    def tag(self, tag: Record) -> Record:
        """`CompanyTagModel` (no `tagType`: the sandbox has no tag types)."""
        return {"id": tag["id"], "companyId": self.company_id, "name": tag["name"],
                "seoId": f"{tag['id']}-{tag['name'].lower()}"}

    def tags(self, tags: Iterable[Record]) -> list[Record]:
        return [self.tag(t) for t in tags]

    tags_base = tags  # `CompanyTagBaseModel` declares the same properties less tagType

    @staticmethod
    def role(level: int) -> Record:
        """`RoleModel` of one access level."""
        name = ACCESS_LEVELS.get(level, str(level))
        return {"id": level, "name": name, "description": f"Access level {name}",
                "level": level}

    # ------------------------------------------------------------------ users

    def user_base(self, record: Record) -> Record:
        """`CompanyUserBaseModel`."""
        return {"id": record["id"], "companyUserId": record["id"],
                "companyId": self.company_id, "seoId": record.get("seoId"),
                "firstName": record.get("firstName"), "lastName": record.get("lastName"),
                "companyUserType": record.get("companyUserType", 0),
                "links": self.links("users", record["id"], ["GET"])}

    def user_extended(self, record: Record) -> Record:
        """`CompanyUserExtendedModel` (what user lists and the user search return)."""
        view = {**{key: record.get(key) for key in (
            "title", "companyUserEmail", "createdDateTime", "updatedDateTime",
            "employmentNumber", "desiredAssignment", "internalIdentifier", "twitter",
            "linkedIn", "homepage", "blog", "gitHub")}, **self.user_base(record),
            "links": self.links("users", record["id"], ["GET", "PUT", "PATCH", "DELETE"])}
        extra = {"status": record.get("status"),
                 "companyAddress": self.company_address(self.store.office(
                     record.get("locationId")))}
        return {**view, **_some(extra)}

    def user_model(self, record: Record) -> Record:
        """`CompanyUserModel`: the extended model, dates, currency, roles and tags."""
        office = self.store.office(record.get("locationId"))
        view = {
            **self.user_extended(record),
            **{key: record.get(key) for key in (
                "employmentStartDate", "employmentEndDate", "availabilityPercent",
                "availableFromDate", "mobility", "phone", "dateOfBirth")},
            "locationName": office["city"] if office else None,
            "resumes": [], "teamManagers": [], "teamMembers": [], "customerManagers": [],
            "periods": [],
            "roles": [self.role(level) for level in record.get("permissions") or []],
            "tags": self.tags(record.get("tags", [])),
        }
        currency = self.store.currency(record.get("defaultCurrencyId"))
        if currency is not None:
            view["defaultCurrency"] = currency
        return view

    def user_full(self, record: Record) -> Record:
        """`CompanyUserFullModel`: the user model plus pay (CompanyAdmin only)."""
        return {**self.user_model(record),
                **{key: record.get(key) for key in (
                    "invoicingGoal", "taxTable", "baseSalary", "provision",
                    "hourlyTargetRate", "selfCost")}}

    # ------------------------------------------------------------------ subcontractors

    def subcontractor_base(self, record: Record) -> Record:
        """`CompanyUserSubcontractorBaseModel`."""
        view = {
            "id": record["id"], "companyUserId": record["id"], "companyId": self.company_id,
            "seoId": record.get("seoId"), "firstName": record.get("firstName"),
            "lastName": record.get("lastName"), "companyUserType": 20,
            "companyName": record.get("companyName"),
            "companyIdentifier": record.get("companyIdentifier"),
            "internalIdentifier": record.get("internalIdentifier"),
            "email": record.get("email"), "rating": record.get("rating"),
            "desiredAssignment": None, "twitter": None, "linkedIn": record.get("linkedIn"),
            "homepage": None, "blog": None, "gitHub": None,
            "links": self.links("subcontractors", record["id"], ["GET", "DELETE"]),
        }
        if record.get("status") is not None:
            view["status"] = record["status"]
        office = self.company_address(self.store.office(record.get("companyAddressId")))
        if office is not None:
            view["companyAddress"] = office
        return view

    def subcontractor_model(self, record: Record) -> Record:
        """`CompanyUserSubcontractorModel`."""
        view = {**self.subcontractor_base(record), "phone": record.get("phone"),
                "tariff": record.get("tariff"), "createdDateTime": record["createdDateTime"],
                "groups": [], "attachments": [], "resumes": [],
                "tags": self.tags_base(record.get("tags", []))}
        currency = self.store.currency(record.get("currencyId"))
        if currency is not None:
            view["defaultCurrency"] = currency
        return view

    # ------------------------------------------------------------------ customers

    def customer_base(self, record: Record) -> Record:
        """`CompanyCustomerBaseModel` (no timestamps: Cinode returns none for customers)."""
        return {"id": record["id"], "companyId": self.company_id, "name": record.get("name"),
                "description": record.get("description"),
                "identification": record.get("identification"),
                "seoId": record.get("seoId"), "status": record.get("status", 1),
                "links": self.links("customers", record["id"],
                                    ["GET", "PUT", "PATCH", "DELETE"])}

    def manager(self, customer: Record, user: Record) -> Record:
        """`CompanyCustomerManagerModel`."""
        return {"id": user["id"], "companyUserId": user["id"],
                "companyCustomerManagerId": user["id"], "companyId": self.company_id,
                "customerId": customer["id"], "customer": self.customer_base(customer),
                "firstName": user.get("firstName"), "lastName": user.get("lastName"),
                "seoId": user.get("seoId"), "companyUserType": 0,
                "links": self.links("users", user["id"], ["GET"])}

    def managers(self, customer: Record) -> list[Record]:
        found = (self.store.users.get(uid) for uid in customer.get("managers", []))
        return [self.manager(customer, user) for user in found if user is not None]

    def customer_extended(self, record: Record) -> Record:
        """`CompanyCustomerExtendedModel`."""
        return {**self.customer_base(record), "email": record.get("email"),
                "tags": self.tags_base(record.get("tags", [])),
                "managers": self.managers(record)}

    def customer_model(self, record: Record) -> Record:
        """`CompanyCustomerModel`: country, currency, addresses, contacts and projects."""
        view = {
            **self.customer_extended(record),
            **{key: record.get(key) for key in (
                "phone", "fax", "homepage", "corporateIdentityNumber", "vatNumber",
                "intermediator", "countryId", "turnOver", "turnOverCurrencyId")},
            "contacts": [self.contact_base(record, c) for c in record.get("contacts", [])],
            "addresses": [self.address(record, a) for a in record.get("addresses", [])],
            "projects": [self.project_base(p)
                         for p in self.store.customer_projects(record["id"])],
            "attachments": [],
        }
        extra = {"size": record.get("size"),
                 "country": self.store.country(record.get("countryId")),
                 "turnOverCurrency": self.store.currency(record.get("turnOverCurrencyId"))}
        return {**view, **_some(extra)}

    def address(self, customer: Record, address: Record) -> Record:
        """`CompanyCustomerAddressModel`."""
        return {"id": address["id"], "companyId": self.company_id,
                "companyCustomerId": customer["id"],
                "addressType": address.get("addressType", 0),
                **{key: address.get(key) for key in (
                    "street1", "street2", "zipCode", "city", "country", "email",
                    "comments")},
                "links": self.links(f"customers/{customer['id']}/addresses", address["id"],
                                    ["GET", "PUT", "DELETE"])}

    def contact_base(self, customer: Record, contact: Record) -> Record:
        """`CompanyCustomerContactBaseModel`."""
        slug = f"{contact.get('firstName', '')}-{contact.get('lastName', '')}".lower()
        return {"id": contact["id"], "companyId": self.company_id,
                "customerId": customer["id"], "firstName": contact.get("firstName"),
                "lastName": contact.get("lastName"), "email": contact.get("email"),
                "slug": slug.replace(" ", "-"),
                "links": self.links(f"customers/{customer['id']}/contacts", contact["id"],
                                    ["GET", "PUT", "DELETE"])}

    def contact(self, customer: Record, contact: Record) -> Record:
        """`CompanyCustomerContactModel`."""
        return {**self.contact_base(customer, contact),
                **{key: contact.get(key) for key in ("phone1", "phone2", "title",
                                                       "comments")},
                "createdDateTime": contact.get("createdDateTime") or customer.get(
                    "createdDateTime"),
                "tags": []}

    # ------------------------------------------------------------------ projects

    def project_base(self, record: Record) -> Record:
        """`ProjectBaseModel`: what the project list and search return (no state, stage
        or timestamps)."""
        return {"companyId": self.company_id, "customerId": record.get("customerId"),
                "id": record["id"], "title": record.get("title"),
                "description": record.get("description"),
                "identifier": record.get("identifier"),
                "customerIdentifier": record.get("customerIdentifier"),
                "links": self.links("projects", record["id"], ["GET", "PUT", "DELETE"])}

    def project_model(self, record: Record) -> Record:
        """`ProjectModel`."""
        def users(ids: Iterable[int]) -> list[Record]:
            found = (self.store.users.get(uid) for uid in ids)
            return [self.user_base(u) for u in found if u is not None]

        sales = users(record.get("salesManagerIds") or [])
        customer = self.store.customers.get(record.get("customerId"))
        intermediator = self.store.customers.get(record.get("intermediatorId"))
        created_by = users([record["createdById"]] if record.get("createdById") else [])
        updated_by = users([record["updatedById"]] if record.get("updatedById") else [])
        view = {
            **self.project_base(record),
            "company": {"id": self.company_id, "name": COMPANY["name"],
                        "description": COMPANY["description"],
                        "seoId": f"{self.company_id}-konsultbolaget", "links": []},
            "seoId": record.get("seoId"), "locationId": record.get("locationId"),
            "googleId": None,
            **{key: record.get(key) for key in (
                "probability", "estimatedValue", "contractValue", "estimatedCloseDate",
                "pipelineId", "currentStageId", "currentState", "teamId", "stateReasonId",
                "createdDateTime", "updatedDateTime")},
            "salesManagerIds": list(record.get("salesManagerIds") or []),
            "projectManagerIds": list(record.get("projectManagerIds") or []),
            "managers": users(record.get("projectManagerIds") or []),
            "salesManagers": sales,
            "events": [], "customerContacts": [], "intermediatorContacts": [],
            "assignments": [], "attachments": [], "projectReferences": [],
            "tags": self.tags_base(record.get("tags", [])),
            "stateHistory": [{"state": h["state"], "updated": h["updated"]}
                             for h in record.get("stateHistory", [])],
        }
        extra = {
            "priority": record.get("priority"),
            "currency": self.store.currency(record.get("currencyId")),
            "customer": self.customer_base(customer) if customer else None,
            "intermediator": self.customer_base(intermediator) if intermediator else None,
            "salesManager": sales[0] if sales else None,
            "createdBy": created_by[0] if created_by else None,
            "updatedBy": updated_by[0] if updated_by else None,
        }
        return {**view, **_some(extra)}

    # ------------------------------------------------------------------ webhooks

    @staticmethod
    def webhook(hook: Record) -> Record:
        """`WebhookModel`: header values are secrets, only their names are echoed."""
        return {"id": hook["id"], "isActive": hook["isActive"],
                "endpointUrl": hook["endpointUrl"],
                "configurations": [{"entityType": c["entityType"],
                                    "actionType": c["actionType"]}
                                   for c in hook["configurations"]],
                "credentials": [{"isBasicAuthentication": c["isBasicAuthentication"],
                                 "headerName": c["headerName"]}
                                for c in hook["credentials"]]}

    # ------------------------------------------------------------------ search

    @staticmethod
    def search_result(items: list[Record], total: int, sort_by: int, order: int, page: int,
                      per_page: int) -> Record:
        """`Search*ResultModel`: `hits` counts this page, `totalItems` every match."""
        return {"pagedAndSortedBy": {"sortBy": sort_by, "sortOrder": order, "page": page,
                                     "itemsPerPage": per_page},
                "result": items, "hits": len(items), "totalItems": total}
