"""Shared checks every adapter's records must pass: the catalog is the contract.

`assert_conforms(record, info)` fails when a record carries a field its catalog does not
declare (nested objects included), a write-only field, or a value whose Python type does
not match the declared type (dates are `date`, datetimes aware UTC, integers `int`, ...).
None is allowed for any field: vendors leave fields empty.

Usage::

    records = await collect(adapter.read("customers"))
    for record in records:
        assert_conforms(record, adapter.describe().objects["customers"])
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import httpx

from engine.adapters.catalog import ObjectInfo
from engine.sandbox.platform import ManualClock

__all__ = ["assert_conforms", "collect", "conformance_problems"]

T = TypeVar("T")


async def collect(records: AsyncIterator[T], limit: int | None = None) -> list[T]:
    """Drain an async iterator into a list (at most `limit` items)."""
    out: list[T] = []
    async for item in records:
        out.append(item)
        if limit is not None and len(out) >= limit:
            break
    return out


def _type_problem(value: Any, type_name: str) -> str | None:
    if value is None:
        return None
    ok: bool
    if type_name == "string":
        ok = isinstance(value, str)
    elif type_name == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif type_name == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif type_name == "boolean":
        ok = isinstance(value, bool)
    elif type_name == "date":
        ok = isinstance(value, date) and not isinstance(value, datetime)
    elif type_name == "datetime":
        if isinstance(value, datetime) and value.utcoffset() == timedelta(0):
            return None
        return f"expected an aware UTC datetime, got {value!r}"
    elif type_name == "list":
        ok = isinstance(value, list)
    elif type_name == "object":
        ok = isinstance(value, Mapping)
    else:
        return f"unknown catalog type {type_name!r}"
    return None if ok else f"expected {type_name}, got {type(value).__name__} {value!r}"


def conformance_problems(record: Mapping[str, Any], info: ObjectInfo,
                         prefix: str = "") -> list[str]:
    """Every way `record` breaks its catalog entry, as readable lines (empty when fine)."""
    problems: list[str] = []
    for name, value in record.items():
        path = f"{prefix}{name}"
        field = info.fields.get(path)
        if field is None:
            problems.append(f"{path}: not declared in the catalog of {info.name}")
            continue
        if field.write_only:
            problems.append(f"{path}: write-only in the catalog but yielded by a read")
        problem = _type_problem(value, field.type)
        if problem:
            problems.append(f"{path}: {problem}")
            continue
        if field.type == "list" and field.items and value is not None:
            for i, item in enumerate(value):
                item_problem = _type_problem(item, field.items)
                if item_problem:
                    problems.append(f"{path}[{i}]: {item_problem}")
        if field.type == "object" and value is not None:
            problems.extend(conformance_problems(value, info, f"{path}."))
    return problems


def assert_conforms(record: Mapping[str, Any], info: ObjectInfo) -> None:
    problems = conformance_problems(record, info)
    assert not problems, f"{info.name} record does not match its catalog:\n" + "\n".join(
        problems)


class SharedTime:
    """Monotonic time for budgets and retries that moves the sandbox clock along."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.clock.advance(seconds)
        await asyncio.sleep(0)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Forwards to the sandbox app and keeps each request, to see what went on the wire."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return await self.inner.handle_async_request(request)
