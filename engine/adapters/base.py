"""The adapter protocol: what the sync engine asks of every system it talks to.

A vendor is one package under `engine/adapters/<name>/` (or a third-party package): its
`Vendor` value names the adapter class, ships the catalog (`catalog.json`, the objects
and fields the adapter reads and writes) and offers optional capabilities, each behind a
small Protocol here, so the runner, docs and spec checker dispatch through the registry
and know no vendor by name:

- `WebhookSource`: verify a delivery (signature or credential) and parse it into
  `WebhookEvent`s;
- `ActionProtocol`: the vendor's workflow-action request, answer and callback;
- `FilterPushdown`: a sync's filter in the vendor's query language;
- `ReferenceSource`: the system's own metadata (pipelines, stages, currencies, ...)
  that spec values refer to, for `specsync check` and `specsync lock`;
- `Registrar`: what the vendor must hold for a spec's triggers and actions to reach
  `specsync serve` (webhooks, subscriptions, workflow action definitions), compared
  with what it holds and, for `specsync connect`, registered through its own API.

An adapter turns one vendor API into records with the field names and types its catalog
declares, and turns target payloads back into the
vendor's calls. It is async and takes the `httpx.AsyncClient` it talks through, so tests
and sandboxes plug in an ASGI transport without patching the network. All traffic goes
through one `HttpSession` (budgets, retries, redaction) built by `AdapterContext`.

Writes are per batch and report per item: one rejected record never fails its batch
mates. A create whose outcome is unknown comes back as `WriteResult.ambiguous`, and the
engine resolves it with `find_external` before trying again.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import httpx

from engine.adapters.catalog import Catalog
from engine.adapters.egress import EgressPolicy, GuardedTransport
from engine.adapters.ratelimit import RateBudgets
from engine.adapters.text import NO_RULES, TextRules
from engine.errors import MalformedRequestError, RecordError
from engine.redact import Redactor

if TYPE_CHECKING:
    from engine.rules.nodes import Rule

__all__ = [
    "ActionExecution",
    "ActionNeed",
    "ActionOutcome",
    "ActionProtocol",
    "Adapter",
    "AdapterContext",
    "CheckResult",
    "ConnectRequest",
    "ConnectionConfig",
    "FilterPushdown",
    "InboundRequest",
    "MalformedRequestError",
    "PagedRead",
    "Record",
    "ReferenceSource",
    "Referent",
    "Registrar",
    "Registration",
    "RegistrationState",
    "TriggerNeed",
    "Vendor",
    "WebhookEvent",
    "WebhookSource",
    "WriteOp",
    "WriteResult",
]

Record = dict[str, Any]


@dataclass(frozen=True)
class ConnectionConfig:
    """A spec connection with its ${ENV} references resolved (secrets live only here)."""

    name: str
    adapter: str
    base_url: str
    auth: Mapping[str, str] = field(repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)
    rate_limit: tuple[int, float] | None = None  # requests per seconds, overriding the default


@dataclass
class AdapterContext:
    """What every adapter instance shares in one process: budgets, redaction, the clock."""

    budgets: RateBudgets
    redactor: Redactor
    now: Any = None  # Callable[[], datetime]; None means the system clock


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str  # plain words for `specsync check`: what works, or what to fix


@dataclass(frozen=True)
class WriteOp:
    """One record to write. `key` is the source key, for errors and links."""

    kind: Literal["create", "update", "delete"]
    key: str
    payload: Mapping[str, Any]
    target_id: str | None = None  # for update and delete
    external_field: str | None = None  # the target field holding the key (external match)


@dataclass(frozen=True)
class WriteResult:
    key: str
    target_id: str | None = None
    error: RecordError | None = None
    ambiguous: bool = False  # sent, no answer: look it up by external id before retrying
    created: bool = False  # an upsert may create where an update was planned, and vice versa

    @property
    def ok(self) -> bool:
        return self.error is None and not self.ambiguous


@runtime_checkable
class PagedRead(Protocol):
    """What an adapter may offer besides `Adapter.read`: a full read a page at a time.

    The same records in the same order as `read(obj)`, handed over as the lists the API
    answers with. A run of 100,000 records then takes no generator step per record
    (engine/sync/read.py `page_batches`); adapters without it are read record by record.
    """

    def read_pages(self, obj: str) -> AsyncIterator[list[Record]]:
        ...


@runtime_checkable
class Adapter(Protocol):
    """One system. Construct with (ConnectionConfig, httpx.AsyncClient, AdapterContext)."""

    name: str

    def describe(self) -> Catalog:
        """The objects and fields this adapter offers (its catalog)."""
        ...

    async def check(self) -> CheckResult:
        """Authenticate and make one cheap read; say plainly what works or what does not."""
        ...

    def read(self, obj: str, *, since: datetime | None = None,
             cursor_field: str | None = None) -> AsyncIterator[Record]:
        """Stream every record, or those changed since `since` on `cursor_field`.

        Changed-since reads come in ascending cursor order where the API allows it, so
        a checkpoint never passes a record that was not yet seen.
        """
        ...

    def total(self, obj: str) -> int | None:
        """How many records a full read will yield, when the API says so (for ETAs)."""
        ...

    async def get(self, obj: str, target_id: str) -> Record | None:
        """One record by its own id, or None when it does not exist."""
        ...

    async def find_external(self, obj: str, field_name: str,
                            values: Sequence[str]) -> dict[str, Record]:
        """Records whose `field_name` equals one of `values`, keyed by that value."""
        ...

    def max_batch(self, obj: str) -> int:
        """How many writes one call can carry (1 where the API has no batch endpoint)."""
        ...

    async def write(self, obj: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Apply the ops, batched as the API allows; one result per op, in order."""
        ...

    async def aclose(self) -> None:
        ...


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client of the process: loading the CA store
    takes ~10 ms of CPU per context (far more on a busy machine), which a worker serving
    a thousand tenants' connections paid two thousand times before it took a job."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def client_for(config: ConnectionConfig, transport: httpx.AsyncBaseTransport | None = None,
               timeout: float = 30.0, policy: EgressPolicy | None = None,
               wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None
               = None) -> httpx.AsyncClient:
    """The httpx client an adapter gets: base URL, timeouts, no redirects.

    Real network traffic goes through `GuardedTransport` (engine/adapters/egress.py):
    only the connection's own host, https, no private or metadata addresses. A transport
    given here (an in-process test app) replaces the network and is used as it is.
    `wrap` puts a layer over either (the runtime's circuit breakers).
    """
    if transport is None:
        transport = GuardedTransport(httpx.AsyncHTTPTransport(verify=_tls_context()),
                                     config.base_url, policy or EgressPolicy())
    if wrap is not None:
        transport = wrap(transport)
    return httpx.AsyncClient(base_url=config.base_url, transport=transport,
                             timeout=httpx.Timeout(timeout, connect=10.0),
                             follow_redirects=False, headers={"User-Agent": "specsync/0.1"})


# ------------------------------------------------------------------ optional capabilities


@dataclass(frozen=True)
class InboundRequest:
    """A request a vendor sent us (a webhook delivery or a workflow action), as received.

    `uri` is the full URL the sender called (what signatures cover), query included.
    """

    method: str
    uri: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    received_at: datetime


@dataclass(frozen=True)
class WebhookEvent:
    """One thing that changed, as a reference: the record is re-read for truth.

    Only references are kept (object, id, what changed, when, who); a delivery's values
    are never stored, so personal data in deliveries stays out of the inbox.
    """

    provider: str  # the vendor name
    event_id: str  # stable across redeliveries: the inbox's dedup key
    name: str  # as specs write it: "company.propertyChange", "project.updated"
    object: str  # the catalog object: "companies", "projects"
    object_id: str
    action: str  # "creation" | "propertyChange" | "deletion" | "created" | "updated" | ...
    property_name: str | None = None
    occurred_at: str | None = None
    change_source: str | None = None
    source_id: str | None = None

    @property
    def is_deletion(self) -> bool:
        return self.action in ("deletion", "deleted")

    @property
    def is_creation(self) -> bool:
        return self.action in ("creation", "created")

    def to_bytes(self) -> bytes:
        # Plain attribute reads: dataclasses.asdict deep-copies every value, which made
        # this the most expensive step of receiving a delivery.
        return json.dumps({name: getattr(self, name) for name in _EVENT_FIELDS},
                          separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> WebhookEvent:
        return cls(**json.loads(data))


_EVENT_FIELDS = tuple(f.name for f in fields(WebhookEvent))


@runtime_checkable
class WebhookSource(Protocol):
    """A vendor that pushes change notifications.

    `property_changes` says whether its events name the property that changed (then a
    sync's trigger `properties` and echo suppression can use it).
    """

    property_changes: bool

    def verify(self, secret: str, request: InboundRequest,
               options: Mapping[str, Any]) -> str | None:
        """None when the request is genuine, else a short reason (never the secret).

        `options` is the connection's `webhooks:` block (e.g. a credential header name).
        """
        ...

    def parse(self, body: bytes) -> list[WebhookEvent]:
        """The delivery's events; MalformedRequestError when it is not the vendor's shape.

        Events of kinds no sync can use are returned with their own names (the runner
        ignores them); only a body that is not the vendor's shape at all is refused.
        """
        ...


@dataclass(frozen=True)
class ActionExecution:
    """One workflow-action request in vendor-neutral terms."""

    execution_id: str  # the idempotency key part the vendor keeps across its retries
    callback_id: str  # what the vendor's completion callback names
    object_id: str  # the enrolled object
    object_type: str | None
    properties: Mapping[str, Any]
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class ActionOutcome:
    """What became of an execution: `succeeded` with outputs, `failed` with a reason, or
    `pending` (still running: the vendor is told to wait for the callback)."""

    state: Literal["succeeded", "failed", "pending"]
    outputs: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


@runtime_checkable
class ActionProtocol(Protocol):
    """A vendor's workflow actions: how it calls us, how we answer, how we call back."""

    def verify(self, secret: str, request: InboundRequest) -> str | None:
        """None when the request is genuine, else a short reason."""
        ...

    def parse(self, body: bytes) -> ActionExecution:
        """MalformedRequestError when the body is not an execution."""
        ...

    def answer(self, outcome: ActionOutcome) -> dict[str, Any]:
        """The JSON body of our answer to the execution request."""
        ...

    async def complete(self, adapter: Any, execution: ActionExecution,
                       outcome: ActionOutcome) -> None:
        """Report a `pending` execution's final outcome through the workflow connection's
        adapter (its HTTP session: retries, rate budget)."""
        ...


@runtime_checkable
class FilterPushdown(Protocol):
    """A vendor query language a sync's filter can be (partly) written in."""

    def render(self, rule: Rule, *, setup: Mapping[str, Any] | None = None,
               now: datetime | None = None) -> Any | None:
        """The vendor query keeping at least every record `rule` keeps, or None when the
        rule has no faithful translation. Readers still apply the rule locally."""
        ...


@dataclass(frozen=True)
class TriggerNeed:
    """A sync started by the connection's webhooks: the object, and the events or
    properties it listens to (empty: every event of the object)."""

    sync: str
    object: str
    events: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionNeed:
    """A workflow action the connection's workflows call, at `url`."""

    name: str
    title: str
    url: str
    object_type: str | None
    inputs: Mapping[str, str]  # input name -> spec type (string, number, ...)
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectRequest:
    """What one connection of a spec needs registered with its vendor.

    `webhook_url` is where deliveries must go (None: no public URL known, so a
    registration is recognised by its path alone, `webhook_path` / `action_path`).
    `webhook_options` is the connection's `webhooks:` block with its ${ENV} references
    resolved, secret included: a registrar sends it only to the vendor.
    """

    integration: str
    connection: str
    webhook_path: str
    action_path: str
    webhook_url: str | None
    webhook_options: Mapping[str, Any] = field(repr=False)
    triggers: tuple[TriggerNeed, ...] = ()
    actions: tuple[ActionNeed, ...] = ()

    @property
    def needed(self) -> bool:
        return bool(self.triggers or self.actions)


RegistrationState = Literal["ok", "missing", "extra", "differs", "created", "updated",
                            "deleted"]


@dataclass(frozen=True)
class Registration:
    """One registration, and how it stands: `ok`/`missing`/`extra`/`differs` when
    compared (`check`), `created`/`updated`/`deleted`/`ok` once applied (`connect`)."""

    kind: str  # in words: "company webhook", "webhook subscription", "workflow action"
    name: str  # what it is: "projects: created, updated", "company.propertyChange name"
    state: RegistrationState
    target: str | None = None  # where it sends (no secrets)
    vendor_id: str | None = None
    detail: str = ""  # why it differs, in words


@runtime_checkable
class Registrar(Protocol):
    """A vendor's registrations for a spec's triggers and actions."""

    async def reconcile(self, adapter: Any, request: ConnectRequest, *,
                        apply: bool) -> list[Registration]:
        """Compare what the vendor holds with what `request` needs. With `apply`,
        create what is missing, correct what differs and remove extra registrations of
        this integration (never others'), through the vendor's API, idempotently.
        Raises SpecsyncError with plain words when the connection lacks what the
        vendor's registration API needs (an app id, a key)."""
        ...


@dataclass(frozen=True)
class Referent:
    """One item of a system's metadata a spec may refer to: a pipeline, a stage (with
    its pipeline as `parent`), a currency, an office, a role, a tag."""

    id: str
    name: str
    parent: str | None = None


@runtime_checkable
class ReferenceSource(Protocol):
    """The metadata kinds a catalog's `ref` fields name, as the live system lists them.

    `created_on_write` names the kinds the system creates when a write names one that
    does not exist (tags written by name): a missing one is a note, not a problem.
    """

    created_on_write: frozenset[str]

    async def referents(self, adapter: Any, kind: str) -> list[Referent]:
        """Every item of `kind` the system holds; ValueError for a kind it lacks."""
        ...


# ------------------------------------------------------------------ the vendor


@dataclass(frozen=True)
class Vendor:
    """Everything specsync knows of one system, found through the `specsync.adapters`
    entry point group (see `engine.adapters.registry`).

    `catalog_file` is read once, on first use. `title` is the name people use.
    """

    name: str
    title: str
    adapter: Callable[..., Any]  # (ConnectionConfig, httpx.AsyncClient, AdapterContext)
    catalog_file: Traversable
    webhooks: WebhookSource | None = None
    actions: ActionProtocol | None = None
    pushdown: FilterPushdown | None = None
    registrar: Registrar | None = None
    references: ReferenceSource | None = None
    notes: tuple[str, ...] = ()  # what the real API cannot do, for docs and validate
    text: TextRules = NO_RULES  # control characters and NUL: refused or removed (text.py)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog.from_data(json.loads(self.catalog_file.read_text(encoding="utf-8")))
