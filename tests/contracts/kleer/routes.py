"""Kleer API v1 routes: the hand-kept half of the contract (the other half is the XSD).

Each route names its verb and path template (relative to `/v1/company/{companyId}`),
the XSD global element its JSON request body carries (None: no body) and the element its
2xx JSON answer carries, the query parameters it takes, and where the route comes from:

- ``confirmed``: real client code sends exactly this verb to this path; ``evidence`` cites
  the file and line (commit as stored when this table was written).
- ``documented``: a real, live-validated client lists the endpoint in its own notes, but
  no code line sends it.
- ``assumed``: no real client shows it; taken from apis.md or the sandbox. A request on an
  assumed route is allowed by the checker and counted as such.

`derive.py` checks every element named here against the XSD and copies this table into
contract.json, which is what the checker reads. Edit here, then run derive.py.

Sources (public repositories, read through the search tool; no code copied):
  ORN  PeterOrneholm/Orneholm.PEAccounting @ 6877eb71 (older paths @ 30bf108)
  TOKI ponbac/toki2 @ a72b07f9 (Rust JSON client, live-validated against api.kleer.se)
  PY   najlen/pe-accounting-python-api @ bf7302c8
  RB   ridem/pe-accounting-ruby-client @ 8e946723
  DEV  DeviesDevelopment/Kleer @ 86c4f847 (its Kleer/doc.xsd is byte-identical to ours)
  ABD  AboardKleerIntegration Services/KleerService.cs (C# XML client; the search index
       keeps the file, id 55215977727, without its repository name)
"""

from __future__ import annotations

from typing import Any

ORN = "PeterOrneholm/Orneholm.PEAccounting src/Orneholm.PEAccountingNet"
TOKI = "ponbac/toki2"
PY = "najlen/pe-accounting-python-api pe_accounting_python_api/restclient.py"
RB = "ridem/pe-accounting-ruby-client"
DEV = "DeviesDevelopment/Kleer"
ABD = "AboardKleerIntegration Services/KleerService.cs"

# Query parameters, with their own provenance.
_INVOICE_FILTER = {
    "values": ["all", "certified", "certifiable", "sendable"],
    "provenance": "confirmed",
    "evidence": f"{ORN}/Filters/ClientInvoiceFilter.cs:33, Filters/ClientInvoiceStatus.cs:8-20",
}
_PAGING = {
    "provenance": "assumed",
    "evidence": "XSD paged-result attributes offset/limit/size (kleer-v1.xsd:5109-5131) name "
                "the page; no real client sends them as query parameters",
}

ROUTES: list[dict[str, Any]] = [
    # ----------------------------------------------------------------- company, users
    {"method": "GET", "path": "/info", "response": "company-information",
     "provenance": "confirmed", "evidence": f"{ORN}/PeaApi.cs:36; {PY}:30"},
    {"method": "GET", "path": "/user", "response": "users",
     "provenance": "confirmed",
     "evidence": f"{ORN}/PeaApi.cs:48; {TOKI} kleer/src/client.rs:100; {PY}:37; {ABD}:30"},
    {"method": "GET", "path": "/user/me", "response": "user",
     "provenance": "confirmed", "evidence": f"{ORN}/PeaApi.cs:43; {TOKI} kleer/src/client.rs:96"},
    {"method": "GET", "path": "/user/{id}", "response": "user",
     "provenance": "confirmed",
     "evidence": f"{ORN}/PeaApi.cs:53; {PY}:34; {DEV} README.md:51"},
    {"method": "GET", "path": "/user/foreign-id/{foreignId}", "response": "user",
     "provenance": "documented", "evidence": f"{TOKI} .docs/kleer.md:61 (endpoint list)"},
    {"method": "PUT", "path": "/user", "request": "user", "response": "created",
     "provenance": "assumed", "evidence": "sandbox only (engine/sandbox/kleer.py)"},
    {"method": "POST", "path": "/user/{id}", "request": "user", "response": "saved",
     "provenance": "confirmed",
     "evidence": f"{ABD}:54 (UpdateProfileAsync posts the whole <user>)"},
    # ----------------------------------------------------------------- payroll
    {"method": "GET", "path": "/payroll/user", "response": "payroll-user-readables",
     "provenance": "confirmed", "evidence": f"{PY}:49"},
    {"method": "GET", "path": "/payroll/user/{id}", "response": "payroll-user-readable",
     "provenance": "confirmed", "evidence": f"{ABD}:72 (UpdateEmployeeDataAsync, GetPayrollAsync)"},
    {"method": "POST", "path": "/payroll/user/{id}", "request": "payroll-user-writable",
     "response": "saved",
     "provenance": "confirmed", "evidence": f"{ABD}:111 (UpdateEmployeeDataAsync)"},
    {"method": "GET", "path": "/payroll/user/{id}/schedule/{from}/to/{to}",
     "response": "payroll-user-schedule-metadatas",
     "provenance": "confirmed", "evidence": f"{TOKI} kleer/src/client.rs:182"},
    {"method": "GET", "path": "/payroll/schedule", "response": "payroll-schedules-readable",
     "provenance": "assumed", "evidence": "apis.md 3.4 (schedule lookup); sandbox"},
    {"method": "GET", "path": "/payroll/schedule/{id}", "response": "payroll-schedule-readable",
     "provenance": "assumed", "evidence": "sandbox only"},
    # ----------------------------------------------------------------- dimensions
    {"method": "GET", "path": "/dimension", "response": "dimensions",
     "provenance": "confirmed", "evidence": f"{ORN}/PeaApi.cs:198"},
    {"method": "GET", "path": "/dimension/{id}/entry", "response": "dimension-entries",
     "provenance": "confirmed", "evidence": f"{ORN}/PeaApi.cs:206"},
    # ----------------------------------------------------------------- suppliers
    {"method": "GET", "path": "/supplier", "response": "suppliers",
     "provenance": "confirmed", "evidence": f"{ORN}/PeaApi.cs:58 @ 30bf108"},
    {"method": "PUT", "path": "/supplier", "request": "supplier", "response": "created",
     "provenance": "assumed", "evidence": "apis.md 3.3 [assumed]"},
    {"method": "GET", "path": "/supplier/{id}", "response": "supplier",
     "provenance": "assumed", "evidence": "apis.md 3.3 [assumed]"},
    {"method": "POST", "path": "/supplier/{id}", "request": "supplier", "response": "saved",
     "provenance": "assumed", "evidence": "apis.md 3.3 [assumed]"},
    # ----------------------------------------------------------------- subcontractors
    {"method": "GET", "path": "/subcontractor", "response": "subcontractor-readables",
     "provenance": "assumed", "evidence": "apis.md 3.3 [assumed]"},
    {"method": "PUT", "path": "/subcontractor", "request": "subcontractor-writeable",
     "response": "created", "provenance": "assumed", "evidence": "apis.md 3.3 [assumed]"},
    {"method": "GET", "path": "/subcontractor/{id}", "response": "subcontractor-readable",
     "provenance": "assumed", "evidence": "sandbox only"},
    {"method": "POST", "path": "/subcontractor/{id}", "request": "subcontractor-writeable",
     "response": "saved", "provenance": "assumed", "evidence": "sandbox only"},
    # ----------------------------------------------------------------- clients
    {"method": "GET", "path": "/client", "response": "clients",
     "provenance": "confirmed", "evidence": f"{ORN}/PeaApi.cs:61; {RB} README.md:36"},
    {"method": "PUT", "path": "/client", "request": "client", "response": "created",
     "provenance": "confirmed",
     "evidence": f"{RB} lib/pe_accounting/client.rb:53-54 (usage example of put)"},
    {"method": "GET", "path": "/client/{id}", "response": "client",
     "provenance": "assumed", "evidence": "apis.md 3.3 [assumed]"},
    {"method": "POST", "path": "/client/{id}", "request": "client", "response": "saved",
     "provenance": "confirmed",
     "evidence": f"{RB} README.md:39-43 (read a client, change it, post it whole); "
                 "lib/pe_accounting/client.rb:67-68"},
    # ----------------------------------------------------------------- products
    {"method": "GET", "path": "/product", "response": "products",
     "provenance": "confirmed", "evidence": f"{ORN}/PeaApi.cs:214"},
    {"method": "GET", "path": "/product/{id}", "response": "product",
     "provenance": "confirmed", "evidence": f"{ORN}/PeaApi.cs:219"},
    {"method": "PUT", "path": "/product", "request": "product", "response": "created",
     "provenance": "assumed", "evidence": "sandbox only"},
    {"method": "POST", "path": "/product/{id}", "request": "product", "response": "saved",
     "provenance": "assumed", "evidence": "sandbox only"},
    # ----------------------------------------------------------------- client invoices
    {"method": "GET", "path": "/client/invoice", "response": "client-invoices",
     "provenance": "confirmed", "evidence": f"{ORN}/PeaApi.cs:161",
     "query": {
         "filter": _INVOICE_FILTER,
         "query": {"provenance": "confirmed",
                   "evidence": f"{ORN}/Filters/ClientInvoiceFilter.cs:34"},
         "invoiceDateLower": {"provenance": "confirmed", "format": "date",
                              "evidence": f"{ORN}/Filters/ClientInvoiceFilter.cs:35"},
         "invoiceDateUpper": {"provenance": "confirmed", "format": "date",
                              "evidence": f"{ORN}/Filters/ClientInvoiceFilter.cs:36"},
         "ignoreFiles": {"provenance": "confirmed", "values": ["true", "false"],
                         "evidence": f"{ORN}/Filters/ClientInvoiceFilter.cs:37"},
         "offset": {**_PAGING, "format": "int"},
         "limit": {**_PAGING, "format": "int"},
     }},
    {"method": "GET", "path": "/client/invoice/{id}", "response": "client-invoice",
     "provenance": "assumed", "evidence": "sandbox only"},
    {"method": "PUT", "path": "/client/invoice", "request": "client-invoice",
     "response": "created", "provenance": "confirmed",
     "evidence": f"{ORN}/PeaApi.cs:172-173 (body built by Models/ClientInvoiceCreate.cs:82-128)",
     "query": {
         "defaultDimensionsFromProduct": {
             "provenance": "confirmed", "values": ["true", "false"],
             "evidence": f"{ORN}/Filters/ClientInvoiceCreateOptions.cs:22"},
         "defaultDimensionsFromClient": {
             "provenance": "confirmed", "values": ["true", "false"],
             "evidence": f"{ORN}/Filters/ClientInvoiceCreateOptions.cs:23"},
     }},
    # ----------------------------------------------------------------- client agreements
    {"method": "GET", "path": "/client/agreement", "response": "client-agreements",
     "provenance": "assumed", "evidence": "apis.md 3.3 [assumed]"},
    {"method": "GET", "path": "/client/agreement/{id}", "response": "client-agreement",
     "provenance": "assumed", "evidence": "sandbox only"},
    {"method": "PUT", "path": "/client/agreement", "request": "client-agreement",
     "response": "created", "provenance": "assumed", "evidence": "apis.md 3.3 [assumed]"},
    # The verb and path are assumed; the body is the XSD's own update wrapper
    # (kleer-v1.xsd:525-540: update-client-agreement -> update-client-agreement-result).
    {"method": "POST", "path": "/client/agreement/{id}", "request": "update-client-agreement",
     "response": "update-client-agreement-result", "provenance": "assumed",
     "evidence": "path assumed (sandbox); body and answer from the XSD update wrapper"},
    # ----------------------------------------------------------------- client projects
    {"method": "GET", "path": "/client-project", "response": "client-project-readables",
     "provenance": "confirmed",
     "evidence": f"{ORN}/PeaApi.cs:81; {TOKI} kleer/src/client.rs:104,108",
     "query": {
         "filter": {"provenance": "confirmed", "values": ["all", "active", "inactive"],
                    "evidence": f"{ORN}/Filters/ClientProjectFilter.cs:14, "
                                "Filters/ClientProjectActiveStatus.cs:5-7; "
                                f"{TOKI} kleer/src/client.rs:108"},
     }},
    {"method": "GET", "path": "/client-project/{id}", "response": "client-project-readable",
     "provenance": "confirmed", "evidence": f"{ORN}/PeaApi.cs:87"},
    {"method": "PUT", "path": "/client-project", "request": "client-project-writeable",
     "response": "created", "provenance": "assumed", "evidence": "apis.md 3.3; sandbox"},
    {"method": "POST", "path": "/client-project/{id}", "request": "client-project-writeable",
     "response": "saved", "provenance": "assumed", "evidence": "apis.md 3.3; sandbox"},
]

# How Kleer's JSON maps onto the XSD's elements, with the evidence for each rule. The
# checker applies exactly these rules.
JSON_MAPPING: list[dict[str, str]] = [
    {"rule": "The root element is not written: a body or answer is the JSON object of the "
             "root element's content (a create answers {\"id\": n}, not {\"created\": ...}).",
     "evidence": f"{TOKI} kleer/src/client.rs:154-173 with kleer/src/types.rs:300-303 "
                 "(PUT/POST/DELETE event answer {id}); kleer/src/types.rs:283-298 (bare "
                 f"event-writable body); {RB} lib/pe_accounting/client.rb:54 (bare put body)"},
    {"rule": "A single element is a JSON member named as the element.",
     "evidence": f"{TOKI} kleer/src/types.rs:86-101 (kebab-case names); {RB} README.md:37"},
    {"rule": "A repeated element (maxOccurs > 1) is one JSON array named as the element or "
             "its plural (list answers: {\"users\": [...]}, {\"client-project-readables\": "
             "[...]}; client-project-readable.activity -> \"activities\").",
     "evidence": f"{TOKI} kleer/src/types.rs:104-107,123-124,150-161; {PY}:37,49"},
    {"rule": "A wrapper element holding only a repeated element (dimension-entries, rows, "
             "recurring-rows, fields, users, schedules) may be written as the JSON array of "
             "its items.",
     "evidence": "apis.md 3.4 example; assumed (no real client writes one in JSON)"},
    {"rule": "Attributes (paged-result offset/limit/size) are JSON members beside the list.",
     "evidence": "assumed (sandbox, apis.md 3.4)"},
    {"rule": "Values: xs:int/long/integer are JSON integers; xs:decimal JSON numbers; "
             "xs:boolean JSON true/false; xs:date a \"YYYY-MM-DD\" string; everything else a "
             "string valid for its XSD type and enumeration. null only where nillable.",
     "evidence": f"{TOKI} kleer/src/types.rs:19-41 (dates), .docs/kleer.md (kebab-case, "
                 "plain dates); XSD facets"},
]
