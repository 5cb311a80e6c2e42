"""What the sync engine remembers between runs, behind one small interface.

The engine reads, maps, matches and writes; the state store is its memory: ID links
with the hash last written, delta cursors, run history, per-record failures, the
webhook inbox, leases with fencing epochs, action idempotency and small adapter
metadata. Everything a sync owns is scoped by (integration, sync).

The interface is synchronous on purpose: it is called once per batch of ~100
records, an embedded SQLite call takes microseconds, and a sync API keeps the
SQLite and PostgreSQL implementations simple and obviously transactional. Async
code does not call it on its event loop (a commit's fsync, a PostgreSQL round trip
would hold every other task up): it awaits `AsyncStateStore` (asyncstore.py), which
runs the same calls in order on a thread of its own.

The module is long because the whole protocol is here in one place, each method with
what it promises, so both stores can be checked against one text.

Times are `datetime`s passed in by the caller (inject the clock); aware values are
used as given, naive ones are taken as local time. Values read back are aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from engine.state.recordings import RecordedRead, RecordedRun

__all__ = [
    "ActionRecord",
    "ActionStatus",
    "AuditEntry",
    "BatchCommit",
    "BreakerRecord",
    "Conflict",
    "CreatedValues",
    "FailedRecord",
    "FieldBase",
    "InboxEvent",
    "Incident",
    "LeaseToken",
    "Link",
    "LinkOrigin",
    "LinkState",
    "QuarantinedRecord",
    "RecordFailure",
    "Run",
    "RunOutcome",
    "RunStatus",
    "StateStore",
    "Sweep",
    "SyncPause",
    "sync_lease_name",
]

LinkOrigin = Literal["created", "adopted", "action", "linked"]
RunOutcome = Literal["success", "partial", "failed", "interrupted"]
RunStatus = Literal["running", "success", "partial", "failed", "interrupted"]
ActionStatus = Literal["pending", "succeeded", "failed"]

LINK_ORIGINS: frozenset[str] = frozenset({"created", "adopted", "action", "linked"})
RUN_OUTCOMES: frozenset[str] = frozenset({"success", "partial", "failed", "interrupted"})
ACTION_STATUSES: frozenset[str] = frozenset({"pending", "succeeded", "failed"})


def sync_lease_name(integration: str, sync: str) -> str:
    """The lease that makes one runner the single writer of a sync.

    `recover_interrupted` uses the same name to tell a live run from a dead one, so
    runners should take exactly this lease around a run.
    """
    return f"sync:{integration}/{sync}"


@dataclass(frozen=True)
class Link:
    """A source record's key linked to the target record it was written to.

    `hash` is the hash of what was last written, so an unchanged record is skipped.
    `origin` says how the link came to be: we created the target, adopted an existing
    one found by external id, a workflow action made it, or it was linked by hand.
    `updated_at` may be left None when committing: the batch's time is used.
    """

    source_key: str
    target_id: str
    hash: str
    origin: LinkOrigin = "created"
    active: bool = True
    updated_at: datetime | None = None
    #: The source record's hash (with the sync's fingerprint) when last decided: the
    #: same record again is skipped without mapping (engine/sync/decide.py).
    source_hash: str | None = None

    @classmethod
    def of_row(cls, source_key: str, target_id: str, hash: str, origin: LinkOrigin,
               active: bool, updated_at: datetime | None, source_hash: str | None) -> Link:
        """A link read from a store, for the hot path: a no-change reconcile reads one per
        record, and filling the instance dict directly costs half of `__init__`."""
        link = object.__new__(cls)
        link.__dict__.update(source_key=source_key, target_id=target_id, hash=hash,
                             origin=origin, active=active, updated_at=updated_at,
                             source_hash=source_hash)
        return link

    @classmethod
    def of_state(cls, state: LinkState) -> Link:
        """The link behind a `LinkState`, for the records that need more than a skip
        (`updated_at` is not in a state: None, the batch's time when committed)."""
        return cls.of_row(state[0], state[1], state[2], state[5], bool(state[3]), None,
                          state[4])


#: A link as the no-change path reads it, the store's row as it comes:
#: (source_key, target_id, hash, active, source_hash, origin). A plain tuple costs
#: nothing to build; `Link.of_state` makes the object where one is needed.
LinkState = tuple[str, str, str, Any, "str | None", LinkOrigin]


@dataclass(frozen=True)
class FailedRecord:
    """A per-record failure to record in a batch (message already redacted by the caller)."""

    source_key: str
    code: str
    message: str


@dataclass(frozen=True)
class RecordFailure:
    """A record that keeps failing: retried on every run until it is written."""

    source_key: str
    code: str
    message: str
    attempts: int
    first_seen: datetime
    last_seen: datetime
    run_id: int | None
    integration: str = ""
    sync: str = ""
    # An operator acknowledged it (the console's "resolve"): still retried every run, no
    # longer counted towards alerts; a failure with another code clears the mark.
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None


@dataclass(frozen=True)
class BreakerRecord:
    """A circuit breaker of one (system, endpoint), as last saved (reliability.md S15)."""

    integration: str
    system: str
    endpoint: str  # "METHOD /path/{id}": ids left out, never a record's data
    state: Literal["closed", "open", "half-open"]
    failures: int = 0
    opened_at: datetime | None = None
    retry_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class QuarantinedRecord:
    """A two-way record the write-rate breaker stopped writing (reliability.md S27)."""

    integration: str
    pair: str  # the two syncs, "a+b"
    record: str  # "connection.object#id" on the pair's first side
    writes: int
    window_start: datetime
    quarantined_at: datetime
    keys: str  # the syncs' keys of the record, for people: "a=K1, b=K2"


@dataclass(frozen=True)
class LeaseToken:
    """Proof of holding a lease; `epoch` is the fencing token checked at every commit."""

    name: str
    holder: str
    epoch: int


@dataclass(frozen=True)
class CreatedValues:
    """The fields a target sets at creation only, as a record was created with them, and
    a later source change to them the target cannot take (`held`: field -> [as created,
    as the source has it now]; None while the source agrees). Plan and status report
    held changes: a target that cannot change a field must not make a change vanish."""

    source_key: str
    created: Mapping[str, Any]
    held: Mapping[str, tuple[Any, Any]] | None = None
    held_since: datetime | None = None
    integration: str = ""
    sync: str = ""


@dataclass(frozen=True)
class FieldBase:
    """What a system record's two-way fields last agreed on with the other side: field
    -> hash of the value (engine/sync/merge.py). `record_id` None: the record a create
    in the same batch made (filled in once its id is known)."""

    object: str  # "connection.object"
    record_id: str | None
    hashes: Mapping[str, str]


@dataclass(frozen=True)
class Conflict:
    """A two-way field both systems changed since the last sync (reliability.md S28):
    both values as JSON text with personal data masked, and which system kept its own."""

    integration: str
    sync: str  # the sync that carried the winning value
    source_key: str
    field: str  # the target field of that sync
    source_value: str
    target_value: str
    winner: str  # the system whose value was kept ("kleer", "hubspot", ...)
    policy: str  # source_wins | target_wins | newest
    at: datetime
    run_id: int | None = None
    id: int | None = None  # given by the store


@dataclass(frozen=True)
class BatchCommit:
    """Everything one batch changes, committed in ONE transaction.

    Links are upserted with their hashes; failures of linked and `resolved` keys are
    cleared; `failures` are recorded (attempts incremented on repeat; a key both
    linked and failing in one batch stays failing); the cursor moves if given. With
    a `lease`, the commit is refused with StateError (and nothing is written) unless
    that lease is still held with that epoch.
    """

    integration: str
    sync: str
    at: datetime
    links: Sequence[Link] = ()
    failures: Sequence[FailedRecord] = ()
    resolved: Sequence[str] = ()
    cursor: str | None = None
    lease: LeaseToken | None = None
    run_id: int | None = None
    created: Sequence[CreatedValues] = ()  # upserted; `held_since` kept while still held
    # Keys a full read listed, marked with its `sweep` (after the links are upserted):
    # engine/sync/source_deletes.py finds the linked keys a whole pass did not list.
    seen: Sequence[str] = ()
    sweep: int | None = None
    bases: Sequence[FieldBase] = ()  # merged into what each record's fields agreed on
    conflicts: Sequence[Conflict] = ()  # appended
    # (sync, target id): those links' hashes are cleared, so their next run looks again
    stale: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class Sweep:
    """The last reconcile pass that read a sync's whole source listing (reliability.md
    S12): when it began and ended, and how many active links it did not see that
    nothing wrote since it began (records deleted in the source)."""

    sweep: int  # the id of the run that began it
    started: datetime
    finished: datetime
    unseen: int


@dataclass(frozen=True)
class Run:
    """One execution of a sync, traceable to the spec (hash, git commit) that made it."""

    id: int
    integration: str
    sync: str
    status: RunStatus
    spec_hash: str
    git_commit: str | None
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def duration(self) -> timedelta | None:
        return None if self.finished_at is None else self.finished_at - self.started_at


@dataclass(frozen=True)
class InboxEvent:
    """A received webhook event, persisted before the sender was answered."""

    id: int
    source: str
    event_id: str
    payload: bytes
    received_at: datetime
    attempts: int
    last_error: str | None
    claimed_by: str | None = None
    lease_until: datetime | None = None


@dataclass(frozen=True)
class ActionRecord:
    """The idempotency record of a workflow action.

    `fresh` is True only for the caller that created (or took over a stale) claim:
    that caller performs the action; everyone else reports `status`/`result`.
    """

    key: str
    status: ActionStatus
    result: Mapping[str, object] | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    fresh: bool = False


@dataclass(frozen=True)
class SyncPause:
    """A sync an operator paused: no schedule, webhook or console run starts it."""

    integration: str
    sync: str
    by: str
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One operator action, kept for good (the audit log is append-only).

    `actor` is who did it (the name given at login), `role` the role they held,
    `outcome` what came of it ("done", "refused: ...").
    """

    at: datetime
    actor: str
    role: str
    action: str
    outcome: str
    integration: str | None = None
    sync: str | None = None
    source_key: str | None = None
    detail: str | None = None
    id: int | None = None  # given by the store


@dataclass(frozen=True)
class Incident:
    """An alert condition from the moment it holds until it clears (one notification at
    each end). `key` names the condition; one incident per key is open at a time."""

    id: int
    key: str
    kind: str
    integration: str
    sync: str
    summary: str
    opened_at: datetime
    cleared_at: datetime | None = None
    open_sent_at: datetime | None = None
    clear_sent_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None

    @property
    def pending_phase(self) -> Literal["open", "clear"] | None:
        """The notification still owed: the opening first, then the clearing."""
        if self.open_sent_at is None:
            return "open"
        if self.cleared_at is not None and self.clear_sent_at is None:
            return "clear"
        return None


@runtime_checkable
class StateStore(Protocol):
    """The state store seam: SqliteStateStore (embedded) and PostgresStateStore (shared)."""

    # -- ID links ---------------------------------------------------------------
    def get_links(self, integration: str, sync: str, keys: Sequence[str]) -> dict[str, Link]:
        """Links of these source keys (missing keys are absent); batched internally."""
        ...

    # -- two-way fields (engine/sync/merge.py) -------------------------------------
    def get_bases(self, integration: str, object: str, record_ids: Sequence[str]
                  ) -> dict[str, dict[str, str]]:
        """What these records' two-way fields last agreed on: id -> field -> hash."""
        ...

    def list_conflicts(self, integration: str | None = None, limit: int = 50
                       ) -> list[Conflict]:
        """The newest conflicts first."""
        ...

    def conflict_counts(self) -> dict[tuple[str, str], int]:
        """Conflicts recorded per (integration, sync)."""
        ...

    def link_states(self, integration: str, sync: str, keys: Sequence[str]
                    ) -> dict[str, LinkState]:
        """`get_links` as plain tuples (`LinkState`), for deciding a batch: its rows as
        the database hands them over, no object per link."""
        ...

    def link_for_target(self, integration: str, sync: str, target_id: str) -> Link | None:
        """The link pointing at a target record (an active one, the newest, if several)."""
        ...

    def iter_links(self, integration: str, sync: str) -> Iterator[Link]:
        """Every link of a sync, ordered by source key, streamed in bounded memory."""
        ...

    def count_links(self, integration: str, sync: str) -> int: ...

    # -- cursor, fingerprint, batch commit ---------------------------------------
    def get_created(self, integration: str, sync: str, keys: Sequence[str]
                    ) -> dict[str, CreatedValues]:
        """The creation values of these keys (those that have any)."""
        ...

    def list_held(self, integration: str | None = None, sync: str | None = None,
                  limit: int = 100) -> list[CreatedValues]:
        """Records with a source change the target cannot take, oldest first."""
        ...

    def held_counts(self) -> dict[tuple[str, str], int]:
        """Per (integration, sync): how many records hold a change."""
        ...

    def get_cursor(self, integration: str, sync: str) -> str | None:
        """The delta cursor; it only ever moves through `commit_batch`."""
        ...

    def commit_batch(self, batch: BatchCommit) -> None:
        """Links, failures and cursor of one batch, all or nothing (see BatchCommit)."""
        ...

    def get_fingerprint(self, integration: str, sync: str) -> str | None:
        """Hash of the spec parts that shape output; a change means a full reconcile."""
        ...

    def set_fingerprint(self, integration: str, sync: str, fingerprint: str) -> None: ...

    # -- source deletions: reconcile passes (engine/state/sweeps.py) -------------------
    def begin_sweep(self, integration: str, sync: str, run_id: int, at: datetime) -> int:
        """The pass a full read marks its keys with: the one in progress (a full read
        cut short leaves it open, so the next one carries on with it), else a new one
        numbered `run_id` and begun `at`."""
        ...

    def end_sweep(self, integration: str, sync: str, sweep: int, at: datetime) -> None:
        """The pass read everything: it becomes the last completed one."""
        ...

    def last_sweep(self, integration: str, sync: str) -> Sweep | None:
        """The last completed pass with its count of unseen links; None before any."""
        ...

    def unseen_links(self, integration: str, sync: str, limit: int) -> list[Link]:
        """Up to `limit` active links the last completed pass did not see and nothing
        wrote since it began, by source key."""
        ...

    # -- runs ------------------------------------------------------------------
    def start_run(
        self,
        integration: str,
        sync: str,
        *,
        spec_hash: str,
        git_commit: str | None,
        trigger: str,
        started_at: datetime,
    ) -> int:
        """Record a run as "running" and return its id."""
        ...

    def finish_run(
        self,
        run_id: int,
        *,
        outcome: RunOutcome,
        counts: Mapping[str, int],
        error: str | None,
        finished_at: datetime,
    ) -> None: ...

    def get_run(self, run_id: int) -> Run | None: ...

    def list_runs(
        self, integration: str | None = None, sync: str | None = None, limit: int = 20
    ) -> list[Run]:
        """Newest first."""
        ...

    def recover_interrupted(self, now: datetime) -> int:
        """Mark "running" runs of dead processes "interrupted"; return how many.

        A run is dead when nobody holds its sync's lease (`sync_lease_name`) at `now`:
        a killed runner's lease simply expires.
        """
        ...

    # -- per-record failures -----------------------------------------------------
    def failing_keys(self, integration: str, sync: str) -> list[str]:
        """Source keys to retry next run, sorted."""
        ...

    def list_failures(
        self, integration: str | None = None, sync: str | None = None, limit: int = 100
    ) -> list[RecordFailure]:
        """Most recently seen first."""
        ...

    # -- webhook inbox -----------------------------------------------------------
    def inbox_put(
        self,
        source: str,
        event_id: str,
        payload: bytes,
        *,
        received_at: datetime,
        not_before: datetime | None = None,
    ) -> bool:
        """Persist an event; False if (source, event_id) was already received."""
        ...

    def inbox_put_many(
        self, items: Sequence[tuple[str, str, bytes]], *, received_at: datetime
    ) -> list[bool]:
        """Persist many (source, event_id, payload) in ONE durable transaction.

        A webhook receiver batches the events of concurrent deliveries into one commit
        (one fsync) instead of one per event. One flag per item: False for a duplicate.
        """
        ...

    def inbox_claim(
        self, worker: str, limit: int, now: datetime, lease_seconds: float
    ) -> list[InboxEvent]:
        """Claim due pending or lease-expired events, oldest first, for `lease_seconds`."""
        ...

    def inbox_done(self, ids: Sequence[int], *, now: datetime | None = None) -> None:
        """Mark processed; the payload is dropped, the (source, event_id) kept for dedup."""
        ...

    def inbox_retry(self, id: int, error: str, not_before: datetime) -> None:
        """Give a claimed event back, to be claimed again from `not_before`."""
        ...

    def inbox_depth(self) -> int:
        """Events not yet done (pending or claimed)."""
        ...

    def inbox_prune(self, done_before: datetime) -> int:
        """Forget done events older than this (ends their dedup window); return count."""
        ...

    # -- leases ----------------------------------------------------------------
    def acquire_lease(
        self, name: str, holder: str, now: datetime, ttl_seconds: float
    ) -> int | None:
        """A new, strictly larger epoch, or None while someone else holds it unexpired."""
        ...

    def renew_lease(
        self, name: str, holder: str, epoch: int, now: datetime, ttl_seconds: float
    ) -> bool:
        """Extend the lease; False if it has been taken over (or released)."""
        ...

    def release_lease(self, name: str, holder: str, epoch: int) -> None: ...

    def current_lease(self, name: str, now: datetime) -> LeaseToken | None:
        """Who holds the lease now (unexpired), for recovering from a dead local holder."""
        ...

    # -- workflow action idempotency ---------------------------------------------
    def claim_action(
        self, key: str, now: datetime, *, stale_after: float | None = None
    ) -> ActionRecord:
        """Insert-if-absent. `fresh` tells the caller it owns the action.

        A "pending" claim older than `stale_after` seconds (its worker died) is taken
        over: attempts grows and the caller gets `fresh=True`.
        """
        ...

    def complete_action(
        self,
        key: str,
        result: Mapping[str, object],
        status: ActionStatus,
        *,
        now: datetime | None = None,
    ) -> None:
        """Record the outcome (JSON-serialisable `result`) that later claims replay."""
        ...

    # -- adapter metadata ----------------------------------------------------------
    def get_meta(self, integration: str, key: str) -> str | None: ...

    def set_meta(self, integration: str, key: str, value: str | None) -> None:
        """Set a small value; None deletes it."""
        ...

    # -- operator controls (the console) ---------------------------------------------
    def set_paused(self, integration: str, sync: str, paused: bool, *, by: str,
                   at: datetime, reason: str | None = None) -> None:
        """Pause or resume a sync (runs in progress finish; no new one starts)."""
        ...

    def paused_syncs(self) -> dict[tuple[str, str], SyncPause]:
        """The syncs paused now, by (integration, sync)."""
        ...

    def get_failure(self, integration: str, sync: str, source_key: str
                    ) -> RecordFailure | None: ...

    def acknowledge_failure(self, integration: str, sync: str, source_key: str, *,
                            by: str, at: datetime) -> bool:
        """Mark a failing record seen by an operator; False if it is not failing."""
        ...

    def failure_counts(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(failing, of which acknowledged) per (integration, sync) with failures."""
        ...

    def append_audit(self, entry: AuditEntry) -> int:
        """Keep an operator action; returns its id. Entries are never changed."""
        ...

    def list_audit(self, integration: str | None = None, sync: str | None = None,
                   limit: int = 50) -> list[AuditEntry]:
        """Newest first."""
        ...

    # -- alert incidents -----------------------------------------------------------------
    def open_incident(self, key: str, kind: str, integration: str, sync: str, summary: str,
                      *, at: datetime) -> bool:
        """Open an incident unless one with this key is open; True if this call opened it."""
        ...

    def clear_incident(self, key: str, *, at: datetime) -> bool:
        """Clear the open incident of this key; True if there was one."""
        ...

    def open_incidents(self) -> list[Incident]: ...

    def list_incidents(self, limit: int = 50) -> list[Incident]:
        """Newest first, open and cleared."""
        ...

    def claim_notifications(self, now: datetime, lease_seconds: float, limit: int = 20
                            ) -> list[Incident]:
        """Incidents owing a notification and due, claimed for `lease_seconds` (another
        process sharing the store does not send them meanwhile); oldest first."""
        ...

    def notification_sent(self, incident_id: int, phase: Literal["open", "clear"], *,
                          at: datetime) -> None: ...

    def notification_failed(self, incident_id: int, error: str, *,
                            retry_at: datetime) -> None:
        """A delivery failed: count the attempt and try again from `retry_at`."""
        ...

    # -- replay: recorded reads, newest runs first (engine/state/recordings.py) --------------
    def record_reads(self, run_id: int, integration: str, sync: str, first: int,
                     reads: Sequence[RecordedRead], *, at: datetime) -> None: ...

    def prune_recordings(self, integration: str, sync: str, *, keep: int,
                         older_than: datetime) -> None: ...

    def recorded_runs(self, integration: str, sync: str | None = None) -> list[RecordedRun]: ...

    def recorded_reads(self, run_id: int) -> list[RecordedRead]: ...

    # -- lifecycle -----------------------------------------------------------------
    # -- safeguards (engine/state/*_safeguards.py) ---------------------------------------
    def save_breakers(self, breakers: Sequence[BreakerRecord], *, at: datetime) -> None:
        """Upsert circuit-breaker states (a closed one with no failures is removed)."""
        ...

    def breakers(self) -> list[BreakerRecord]:
        """Every circuit breaker saved, of every integration."""
        ...

    def reset_breakers(self, integration: str | None = None, system: str | None = None,
                       endpoint: str | None = None) -> int:
        """Close (forget) the breakers matching; how many."""
        ...

    def count_writes(self, integration: str, pair: str, records: Mapping[str, str], *,
                     at: datetime, window: timedelta, max_writes: int) -> set[str]:
        """Count one write of each record (record -> "sync=key") in its window; the
        records quarantined, newly (more than `max_writes` in `window`) or before."""
        ...

    def quarantined(self, integration: str | None = None) -> list[QuarantinedRecord]: ...

    def release_quarantine(self, integration: str, record: str, *, at: datetime) -> bool:
        """Write the record again (its count starts over); False when not quarantined."""
        ...

    def schema_version(self) -> int:
        """The applied migration version (equal to the code's after opening)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> StateStore: ...

    def __exit__(self, *exc_info: object) -> None: ...
