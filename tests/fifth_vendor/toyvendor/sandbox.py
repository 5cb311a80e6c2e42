"""A local Toy Desk: the REST API `ToyAdapter` speaks, signed webhooks and automation runs.

It stands on `engine.sandbox.platform` like the built-in simulators (faults, clock,
request log, `/_sandbox/webhooks/register`) and is found by `specsync sandbox up`
through the `specsync.sandboxes` entry point group.

The API (see toyvendor/adapter.py for the client side):

- `GET /api/me`; `GET /api/{kind}` with `page`, `per_page` (<= 100), `changed_since`,
  `external_ref` (repeatable); `GET|PATCH /api/{kind}/{id}`; `POST /api/{kind}`, for
  kind `tickets` or `notes`. Every call needs `Authorization: Bearer <api_key>`.
- Writes are validated (unknown or read-only fields, types, status, priority 1-4, a
  note's ticket, unique external_ref) and refused with 422
  `{"error": {"message", "field"}}`.
- `POST /api/automation/runs/{run_id}/result`: an integration finishing a run late.

Every change, through the API or the control calls, is delivered to each registered
webhook target as `{"delivery", "events": [{"id", "topic", "data": {"id"}, "occurred_at"}]}`
signed with `Toy-Signature` (toyvendor/signing.py).

Control calls, as a Toy Desk user would act in its UI:

- `GET|PATCH /_sandbox/records/{kind}/{id}`: look at or edit a record (sends a webhook);
- `POST /_sandbox/automations/fire` `{"url", "ticket_id", "params", "rule"}`: run an
  automation rule on a ticket, i.e. POST a signed run to `url`; answers
  `{"run_id", "status", "answer"}` with what the receiver said;
- `GET /_sandbox/automations/runs`: the late results integrations reported.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.platform import Collection, Sandbox, SandboxConfig, isoformat_z
from engine.sandbox.platform.seed import ascii_fold, company_for, datetime_between, fast_rng
from engine.values import parse_datetime
from toyvendor.signing import HEADER, sign

__all__ = ["ToyCredentials", "ToySandbox"]

KINDS = ("tickets", "notes")
TOPIC = {"tickets": "ticket", "notes": "note"}
# Writable fields and their JSON types; the rest (id, created_at, updated_at) are read-only.
WRITABLE: dict[str, dict[str, type | tuple[type, ...]]] = {
    "tickets": {"external_ref": str, "subject": str, "status": str, "priority": int,
                "requester_email": str, "tags": list},
    "notes": {"external_ref": str, "ticket_id": int, "body": str, "author": str},
}
REQUIRED = {"tickets": ("subject",), "notes": ("ticket_id", "body")}
STATUSES = ("open", "pending", "closed")
SUBJECTS = ("Invoice shows the wrong VAT", "Cannot log in", "Export to Excel fails",
            "Please add a user", "Report is empty", "Password reset mail never arrives")


@dataclass(frozen=True)
class ToyCredentials:
    """What a spec's toy connection needs to reach the sandbox (public defaults)."""

    api_key: str = "toy-sandbox-api-key"
    webhook_secret: str = field(default="toy-sandbox-webhook-secret", repr=False)

    def environment(self, url: str) -> list[tuple[str, str]]:
        return [("TOY_URL", url), ("TOY_API_KEY", self.api_key),
                ("TOY_WEBHOOK_SECRET", self.webhook_secret)]


class _Refused(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    def response(self) -> Response:
        return JSONResponse({"error": {"message": self.message, "field": self.field}},
                            status_code=self.status)


def _ticket(seed: int, i: int) -> dict[str, Any]:
    rng = fast_rng(seed, "toy-ticket", i)
    company = company_for(seed, i)
    created = datetime_between(rng)
    contact = company.contact
    return {
        "id": i + 1, "external_ref": None,
        "subject": f"{rng.choice(SUBJECTS)} ({company.name})",
        "status": rng.choice(("open", "open", "pending", "closed")),
        "priority": rng.randint(1, 4),
        # People type addresses as they like; an integration may want them lower case.
        "requester_email": ascii_fold(f"{contact.first_name}.{contact.surname.split()[-1]}"
                                      f"@{company.domain}"),
        "tags": [company.category],
        "created_at": isoformat_z(created),
        "updated_at": isoformat_z(created + timedelta(hours=rng.randint(0, 500))),
    }


def _note(seed: int, i: int, tickets: int) -> dict[str, Any]:
    rng = fast_rng(seed, "toy-note", i)
    created = datetime_between(rng)
    return {"id": i + 1, "external_ref": None, "ticket_id": i % tickets + 1,
            "body": rng.choice(("Called the customer.", "Waiting for a screenshot.",
                                "Fixed in the next release.")),
            "author": "support", "created_at": isoformat_z(created),
            "updated_at": isoformat_z(created)}


class ToySandbox(Sandbox):
    """Toy Desk on loopback: `config.records` tickets and half as many notes."""

    vendor: ClassVar[str] = "toy"
    credentials_type = ToyCredentials
    curl_example: ClassVar[str] = ('curl -s -H "Authorization: Bearer $TOY_API_KEY" '
                                   '"$TOY_URL/api/tickets?per_page=2"')

    def __init__(self, config: SandboxConfig | None = None,
                 credentials: ToyCredentials | None = None) -> None:
        super().__init__(config, credentials)
        seed, size = self.config.seed, self.config.records
        sizes = {"tickets": size, "notes": size // 2 if size else 0}
        factories = {"tickets": lambda i: _ticket(seed, i),
                     "notes": lambda i: _note(seed, i, size)}
        self.records = {kind: Collection(
            kind, key="id", size=sizes[kind], factory=factories[kind], clock=self.clock,
            index_of=lambda record_id: record_id - 1 if isinstance(record_id, int) else None,
            stamp=self._stamp) for kind in KINDS}
        self._next_id = {kind: itertools.count(sizes[kind] + 1) for kind in KINDS}
        self._event_ids = itertools.count(1)
        self._run_ids = itertools.count(1)
        self.run_results: dict[str, Any] = {}  # automation results reported back, by run

    @staticmethod
    def _stamp(record: dict[str, Any], now: datetime, previous: dict[str, Any] | None) -> None:
        record["updated_at"] = isoformat_z(now)
        if previous is None:
            record.setdefault("created_at", isoformat_z(now))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/me", self._me, methods=["GET"]),
            Route("/api/automation/runs/{run_id}/result", self._run_result, methods=["POST"]),
            Route("/api/{kind}", self._collection, methods=["GET", "POST"]),
            Route("/api/{kind}/{id:int}", self._item, methods=["GET", "PATCH"]),
        ]

    def control_routes(self) -> list[BaseRoute]:
        return [
            Route("/records/{kind}/{id:int}", self._control_record, methods=["GET", "PATCH"]),
            Route("/automations/fire", self._control_fire, methods=["POST"]),
            Route("/automations/runs", self._control_runs, methods=["GET"]),
        ]

    def error_response(self, status: int, message: str) -> Response:
        return _Refused(status, message).response()

    def health(self) -> dict[str, Any]:
        return {kind: len(records) for kind, records in self.records.items()}

    # ------------------------------------------------------------------ helpers

    def _authorize(self, request: Request) -> None:
        if request.headers.get("authorization") != f"Bearer {self.credentials.api_key}":
            raise _Refused(401, "missing or wrong API key")

    def _collection_of(self, request: Request) -> tuple[str, Collection]:
        kind = request.path_params["kind"]
        if kind not in self.records:
            raise _Refused(404, f"no such resource: {kind}")
        return kind, self.records[kind]

    def _found(self, collection: Collection, record_id: int) -> dict[str, Any]:
        record = collection.get(record_id)
        if record is None:
            raise _Refused(404, f"no {collection.name} {record_id}")
        return record

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _Refused(400, "expected a JSON object")
        return body

    def _validate(self, kind: str, changes: dict[str, Any], merged: dict[str, Any]) -> None:
        fields = WRITABLE[kind]
        for name, value in changes.items():
            if name not in fields:
                raise _Refused(422, f"{name} is not a writable field of {kind}", name)
            if value is not None and (not isinstance(value, fields[name])
                                      or isinstance(value, bool)):
                raise _Refused(422, f"{name} must be a {fields[name].__name__}", name)
        for name in REQUIRED[kind]:
            if merged.get(name) in (None, ""):
                raise _Refused(422, f"{name} is required", name)
        if kind == "tickets" and merged.get("status") not in (None, *STATUSES):
            raise _Refused(422, f"status must be one of {', '.join(STATUSES)}", "status")
        if kind == "tickets" and merged.get("priority") not in (None, 1, 2, 3, 4):
            raise _Refused(422, "priority must be 1 (low) to 4 (urgent)", "priority")
        if kind == "notes" and merged["ticket_id"] not in self.records["tickets"]:
            raise _Refused(422, f"there is no ticket {merged['ticket_id']}", "ticket_id")
        ref = merged.get("external_ref")
        if ref and changes.get("external_ref") and any(
                r["external_ref"] == ref and r["id"] != merged.get("id")
                for r in self.records[kind]):
            raise _Refused(422, f"external_ref {ref} is already used", "external_ref")

    def _notify(self, kind: str, verb: str, record: dict[str, Any]) -> None:
        """Deliver one signed event about `record` to every registered target."""
        number = next(self._event_ids)
        body = json.dumps({"delivery": f"dlv_{number}", "events": [{
            "id": f"evt_{number}", "topic": f"{TOPIC[kind]}.{verb}",
            "data": {"id": record["id"]}, "occurred_at": record["updated_at"]}]}).encode()
        self.webhooks.broadcast(body, self._signed)

    def _signed(self, url: str, body: bytes) -> dict[str, str]:
        moment = int(self.clock.now().timestamp())
        return {HEADER: sign(self.credentials.webhook_secret, body, moment)}

    def _save(self, kind: str, current: dict[str, Any] | None,
              changes: dict[str, Any]) -> dict[str, Any]:
        merged = {**(current or {}), **changes}
        self._validate(kind, changes, merged)
        if current is None:
            merged = {**dict.fromkeys(WRITABLE[kind]), **merged,
                      "id": next(self._next_id[kind])}
        stored = self.records[kind].put(merged)
        self._notify(kind, "created" if current is None else "updated", stored)
        return stored

    # ------------------------------------------------------------------ the API

    async def _me(self, request: Request) -> Response:
        try:
            self._authorize(request)
        except _Refused as refused:
            return refused.response()
        return JSONResponse({"workspace": "toy-sandbox"})

    async def _collection(self, request: Request) -> Response:
        try:
            self._authorize(request)
            kind, collection = self._collection_of(request)
            if request.method == "POST":
                return JSONResponse(self._save(kind, None, await self._body(request)),
                                    status_code=201)
            return JSONResponse(self._list(collection, request))
        except _Refused as refused:
            return refused.response()

    def _list(self, collection: Collection, request: Request) -> dict[str, Any]:
        query = request.query_params
        try:
            page = max(1, int(query.get("page", "1")))
            per_page = min(100, max(1, int(query.get("per_page", "25"))))
            since = parse_datetime(query["changed_since"]) if "changed_since" in query \
                else None
        except ValueError as exc:
            raise _Refused(400, f"bad query: {exc}") from None
        refs = set(query.getlist("external_ref"))
        records = [r for r in collection if not refs or r.get("external_ref") in refs]
        if since is not None:
            records = sorted((r for r in records if parse_datetime(r["updated_at"]) >= since),
                             key=lambda r: (parse_datetime(r["updated_at"]), r["id"]))
        items = records[(page - 1) * per_page:page * per_page]
        more = page * per_page < len(records)
        return {"items": items, "total": len(records), "next_page": page + 1 if more else None}

    async def _item(self, request: Request) -> Response:
        try:
            self._authorize(request)
            kind, collection = self._collection_of(request)
            current = self._found(collection, request.path_params["id"])
            if request.method == "GET":
                return JSONResponse(current)
            return JSONResponse(self._save(kind, current, await self._body(request)))
        except _Refused as refused:
            return refused.response()

    async def _run_result(self, request: Request) -> Response:
        try:
            self._authorize(request)
            self.run_results[request.path_params["run_id"]] = await self._body(request)
        except _Refused as refused:
            return refused.response()
        return Response(status_code=204)

    # ------------------------------------------------------------------ control calls

    async def _control_record(self, request: Request) -> Response:
        try:
            kind, collection = self._collection_of(request)
            current = self._found(collection, request.path_params["id"])
            if request.method == "GET":
                return JSONResponse(current)
            return JSONResponse(self._save(kind, current, await self._body(request)))
        except _Refused as refused:
            return refused.response()

    async def _control_fire(self, request: Request) -> Response:
        try:
            body = await self._body(request)
            ticket = self._found(self.records["tickets"], int(body["ticket_id"]))
            url = str(body["url"])
        except (KeyError, TypeError, ValueError):
            return _Refused(400, "expected {\"url\", \"ticket_id\", \"params\"}").response()
        except _Refused as refused:
            return refused.response()
        run_id = f"run_{next(self._run_ids)}"
        run = json.dumps({"run_id": run_id, "rule": body.get("rule", "rule"),
                          "ticket": ticket, "params": body.get("params") or {}}).encode()
        headers = {"content-type": "application/json", **self._signed(url, run)}
        client = self.config.webhook_client or httpx.AsyncClient(timeout=30)
        try:
            answer = await client.post(url, content=run, headers=headers)
        finally:
            if client is not self.config.webhook_client:
                await client.aclose()
        try:
            said: Any = answer.json()
        except ValueError:
            said = answer.text
        return JSONResponse({"run_id": run_id, "status": answer.status_code, "answer": said})

    async def _control_runs(self, request: Request) -> Response:
        return JSONResponse({"runs": self.run_results})
