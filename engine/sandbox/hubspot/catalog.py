"""The portal's object types and the association type ids between them.

Object types are addressed in paths by name (`companies`), type id (`0-2`), singular
(`company`) or, for the custom object, its fully qualified name (`p{portalId}_agreements`).
Association type ids are HubSpot's defaults (apis.md 2.2) where known; pairs apis.md does
not list get ids numbered from 1000 [assumed].
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

__all__ = [
    "ASSOCIATION_TYPE_IDS",
    "CUSTOM_AGREEMENTS_ID",
    "OBJECT_TYPES",
    "PAIR_OF_TYPE_ID",
    "PRIMARY_ASSOCIATIONS",
    "ObjectType",
    "inverse_type_id",
    "label_of",
    "resolve",
]


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type and the names HubSpot accepts for it in paths."""

    name: str  # "companies": the store key and the v3 path name
    type_id: str  # "0-2"
    singular: str  # "company": association type names, action objectType
    legacy_webhooks: bool  # has `<singular>.propertyChange` subscription types
    modified: str = "hs_lastmodifieddate"
    defaults: tuple[str, ...] = ()  # properties returned when none are asked for
    aliases: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    mergeable: bool = False  # POST /crm/v3/objects/<name>/merge exists in the SDK

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, self.type_id, self.singular, *self.aliases)


CUSTOM_AGREEMENTS_ID = "2-7000001"

OBJECT_TYPES: dict[str, ObjectType] = {o.name: o for o in (
    ObjectType("contacts", "0-1", "contact", True, "lastmodifieddate",
               ("createdate", "email", "firstname", "lastname", "lastmodifieddate"),
               mergeable=True),
    ObjectType("companies", "0-2", "company", True, "hs_lastmodifieddate",
               ("createdate", "domain", "hs_lastmodifieddate", "name"), mergeable=True),
    ObjectType("deals", "0-3", "deal", True, "hs_lastmodifieddate",
               ("amount", "closedate", "createdate", "dealname", "dealstage",
                "hs_lastmodifieddate", "pipeline"), mergeable=True),
    ObjectType("products", "0-7", "product", True, "hs_lastmodifieddate",
               ("createdate", "description", "hs_lastmodifieddate", "name", "price")),
    ObjectType("line_items", "0-8", "line_item", True, "hs_lastmodifieddate",
               ("amount", "createdate", "hs_lastmodifieddate", "hs_product_id", "name",
                "price", "quantity"), aliases=("line_item",)),
    ObjectType("invoices", "0-53", "invoice", False, "hs_lastmodifieddate",
               ("createdate", "hs_currency", "hs_invoice_status", "hs_lastmodifieddate",
                "hs_number"), required=("hs_currency",)),
    ObjectType("subscriptions", "0-69", "subscription", False, "hs_lastmodifieddate",
               ("createdate", "hs_lastmodifieddate", "hs_name", "hs_status")),
    ObjectType("projects", "0-970", "project", False, "hs_lastmodifieddate",
               ("createdate", "hs_lastmodifieddate", "hs_name", "hs_status")),
    ObjectType("agreements", CUSTOM_AGREEMENTS_ID, "agreement", False, "hs_lastmodifieddate",
               ("createdate", "hs_lastmodifieddate", "name", "kleer_agreement_id"),
               aliases=("p_agreements",)),
)}

#: Default association type ids (apis.md 2.2): (from, to) -> id, HUBSPOT_DEFINED.
_KNOWN_ASSOCIATIONS: dict[tuple[str, str], int] = {
    ("companies", "contacts"): 280, ("contacts", "companies"): 279,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("deals", "line_items"): 19, ("line_items", "deals"): 20,
    ("invoices", "deals"): 175, ("deals", "invoices"): 176,
    ("invoices", "contacts"): 177, ("contacts", "invoices"): 178,
    ("invoices", "companies"): 179, ("companies", "invoices"): 180,
    ("invoices", "line_items"): 409, ("line_items", "invoices"): 410,
    ("subscriptions", "companies"): 297, ("companies", "subscriptions"): 298,
    ("subscriptions", "deals"): 299, ("deals", "subscriptions"): 300,
    ("subscriptions", "line_items"): 301, ("line_items", "subscriptions"): 302,
    ("contacts", "deals"): 4, ("deals", "contacts"): 3,
}
#: Primary labels: (from, to) -> id.
PRIMARY_ASSOCIATIONS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 1, ("companies", "contacts"): 2,
    ("deals", "companies"): 5, ("companies", "deals"): 6,
}


def _association_table() -> dict[tuple[str, str], int]:
    table = dict(_KNOWN_ASSOCIATIONS)
    next_id = 1000  # [assumed] ids for pairs apis.md does not list
    for a, b in itertools.combinations(sorted(OBJECT_TYPES), 2):
        if (a, b) not in table:
            table[(a, b)], table[(b, a)] = next_id, next_id + 1
            next_id += 2
    return table


#: Every ordered pair of object types -> its default (unlabelled) association type id.
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = _association_table()
#: Association type id -> the (from, to) pair it goes between.
PAIR_OF_TYPE_ID: dict[int, tuple[str, str]] = {
    **{v: k for k, v in ASSOCIATION_TYPE_IDS.items()},
    **{v: k for k, v in PRIMARY_ASSOCIATIONS.items()},
}


def inverse_type_id(type_id: int, pair: tuple[str, str]) -> int:
    """The type id of the same association seen from the other side."""
    a, b = pair
    if PRIMARY_ASSOCIATIONS.get((a, b)) == type_id:
        return PRIMARY_ASSOCIATIONS[(b, a)]
    return ASSOCIATION_TYPE_IDS[(b, a)]


def label_of(type_id: int) -> str | None:
    """The label HubSpot shows for a type id: "Primary", or None for an unlabelled one."""
    return "Primary" if type_id in PRIMARY_ASSOCIATIONS.values() else None


_NAMES: dict[str, str] = {alias.lower(): o.name for o in OBJECT_TYPES.values()
                          for alias in o.names}


def resolve(name: str, portal_id: int) -> ObjectType | None:
    """The object type a path names (name, type id, singular, or the custom object's
    fully qualified name `p{portalId}_agreements`), or None."""
    key = name.lower()
    if key == f"p{portal_id}_agreements":
        return OBJECT_TYPES["agreements"]
    canonical = _NAMES.get(key)
    return OBJECT_TYPES[canonical] if canonical else None
