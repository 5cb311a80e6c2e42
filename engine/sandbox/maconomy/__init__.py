"""The Maconomy simulator: `MaconomySandbox` (routes and behaviour in `app`), its generated data
(`seed`) and its public sandbox credentials (`credentials`)."""

from engine.sandbox.maconomy.app import (
    CONTENT_TYPE,
    MaconomySandbox,
    Restriction,
    RestrictionError,
    compile_restriction,
    maconomy_timestamp,
)
from engine.sandbox.maconomy.credentials import MaconomyCredentials

__all__ = [
    "CONTENT_TYPE",
    "MaconomyCredentials",
    "MaconomySandbox",
    "Restriction",
    "RestrictionError",
    "compile_restriction",
    "maconomy_timestamp",
]
