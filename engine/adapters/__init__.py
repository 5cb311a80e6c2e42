"""Adapters: one module per system, behind the protocol in `engine.adapters.base`.

Vendor modules (`kleer`, `cinode`, `maconomy`, `hubspot`) are found through the
`specsync.adapters` entry points (`engine.adapters.registry`) and imported only when a
spec names them, so loading the engine never pays for every vendor's code.
"""

from __future__ import annotations

__all__: list[str] = []
