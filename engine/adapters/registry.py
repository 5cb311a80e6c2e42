"""Vendors are found through the `specsync.adapters` entry point group.

Each entry point loads a `Vendor` (engine/adapters/base.py): the adapter class, its
catalog and its optional capabilities. A third-party package adds a system by declaring
an entry point in that group; nothing in the engine changes::

    [project.entry-points."specsync.adapters"]
    fortnox = "specsync_fortnox:VENDOR"

Registries are instance-owned (tests build their own and `register` a toy vendor); the
process default is `default_registry()`. Entry points are loaded on first use, under a
lock, so the runner's threads may share one registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from engine.adapters.base import Vendor
from engine.adapters.catalog import Catalog

__all__ = ["GROUP", "AdapterRegistry", "default_registry", "known_adapters"]

GROUP = "specsync.adapters"


class AdapterRegistry:
    """The vendors one process knows: registered ones first, then entry points."""

    def __init__(self, vendors: Iterable[Vendor] = (), *, discover: bool = True) -> None:
        self._vendors: dict[str, Vendor] = {v.name: v for v in vendors}
        self._entry_points: dict[str, EntryPoint] = (
            {ep.name: ep for ep in entry_points(group=GROUP)} if discover else {})
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(set(self._vendors) | set(self._entry_points))

    def register(self, vendor: Vendor) -> None:
        with self._lock:
            self._vendors[vendor.name] = vendor

    def vendor(self, name: str) -> Vendor:
        """The vendor called `name`; KeyError when none is installed."""
        found = self._vendors.get(name)
        if found is not None:
            return found
        with self._lock:
            if name not in self._vendors:
                if name not in self._entry_points:
                    raise KeyError(name)
                loaded = self._entry_points[name].load()
                if not isinstance(loaded, Vendor):
                    raise TypeError(f"entry point {GROUP}:{name} must load a Vendor, "
                                    f"not {type(loaded).__name__}")
                self._vendors[name] = loaded
            return self._vendors[name]

    def find(self, name: str) -> Vendor | None:
        try:
            return self.vendor(name)
        except KeyError:
            return None

    def catalog(self, name: str) -> Catalog | None:
        """The catalog of a known vendor, or None when no vendor of that name exists."""
        vendor = self.find(name)
        return vendor.catalog if vendor is not None else None

    def factory(self, name: str) -> Callable[..., Any]:
        """The adapter class (called with ConnectionConfig, httpx client, AdapterContext)."""
        return self.vendor(name).adapter

    def title(self, name: str) -> str:
        """The vendor's name as people write it ("HubSpot"), or `name` when unknown."""
        vendor = self.find(name)
        return vendor.title if vendor is not None else name


@cache
def default_registry() -> AdapterRegistry:
    return AdapterRegistry()


def known_adapters() -> list[str]:
    return default_registry().names()
