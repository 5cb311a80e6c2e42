"""Deltek Maconomy simulator: reconnect-token auth and the containers filter API.

What it serves (see /work/shared/apis.md §4; [assumed] marks choices no source settled):

- `GET /maconomy-api/auth/{shortname}` (and `/login`) with `Authorization: Basic ...`
  -> 204 with `Maconomy-Reconnect: <token>`. Later calls send
  `Authorization: X-Reconnect <token>`. Tokens expire after `maconomy_token_ttl`
  seconds without use (default 1800) [assumed]. Every `maconomy_rotate_every`-th call
  (default 100) answers with a fresh `Maconomy-Reconnect` header; the old token keeps
  working for `maconomy_rotation_grace` seconds (default 60) [assumed]. Unknown or
  expired tokens get 401. `Maconomy-Authentication: X-Log-Out` logs out. Basic auth
  is accepted on any call too (with `Maconomy-Authentication: X-Reconnect` it also
  returns a token), as real servers do.
- `POST /maconomy-api/containers/{shortname}/{container}/filter` with
  `{restriction, fields, limit, offset, orderby}` -> `panes.filter.meta` +
  `records[].data`; the v1 form `GET .../containers/v1/{shortname}/{container}/filter?...`
  and `GET .../containers/{shortname}/{container}` (the field specification).
  Containers: `customercard` (alias `customers`) and `jobs`. `limit` defaults to 100
  and may not exceed `maconomy_max_limit` (default 10,000; more is a 400, not a silent
  clamp that would end a client's paging early) [assumed].
- Errors use Maconomy's envelope `{errorMessage, errorFamily, errorSeverity, focus,
  data}`; the `errorFamily` values are [assumed].
- Optional rate limit (off by default, Maconomy publishes none): set
  `options["maconomy_rate_limit"]` (requests per `maconomy_rate_window` seconds, default
  60) -> 429 with `Retry-After` in the same envelope [assumed].
- Speed [sandbox only]: a delta read (`transactiontimestamp >= t` ordered by it and
  the key) bisects an index of the generated records built once, plus the few records
  written since, instead of scanning and sorting everything per query; a filter answer
  is kept serialised until the next write (`maconomy_page_cache_mb`, default 96).
- No webhooks (Maconomy has none). Control calls under `/_sandbox/records/{container}`
  create, change and delete records as a user in Maconomy's UI would: every change
  sets `transactiontimestamp`/`changeddate` from the clock and increments
  `versionnumber`, so delta sync can be exercised.

Restriction language (a real parser and evaluator, never `eval`):

    expr       := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expr ")" | comparison
    comparison := operand [op operand | ["not"] "like" string]
    op         := "=" | "<>" | "!=" | "<" | "<=" | ">" | ">="
    operand    := field | 'text' | "text" | number | true | false
                | date(y, m, d) | timestamp(y, m, d, h, mi, s[, ms])

Keywords are case-insensitive, field names are lowercased. Strings use `''` (or `""`
inside double quotes) to escape their quote. A bare field tests truthiness
(`blocked and not(closed)`). Months in `date()` are 1-based. Timestamp literals are
`timestamp(2025, 4, 1, 13, 1, 2)` (optional milliseconds); a date compared with a
timestamp field means midnight; a quoted ISO string in the field's own format
(`'2025-04-01T13:01:02.000'`) compares as text and gives the same answer. `like`
patterns use `*`/`%` for any run and `?`/`_` for one character, case-insensitively
[assumed]. Comparisons with a missing field are false. Numbers compare numerically
with numeric strings (`statistic3 > "1"`).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import count
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.sandbox.maconomy import seed
from engine.sandbox.maconomy.credentials import CURL_EXAMPLE, MaconomyCredentials
from engine.sandbox.platform import (
    Collection,
    RateDecision,
    RateLimiter,
    Sandbox,
    SandboxConfig,
)

__all__ = [
    "CONTENT_TYPE",
    "MaconomySandbox",
    "Restriction",
    "RestrictionError",
    "compile_restriction",
    "maconomy_timestamp",
]

CONTENT_TYPE = "application/vnd.deltek.maconomy.containers+json; charset=utf-8; version=9.0"
MAX_RESTRICTION_LENGTH = 10_000
MAX_DEPTH = 64


def maconomy_timestamp(moment: datetime) -> str:
    """`2025-01-15T09:00:00.000`: how the simulator prints `transactiontimestamp`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


# =========================================================================== restrictions


class RestrictionError(ValueError):
    """A restriction that cannot be parsed or names an unknown field."""

    def __init__(self, message: str, position: int, field_name: str | None = None) -> None:
        super().__init__(f"{message} (at position {position + 1})")
        self.position = position
        self.field_name = field_name


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op><=|>=|<>|!=|=|<|>)
      | (?P<punct>[(),])
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "like", "true", "false"}
_FUNCTIONS = {"date", "timestamp"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # string number name op punct end
    text: str
    value: Any
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:  # only trailing whitespace is left
            break
        kind = match.lastgroup or "bad"
        raw = match.group(kind)
        start = match.start(kind)
        if kind == "bad":
            raise RestrictionError(f"unexpected character {raw!r}", start)
        if kind == "string":
            quote = raw[0]
            value: Any = raw[1:-1].replace(quote * 2, quote)
        elif kind == "number":
            value = float(raw) if "." in raw else int(raw)
        else:
            value = raw.lower() if kind == "name" else raw
        tokens.append(_Tok(kind, raw, value, start))
        pos = match.end()
    tokens.append(_Tok("end", "", None, len(text)))
    return tokens


class _Temporal(str):
    """A date/timestamp literal, kept as canonical `YYYY-MM-DDTHH:MM:SS.fff` text."""


@dataclass(frozen=True)
class _Field:
    name: str


Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Restriction:
    """A compiled restriction: `matches(record)` and the fields it reads.

    `lower` lists what the whole restriction implies as `field >= literal` or `field >
    literal` for timestamp literals (top-level conjuncts, as delta reads send them):
    (field, op, canonical timestamp text). `lower_only` says one such comparison is
    all there is, so every record past the bound matches.
    """

    text: str
    matches: Predicate
    fields: frozenset[str]
    lower: tuple[tuple[str, str, str], ...] = ()
    lower_only: bool = False


class _Parser:
    def __init__(self, text: str, known: Iterable[str]) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.known = set(known)
        self.used: set[str] = set()
        # Lower bounds on a field found among the top-level conjuncts (see Restriction).
        self.bound: tuple[str, str, str] | None = None  # of the factor just parsed
        self.lower: list[tuple[str, str, str]] = []
        self.conjuncts = 0

    # -- token helpers

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def keyword(self, word: str) -> bool:
        tok = self.tok
        if tok.kind == "name" and tok.value == word:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None, what: str = "") -> _Tok:
        tok = self.tok
        if tok.kind != kind or (text is not None and tok.text != text):
            found = "the end of the restriction" if tok.kind == "end" else repr(tok.text)
            raise RestrictionError(f"expected {what or text or kind}, found {found}", tok.pos)
        self.i += 1
        return tok

    # -- grammar

    def parse(self) -> Predicate:
        if self.tok.kind == "end":
            return _always
        predicate = self.expr(0)
        if self.tok.kind != "end":
            raise RestrictionError(f"unexpected {self.tok.text!r}; expected 'and', 'or' or "
                                   "the end of the restriction", self.tok.pos)
        return predicate

    def expr(self, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise RestrictionError("restriction is nested too deeply", self.tok.pos)
        parts = [self.term(depth)]
        while self.keyword("or"):
            parts.append(self.term(depth))
        if len(parts) == 1:
            return parts[0]
        if depth == 0:
            self.lower.clear()  # an `or` at the top: no conjunct bounds the whole
        return lambda r: any(p(r) for p in parts)

    def term(self, depth: int) -> Predicate:
        parts = [self.conjunct(depth)]
        while self.keyword("and"):
            parts.append(self.conjunct(depth))
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            first, second = parts
            return lambda r: first(r) and second(r)
        return lambda r: all(p(r) for p in parts)

    def conjunct(self, depth: int) -> Predicate:
        """A factor of a term; at the top level, noting whether it is a lower bound."""
        self.bound = None
        predicate = self.factor(depth)
        if depth == 0:
            self.conjuncts += 1
            if self.bound is not None:
                self.lower.append(self.bound)
        return predicate

    def factor(self, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise RestrictionError("restriction is nested too deeply", self.tok.pos)
        if self.keyword("not"):
            inner = self.factor(depth + 1)
            self.bound = None
            return lambda r: not inner(r)
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.i += 1
            inner = self.expr(depth + 1)
            self.expect("punct", ")", "')'")
            self.bound = None
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        start = self.tok.pos
        left = self.operand()
        tok = self.tok
        if tok.kind == "op":
            self.i += 1
            right = self.operand()
            self.bound = _lower_bound(left, tok.text, right)
            return _compare(left, tok.text, right, start)
        negate = False
        if tok.kind == "name" and tok.value == "not" and self.tokens[self.i + 1].value == "like":
            self.i += 1
            negate = True
        if self.keyword("like"):
            if not isinstance(left, _Field):
                raise RestrictionError("'like' needs a field on its left", start)
            pattern = self.expect("string", what="a quoted pattern after 'like'").value
            return _like(left.name, pattern, negate)
        if isinstance(left, _Field):
            name = left.name
            return lambda r: bool(r.get(name))
        if isinstance(left, bool):
            return _always if left else _never
        raise RestrictionError("expected a comparison such as field = 'value'", start)

    def operand(self) -> Any:
        tok = self.tok
        if tok.kind in ("string", "number"):
            self.i += 1
            return tok.value
        if tok.kind == "name":
            if tok.value in ("true", "false"):
                self.i += 1
                return tok.value == "true"
            if tok.value in _FUNCTIONS and self.tokens[self.i + 1].text == "(":
                return self.temporal()
            if tok.value in _KEYWORDS:
                raise RestrictionError(f"expected a field or a value, found {tok.text!r}",
                                       tok.pos)
            self.i += 1
            if tok.value not in self.known:
                raise RestrictionError(f"unknown field {tok.value!r}", tok.pos, tok.value)
            self.used.add(tok.value)
            return _Field(tok.value)
        found = "the end of the restriction" if tok.kind == "end" else repr(tok.text)
        raise RestrictionError(f"expected a field or a value, found {found}", tok.pos)

    def temporal(self) -> _Temporal:
        name_tok = self.tok
        self.i += 2  # name and "("
        args: list[int] = []
        while True:
            number = self.expect("number", what="a whole number")
            if not isinstance(number.value, int):
                raise RestrictionError("expected a whole number", number.pos)
            args.append(number.value)
            if self.tok.text == ",":
                self.i += 1
                continue
            self.expect("punct", ")", "')'")
            break
        wanted = (3, 3) if name_tok.value == "date" else (6, 7)
        if not wanted[0] <= len(args) <= wanted[1]:
            shape = "date(y, m, d)" if name_tok.value == "date" else \
                "timestamp(y, m, d, h, mi, s[, ms])"
            raise RestrictionError(f"expected {shape}", name_tok.pos)
        try:
            moment = datetime(*args[:6])
        except ValueError as exc:
            raise RestrictionError(f"invalid {name_tok.value}: {exc}", name_tok.pos) from None
        millis = args[6] if len(args) == 7 else 0
        if not 0 <= millis <= 999:
            raise RestrictionError("milliseconds must be 0..999", name_tok.pos)
        return _Temporal(moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}")


def _lower_bound(left: Any, op: str, right: Any) -> tuple[str, str, str] | None:
    """(field, ">=" or ">", timestamp text) when a comparison bounds a field from below."""
    if isinstance(right, _Field) and isinstance(left, _Temporal):
        left, right = right, left
        op = {"<": ">", "<=": ">="}.get(op, "")
    if isinstance(left, _Field) and isinstance(right, _Temporal) and op in (">", ">="):
        return left.name, op, str(right)
    return None


def _always(record: dict[str, Any]) -> bool:
    return True


def _never(record: dict[str, Any]) -> bool:
    return False


_PAD = "T00:00:00.000"


def _coerce_pair(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Bring two values to comparable forms, or None when they cannot be compared."""
    if left is None or right is None:
        return None
    if isinstance(right, _Temporal) or isinstance(left, _Temporal):
        if not (isinstance(left, str) and isinstance(right, str)):
            return None
        left = left + _PAD if len(left) == 10 else left
        right = right + _PAD if len(right) == 10 else right
        return str(left), str(right)
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, str):
            left = left.strip().lower() == "true"
        if isinstance(right, str):
            right = right.strip().lower() == "true"
        if not (isinstance(left, bool | int) and isinstance(right, bool | int)):
            return None
        return int(left), int(right)
    left_num = isinstance(left, int | float)
    right_num = isinstance(right, int | float)
    if left_num and right_num:
        return left, right
    if left_num or right_num:
        try:
            return (left, float(right)) if left_num else (float(left), right)
        except ValueError:
            return str(left), str(right)
    return str(left), str(right)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(left: Any, op: str, right: Any, position: int) -> Predicate:
    compare = _OPS[op]
    left_field = isinstance(left, _Field)
    right_field = isinstance(right, _Field)
    if not left_field and not right_field:
        pair = _coerce_pair(left, right)
        result = pair is not None and compare(*pair)
        return _always if result else _never
    if left_field and right_field:
        a_name, b_name = left.name, right.name

        def both(record: dict[str, Any]) -> bool:
            pair = _coerce_pair(record.get(a_name), record.get(b_name))
            return pair is not None and compare(*pair)

        return both
    if right_field:  # literal op field -> field flipped-op literal
        left, right = right, left
        op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        compare = _OPS[op]
    name = left.name
    literal = right
    if isinstance(literal, _Temporal):
        # The delta-sync hot path: plain string comparison on canonical timestamps.
        def temporal(record: dict[str, Any]) -> bool:
            value = record.get(name)
            if not isinstance(value, str):
                return False
            return compare(value + _PAD if len(value) == 10 else value, literal)

        return temporal
    if isinstance(literal, str) and not isinstance(literal, bool):
        def text(record: dict[str, Any]) -> bool:
            value = record.get(name)
            if isinstance(value, str):
                return compare(value, literal)
            pair = _coerce_pair(value, literal)
            return pair is not None and compare(*pair)

        return text

    def general(record: dict[str, Any]) -> bool:
        pair = _coerce_pair(record.get(name), literal)
        return pair is not None and compare(*pair)

    return general


def _like(name: str, pattern: str, negate: bool) -> Predicate:
    regex = re.compile(
        "".join(".*" if c in "*%" else "." if c in "?_" else re.escape(c) for c in pattern),
        re.IGNORECASE | re.DOTALL,
    )

    def like(record: dict[str, Any]) -> bool:
        value = record.get(name)
        if value is None:
            return False
        return (regex.fullmatch(str(value)) is not None) != negate

    return like


def compile_restriction(text: str, fields: Iterable[str]) -> Restriction:
    """Parse `text` against the container's `fields`; raises `RestrictionError`."""
    if len(text) > MAX_RESTRICTION_LENGTH:
        raise RestrictionError(f"restriction is longer than {MAX_RESTRICTION_LENGTH} "
                               "characters", MAX_RESTRICTION_LENGTH)
    parser = _Parser(text, fields)
    predicate = parser.parse()
    return Restriction(text, predicate, frozenset(parser.used), tuple(parser.lower),
                       len(parser.lower) == 1 and parser.conjuncts == 1)


# =========================================================================== the simulator


@dataclass
class _Token:
    expires_at: float  # clock timestamp; sliding on use
    uses: int = 0
    retired: bool = False  # rotated away: valid only until expires_at (the grace)


_FIELD_TYPES = {
    "blocked": "boolean", "closed": "boolean", "active": "boolean",
    "versionnumber": "integer", "theyear": "integer", "budgetamount": "real",
    "createddate": "date", "changeddate": "date", "transactiontimestamp": "timestamp",
}


@dataclass
class _Container:
    name: str
    collection: Collection
    fields: tuple[str, ...]
    light_fields: frozenset[str]
    light_factory: Callable[[int], dict[str, Any]]
    required: tuple[str, ...]
    defaults: Callable[[str], dict[str, Any]]
    restrictions: OrderedDict[str, Restriction] = field(default_factory=OrderedDict)
    matches: OrderedDict[tuple[str, tuple[tuple[str, bool], ...]],
                         tuple[int, list[Any]]] = field(default_factory=OrderedDict)
    #: Ids written through the sandbox (changed or created): they leave the base index.
    touched: set[Any] = field(default_factory=set)
    cursor: str = "transactiontimestamp"
    _cursor_index: tuple[list[str], list[Any], list[int]] | None = None

    def cursor_index(self) -> tuple[list[str], list[Any], list[int]]:
        """The generated (base) records sorted by (cursor, key): their cursor values, ids
        and base indices. Base records never change, so it is built once; records
        written later are looked at separately (`touched`)."""
        if self._cursor_index is None:
            key, cursor, light = self.collection.key, self.cursor, self.light_factory
            rows = []
            for index in range(self.collection.size):
                record = light(index)
                value = record.get(cursor)
                if isinstance(value, str) and len(value) != 10:  # canonical timestamps
                    rows.append((value, record[key], index))
            rows.sort()
            self._cursor_index = ([r[0] for r in rows], [r[1] for r in rows],
                                  [r[2] for r in rows])
        return self._cursor_index

    def restriction(self, text: str) -> Restriction:
        found = self.restrictions.get(text)
        if found is None:
            found = compile_restriction(text, self.fields)
            self.restrictions[text] = found
            if len(self.restrictions) > 64:
                self.restrictions.popitem(last=False)
        return found


class MaconomySandbox(Sandbox):
    """Maconomy's containers API over generated customers and jobs. See the module doc."""

    vendor = "maconomy"

    credentials_type = MaconomyCredentials
    curl_example = CURL_EXAMPLE
    credentials: MaconomyCredentials

    def __init__(self, config: SandboxConfig | None = None,
                 credentials: MaconomyCredentials | None = None) -> None:
        super().__init__(config, credentials)
        cfg = self.config
        options = cfg.options
        self.shortname = self.credentials.shortname
        self.token_ttl = float(options.get("maconomy_token_ttl", 1800))
        self.rotate_every = int(options.get("maconomy_rotate_every", 100))
        self.rotation_grace = float(options.get("maconomy_rotation_grace", 60))
        self.max_limit = int(options.get("maconomy_max_limit", 10_000))
        self.default_limit = int(options.get("maconomy_default_limit", 100))
        customers = cfg.records
        jobs = int(options.get("maconomy_jobs", cfg.records))
        rate = options.get("maconomy_rate_limit")
        self.limiter = (RateLimiter(int(rate), float(options.get("maconomy_rate_window", 60)),
                                    self.clock) if rate and cfg.rate_limits else None)
        self.tokens: dict[str, _Token] = {}
        self._request_ids = count(1)
        # Serialised filter answers by query, valid for one store version [sandbox only].
        self._pages: OrderedDict[tuple[Any, ...], tuple[int, bytes]] = OrderedDict()
        self._page_bytes = 0
        self._page_budget = int(float(options.get("maconomy_page_cache_mb", 96)) * 2**20)
        s, defects = cfg.seed, cfg.defect_rate
        touched_customers: set[Any] = set()
        touched_jobs: set[Any] = set()
        customer_store = Collection(
            "customercard", key="customernumber", size=customers,
            factory=partial(seed.customer, s, defect_rate=defects), clock=self.clock,
            index_of=seed.customer_index, stamp=self._stamper("customernumber",
                                                              touched_customers))
        job_store = Collection(
            "jobs", key="jobnumber", size=jobs,
            factory=partial(seed.job, s, customers=customers, defect_rate=defects),
            clock=self.clock, index_of=seed.job_index,
            stamp=self._stamper("jobnumber", touched_jobs))
        customer_container = _Container(
            "customercard", customer_store, seed.CUSTOMER_FIELDS,
            frozenset(seed.CUSTOMER_LIGHT_FIELDS),
            partial(seed.customer_light, s, defect_rate=defects), ("customernumber", "name1"),
            self._customer_defaults, touched=touched_customers)
        self.containers: dict[str, _Container] = {
            "customercard": customer_container,
            "customers": customer_container,
            "jobs": _Container(
                "jobs", job_store, seed.JOB_FIELDS, frozenset(seed.JOB_LIGHT_FIELDS),
                partial(seed.job_light, s, customers=customers, defect_rate=defects),
                ("jobnumber", "jobname", "customernumber"), self._job_defaults,
                touched=touched_jobs),
        }
        self.customers = customer_store
        self.jobs = job_store

    # -- Sandbox hooks

    def routes(self) -> list[BaseRoute]:
        base = "/maconomy-api"
        return [
            Route(f"{base}/auth/{{shortname}}", self._auth, methods=["GET", "POST"]),
            Route(f"{base}/auth/{{shortname}}/login", self._auth, methods=["GET", "POST"]),
            Route(f"{base}/containers/v1/{{shortname}}/{{container}}/filter", self._filter_v1,
                  methods=["GET"]),
            Route(f"{base}/containers/{{shortname}}/{{container}}/filter", self._filter,
                  methods=["POST"]),
            Route(f"{base}/containers/{{shortname}}/{{container}}", self._specification,
                  methods=["GET"]),
        ]

    def control_routes(self) -> list[BaseRoute]:
        return [
            Route("/records/{container}", self._control_create, methods=["POST"]),
            Route("/records/{container}/{id}", self._control_record,
                  methods=["GET", "PATCH", "DELETE"]),
        ]

    def error_response(self, status: int, message: str) -> Response:
        family = {401: "authentication", 404: "notFound", 429: "rateLimit"}.get(
            status, "internal" if status >= 500 else "request")
        return _error(status, message, family)

    def too_many_requests_response(self, decision: RateDecision) -> Response:
        retry_after = max(1, int(decision.reset_seconds + 0.999))
        response = _error(429, "Too many requests; retry later.", "rateLimit")
        response.headers["Retry-After"] = str(retry_after)
        return response

    def health(self) -> dict[str, Any]:
        return {"customers": len(self.customers), "jobs": len(self.jobs),
                "shortname": self.shortname}

    # -- auth

    def _issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = _Token(self.clock.now().timestamp() + self.token_ttl)
        return token

    def _authenticate(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        """(error response or None, headers to add to the answer)."""
        header = request.headers.get("authorization", "")
        mode = request.headers.get("maconomy-authentication", "").lower()
        scheme, _, credential = header.partition(" ")
        now = self.clock.now().timestamp()
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                user, _, password = base64.b64decode(credential).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if (secrets.compare_digest(user, self.credentials.user)
                    and secrets.compare_digest(password, self.credentials.password)):
                extra = {"Maconomy-Reconnect": self._issue_token()} if "x-reconnect" in mode \
                    else {}
                return None, extra
            return _error(401, "Access denied: invalid username or password.",
                          "authentication"), {}
        if scheme == "x-reconnect":
            token = self.tokens.get(credential.strip())
            if token is None or token.expires_at <= now:
                self.tokens.pop(credential.strip(), None)
                return _error(401, "Access denied: the reconnect token is unknown or has "
                              "expired; log in again.", "authentication"), {}
            if "x-log-out" in mode:
                del self.tokens[credential.strip()]
                return None, {}
            token.uses += 1
            if token.retired:
                return None, {}
            token.expires_at = now + self.token_ttl
            if self.rotate_every and token.uses % self.rotate_every == 0:
                token.retired = True
                token.expires_at = now + self.rotation_grace
                return None, {"Maconomy-Reconnect": self._issue_token()}
            return None, {}
        return _error(401, "Access denied: authentication required (Basic or X-Reconnect).",
                      "authentication"), {}

    def _gate(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        """Shortname, rate limit and auth checks shared by every vendor route."""
        if request.path_params.get("shortname") != self.shortname:
            return _error(404, f"Unknown system {request.path_params.get('shortname')!r}.",
                          "notFound"), {}
        if self.limiter is not None:
            key = request.headers.get("authorization", "")[-12:]
            decision = self.limiter.check(key)
            if not decision.allowed:
                return self.too_many_requests_response(decision), {}
        return self._authenticate(request)

    async def _auth(self, request: Request) -> Response:
        failure, headers = self._gate(request)
        if failure is not None:
            return failure
        if request.headers.get("authorization", "").lower().startswith("basic") \
                and "Maconomy-Reconnect" not in headers:
            headers["Maconomy-Reconnect"] = self._issue_token()
        return Response(status_code=204, headers=headers)

    # -- containers

    def _container(self, request: Request) -> _Container | Response:
        name = request.path_params["container"].lower()
        container = self.containers.get(name)
        if container is None:
            return _error(404, f"Unknown container {name!r}; known: "
                          f"{', '.join(sorted(self.containers))}.", "notFound")
        return container

    async def _specification(self, request: Request) -> Response:
        failure, headers = self._gate(request)
        if failure is not None:
            return failure
        container = self._container(request)
        if isinstance(container, Response):
            return container
        fields = [{"name": f, "type": _FIELD_TYPES.get(f, "string"),
                   "mandatory": f in container.required} for f in container.fields]
        return self._json({"containerName": container.name,
                           "panes": {"filter": {"fields": fields}}}, headers)

    async def _filter(self, request: Request) -> Response:
        failure, headers = self._gate(request)
        if failure is not None:
            return failure
        container = self._container(request)
        if isinstance(container, Response):
            return container
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError as exc:
            return _error(400, f"Request body is not valid JSON: {exc}", "request")
        if not isinstance(body, dict):
            return _error(400, "Request body must be a JSON object.", "request")
        return self._run_filter(container, body, headers)

    async def _filter_v1(self, request: Request) -> Response:
        failure, headers = self._gate(request)
        if failure is not None:
            return failure
        container = self._container(request)
        if isinstance(container, Response):
            return container
        query = request.query_params
        body: dict[str, Any] = {"restriction": query.get("restriction", "")}
        if "fields" in query:
            body["fields"] = [f.strip() for f in query["fields"].split(",") if f.strip()]
        for name in ("limit", "offset"):
            if name in query:
                try:
                    body[name] = int(query[name])
                except ValueError:
                    return _error(400, f"'{name}' must be a whole number.", "request")
        if "orderby" in query:
            body["orderby"] = query["orderby"]
        return self._run_filter(container, body, headers)

    def _run_filter(self, container: _Container, body: dict[str, Any],
                    headers: dict[str, str]) -> Response:
        restriction_text = body.get("restriction") or ""
        limit = body.get("limit", self.default_limit)
        offset = body.get("offset", 0)
        if not isinstance(restriction_text, str):
            return _error(400, "'restriction' must be a string.", "request")
        for name, value in (("limit", limit), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return _error(400, f"'{name}' must be a whole number >= 0.", "request")
        if limit > self.max_limit:
            return _error(400, f"'limit' may not exceed {self.max_limit}.", "request")
        fields = body.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                return _error(400, "'fields' must be a list of field names.", "request")
            fields = [f.lower() for f in fields]
            unknown = [f for f in fields if f not in container.fields]
            if unknown:
                return _error(400, f"Unknown field {unknown[0]!r} in container "
                              f"{container.name!r}.", "request",
                              focus={"paneName": "filter", "fieldName": unknown[0],
                                     "rowNumber": None})
        try:
            order = _parse_orderby(body.get("orderby"), container.fields)
            restriction = container.restriction(restriction_text)
        except RestrictionError as exc:
            return _error(400, f"Invalid restriction: {exc}", "restriction",
                          focus={"paneName": "filter", "fieldName": exc.field_name,
                                 "rowNumber": None})
        store = container.collection
        # The answer is a pure function of the query and the store's contents, so it is
        # served from the cache until the next write bumps the store's version.
        cache_key = (container.name, restriction.text, order,
                     None if fields is None else tuple(fields), offset, limit)
        cached = self._pages.get(cache_key)
        if cached is not None and cached[0] == store.version:
            self._pages.move_to_end(cache_key)
            return self._raw_json(cached[1], headers)
        version = store.version
        records = self._select(container, restriction, order, offset, limit)
        if fields is not None:
            rows = [{"data": {f: r[f] for f in fields if f in r}} for r in records]
        else:
            rows = [{"data": r} for r in records]
        body = orjson.dumps({"panes": {"filter": {
            "meta": {"paneName": "filter", "rowCount": len(rows), "rowOffset": offset},
            "records": rows,
        }}})
        if store.version == version:  # nothing was written while the page was built
            self._remember_page(cache_key, version, body)
        return self._raw_json(body, headers)

    def _remember_page(self, key: tuple[Any, ...], version: int, body: bytes) -> None:
        """Keep a serialised answer, dropping the least recently used over the budget."""
        if len(body) > self._page_budget:
            return
        old = self._pages.pop(key, None)
        if old is not None:
            self._page_bytes -= len(old[1])
        self._pages[key] = (version, body)
        self._page_bytes += len(body)
        while self._page_bytes > self._page_budget:
            _, (_, dropped) = self._pages.popitem(last=False)
            self._page_bytes -= len(dropped)

    def _select(self, container: _Container, restriction: Restriction,
                order: tuple[tuple[str, bool], ...], offset: int,
                limit: int) -> list[dict[str, Any]]:
        store = container.collection
        key = store.key
        natural = not order or order == ((key, False),)
        if restriction.matches is _always and natural:
            return store.page(offset, limit)
        cache_key = (restriction.text, order)
        cached = container.matches.get(cache_key)
        if cached is not None and cached[0] == store.version:
            ids = cached[1]
        else:
            ids = self._indexed_ids(container, restriction, order)
            if ids is None:
                ids = self._matching_ids(container, restriction, order, natural)
            container.matches[cache_key] = (store.version, ids)
            if len(container.matches) > 16:
                container.matches.popitem(last=False)
        return [r for r in map(store.get, ids[offset:offset + limit]) if r is not None]

    def _indexed_ids(self, container: _Container, restriction: Restriction,
                     order: tuple[tuple[str, bool], ...]) -> list[Any] | None:
        """A delta read (`cursor >= t`, ordered by cursor then key) from the cursor index:
        a bisection instead of a scan and sort of every record. None when the query has
        another shape; the general scan answers it the same way."""
        store = container.collection
        cursor = container.cursor
        if order != ((cursor, False), (store.key, False)):
            return None
        bounds = [b for b in restriction.lower if b[0] == cursor]
        if not bounds:
            return None
        _, op, literal = max(bounds, key=lambda b: (b[2], b[1] == ">"))
        stamps, ids, indices = container.cursor_index()
        start = bisect_left(stamps, literal) if op == ">=" else bisect_right(stamps, literal)
        changed = store.modified_at  # changed, created or deleted through the sandbox
        matches = restriction.matches
        factory = container.light_factory if restriction.fields <= container.light_fields \
            else store.factory
        every = restriction.lower_only  # past the bound, every record matches
        found = [(stamps[pos], ids[pos]) for pos in range(start, len(ids))
                 if changed(ids[pos]) is None
                 and (every or matches(factory(indices[pos])))]
        extra = [(record[cursor], record[store.key])
                 for record in map(store.get, container.touched)
                 if record is not None and matches(record)]
        if extra:
            found.extend(extra)
            found.sort(key=lambda pair: (_sort_key(pair[0]), _sort_key(pair[1])))
        return [record_id for _, record_id in found]

    def _matching_ids(self, container: _Container, restriction: Restriction,
                      order: tuple[tuple[str, bool], ...], natural: bool) -> list[Any]:
        store = container.collection
        key = store.key
        needed = restriction.fields | {name for name, _ in order}
        factory = container.light_factory if needed <= container.light_fields else None
        matches = restriction.matches
        if natural:
            return [r[key] for r in store.iter(factory) if matches(r)]
        rows = [r for r in store.iter(factory) if matches(r)]
        # Stable sorts from the last key to the first; missing values sort first.
        for name, descending in reversed(order):
            rows.sort(key=lambda r, n=name: _sort_key(r.get(n)), reverse=descending)
        return [r[key] for r in rows]

    def _json(self, payload: Any, headers: dict[str, str]) -> Response:
        return self._raw_json(orjson.dumps(payload), headers)

    def _raw_json(self, body: bytes, headers: dict[str, str]) -> Response:
        headers = {**headers, "Maconomy-RequestId": f"sandbox-{next(self._request_ids)}"}
        return Response(body, media_type=CONTENT_TYPE, headers=headers)

    # -- writes (as a Maconomy user would make them)

    def _stamper(self, key: str, touched: set[Any]) -> Callable[
            [dict[str, Any], datetime, dict[str, Any] | None], None]:
        """The write hook of one collection: stamp the record, note its id as touched."""

        def stamp(record: dict[str, Any], now: datetime,
                  previous: dict[str, Any] | None) -> None:
            touched.add(record[key])
            self._stamp(record, now, previous)

        return stamp

    def _stamp(self, record: dict[str, Any], now: datetime,
               previous: dict[str, Any] | None) -> None:
        record["transactiontimestamp"] = maconomy_timestamp(now)
        record["changeddate"] = now.date().isoformat()
        if previous is None:
            record.setdefault("createddate", now.date().isoformat())
            record["versionnumber"] = 1
        else:
            record["versionnumber"] = int(previous.get("versionnumber") or 0) + 1

    def _customer_defaults(self, number: str) -> dict[str, Any]:
        base = dict.fromkeys(seed.CUSTOMER_FIELDS, "")
        base.update({"customernumber": number, "country": "sweden", "currency": "SEK",
                     "paymentterms": "N30", "blocked": False, "region": "central"})
        return base

    def _job_defaults(self, number: str) -> dict[str, Any]:
        base = dict.fromkeys(seed.JOB_FIELDS, "")
        now = self.clock.now()
        base.update({"jobnumber": number, "closed": False, "active": True, "jobtype": "T&M",
                     "region": "central", "theyear": now.year, "budgetamount": 0.0})
        return base

    async def _control_record(self, request: Request) -> Response:
        container = self._container(request)
        if isinstance(container, Response):
            return container
        store = container.collection
        record_id = request.path_params["id"]
        if request.method == "GET":
            record = store.get(record_id)
        elif request.method == "DELETE":
            if not store.delete(record_id):
                return _error(404, f"No record {record_id!r} in {container.name}.", "notFound")
            return Response(status_code=204)
        else:
            changes = await _changes(request, container)
            if isinstance(changes, Response):
                return changes
            changes.pop(store.key, None)
            record = store.patch(record_id, changes)
        if record is None:
            return _error(404, f"No record {record_id!r} in {container.name}.", "notFound")
        return JSONResponse({"data": record})

    async def _control_create(self, request: Request) -> Response:
        container = self._container(request)
        if isinstance(container, Response):
            return container
        changes = await _changes(request, container)
        if isinstance(changes, Response):
            return changes
        store = container.collection
        number = str(changes.pop(store.key, "") or "")
        if not number:
            make = seed.customer_number if store.key == "customernumber" else seed.job_number
            index = store.size
            while store.get(make(index)) is not None:
                index += 1
            number = make(index)
        elif store.get(number) is not None:
            return _error(409, f"Record {number!r} already exists in {container.name}.",
                          "request")
        record = container.defaults(number)
        record.update(changes)
        return JSONResponse({"data": store.put(record)}, status_code=201)


async def _changes(request: Request, container: _Container) -> dict[str, Any] | Response:
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        return _error(400, "Request body is not valid JSON.", "request")
    if not isinstance(body, dict):
        return _error(400, "Request body must be a JSON object of field values.", "request")
    changes = {str(k).lower(): v for k, v in body.items()}
    unknown = [k for k in changes if k not in container.fields]
    if unknown:
        return _error(400, f"Unknown field {unknown[0]!r} in container {container.name!r}.",
                      "request")
    # A job's "active" mirrors "closed" (Maconomy shows one; the seed filters on the other).
    if "closed" in changes and "active" in container.fields:
        changes["active"] = not changes["closed"]
    elif "active" in changes and "closed" in container.fields:
        changes["closed"] = not changes["active"]
    return changes


def _parse_orderby(value: Any, fields: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """`"transactiontimestamp, customernumber desc"` or a list -> ((field, descending), ...)."""
    if value is None or value == "":
        return ()
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple):
        raise RestrictionError("'orderby' must be a string or a list of strings", 0)
    order = []
    for part in parts:
        words = str(part).strip().lower().split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise RestrictionError(f"invalid orderby item {part!r}", 0)
        if words[0] not in fields:
            raise RestrictionError(f"unknown field {words[0]!r} in orderby", 0, words[0])
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    return tuple(order)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


def _error(status: int, message: str, family: str, *, focus: dict[str, Any] | None = None,
           data: Any = None) -> Response:
    """Maconomy's error envelope."""
    body = {"errorMessage": message, "errorFamily": family, "errorSeverity": "error",
            "focus": focus, "data": data}
    return Response(orjson.dumps(body), status_code=status, media_type=CONTENT_TYPE)
