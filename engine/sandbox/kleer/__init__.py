"""The Kleer simulator: `KleerSandbox` (routes and behaviour in `app`), its generated data
(`seed`) and its public sandbox credentials (`credentials`)."""

from engine.sandbox.kleer.app import KleerSandbox
from engine.sandbox.kleer.credentials import KleerCredentials

__all__ = [
    "KleerCredentials",
    "KleerSandbox",
]
