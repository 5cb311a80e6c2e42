"""The safeguards' part of the state store contract (circuit breakers, write counts and
quarantine of two-way records), run against every store (see conftest `backend`)."""

from __future__ import annotations

from datetime import timedelta

from state_support import Backend, at

from engine.state.base import BreakerRecord

INTEG, PAIR = "kleer-hubspot", "companies+companies_back"


def test_breakers_are_saved_shared_and_reset(backend: Backend) -> None:
    store = backend.store()
    assert store.breakers() == []
    opened = BreakerRecord(INTEG, "hubspot", "POST /crm/v3/objects/companies", "open", 5,
                           at(10), at(70), "HTTP 503")
    store.save_breakers([opened, BreakerRecord(INTEG, "kleer", "GET /v1/users", "closed", 2)],
                        at=at(10))
    other = backend.store()  # another process sees both
    assert other.breakers() == [
        opened, BreakerRecord(INTEG, "kleer", "GET /v1/users", "closed", 2)]
    # A closed breaker with no failures is nothing to remember.
    store.save_breakers([BreakerRecord(INTEG, "kleer", "GET /v1/users", "closed", 0)],
                        at=at(20))
    assert [b.system for b in other.breakers()] == ["hubspot"]
    assert other.reset_breakers("other-integration") == 0
    assert other.reset_breakers(INTEG, "hubspot") == 1
    assert store.breakers() == []


def test_a_record_written_too_often_is_quarantined_until_released(backend: Backend) -> None:
    store = backend.store()
    window = timedelta(hours=1)

    def write(record: str, key: str, when: float) -> set[str]:
        return store.count_writes(INTEG, PAIR, {record: key}, at=at(when), window=window,
                                  max_writes=3)

    for second in range(3):
        assert write("kleer.clients#7", "companies=7", second) == set()
    assert write("kleer.clients#8", "companies=8", 4) == set()  # another record: its own count
    assert write("kleer.clients#7", "companies_back=H9", 5) == {"kleer.clients#7"}
    assert write("kleer.clients#7", "companies=7", 6) == {"kleer.clients#7"}  # stays so
    other = backend.store()
    [held] = other.quarantined(INTEG)
    assert (held.record, held.writes, held.pair) == ("kleer.clients#7", 4, PAIR)
    assert held.keys == "companies=7, companies_back=H9"
    assert held.quarantined_at == at(5)
    assert other.quarantined("another") == []

    assert other.release_quarantine(INTEG, "kleer.clients#7", at=at(100)) is True
    assert other.release_quarantine(INTEG, "kleer.clients#7", at=at(100)) is False
    assert store.quarantined() == []
    assert write("kleer.clients#7", "companies=7", 101) == set()  # counted afresh

    # Writes spread wider than the window never add up.
    for hour in range(1, 8):
        assert write("kleer.clients#8", "companies=8", hour * 3700) == set()
