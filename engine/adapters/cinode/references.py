"""Cinode's metadata that spec values refer to (`ref` in catalog.json), as Cinode's
OpenAPI document lists it (tests/contracts/cinode):

- pipelines and their stages: `GET /v0.1/companies/{companyId}/projects/pipelines`;
- currencies: `GET /v0.1/companies/{companyId}/currencies` (`CurrencyModel.id`);
- languages: `GET /v0.1/languages` (`ProfileLanguageModel.languageId`);
- offices: the company's addresses with `addressType` 3 (`GET /v0.1/companies/{id}`);
- tags: `GET /v0.1/companies/{companyId}/tags` (a tag written by name that does not
  exist is created by the write, so a missing one is only a note);
- roles: the `AccessLevel` enum of the document (no endpoint lists them).
"""

from __future__ import annotations

from typing import Any

from engine.adapters.base import Referent

__all__ = ["ACCESS_LEVELS", "CinodeReferences"]

#: `AccessLevel` names in Cinode's OpenAPI document (x-enumNames).
ACCESS_LEVELS = ("NoAccess", "Anonymous", "Read", "Subcontractor", "Candidate",
                 "RestrictedCompanyUser", "CompanyApiUser", "CompanyUser", "PartnerManager",
                 "CompanyRecruiter", "TeamManager", "CompanyManager", "CompanyAdmin", "Owner")
_OFFICE = 3  # CompanyAddressModel.addressType of an office


class CinodeReferences:
    """Cinode's `ReferenceSource`, through the adapter's session."""

    created_on_write = frozenset({"tags"})

    async def referents(self, adapter: Any, kind: str) -> list[Referent]:
        if kind == "roles":
            return [Referent(name, name) for name in ACCESS_LEVELS]
        if kind == "languages":
            rows = await self._get(adapter, "/v0.1/languages")
            return [Referent(str(r.get("languageId")), str(r.get("name") or ""))
                    for r in rows]
        if kind == "currencies":
            rows = await self._get(adapter, await adapter._path("currencies"))
            return [Referent(str(r.get("id")), str(r.get("currencyCode") or ""))
                    for r in rows]
        if kind == "tags":
            rows = await self._get(adapter, await adapter._path("tags"))
            return [Referent(str(r.get("name")), str(r.get("name"))) for r in rows]
        if kind == "offices":
            company = await self._get(adapter, (await adapter._path("")).rstrip("/"))
            return [Referent(str(a.get("id")), str(a.get("city") or a.get("street1") or ""))
                    for a in (company or {}).get("addresses") or []
                    if isinstance(a, dict) and a.get("addressType") == _OFFICE]
        if kind in ("pipelines", "pipeline_stages"):
            pipelines = await self._get(adapter, await adapter._path("projects/pipelines"))
            if kind == "pipelines":
                return [Referent(str(p.get("id")), str(p.get("title") or ""))
                        for p in pipelines]
            return [Referent(str(s.get("id")), str(s.get("title") or ""), str(p.get("id")))
                    for p in pipelines for s in p.get("stages") or []]
        raise ValueError(f"Cinode has no {kind} to refer to")

    @staticmethod
    async def _get(adapter: Any, path: str) -> Any:
        response = await adapter.session.request("GET", path)
        return response.json() if response.content else []
