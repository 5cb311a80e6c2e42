"""Generated Cinode data: lookups, company users, subcontractors, customers, projects.

Records come out in the simulator's stored shape: flat camelCase records holding what
Cinode keeps (the edit models' fields plus ids, timestamps and children), from which
`views` renders the response models. Timestamps are as Cinode prints them: no time
zone, six fractional digits for generated data (records the simulator writes later get
seven, as real Cinode data mixes both). Customers keep `createdDateTime` and
`updatedDateTime` for the search's sort orders, but no customer model returns them.

Who is who across systems:

- customer `i` is `company_for(seed, i)`: the same company (name, org. number) as Kleer
  client `i` and HubSpot company `i`. Its `identification` is empty: sales entered it in
  Cinode before any integration existed, so a first sync has something to adopt or trip
  over.
- company users are the consultancy's own staff (namespace `cinode-user`), not Kleer's
  employees: user 0 owns the API account, the others are sales/customer managers.
- project `i` belongs to customer `i % customers`, so a customer's projects are found
  without scanning (`project_indices_for_customer`).

Counts derive from `records`: customers and projects = records, users and subcontractors
a handful (see `CinodeCounts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.sandbox.platform.seed import (
    REFERENCE_TIME,
    company_for,
    datetime_between,
    fast_rng,
    person_for,
)

__all__ = [
    "COMPANY",
    "COMPANY_ADDRESSES",
    "COUNTRIES",
    "CURRENCIES",
    "LANGUAGES",
    "OFFICES",
    "PIPELINES",
    "STATE_TITLES",
    "TAGS",
    "USER_DOMAIN",
    "CinodeCounts",
    "cinode_datetime",
    "customer_id",
    "customer_index",
    "customer_record",
    "project_id",
    "project_index",
    "project_indices_for_customer",
    "project_record",
    "subcontractor_id",
    "subcontractor_index",
    "subcontractor_record",
    "user_id",
    "user_index",
    "user_record",
]

USER_DOMAIN = "konsultbolaget.se"

#: `ProjectState` values and the titles Cinode shows (and puts in webhook payloads).
STATE_TITLES = {0: "Open", 30: "Won", 40: "Lost", 50: "Abandoned", 60: "Suspended"}

CURRENCIES: list[dict[str, Any]] = [
    {"id": 1, "currencyCode": "SEK", "description": "Svensk krona"},
    {"id": 2, "currencyCode": "EUR", "description": "Euro"},
    {"id": 3, "currencyCode": "USD", "description": "US dollar"},
    {"id": 4, "currencyCode": "NOK", "description": "Norsk krone"},
    {"id": 5, "currencyCode": "DKK", "description": "Dansk krone"},
    {"id": 6, "currencyCode": "GBP", "description": "Pound sterling"},
]

# Cinode's country ids. No endpoint lists them (no country path in Cinode's OpenAPI
# document): they show only as `CompanyCustomerModel.country` (`CountryModel {countryId,
# code, name}`) on customers that have one. The ids here are the sandbox's own [assumed].
COUNTRIES: list[dict[str, Any]] = [
    {"countryId": i, "code": code, "name": name}
    for i, (code, name) in enumerate(
        [("SE", "Sweden"), ("NO", "Norway"), ("DK", "Denmark"), ("FI", "Finland"),
         ("IS", "Iceland"), ("DE", "Germany"), ("GB", "United Kingdom"),
         ("US", "United States"), ("NL", "Netherlands"), ("FR", "France"), ("PL", "Poland"),
         ("EE", "Estonia"), ("ES", "Spain"), ("IE", "Ireland"), ("CH", "Switzerland")],
        start=1,
    )
]

#: `GET /v0.1/languages` (`ProfileLanguageModel`): not company-scoped. The same ids are a
#: user's `languageId` and a subcontractor's `languageId`/`profileLanguageId` [assumed].
LANGUAGES: list[dict[str, Any]] = [
    {"languageId": 1, "name": "Svenska", "culture": "sv-SE", "lang": "sv", "country": "Sweden"},
    {"languageId": 2, "name": "English", "culture": "en-GB", "lang": "en",
     "country": "United Kingdom"},
    {"languageId": 3, "name": "Norsk", "culture": "nb-NO", "lang": "nb", "country": "Norway"},
    {"languageId": 4, "name": "Dansk", "culture": "da-DK", "lang": "da", "country": "Denmark"},
    {"languageId": 5, "name": "Suomi", "culture": "fi-FI", "lang": "fi", "country": "Finland"},
]

#: The company's addresses (`CompanyModel.addresses`, `CompanyAddressModel`). Those with
#: `addressType` 3 (LocationAddress) are its offices: a user's `locationId` and a
#: subcontractor's `companyAddressId` name one [assumed: the UI calls them locations].
COMPANY_ADDRESSES: list[dict[str, Any]] = [
    {"id": 1, "addressType": 3, "street1": "Kungsgatan 12", "street2": None,
     "zipCode": "111 43", "city": "Stockholm", "country": "Sweden", "email": None,
     "comments": None},
    {"id": 2, "addressType": 3, "street1": "Södra Hamngatan 37", "street2": None,
     "zipCode": "411 06", "city": "Göteborg", "country": "Sweden", "email": None,
     "comments": None},
    {"id": 3, "addressType": 3, "street1": "Stortorget 9", "street2": None,
     "zipCode": "211 22", "city": "Malmö", "country": "Sweden", "email": None,
     "comments": None},
    {"id": 4, "addressType": 2, "street1": "Box 1234", "street2": None, "zipCode": "111 80",
     "city": "Stockholm", "country": "Sweden", "email": "faktura@konsultbolaget.se",
     "comments": None},
]
OFFICES = [a for a in COMPANY_ADDRESSES if a["addressType"] == 3]

#: `CompanyModel` of the sandbox's company (its addresses above).
COMPANY: dict[str, Any] = {
    "name": "Konsultbolaget AB", "description": "IT-konsulter i Norden",
    "corporateIdentityNumber": "556000-0001", "vatNumber": "SE556000000101",
    "countryId": 1, "registrationYear": 2009, "isTaxRegistered": True,
}

PIPELINES: list[dict[str, Any]] = [
    {"id": 1, "title": "Sales", "description": "New business", "stages": [
        {"id": 11, "title": "Lead", "description": None, "order": 1, "probability": 10},
        {"id": 12, "title": "Qualified", "description": None, "order": 2, "probability": 25},
        {"id": 13, "title": "Offer", "description": None, "order": 3, "probability": 50},
        {"id": 14, "title": "Negotiation", "description": None, "order": 4, "probability": 75},
        {"id": 15, "title": "Signed", "description": None, "order": 5, "probability": 100},
    ]},
    {"id": 2, "title": "Framework agreements", "description": "Call-offs on frameworks",
     "stages": [
         {"id": 21, "title": "Call-off received", "description": None, "order": 1,
          "probability": 30},
         {"id": 22, "title": "Proposal sent", "description": None, "order": 2,
          "probability": 60},
         {"id": 23, "title": "Contract", "description": None, "order": 3, "probability": 100},
     ]},
    {"id": 3, "title": "Internal", "description": "Internal initiatives", "stages": [
        {"id": 31, "title": "Idea", "description": None, "order": 1, "probability": 20},
        {"id": 32, "title": "Approved", "description": None, "order": 2, "probability": 100},
    ]},
]

TAGS: list[dict[str, Any]] = [
    {"id": i, "name": name}
    for i, name in enumerate(
        ["Java", "Python", ".NET", "Azure", "AWS", "Projektledning", "Offentlig sektor",
         "Ramavtal", "BV=10", "BV=30", "Konsult", "Partner"],
        start=1,
    )
]

_USER_BASE = 1001
_SUBCONTRACTOR_BASE = 700_001
_CUSTOMER_BASE = 9001
_PROJECT_BASE = 55_001
_TITLES = ("Konsult", "Seniorkonsult", "Säljare", "Affärsområdeschef", "Konsultchef", "VD")


@dataclass(frozen=True)
class CinodeCounts:
    """How many generated records of each kind `records` gives."""

    users: int
    subcontractors: int
    customers: int
    projects: int

    @classmethod
    def for_records(cls, records: int) -> CinodeCounts:
        records = max(0, records)
        return cls(users=max(3, min(records // 10, 200)),
                   subcontractors=max(2, min(records // 25, 100)),
                   customers=max(1, records), projects=records)


def cinode_datetime(moment: datetime, tick: int | None = None) -> str:
    """Cinode's timestamp: UTC without zone, six digits, a seventh (`tick`) when given."""
    text = moment.replace(tzinfo=None).isoformat(timespec="microseconds")
    return text if tick is None else f"{text}{tick % 10}"


def user_id(index: int) -> int:
    return _USER_BASE + index


def user_index(record_id: Any) -> int | None:
    return record_id - _USER_BASE if isinstance(record_id, int) else None


def subcontractor_id(index: int) -> int:
    return _SUBCONTRACTOR_BASE + index


def subcontractor_index(record_id: Any) -> int | None:
    return record_id - _SUBCONTRACTOR_BASE if isinstance(record_id, int) else None


def customer_id(index: int) -> int:
    return _CUSTOMER_BASE + index


def customer_index(record_id: Any) -> int | None:
    return record_id - _CUSTOMER_BASE if isinstance(record_id, int) else None


def project_id(index: int) -> int:
    return _PROJECT_BASE + index


def project_index(record_id: Any) -> int | None:
    return record_id - _PROJECT_BASE if isinstance(record_id, int) else None


def project_indices_for_customer(customer: int, counts: CinodeCounts) -> range:
    """Base indices of the generated projects of customer index `customer`."""
    return range(customer, counts.projects, counts.customers)


def _stamps(rng: Any) -> tuple[str, str]:
    created = datetime_between(rng)
    span = int((REFERENCE_TIME - created).total_seconds())
    updated = created + timedelta(seconds=rng.randrange(max(1, span)))
    created = created.replace(microsecond=rng.randrange(1_000_000))
    updated = updated.replace(microsecond=rng.randrange(1_000_000))
    return cinode_datetime(created), cinode_datetime(max(created, updated))


def user_record(seed: int, index: int, company_id: int) -> dict[str, Any]:
    """Company user `index` (an employee); user 0 owns the API account."""
    person = person_for(seed, index, domain=USER_DOMAIN, namespace="cinode-user")
    rng = fast_rng(seed, "cinode-user-extra", index)
    created, updated = _stamps(rng)
    uid = user_id(index)
    first = person.first_name
    start = datetime_between(rng).date()
    return {
        "id": uid, "companyUserId": uid, "companyId": company_id,
        "seoId": f"{uid}-{first.lower()}-{person.surname.split(' ')[-1].lower()}",
        "firstName": first, "lastName": person.surname, "companyUserType": 0,
        "status": 3, "title": "VD" if index == 0 else rng.choice(_TITLES),
        "companyUserEmail": person.email, "createdDateTime": created,
        "updatedDateTime": updated, "employmentNumber": f"E{100 + index}",
        "internalIdentifier": None, "employmentStartDate": f"{start}T00:00:00",
        "employmentEndDate": None, "availabilityPercent": 100, "availableFromDate": None,
        "mobility": None, "phone": person.phone,
        "dateOfBirth": f"{person.personal_number.birth_date}T00:00:00",
        "gender": 1 if person.male else 2, "languageId": 1,
        "locationId": OFFICES[index % len(OFFICES)]["id"], "defaultCurrencyId": 1,
        "displayCurrencyId": 1, "teamId": None, "taxTable": None, "baseSalary": None,
        "provision": None, "hourlyTargetRate": None, "selfCost": None, "invoicingGoal": None,
        "desiredAssignment": None, "twitter": None, "linkedIn": None, "homepage": None,
        "blog": None, "gitHub": None, "tags": [],
        # AccessLevel values: the API account's owner is CompanyAdmin (400), staff
        # CompanyUser (200).
        "permissions": [400] if index == 0 else [200],
    }


def subcontractor_record(seed: int, index: int, company_id: int) -> dict[str, Any]:
    """Subcontractor `index`: a person working through their own supplier company."""
    person = person_for(seed, index, namespace="cinode-subcontractor")
    supplier = company_for(seed, 900_000 + index)
    rng = fast_rng(seed, "cinode-subcontractor-extra", index)
    created, updated = _stamps(rng)
    sid = subcontractor_id(index)
    return {
        "id": sid, "companyUserId": sid, "companyId": company_id,
        "seoId": f"{sid}-{person.first_name.lower()}", "firstName": person.first_name,
        "lastName": person.surname, "companyUserType": 20, "status": 1,
        "email": person.email, "title": "Underkonsult", "phone": person.phone,
        "gender": 1 if person.male else 2, "languageId": 1, "profileLanguageId": 1,
        "tariff": rng.choice((850, 950, 1050, 1200)), "currencyId": 1,
        "companyName": supplier.name, "companyIdentifier": supplier.orgno,
        "internalIdentifier": None, "linkedIn": None, "rating": None,
        "companyAddressId": OFFICES[0]["id"], "createdDateTime": created,
        "updatedDateTime": updated, "tags": [],
    }


def customer_record(seed: int, index: int, company_id: int, counts: CinodeCounts
                    ) -> dict[str, Any]:
    """Customer `index`: the same company as Kleer client `index`, not yet linked."""
    company = company_for(seed, index)
    rng = fast_rng(seed, "cinode-customer", index)
    created, updated = _stamps(rng)
    cid = customer_id(index)
    manager = user_id(rng.randrange(1, counts.users)) if counts.users > 1 else user_id(0)
    return {
        "id": cid, "companyId": company_id, "name": company.name,
        "description": None, "identification": None,
        "seoId": f"{cid}-{company.domain.removesuffix('.se')}", "status": 1,
        "phone": company.phone, "fax": None, "homepage": f"https://www.{company.domain}",
        "corporateIdentityNumber": company.orgno, "vatNumber": company.vat,
        "email": company.email, "intermediator": False, "size": None, "countryId": 1,
        "turnOver": None, "turnOverCurrencyId": None,
        "addresses": [{"id": cid * 10, "street1": company.address.street, "street2": None,
                       "zipCode": company.address.zip, "city": company.address.city,
                       "country": "Sweden", "email": None, "comments": None,
                       "addressType": 1}],
        "contacts": [], "tags": [], "managers": [manager],
        "createdDateTime": created, "updatedDateTime": updated,
    }


def customer_index_fields(seed: int, index: int) -> dict[str, Any]:
    """What the sandbox's search indexes read of customer `index`, without the rest:
    learning them over 100,000 customers is then a fraction of a full scan."""
    created, updated = _stamps(fast_rng(seed, "cinode-customer", index))
    return {"id": customer_id(index), "identification": None, "createdDateTime": created,
            "updatedDateTime": updated}


def project_record(seed: int, index: int, company_id: int, counts: CinodeCounts
                   ) -> dict[str, Any]:
    """Project `index` of customer `index % customers`, in some pipeline and stage."""
    rng = fast_rng(seed, "cinode-project", index)
    created, updated = _stamps(rng)
    pipeline = PIPELINES[0] if rng.random() < 0.6 else rng.choice(PIPELINES[1:])
    stage_no = rng.randrange(len(pipeline["stages"]))
    stage = pipeline["stages"][stage_no]
    roll = rng.random()
    last_stage = stage_no == len(pipeline["stages"]) - 1
    state = 30 if last_stage or roll < 0.25 else 40 if roll < 0.35 else \
        50 if roll < 0.4 else 60 if roll < 0.45 else 0
    history = [{"state": 0, "updated": created, "reason": None}]
    if state:
        history.append({"state": state, "updated": updated, "reason": None})
    manager = user_id(rng.randrange(1, counts.users)) if counts.users > 1 else user_id(0)
    customer = index % counts.customers
    trade = rng.choice(("Systemutveckling", "Förvaltning", "Molnmigrering", "Testledning",
                        "Arkitektur", "Dataplattform", "Säkerhetsgranskning"))
    year = created[:4]
    return {
        "id": project_id(index), "companyId": company_id,
        "customerId": customer_id(customer), "title": f"{trade} {index + 1}",
        "description": None, "identifier": f"P-{year}-{index + 1:04d}",
        "customerIdentifier": f"PO-{rng.randrange(1000, 9999)}" if rng.random() < 0.5
        else None,
        "seoId": f"{project_id(index)}-{trade.lower()}", "intermediatorId": None,
        "probability": stage["probability"], "estimatedValue": rng.randrange(1, 60) * 50_000,
        "contractValue": None, "estimatedCloseDate": None, "pipelineId": pipeline["id"],
        "currentStageId": stage["id"], "currentState": state, "stateHistory": history,
        "salesManagerIds": [manager], "projectManagerIds": [], "currencyId": 1,
        "tags": [], "teamId": None, "priority": rng.choice((3, 5, 5, 8)), "locationId": None,
        "stateReasonId": None, "createdById": manager, "updatedById": manager,
        "createdDateTime": created, "updatedDateTime": updated,
    }
