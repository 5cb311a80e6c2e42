"""The Kleer simulator, split by concept: `KleerSandbox` and its route table (`app`),
Kleer's XSD as it reads bodies and shapes answers (`schema`, over `xsd.json`), the write
rules (`records`), payroll and schedules (`payroll`), the paged invoice list
(`invoices`), JSON and XML answers (`render`), generated data (`seed`), its knobs
(`settings`) and its public sandbox credentials (`credentials`)."""

from engine.sandbox.kleer.app import KleerSandbox
from engine.sandbox.kleer.credentials import KleerCredentials
from engine.sandbox.kleer.settings import KleerSettings

__all__ = [
    "KleerCredentials",
    "KleerSandbox",
    "KleerSettings",
]
