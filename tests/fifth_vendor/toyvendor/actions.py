"""Toy Desk automation rules calling us: the request, our answer, the late result.

A rule POSTs a run to `/actions/<integration>/<action>`, signed like webhooks::

    {"run_id": "run_4", "rule": "add_note",
     "ticket": {"id": 3, "subject": "...", ...},      # the ticket the rule ran on
     "params": {"text": "..."}}                       # the rule's parameters

We answer `{"outcome": "done" | "failed" | "running", "values": {...}, "reason": "..."}`
(`reason` only when failed). Toy Desk retries a run with the same `run_id` until it gets
an answer, so that is the idempotency key. A `running` run is finished later with
`POST /api/automation/runs/<run_id>/result` and the same answer shape, sent through the
workflow connection's adapter (`ToyAdapter.report_run`).
"""

from __future__ import annotations

import json
from typing import Any

from engine.adapters.base import ActionExecution, ActionOutcome, InboundRequest
from engine.errors import MalformedRequestError
from toyvendor.signing import HEADER, check

__all__ = ["ToyActions"]

_OUTCOMES = {"succeeded": "done", "failed": "failed", "pending": "running"}


class ToyActions:
    """Toy Desk as an `ActionProtocol`."""

    def verify(self, secret: str, request: InboundRequest) -> str | None:
        return check(secret, request.body, request.headers.get(HEADER.lower()),
                     request.received_at)

    def parse(self, body: bytes) -> ActionExecution:
        try:
            run = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise MalformedRequestError("the body is not JSON") from exc
        if not isinstance(run, dict) or not run.get("run_id"):
            raise MalformedRequestError("a run needs a run_id")
        ticket = run.get("ticket") if isinstance(run.get("ticket"), dict) else {}
        params = run.get("params") if isinstance(run.get("params"), dict) else {}
        return ActionExecution(
            execution_id=str(run["run_id"]), callback_id=str(run["run_id"]),
            object_id=str(ticket.get("id") or ""), object_type="ticket",
            properties=dict(ticket), inputs=dict(params))

    def answer(self, outcome: ActionOutcome) -> dict[str, Any]:
        answer: dict[str, Any] = {"outcome": _OUTCOMES[outcome.state],
                                  "values": dict(outcome.outputs)}
        if outcome.error is not None:
            answer["reason"] = outcome.error
        return answer

    async def complete(self, adapter: Any, execution: ActionExecution,
                       outcome: ActionOutcome) -> None:
        await adapter.report_run(execution.callback_id, self.answer(outcome))
