"""Toy Desk REST API: tickets and notes (the objects in catalog.json).

Facts this adapter is built on (the sandbox in `toyvendor.sandbox` implements them):

- Auth is `Authorization: Bearer <api_key>`; everything lives under `/api`.
- `GET /api/{kind}` pages with `page` (from 1) and `per_page` (at most 100) and answers
  `{"items": [...], "total": n, "next_page": n | null}`. `changed_since=<ISO>` keeps the
  records updated at or after it, oldest first; `external_ref=` (repeatable) finds
  records by the reference an integration gave them.
- `GET /api/{kind}/{id}`, `POST /api/{kind}` (201), `PATCH /api/{kind}/{id}`; no batch
  endpoint, so one call per write. A refused write is 422
  `{"error": {"message": ..., "field": ...}}`.
- 20 requests per second per key (`rate_limit` in the spec overrides).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import httpx

from engine.adapters.base import (
    AdapterContext,
    CheckResult,
    ConnectionConfig,
    Record,
    WriteOp,
    WriteResult,
)
from engine.adapters.catalog import Catalog, ObjectInfo
from engine.adapters.http import HttpSession, vendor_reason
from engine.adapters.retry import RetryPolicy
from engine.errors import AmbiguousWriteError, FatalError, RecordError
from engine.values import coerce

__all__ = ["ToyAdapter"]

DEFAULT_RATE_LIMIT = (20, 1.0)
PAGE_SIZE = 100


def _wire(value: Any) -> Any:
    """A typed payload value as Toy Desk's JSON wants it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


class ToyAdapter:
    """One Toy Desk workspace; see the module docstring. One instance per connection."""

    name = "toy"

    def __init__(self, config: ConnectionConfig, client: httpx.AsyncClient,
                 context: AdapterContext) -> None:
        from toyvendor import VENDOR  # the package has imported this module by now

        api_key = config.auth.get("api_key")
        if not api_key:
            raise FatalError(f"toy connection {config.name!r}: auth needs an api_key")
        context.redactor.add(api_key)
        self._api_key = api_key
        self._redactor = context.redactor
        self._catalog = VENDOR.catalog
        limit, per = config.rate_limit or DEFAULT_RATE_LIMIT
        self.session = HttpSession(
            client, name="toy", budget=context.budgets.for_credential(f"toy:{api_key}",
                                                                       limit, per),
            retry=RetryPolicy(), redactor=context.redactor, auth=self._authorize)
        self._totals: dict[str, int] = {}

    async def _authorize(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._api_key}"

    def _object(self, obj: str) -> ObjectInfo:
        info = self._catalog.objects.get(obj)
        if info is None:
            raise FatalError(f"toy has no object {obj!r}")
        return info

    def _typed(self, info: ObjectInfo, raw: Mapping[str, Any]) -> Record:
        """`raw` cut to the catalog's fields, each converted to its declared type."""
        return {name: coerce(raw.get(name), field.type)
                for name, field in info.fields.items() if "." not in name}

    # ------------------------------------------------------------------ reads

    def describe(self) -> Catalog:
        return self._catalog

    async def check(self) -> CheckResult:
        try:
            me = (await self.session.request("GET", "/api/me")).json()
        except FatalError as exc:
            if exc.status == 401:
                return CheckResult(False, "Toy Desk refused the API key (401): check it.")
            return CheckResult(False, f"Toy Desk refused: {exc}")
        except Exception as exc:  # a check reports; it never raises
            return CheckResult(False, f"Toy Desk is unreachable: {type(exc).__name__}")
        return CheckResult(True, f"Authenticated with Toy Desk workspace {me.get('workspace')}.")

    async def read(self, obj: str, *, since: datetime | None = None,
                   cursor_field: str | None = None) -> AsyncIterator[Record]:
        info = self._object(obj)
        params: dict[str, Any] = {"per_page": PAGE_SIZE}
        if since is not None:
            if cursor_field not in (None, "updated_at"):
                raise FatalError(f"toy reads changes by updated_at only, not {cursor_field}")
            params["changed_since"] = since.isoformat()
        page: int | None = 1
        while page:
            body = (await self.session.request("GET", f"/api/{obj}",
                                               params={**params, "page": page})).json()
            if since is None:
                self._totals[obj] = int(body.get("total") or 0)
            for item in body.get("items") or []:
                yield self._typed(info, item)
            page = body.get("next_page")

    def total(self, obj: str) -> int | None:
        return self._totals.get(obj)

    async def get(self, obj: str, target_id: str) -> Record | None:
        info = self._object(obj)
        response = await self.session.request("GET", f"/api/{obj}/{target_id}",
                                              expected=(404,))
        return None if response.status_code == 404 else self._typed(info, response.json())

    async def find_external(self, obj: str, field_name: str,
                            values: Sequence[str]) -> dict[str, Record]:
        info = self._object(obj)
        if field_name not in info.external_id_fields:
            raise FatalError(f"toy {obj} cannot be looked up by {field_name!r}")
        wanted = sorted({str(v) for v in values if v not in (None, "")})
        found: dict[str, Record] = {}
        for start in range(0, len(wanted), 50):  # keep URLs short
            response = await self.session.request("GET", f"/api/{obj}", params={
                "external_ref": wanted[start:start + 50], "per_page": PAGE_SIZE})
            for item in response.json().get("items") or []:
                found[str(item["external_ref"])] = self._typed(info, item)
        return found

    def max_batch(self, obj: str) -> int:
        return 1

    # ------------------------------------------------------------------ writes

    async def write(self, obj: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        info = self._object(obj)
        return [await self._write_one(obj, info, op) for op in ops]

    async def _write_one(self, obj: str, info: ObjectInfo, op: WriteOp) -> WriteResult:
        if op.kind not in ("create", "update") or op.kind not in info.operations \
                or (op.kind == "update" and not op.target_id):
            return WriteResult(op.key, op.target_id, error=RecordError(
                "vendor.unsupported", f"Toy Desk {obj} cannot be {op.kind}d this way"))
        body = {name: _wire(value) for name, value in op.payload.items()
                if name in info.fields and not info.fields[name].read_only}
        creating = op.kind == "create"
        try:
            response = await self.session.request(
                "POST" if creating else "PATCH",
                f"/api/{obj}" if creating else f"/api/{obj}/{op.target_id}",
                json=body, expected=(404, 422))
        except AmbiguousWriteError:
            return WriteResult(op.key, op.target_id, ambiguous=True)
        if response.status_code in (404, 422):
            error = response.json().get("error") or {}
            return WriteResult(op.key, op.target_id, error=RecordError(
                "vendor.rejected", vendor_reason(response, self._redactor),
                field=error.get("field")))
        return WriteResult(op.key, str(response.json()["id"]), created=creating)

    async def report_run(self, run_id: str, answer: Mapping[str, Any]) -> None:
        """Finish an automation run that was answered `running` (see toyvendor.actions)."""
        await self.session.request("POST", f"/api/automation/runs/{run_id}/result",
                                   json=dict(answer), idempotent=True)

    async def aclose(self) -> None:
        """Nothing to release: the client belongs to the caller."""
