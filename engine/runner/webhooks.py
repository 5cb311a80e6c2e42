"""POST /webhooks/{integration}/{connection}: verify, persist to the inbox, then answer.

The answer tells the sender whether to try again, so it must be honest:

- 2xx only once every triggering event of the delivery is in the inbox (committed), so
  an acknowledged event is never lost; a duplicate (same event id) is acknowledged and
  not stored twice;
- 4xx only for requests that can never succeed, because HubSpot drops them for good:
  401 bad or stale signature or credentials, 400 not the vendor's shape, 413 too large,
  404 unknown integration/connection or webhooks not configured;
- 503 (with Retry-After) when the inbox cannot be written or is over its bound, so the
  vendor retries later (reliability.md S26).

Verification happens on the raw bytes before any JSON parsing. Events that trigger no
sync (a one-way property changed, an object nobody syncs) are acknowledged and dropped.
Deletions are not stored: a sync re-reads records and has nothing to read (the scheduled
run remains the place where removals are reconciled).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.adapters.base import InboundRequest, WebhookEvent, WebhookSource
from engine.errors import MalformedRequestError
from engine.runner.context import RunnerContext
from engine.spec.environment import MissingEnvironmentError
from engine.spec.model import Connection

__all__ = ["inbound", "inbox_source", "read_body", "receive_webhook", "request_uri"]

log = logging.getLogger(__name__)

def inbox_source(integration: str, connection: str) -> str:
    """The inbox `source` of a connection's events; dedup is per (source, event id)."""
    return f"{integration}/{connection}"


async def read_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None once it exceeds `limit` bytes (read no further)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def request_uri(request: Request, public_url: str | None) -> str:
    """The full URI the sender called (what HubSpot signs), query string included."""
    if not public_url:
        return str(request.url)
    query = request.url.query
    return public_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


def _problem(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def inbound(request: Request, body: bytes, ctx: RunnerContext) -> InboundRequest:
    """The request as the vendor's checks see it: the URI it called, lower-case headers."""
    return InboundRequest(request.method, request_uri(request, ctx.public_url),
                          {k.lower(): v for k, v in request.headers.items()}, body, ctx.clock())


def verify(source: WebhookSource, connection: Connection, secret: str, request: Request,
           body: bytes, ctx: RunnerContext) -> str | None:
    """None if the request is genuine for this connection's vendor, else the reason."""
    return source.verify(secret, inbound(request, body, ctx), connection.webhooks)


async def _store(ctx: RunnerContext, source: str, events: list[WebhookEvent]) -> int:
    """Insert the events (each its own row, keyed by event id); how many were new.

    The events of concurrent deliveries are committed together (group commit, see
    engine/runner/inbox_writer.py): one fsync for many deliveries, and the request is
    answered only once its events are durable.
    """
    flags = await ctx.inbox_writer().put(
        [(source, event.event_id, event.to_bytes()) for event in events])
    return sum(flags)


async def receive_webhook(request: Request) -> Response:
    ctx: RunnerContext = request.app.state.runner
    integration = request.path_params["integration"]
    name = request.path_params["connection"]
    deployment = ctx.deployment  # one snapshot for the whole request
    metrics = ctx.metrics

    def reject(reason: str, status: int, message: str,
               headers: Mapping[str, str] | None = None) -> Response:
        metrics.rejected.labels(integration, name, reason).inc()
        log.warning("webhook refused", extra={"integration": integration, "connection": name,
                                              "status": status, "reason": message})
        return _problem(status, message, headers)

    connection = deployment.connection(integration, name)
    source = deployment.webhook_source(integration, name)
    if connection is None or source is None:
        return reject("unknown", 404, "no webhook endpoint for this integration and connection")
    body = await read_body(request, ctx.max_body_bytes)
    if body is None:
        return reject("too_large", 413, f"the body exceeds {ctx.max_body_bytes} bytes")
    try:
        secret = deployment.webhook_secret(connection)
    except MissingEnvironmentError as exc:
        log.error("webhooks of %s/%s cannot be verified: %s", integration, name, exc)
        return reject("unavailable", 503, "the receiver is not configured yet",
                      {"Retry-After": "60"})
    if secret is None:
        return reject("unknown", 404, "webhooks are not configured for this connection")
    reason = verify(source, connection, secret, request, body, ctx)
    if reason is not None:
        return reject("signature", 401, reason)
    try:
        events = source.parse(body)
    except MalformedRequestError as exc:
        return reject("malformed", 400, str(exc))

    metrics.events.labels(integration, name, "received").inc(len(events))
    wanted = [e for e in events if deployment.triggered(integration, name, e)]
    ignored = len(events) - len(wanted)
    if ignored:
        metrics.events.labels(integration, name, "ignored").inc(ignored)
    if not wanted:
        return JSONResponse({"stored": 0, "duplicates": 0, "ignored": ignored})
    depth = ctx.inbox_depth_nowait()
    if depth is not None and depth >= ctx.max_inbox_depth:
        return reject("overloaded", 503, "the inbox is full; retry later", {"Retry-After": "60"})
    try:
        stored = await _store(ctx, inbox_source(integration, name), wanted)
    except Exception as exc:
        log.error("webhook events could not be stored: %s", type(exc).__name__,
                  extra={"integration": integration, "connection": name})
        return reject("unavailable", 503, "the events could not be stored; retry later",
                      {"Retry-After": "30"})
    duplicates = len(wanted) - stored
    metrics.events.labels(integration, name, "stored").inc(stored)
    if duplicates:
        metrics.events.labels(integration, name, "duplicate").inc(duplicates)
    ctx.note_stored(stored)
    if stored:
        ctx.wake_inbox()
    return JSONResponse({"stored": stored, "duplicates": duplicates, "ignored": ignored})
