"""Payroll: contracts (`payroll-user-readable`), schedules and per-day employment rates.

- `GET /payroll/user`, `GET /payroll/user/{userId}` (404 without a contract; najlen
  restclient.py:49, Aboard KleerService.cs), `POST /payroll/user/{userId}` (the
  `payroll-user-writable` elements sent; creates the contract when there is none, which
  then needs `ssn` and `employment-start-date`, assumed);
- `GET /payroll/user/{userId}/schedule/{from}/to/{to}`: one
  `payroll-user-schedule-metadata` per day (toki2 client.rs:182), at most 366 days
  (assumed);
- `GET /payroll/schedule` (`payroll-schedules-readable`: `fixed-schedules` and
  `rolling-schedules` arrays) and `GET /payroll/schedule/{id}` (`payroll-schedule-
  readable`: one of `fixed-schedule` / `rolling-schedule`): both paths assumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from engine.sandbox.kleer import seed
from engine.sandbox.kleer.invoices import parse_date
from engine.sandbox.kleer.records import SCHEDULE_IDS
from engine.sandbox.kleer.render import Fail, Reply

__all__ = ["schedule", "schedule_days", "schedules"]

MAX_SCHEDULE_DAYS = 366

Record = dict[str, Any]


def schedules() -> Reply:
    return Reply("payroll-schedules-readable",
                 {"fixed-schedules": seed.SCHEDULES, "rolling-schedules": []})


def schedule(schedule_id: int) -> Reply:
    found = SCHEDULE_IDS.get(schedule_id)
    if found is None:
        raise Fail(404, f"Schedule {schedule_id} not found")
    return Reply("payroll-schedule-readable", {"fixed-schedule": found})


def schedule_days(contract: Record, start_text: str, end_text: str) -> Reply:
    start = parse_date("from", start_text)
    end = parse_date("to", end_text)
    if end < start or (end - start).days >= MAX_SCHEDULE_DAYS:
        raise Fail(400, f"The period must run forwards and span at most "
                        f"{MAX_SCHEDULE_DAYS} days")
    return Reply("payroll-user-schedule-metadatas",
                 {"payroll-user-schedule-metadatas": list(_days(contract, start, end))})


def _days(contract: Record, start: date, end: date) -> Iterator[Record]:
    employed_from = contract.get("employment-start-date", "")
    employed_to = contract.get("employment-end-date") or "9999-12-31"
    day = start
    while day <= end:
        text = day.isoformat()
        level, hours = 0.0, 0.0
        if employed_from <= text <= employed_to:
            for item in contract.get("schedules", []):
                if item.get("start-date", "") <= text and (not item.get("end-date")
                                                           or text <= item["end-date"]):
                    found = SCHEDULE_IDS.get(item["schedule"]["id"])
                    if found is not None:
                        level = found["level-of-employment"]
                        if day.weekday() < found["days-per-week"]:
                            hours = found["hours-per-week"] / found["days-per-week"]
        yield {"date": text, "level-of-employment": level, "gross-hours": hours,
               "net-hours": hours, "actual-hours": hours}
        day += timedelta(days=1)
