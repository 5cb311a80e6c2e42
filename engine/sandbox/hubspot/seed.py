"""HubSpot's generated portal: property catalogs, object sizes and base records.

What a fresh sandbox portal holds, in HubSpot's own shapes (every property value a
string, timestamps ISO with milliseconds and `Z`):

- The property catalog of each object type: HubSpot's standard properties plus the
  custom ones the Kleer integration creates in a real portal (`kleer_*` ids with
  `hasUniqueValue` so they can serve as `idProperty`, `orgno`, `vat_number` and the
  other fields of the seed document's trigger list).
- Companies: company `i` is `common.company_for(seed, i)` for three in four indices, so
  it matches Kleer client `i` by name and organisation number (a first run adopts it
  instead of creating a duplicate); the fourth is a HubSpot-only prospect (an
  independent company, half of them without an organisation number).
- Contacts (one per two companies, associated), deals (one per two companies,
  associated) and a few products and projects. Line items, invoices, subscriptions and
  agreements start empty: the integration creates them.

Records are produced lazily from `(seed, index)`, never held in a list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.sandbox.platform.seed import (
    REFERENCE_TIME,
    company_for,
    datetime_between,
    fast_rng,
    person_for,
)

__all__ = [
    "CREATED_ID_OFFSET",
    "DEAL_STAGES",
    "DEFAULT_SUBSCRIPTIONS",
    "OBJECT_ID_BASE",
    "PROPERTIES",
    "SEEDED_OBJECTS",
    "TRIGGER_PROPERTIES",
    "PropertyDef",
    "base_id",
    "base_index",
    "iso_ms",
    "object_sizes",
    "record_factory",
    "seeded_associations",
]

def iso_ms(moment: datetime) -> str:
    """`2025-01-02T08:00:00.000Z`, the form HubSpot prints every timestamp in."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- properties

_FIELD_TYPES = {"string": "text", "number": "number", "date": "date", "datetime": "date",
                "enumeration": "select", "bool": "booleancheckbox"}


@dataclass(frozen=True)
class PropertyDef:
    """One property of an object type, as `GET /crm/v3/properties/{objectType}` shows it."""

    name: str
    type: str = "string"  # string | number | date | datetime | enumeration | bool
    label: str = ""
    unique: bool = False
    options: tuple[str, ...] = ()
    read_only: bool = False
    hubspot_defined: bool = True
    group: str = ""
    description: str = ""

    def to_json(self, object_type: str, created_at: str) -> dict[str, Any]:
        group = self.group or (f"{object_type.rstrip('s')}information"
                               if self.hubspot_defined else "kleer")
        return {
            "name": self.name,
            "label": self.label or self.name.replace("_", " ").capitalize(),
            "type": self.type,
            "fieldType": _FIELD_TYPES.get(self.type, "text"),
            "description": self.description,
            "groupName": group,
            "options": [{"label": o.replace("_", " ").capitalize(), "value": o,
                         "displayOrder": i, "hidden": False}
                        for i, o in enumerate(self.options)],
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.unique,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "formField": not self.read_only,
            "modificationMetadata": {"archivable": not self.hubspot_defined,
                                     "readOnlyDefinition": self.hubspot_defined,
                                     "readOnlyValue": self.read_only},
            "createdAt": created_at,
            "updatedAt": created_at,
            "archived": False,
        }


def _std(*names: str, type: str = "string") -> list[PropertyDef]:
    return [PropertyDef(n, type) for n in names]


def _custom(*names: str, type: str = "string", unique: bool = False) -> list[PropertyDef]:
    return [PropertyDef(n, type, unique=unique, hubspot_defined=False) for n in names]


def _common(modified: str = "hs_lastmodifieddate") -> list[PropertyDef]:
    return [PropertyDef("hs_object_id", "number", "Record ID", read_only=True),
            PropertyDef("createdate", "datetime", "Create date"),
            PropertyDef(modified, "datetime", "Last modified date", read_only=True),
            PropertyDef("hubspot_owner_id", "enumeration", "Owner", options=("1", "2", "3"))]


#: HubSpot's default sales pipeline (internal values, as the API wants them).
DEAL_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
               "decisionmakerboughtin", "contractsent", "closedwon", "closedlost")

#: The company properties whose change triggers the inbound sync (seed document).
TRIGGER_PROPERTIES = (
    "name", "domain", "phone", "address", "address2", "city", "state", "zip", "country",
    "description", "industry", "website", "numberofemployees", "annualrevenue",
    "orgno", "organization_number", "registration_number", "vat_number",
    "email", "invoice_email", "kleer_email", "invoice_delivery_method",
    "kleer_delivery_method", "invoice_payment_days", "kleer_payment_days",
    "currency", "kleer_currency", "default_currency",
)

PROPERTIES: dict[str, tuple[PropertyDef, ...]] = {
    "companies": tuple([
        *_common(),
        *_std("name", "domain", "phone", "address", "address2", "city", "state", "zip",
              "country", "description", "industry", "website"),
        *_std("numberofemployees", "annualrevenue", type="number"),
        PropertyDef("lifecyclestage", "enumeration",
                    options=("subscriber", "lead", "opportunity", "customer", "other")),
        *_custom("kleer_client_id", "orgno", "vat_number", unique=True),
        *_custom("organization_number", "registration_number", "email", "invoice_email",
                 "kleer_email", "invoice_delivery_method", "kleer_delivery_method",
                 "currency", "kleer_currency", "default_currency", "kleer_customer_number",
                 "kleer_our_reference", "kleer_your_reference", "kleer_categories"),
        *_custom("invoice_payment_days", "kleer_payment_days", type="number"),
    ]),
    "contacts": tuple([
        *_common("lastmodifieddate"),
        *_std("firstname", "lastname", "email", "phone", "mobilephone", "jobtitle", "company",
              "address", "city", "zip", "country"),
        *_custom("kleer_contact_id", unique=True),
    ]),
    "deals": tuple([
        *_common(),
        *_std("dealname", "description", "deal_currency_code"),
        PropertyDef("amount", "number"),
        PropertyDef("closedate", "datetime"),
        PropertyDef("pipeline", "enumeration", options=("default",)),
        PropertyDef("dealstage", "enumeration", options=DEAL_STAGES),
        *_custom("kleer_project_id", "kleer_invoice_id", "kleer_agreement_id",
                 "kleer_client_id"),
    ]),
    "products": tuple([
        *_common(),
        *_std("name", "description", "hs_sku", "hs_recurring_billing_period",
              "recurringbillingfrequency"),
        PropertyDef("price", "number"),
        *_custom("kleer_product_id", unique=True),
        *_custom("unit", "product_type"),
        *_custom("vat_percentage", type="number"),
    ]),
    "line_items": tuple([
        *_common(),
        *_std("name", "description", "hs_product_id", "hs_sku",
              "hs_recurring_billing_period"),
        *_std("quantity", "price", "discount", "hs_discount_percentage", type="number"),
        PropertyDef("amount", "number", read_only=True,
                    description="quantity x price - discount, calculated by HubSpot"),
        *_custom("kleer_line_item_id", unique=True),
        *_custom("unit"),
    ]),
    "invoices": tuple([
        *_common(),
        *_std("hs_currency", "hs_number", "hs_purchase_order_number", "hs_comments"),
        PropertyDef("hs_invoice_status", "enumeration", options=("draft", "open", "paid",
                                                                 "voided")),
        *_std("hs_invoice_date", "hs_due_date", type="date"),
        PropertyDef("hs_amount_billed", "number", read_only=False),
        *_custom("kleer_invoice_id", unique=True),
        *_custom("kleer_invoice_number", "kleer_client_id"),
        *_custom("kleer_vat_amount", "kleer_remaining", type="number"),
    ]),
    "projects": tuple([
        *_common(),
        *_std("hs_name", "hs_description"),
        PropertyDef("hs_status", "enumeration", options=("NOT_STARTED", "IN_PROGRESS",
                                                        "ON_HOLD", "COMPLETED", "CANCELED")),
        *_std("hs_start_date", "hs_target_due_date", type="date"),
        *_custom("kleer_project_id", unique=True),
        *_custom("kleer_project_number", "kleer_client_id", "currency"),
    ]),
    "subscriptions": tuple([
        *_common(),
        *_std("hs_name", "hs_status", "hs_currency", "hs_recurring_billing_frequency"),
        *_std("hs_recurring_billing_start_date", "hs_recurring_billing_end_date",
              type="date"),
        *_custom("kleer_agreement_id", unique=True),
        *_custom("kleer_agreement_number", "kleer_client_id"),
    ]),
    "agreements": tuple([
        *_common(),
        *_custom("name", "kleer_agreement_number", "currency", "status", "description",
                 "kleer_client_id"),
        *_custom("kleer_agreement_id", unique=True),
        *_custom("start_date", "end_date", type="date"),
        *_custom("invoice_interval_months", "amount", "revision", type="number"),
    ]),
}

#: The app's webhook subscriptions in a fresh portal: what the Kleer app declares.
#: (subscriptionType, objectTypeId or None, propertyName or None)
DEFAULT_SUBSCRIPTIONS: tuple[tuple[str, str | None, str | None], ...] = (
    ("company.creation", None, None),
    ("company.deletion", None, None),
    *(("company.propertyChange", None, name) for name in TRIGGER_PROPERTIES),
    ("deal.creation", None, None),
    ("deal.propertyChange", None, "dealstage"),
    ("object.propertyChange", "0-970", "hs_name"),
    ("object.propertyChange", "0-970", "hs_status"),
    ("object.propertyChange", "0-970", "hs_description"),
)


# --------------------------------------------------------------------------- records

#: Generated ids are `OBJECT_ID_BASE[type] + index`; created ones start half a
#: billion higher, so ids grow in iteration order like HubSpot's.
OBJECT_ID_BASE: dict[str, int] = {
    "contacts": 1_000_000_000, "companies": 2_000_000_000, "deals": 3_000_000_000,
    "agreements": 4_000_000_000, "invoices": 5_000_000_000, "subscriptions": 6_000_000_000,
    "products": 7_000_000_000, "line_items": 8_000_000_000, "projects": 9_000_000_000,
}
CREATED_ID_OFFSET = 500_000_000
#: Object types with generated records.
SEEDED_OBJECTS = ("companies", "contacts", "deals", "products", "projects")
# HubSpot-only prospects use company indices from here on (never a Kleer client).
_PROSPECT_OFFSET = 500_000


def base_id(object_type: str, index: int) -> str:
    return str(OBJECT_ID_BASE[object_type] + index)


def base_index(object_type: str, record_id: str) -> int | None:
    """Inverse of `base_id` (None for ids that are not generated ones)."""
    try:
        index = int(record_id) - OBJECT_ID_BASE[object_type]
    except (ValueError, TypeError):
        return None
    return index if 0 <= index < CREATED_ID_OFFSET else None


def object_sizes(records: int) -> dict[str, int]:
    """How many generated records of each type a sandbox of `records` companies holds."""
    return {
        "companies": records,
        "contacts": records // 2,
        "deals": records // 2,
        "products": min(max(3, records // 10), 500) if records else 0,
        "projects": records // 10,
        "line_items": 0, "invoices": 0, "subscriptions": 0, "agreements": 0,
    }


def _stamps(seed: int, namespace: str, index: int, modified: str) -> dict[str, str]:
    rng = fast_rng(seed, f"hubspot-{namespace}-time", index)
    created = datetime_between(rng)
    changed = datetime_between(rng, created, REFERENCE_TIME)
    return {"createdate": iso_ms(created), modified: iso_ms(changed)}


def _record(object_type: str, index: int, props: dict[str, str | None],
            stamps: dict[str, str]) -> dict[str, Any]:
    record_id = base_id(object_type, index)
    properties = {k: v for k, v in props.items() if v is not None}
    properties.update(stamps)
    properties["hs_object_id"] = record_id
    modified = stamps.get("hs_lastmodifieddate") or stamps["lastmodifieddate"]
    return {"id": record_id, "properties": properties, "createdAt": stamps["createdate"],
            "updatedAt": modified, "archived": False}


def _company(seed: int, index: int, defect_rate: float) -> dict[str, Any]:
    shared = index % 4 != 3
    company = company_for(seed, index if shared else _PROSPECT_OFFSET + index)
    rng = fast_rng(seed, "hubspot-company", index)
    has_orgno = shared or rng.chance(0.5)
    props: dict[str, str | None] = {
        "name": company.name,
        "domain": company.domain,
        "website": f"https://www.{company.domain}",
        "phone": company.phone,
        "address": company.address.street,
        "zip": company.address.zip,
        "city": company.address.city,
        "country": "Sweden",
        "industry": company.category,
        "lifecyclestage": "customer" if shared else rng.choice(("lead", "opportunity")),
        "numberofemployees": str(rng.randint(1, 400)),
        "orgno": company.orgno if has_orgno else None,
        "vat_number": company.vat if has_orgno else None,
        "invoice_email": company.email if shared else None,
        "currency": company.currency,
    }
    if defect_rate and rng.chance(defect_rate):
        props["name"] = None  # a company without a name: Kleer refuses such a client
    created = company.created
    changed = datetime_between(rng, created, REFERENCE_TIME)
    return _record("companies", index, props, {"createdate": iso_ms(created),
                                               "hs_lastmodifieddate": iso_ms(changed)})


def _contact(seed: int, index: int, defect_rate: float) -> dict[str, Any]:
    company = company_for(seed, _contact_company(index))
    person = person_for(seed, index, domain=company.domain, namespace="hubspot-contact")
    props: dict[str, str | None] = {
        "firstname": person.first_name, "lastname": person.surname, "email": person.email,
        "phone": person.phone, "company": company.name,
    }
    return _record("contacts", index, props, _stamps(seed, "contact", index, "lastmodifieddate"))


def _contact_company(index: int) -> int:
    return index * 2


def _deal_company(index: int) -> int:
    return index * 2 + 1


def _deal(seed: int, index: int, defect_rate: float) -> dict[str, Any]:
    rng = fast_rng(seed, "hubspot-deal", index)
    company = company_for(seed, _deal_company(index))
    stage = rng.choice(DEAL_STAGES)
    close = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(-300, 200))
    props: dict[str, str | None] = {
        "dealname": f"{company.name} – {rng.choice(('Ramavtal', 'Förstudie', 'Support', 'Licens', 'Utveckling'))}",  # noqa: E501
        "amount": str(rng.randrange(10, 2000) * 1000),
        "pipeline": "default",
        "dealstage": stage,
        "closedate": iso_ms(close),
        "deal_currency_code": company.currency,
    }
    return _record("deals", index, props, _stamps(seed, "deal", index, "hs_lastmodifieddate"))


_PRODUCTS = (("Konsulttimme", "h", "1250"), ("Licens, månad", "mån", "4900"),
             ("Supportavtal", "st", "9900"), ("Utbildningsdag", "dag", "12000"),
             ("Resekostnad", "st", "1"))


def _product(seed: int, index: int, defect_rate: float) -> dict[str, Any]:
    name, unit, price = _PRODUCTS[index % len(_PRODUCTS)]
    suffix = f" {index // len(_PRODUCTS) + 1}" if index >= len(_PRODUCTS) else ""
    props: dict[str, str | None] = {
        "name": name + suffix, "unit": unit, "hs_sku": f"HS-{index + 1:04d}", "price": price,
        "description": f"{name}{suffix} (HubSpot-produkt)",
    }
    return _record("products", index, props,
                   _stamps(seed, "product", index, "hs_lastmodifieddate"))


def _project(seed: int, index: int, defect_rate: float) -> dict[str, Any]:
    rng = fast_rng(seed, "hubspot-project", index)
    company = company_for(seed, _project_company(index))
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 330))
    props: dict[str, str | None] = {
        "hs_name": f"{company.name.split(' ')[0]} {rng.choice(('Införande', 'Migrering', 'Analys'))}",  # noqa: E501
        "hs_status": rng.choice(("NOT_STARTED", "IN_PROGRESS", "COMPLETED")),
        "hs_start_date": start.date().isoformat(),
    }
    return _record("projects", index, props,
                   _stamps(seed, "project", index, "hs_lastmodifieddate"))


def _project_company(index: int) -> int:
    return index * 10


_FACTORIES: dict[str, Callable[[int, int, float], dict[str, Any]]] = {
    "companies": _company, "contacts": _contact, "deals": _deal, "products": _product,
    "projects": _project,
}


def record_factory(object_type: str, seed: int,
                   defect_rate: float = 0.0) -> Callable[[int], dict[str, Any]]:
    """`index -> record` for one object type (`{id, properties, createdAt, ...}`)."""
    build = _FACTORIES.get(object_type)
    if build is None:
        def nothing(index: int) -> dict[str, Any]:
            raise IndexError(f"no generated {object_type} records")
        return nothing
    return lambda index: build(seed, index, defect_rate)


def seeded_associations(object_type: str, index: int,
                        sizes: dict[str, int]) -> Iterable[tuple[str, int]]:
    """The generated record's associations as `(to_object_type, to_index)` pairs."""
    companies = sizes.get("companies", 0)
    if object_type == "contacts" and _contact_company(index) < companies:
        yield "companies", _contact_company(index)
    elif object_type == "deals" and _deal_company(index) < companies:
        yield "companies", _deal_company(index)
    elif object_type == "projects" and _project_company(index) < companies:
        yield "companies", _project_company(index)
    elif object_type == "companies":
        if index % 2 == 0 and index // 2 < sizes.get("contacts", 0):
            yield "contacts", index // 2
        if index % 2 == 1 and index // 2 < sizes.get("deals", 0):
            yield "deals", index // 2
        if index % 10 == 0 and index // 10 < sizes.get("projects", 0):
            yield "projects", index // 10
