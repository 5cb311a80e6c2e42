"""The Maconomy simulator, split by concept:

- `app`: `MaconomySandbox`, the routes real clients use;
- `auth`: Basic credentials and reconnect tokens;
- `restriction`: the restriction language (parser, evaluator, the tenant's `Dialect`);
- `store`: containers, ordering, paging and the delta fast path;
- `answers`: the shapes of answers and errors;
- `control`: a user's changes through `/_sandbox/records/...`;
- `settings`: `MaconomySettings`, the one config (tenant behaviour and knobs);
- `seed`: the generated customers and jobs; `credentials`: the public sandbox login.
"""

from engine.sandbox.maconomy.answers import CONTAINERS_TYPE
from engine.sandbox.maconomy.app import API, V1, MaconomySandbox
from engine.sandbox.maconomy.credentials import MaconomyCredentials
from engine.sandbox.maconomy.restriction import (
    Dialect,
    Restriction,
    RestrictionError,
    compile_restriction,
    maconomy_timestamp,
)
from engine.sandbox.maconomy.settings import MaconomySettings

__all__ = [
    "API",
    "CONTAINERS_TYPE",
    "V1",
    "Dialect",
    "MaconomyCredentials",
    "MaconomySandbox",
    "MaconomySettings",
    "Restriction",
    "RestrictionError",
    "compile_restriction",
    "maconomy_timestamp",
]
