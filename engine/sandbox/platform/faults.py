"""Failure knobs (latency, 5xx, 429 bursts, timeouts, drops, webhook duplicates and
reordering), seeded so the same configuration replays the same failures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar


class FaultsError(ValueError):
    """A fault specification could not be understood; the message says which part."""


@dataclass(frozen=True)
class Faults:
    """Failure knobs, all off by default. Seeded so a run with the same faults replays.

    Rates are probabilities per request (0..1). Frozen: change faults through
    `Sandbox.set_faults` (or `PUT /_sandbox/faults`) so the seeded state restarts.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0  # answered 500/502/503 in the vendor's 5xx envelope
    burst_429: int = 0  # the next N vendor requests are answered 429
    timeout_rate: float = 0.0  # processed, but answered only after timeout_seconds
    timeout_seconds: float = 35.0
    drop_rate: float = 0.0  # processed, headers sent, connection dropped
    webhook_duplicate_rate: float = 0.0
    webhook_reorder: bool = False
    webhook_delay_ms: float = 0.0
    seed: int = 0

    _ALIASES: ClassVar[dict[str, str]] = {
        "latency": "latency_ms",
        "errors": "error_rate",
        "timeouts": "timeout_rate",
        "timeout": "timeout_seconds",
        "drops": "drop_rate",
        "duplicate_rate": "webhook_duplicate_rate",
        "reorder": "webhook_reorder",
        "webhook_delay": "webhook_delay_ms",
    }
    _RATES: ClassVar[frozenset[str]] = frozenset(
        {"error_rate", "timeout_rate", "drop_rate", "webhook_duplicate_rate"}
    )

    def __post_init__(self) -> None:
        for name in self._RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise FaultsError(f"fault {name!r} has value {value!r}; expected a rate 0..1")
        for name in ("latency_ms", "timeout_seconds", "webhook_delay_ms", "burst_429"):
            if getattr(self, name) < 0:
                raise FaultsError(f"fault {name!r} has value {getattr(self, name)!r}; "
                                  "expected a number >= 0")

    @property
    def http_active(self) -> bool:
        """True when any request-side knob is on (the middleware's fast path test)."""
        return bool(self.latency_ms or self.error_rate or self.burst_429 or self.timeout_rate
                    or self.drop_rate)

    @classmethod
    def parse(cls, text: str) -> Faults:
        """`"latency=50ms,error_rate=0.1,burst_429=5,drop_rate=0.01,seed=7"` -> Faults.

        Durations take `ms` or `s` suffixes (bare numbers are the field's unit);
        booleans take true/false/yes/no/1/0. An empty string means no faults.
        """
        values: dict[str, Any] = {}
        known = {f.name: f for f in fields(cls)}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            if "=" not in part:
                if part in ("webhook_reorder", "reorder"):
                    values["webhook_reorder"] = True
                    continue
                raise FaultsError(f"fault {part!r} needs a value, e.g. {part}=0.1")
            key, _, raw = (s.strip() for s in part.partition("="))
            name = cls._ALIASES.get(key, key)
            if name not in known:
                raise FaultsError(
                    f"unknown fault {key!r}; known faults: {', '.join(sorted(known))}"
                )
            values[name] = _parse_fault_value(name, raw)
        return cls(**values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """Build from a JSON object (the `PUT /_sandbox/faults` body); unknown keys fail."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            name = cls._ALIASES.get(key, key)
            if name not in known:
                raise FaultsError(
                    f"unknown fault {key!r}; known faults: {', '.join(sorted(known))}"
                )
            values[name] = (_parse_fault_value(name, value) if isinstance(value, str)
                            else _coerce_fault(name, value))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _parse_fault_value(name: str, raw: str) -> Any:
    text = raw.strip().lower()
    try:
        if name == "webhook_reorder":
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if name in ("burst_429", "seed"):
            return int(text)
        if name in ("latency_ms", "webhook_delay_ms", "timeout_seconds"):
            scale_ms = 1.0 if name != "timeout_seconds" else 0.001
            if text.endswith("ms"):
                return float(text[:-2]) * scale_ms
            if text.endswith("s"):
                return float(text[:-1]) * 1000.0 * scale_ms
            return float(text)
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        return float(text)
    except ValueError:
        expected = {
            "webhook_reorder": "true or false",
            "burst_429": "a whole number",
            "seed": "a whole number",
            "latency_ms": "a duration such as 50ms or 0.5s",
            "webhook_delay_ms": "a duration such as 50ms or 0.5s",
            "timeout_seconds": "a duration such as 35s or 500ms",
        }.get(name, "a rate such as 0.1 or 10%")
        raise FaultsError(f"fault {name!r} has value {raw!r}; expected {expected}") from None


def _coerce_fault(name: str, value: Any) -> Any:
    if name == "webhook_reorder":
        if not isinstance(value, bool):
            raise FaultsError(f"fault {name!r} has value {value!r}; expected true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultsError(f"fault {name!r} has value {value!r}; expected a number")
    if name in ("burst_429", "seed"):
        if value != int(value):
            raise FaultsError(f"fault {name!r} has value {value!r}; expected a whole number")
        return int(value)
    return float(value)
