"""Whole, valid Kleer write bodies for the sandbox tests: every element the XSD requires
(a body without one is Kleer's 500 "Tekniskt fel"), so each test changes only what it is
about."""

from __future__ import annotations

from typing import Any

EMPTY_ADDRESS = {"address1": "", "address2": "", "zip-code": "", "state": "", "country": ""}


def user(**changes: Any) -> dict[str, Any]:
    return {"id": 0, "foreign-id": "", "name": "Anna Berg", "email": "anna@berg.se",
            "active": True, **changes}


def client(**changes: Any) -> dict[str, Any]:
    return {"id": 0, "foreign-id": "", "name": "Ny Kund AB", "contact": "",
            "address": dict(EMPTY_ADDRESS), "email": "", "country-code": "SE",
            "accountnr": 0, "payment-days": 30, "orgno": "", "phone": "",
            "user": {"id": 0}, **changes}


def supplier(**changes: Any) -> dict[str, Any]:
    return {"id": 0, "foreign-id": "", "name": "Egen Firma Konsult",
            "address": dict(EMPTY_ADDRESS), "email": "e@f.se", "plusgiro": 0,
            "bankgiro": 0, "swedish-bank-account": "", "iban": "", **changes}


def product(**changes: Any) -> dict[str, Any]:
    return {"id": 0, "foreign-id": "", "name": "Workshop", "unit": "st", "price": 0,
            "ean": 0, **changes}


def invoice(client_id: int, rows: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    return {"id": 0, "invoice-nr": 0, "foreign-id": "", "po-nr": "",
            "client-ref": {"id": client_id}, "your-reference": "",
            "our-reference": {"id": 0}, "invoice-address": dict(EMPTY_ADDRESS),
            "invoice-email": "", "delivery-name": "", "delivery-address": dict(EMPTY_ADDRESS),
            "delivery-email": "", "invoice-date": "2025-01-10", "due-date": "2025-02-09",
            "delivery-date": "2025-01-10", "currency": "SEK", "certified": False,
            "sent": False, "remaining": 0, "disabled": False, "rows": rows, **changes}


def invoice_row(product_id: int, **changes: Any) -> dict[str, Any]:
    return {"quantity": 1, "price": 100, "vat": 0, "product": {"id": product_id},
            "unit": "st", "description": "Rad", "account-nr": 0, **changes}


def agreement(client_id: int, rows: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    return {"id": 0, "foreign-id": "", "revision-nr": 0, "client-ref": {"id": client_id},
            "description": "Support", "start-invoice-date": "2025-02-01",
            "next-invoice-date": None, "end-date": None, "your-reference": "",
            "our-reference": None, "approver": None, "currency": "SEK", "payment-days": 30,
            "invoice-interval-months": 3, "invoice-day": "INVOICE_AT_START", "po-nr": "",
            "agreement-nr": "", "subscription-nr": "", "deleted": False,
            "first-invoice-rows": [], "recurring-rows": rows, **changes}


def agreement_row(**changes: Any) -> dict[str, Any]:
    return {"quantity": 1, "price": 500_000, "unit": "mån", "description": "Support",
            **changes}


def project(**changes: Any) -> dict[str, Any]:
    return {"fixed-price": False, "number": "P-1", "name": "Projekt", "comment": "",
            "budget-hours": 0, "budget-amount": 0, "incoming-invoiced-amount": 0,
            "incoming-invoiced-vat-amount": 0, "all-activities": True, "all-users": True,
            **changes}


def writable_project(readable: dict[str, Any]) -> dict[str, Any]:
    """A project as read, cut to client-project-writeable (what an update posts)."""
    out = {k: v for k, v in readable.items()
           if k not in ("id", "active", "status", "write-offs", "dimension-entry",
                        "dimensions", "client")}
    if "dimensions" in readable:
        out["dimension-entries"] = readable["dimensions"]
    return out
