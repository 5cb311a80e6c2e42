"""HubSpot writes: batches of CRM records, then their associations (`Writes`, mixed into
`HubSpotAdapter`; the facts and their SDK sources are in the adapter's docstring).

- An update with a target id is `batch/update` by that id (`BatchApi.update`,
  `SimplePublicObjectBatchInput {id, properties}`), never an upsert: the record may not
  hold the external value yet, and an upsert on that value would then create a second
  record or collide on another unique property. The external field goes in the
  properties, so the record is findable by it from then on.
- An update without a target id is `batch/update` with `idProperty` (it never creates).
- A create is `batch/upsert` on the op's external field when that is a unique property
  (`SimplePublicObjectBatchInputUpsert {idProperty, id, properties}`; keyed, so safe to
  retry), else `batch/create` (`SimplePublicObjectBatchInputForCreate {properties,
  objectWriteTraceId}`; a 207's `errors[].context.objectWriteTraceId` names the failed).
- HubSpot refuses a whole upsert/update batch for one bad record (400/409): the batch is
  bisected, so the good records land and each bad one gets its own error in about
  log2(batch) extra calls. A 207 (`BatchResponse...WithErrors`, `StandardError.context`
  `ids`) gives each op its own result.
- The write-only `associations` payload field (`{"companies": "<id>"}`) is written after
  the records exist, through v4 `batch/create` with a HUBSPOT_DEFINED type id where one
  is known (`PublicAssociationMultiPost {from, to, types: [AssociationSpec]}`), else
  `batch/associate/default` (`PublicDefaultAssociationMultiPost {from, to}`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx

from engine.adapters.base import AdapterContext, WriteOp, WriteResult
from engine.adapters.catalog import Catalog, ObjectInfo
from engine.adapters.http import HttpSession, vendor_reason
from engine.errors import AmbiguousWriteError, RecordError
from engine.values import to_wire_text

if TYPE_CHECKING:
    from collections.abc import Coroutine

__all__ = ["BATCH_LIMIT", "DEFAULT_ASSOCIATION_TYPES", "Writes"]

BATCH_LIMIT = 100

#: HubSpot-defined default association type ids (apis.md 2.2; HubSpot's "Associations
#: v4" guide, "Association type ID values"): (from, to) -> id. [unconfirmed by the SDK,
#: which names no ids; a pair not listed uses `batch/associate/default`.]
DEFAULT_ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("companies", "contacts"): 280, ("contacts", "companies"): 279,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("deals", "line_items"): 19, ("line_items", "deals"): 20,
    ("invoices", "deals"): 175, ("invoices", "contacts"): 177,
    ("invoices", "companies"): 179, ("companies", "invoices"): 180,
    ("invoices", "line_items"): 409, ("line_items", "invoices"): 410,
    ("subscriptions", "companies"): 297, ("companies", "subscriptions"): 298,
    ("subscriptions", "line_items"): 301, ("line_items", "subscriptions"): 302,
    ("subscriptions", "deals"): 299, ("quotes", "line_items"): 67,
    ("orders", "companies"): 509,
}

# Statuses that refuse a batch for its content (bisect), not for our configuration.
_REFUSED = (400, 409)
_PROPERTY_IN_MESSAGE = re.compile(
    r"""(?:"name"\s*:\s*"|[Pp]roperty\s+["']|propertyName['"]?\s*[:=]\s*\[?["'])([a-z0-9_]+)""")


@dataclass
class _Pending:
    """One op being written: where its result goes and what it sends."""

    index: int
    op: WriteOp
    properties: dict[str, str]
    id_value: str | None = None  # what HubSpot knows the record by: external value or id


class Writes:
    """The write half of `HubSpotAdapter` (a mixin: it uses the adapter's session,
    catalog and metadata lookups)."""

    session: HttpSession
    context: AdapterContext
    _catalog: Catalog

    if TYPE_CHECKING:  # the adapter's own
        def _object(self, obj: str) -> ObjectInfo: ...
        def _type(self, obj: str) -> Coroutine[Any, Any, str]: ...
        def _is_unique(self, obj: str, name: str) -> Coroutine[Any, Any, bool]: ...
        def _ensure_properties(self, obj: str, info: ObjectInfo,
                               ops: Sequence[WriteOp]) -> Coroutine[Any, Any, None]: ...

    def _wire_properties(self, info: ObjectInfo, op: WriteOp) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in op.payload.items():
            field = info.fields.get(name)
            if name == "associations" or "." in name or (field and field.read_only):
                continue
            if value is None and op.kind == "create":
                continue
            out[name] = to_wire_text(value)  # None -> "" clears the property
        return out

    @staticmethod
    def _external_value(info: ObjectInfo, op: WriteOp) -> str | None:
        """The op's external id as HubSpot stores it: the payload's value, else the key
        (the engine keys external matches by that value). None without a writable
        external field."""
        name = op.external_field
        if not name or (name in info.fields and info.fields[name].read_only):
            return None
        value = op.payload.get(name)
        return to_wire_text(value) if value not in (None, "") else op.key

    async def write(self, obj: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        info = self._object(obj)
        results: list[WriteResult | None] = [None] * len(ops)
        live = [op for op in ops if op.kind != "delete"]
        if live:
            await self._ensure_properties(obj, info, live)
        upserts: dict[str, list[_Pending]] = {}
        creates: list[_Pending] = []
        # Updates by record id (None) or by a unique property (idProperty).
        updates: dict[str | None, list[_Pending]] = {}
        for index, op in enumerate(ops):
            if op.kind == "delete":
                results[index] = WriteResult(op.key, op.target_id, error=RecordError(
                    "vendor.unsupported", "the integration does not delete HubSpot records"))
                continue
            pending = _Pending(index, op, self._wire_properties(info, op))
            field = op.external_field
            external = self._external_value(info, op)
            unique = field is not None and external is not None and \
                await self._is_unique(obj, field)
            if op.kind == "update" or op.target_id:
                if field is not None and external is not None:
                    pending.properties[field] = external  # findable by its key from now on
                if op.target_id:
                    pending.id_value = op.target_id
                    updates.setdefault(None, []).append(pending)
                elif unique:
                    pending.id_value = external
                    updates.setdefault(field, []).append(pending)
                else:
                    results[index] = WriteResult(op.key, None, error=RecordError(
                        "vendor.unsupported", "an update needs the target id or a unique "
                        "external id property"))
            elif field is not None and unique:
                pending.id_value = external
                pending.properties.pop(field, None)
                upserts.setdefault(field, []).append(pending)
            else:
                creates.append(pending)
        object_type = await self._type(obj)
        for id_property, items in upserts.items():
            for chunk in _distinct_chunks(items):
                await self._bisect(chunk, results, partial(
                    self._upsert, object_type, id_property, results=results))
        for start in range(0, len(creates), BATCH_LIMIT):
            await self._bisect(creates[start:start + BATCH_LIMIT], results,
                               lambda c: self._create(object_type, c, results))
        for by, items in updates.items():
            for chunk in _distinct_chunks(items):
                await self._bisect(chunk, results, partial(
                    self._update, object_type, by, results=results))
        await self._associate(obj, ops, results)
        return [r if r is not None else WriteResult(op.key, op.target_id, error=RecordError(
            "vendor.rejected", "HubSpot answered without this record")) for r, op in
                zip(results, ops, strict=True)]

    async def _bisect(self, items: list[_Pending], results: list[WriteResult | None],
                      send: Callable[[list[_Pending]], Awaitable[RecordError | None]]
                      ) -> None:
        """Send `items`; if HubSpot refuses the whole batch, halve it until each bad
        record stands alone with its own error."""
        if not items:
            return
        refused = await send(items)
        if refused is None:
            return
        if len(items) == 1:
            item = items[0]
            results[item.index] = WriteResult(item.op.key, item.op.target_id, error=refused)
            return
        middle = len(items) // 2
        await self._bisect(items[:middle], results, send)
        await self._bisect(items[middle:], results, send)

    async def _batch(self, object_type: str, action: str, inputs: list[dict[str, Any]],
                     *, idempotent: bool) -> httpx.Response:
        return await self.session.request(
            "POST", f"/crm/v3/objects/{object_type}/batch/{action}",
            json={"inputs": inputs}, idempotent=idempotent, expected=_REFUSED)

    async def _upsert(self, object_type: str, id_property: str, items: list[_Pending],
                      results: list[WriteResult | None]) -> RecordError | None:
        response = await self._batch(object_type, "upsert", [
            {"idProperty": id_property, "id": item.id_value, "properties": item.properties}
            for item in items], idempotent=True)
        if response.status_code in _REFUSED:
            return self._rejection(response)
        data = response.json()
        by_value = {str((r.get("properties") or {}).get(id_property)): r
                    for r in data.get("results") or []}
        failed = self._errors_by(data, "ids")
        self._fill(results, items, lambda i: by_value.get(str(i.id_value)),
                   lambda i: failed.get(str(i.id_value)))
        return None

    async def _create(self, object_type: str, items: list[_Pending],
                      results: list[WriteResult | None]) -> RecordError | None:
        try:
            response = await self._batch(object_type, "create", [
                {"properties": item.properties, "objectWriteTraceId": str(item.index)}
                for item in items], idempotent=False)
        except AmbiguousWriteError:
            for item in items:
                results[item.index] = WriteResult(item.op.key, None, ambiguous=True)
            return None
        if response.status_code in _REFUSED:
            return self._rejection(response)
        data = response.json()
        raws = data.get("results") or []
        by_trace = {str(r.get("objectWriteTraceId")): r for r in raws
                    if r.get("objectWriteTraceId") is not None}
        if not by_trace and len(raws) == len(items):
            by_trace = {str(i.index): r for i, r in zip(items, raws, strict=True)}
        failed = self._errors_by(data, "objectWriteTraceId")
        self._fill(results, items, lambda i: by_trace.get(str(i.index)),
                   lambda i: failed.get(str(i.index)), created=True)
        return None

    async def _update(self, object_type: str, id_property: str | None,
                      items: list[_Pending], results: list[WriteResult | None]
                      ) -> RecordError | None:
        """`batch/update` by record id, or by a unique property (`idProperty`)."""
        extra = {"idProperty": id_property} if id_property else {}
        response = await self._batch(object_type, "update", [
            {"id": item.id_value, **extra, "properties": item.properties} for item in items],
            idempotent=True)
        if response.status_code in _REFUSED:
            return self._rejection(response)
        data = response.json()
        raws = data.get("results") or []
        by_value = {str(r.get("id") if id_property is None else
                        (r.get("properties") or {}).get(id_property)): r for r in raws}
        failed = self._errors_by(data, "ids")
        self._fill(results, items, lambda i: by_value.get(str(i.id_value)),
                   lambda i: failed.get(str(i.id_value)))
        return None

    @staticmethod
    def _fill(results: list[WriteResult | None], items: list[_Pending],
              result_of: Callable[[_Pending], Any],
              error_of: Callable[[_Pending], RecordError | None], *, created: bool = False
              ) -> None:
        """One result per item: the record HubSpot answered with, else its error."""
        for item in items:
            raw = result_of(item)
            if raw is not None:
                results[item.index] = WriteResult(item.op.key, str(raw["id"]),
                                                  created=bool(raw.get("new", created)))
            else:
                results[item.index] = WriteResult(item.op.key, item.op.target_id, error=(
                    error_of(item) or RecordError("vendor.rejected",
                                                  "HubSpot answered without this record")))

    def _errors_by(self, data: Mapping[str, Any], key: str) -> dict[str, RecordError]:
        """A 207's errors keyed by the context values (`ids`, `objectWriteTraceId`)."""
        out: dict[str, RecordError] = {}
        for error in data.get("errors") or []:
            if not isinstance(error, Mapping):
                continue
            message = self.context.redactor.text(str(error.get("message") or "rejected"))
            record_error = RecordError("vendor.rejected", message,
                                       field=_property_named(error))
            for value in (error.get("context") or {}).get(key) or []:
                out[str(value)] = record_error
        return out

    def _rejection(self, response: httpx.Response) -> RecordError:
        reason = vendor_reason(response, self.context.redactor) or \
            f"HubSpot answered {response.status_code}"
        try:
            body = response.json()
        except ValueError:
            body = {}
        return RecordError("vendor.rejected", reason,
                           field=_property_named(body) if isinstance(body, Mapping) else None)

    async def _associate(self, obj: str, ops: Sequence[WriteOp],
                         results: list[WriteResult | None]) -> None:
        """Write the `associations` payload field of every op that landed."""
        pairs: dict[str, list[tuple[int, str, str]]] = {}
        for index, op in enumerate(ops):
            links = op.payload.get("associations")
            result = results[index]
            if not isinstance(links, Mapping) or result is None or not result.ok:
                continue
            for to_obj, targets in links.items():
                for target in targets if isinstance(targets, list | tuple) else [targets]:
                    if target not in (None, ""):
                        assert result.target_id is not None
                        pairs.setdefault(to_obj, []).append((index, result.target_id,
                                                             str(target)))
        for to_obj, items in pairs.items():
            for start in range(0, len(items), BATCH_LIMIT):
                chunk = items[start:start + BATCH_LIMIT]
                for index, error in (await self._link(obj, to_obj, chunk)).items():
                    done = results[index]
                    assert done is not None
                    results[index] = WriteResult(done.key, done.target_id, error=error,
                                                 created=done.created)

    async def _link(self, obj: str, to_obj: str, items: list[tuple[int, str, str]]
                    ) -> dict[int, RecordError]:
        """Associate each (from, to) pair; the errors by op index."""
        field = f"associations.{to_obj}"
        if to_obj not in self._catalog.objects and to_obj != "contacts":
            return {index: RecordError("vendor.rejected", f"cannot associate with "
                                       f"{to_obj!r}: not a HubSpot object", field=field)
                    for index, _, _ in items}
        from_type = await self._type(obj)
        to_type = await self._type(to_obj) if to_obj != "contacts" else "contacts"
        type_id = DEFAULT_ASSOCIATION_TYPES.get((obj, to_obj))
        if type_id is not None:
            action = "create"
            types = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]
            inputs = [{"from": {"id": a}, "to": {"id": b}, "types": types}
                      for _, a, b in items]
        else:
            action = "associate/default"  # HubSpot picks the default type for the pair
            inputs = [{"from": {"id": a}, "to": {"id": b}} for _, a, b in items]
        response = await self.session.request(
            "POST", f"/crm/v4/associations/{from_type}/{to_type}/batch/{action}",
            json={"inputs": inputs}, idempotent=True, expected=(400, 404))
        errors: dict[int, RecordError] = {}
        if response.status_code in (400, 404):
            if len(items) == 1:
                reason = vendor_reason(response, self.context.redactor)
                return {items[0][0]: RecordError("vendor.rejected", f"written, but not "
                                                 f"associated: {reason}", field=field)}
            middle = len(items) // 2
            return {**await self._link(obj, to_obj, items[:middle]),
                    **await self._link(obj, to_obj, items[middle:])}
        failed = self._errors_by(response.json(), "ids")
        for index, a, b in items:
            error = failed.get(b) or failed.get(a)
            if error is not None:
                errors[index] = RecordError("vendor.rejected", f"written, but not associated "
                                            f"with {to_obj} {b}: {error.message}", field=field)
        return errors


def _distinct_chunks(items: list[_Pending]) -> list[list[_Pending]]:
    """Batches of at most 100 in which no id value (external value or record id)
    repeats (HubSpot refuses a batch with duplicate ids); a repeat goes to a later
    batch, keeping op order."""
    chunks: list[list[_Pending]] = []
    last: dict[str | None, int] = {}  # value -> the chunk that last took it
    for item in items:
        for n in range(last.get(item.id_value, -1) + 1, len(chunks)):
            if len(chunks[n]) < BATCH_LIMIT:
                break
        else:
            n = len(chunks)
            chunks.append([])
        chunks[n].append(item)
        last[item.id_value] = n
    return chunks


def _property_named(error: Mapping[str, Any]) -> str | None:
    """The property a HubSpot error is about, from its context or its message."""
    context = error.get("context")
    if isinstance(context, Mapping):
        names = context.get("propertyName")
        if isinstance(names, list) and names:
            return str(names[0])
    for detail in error.get("errors") or []:
        if isinstance(detail, Mapping):
            name = _property_named(detail)
            if name:
                return name
    match = _PROPERTY_IN_MESSAGE.search(str(error.get("message") or ""))
    return match.group(1) if match else None

