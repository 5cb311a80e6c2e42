"""Adapters are found through the `specsync.adapters` entry point group.

A third-party package adds a system by declaring an entry point in that group and
shipping its object catalog; nothing in the engine changes. Registries are
instance-owned (tests build their own), the process default is `default_registry()`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from typing import Any

__all__ = ["AdapterRegistry", "default_registry", "known_adapters"]

GROUP = "specsync.adapters"


class AdapterRegistry:
    def __init__(self, factories: dict[str, Callable[..., Any]] | None = None,
                 *, discover: bool = True):
        self._factories: dict[str, Callable[..., Any]] = dict(factories or {})
        self._entry_points = {ep.name: ep for ep in entry_points(group=GROUP)} if discover else {}

    def names(self) -> list[str]:
        return sorted(set(self._factories) | set(self._entry_points))

    def register(self, name: str, factory: Callable[..., Any]) -> None:
        self._factories[name] = factory

    def factory(self, name: str) -> Callable[..., Any]:
        if name not in self._factories:
            if name not in self._entry_points:
                raise KeyError(name)
            self._factories[name] = self._entry_points[name].load()
        return self._factories[name]


@cache
def default_registry() -> AdapterRegistry:
    return AdapterRegistry()


def known_adapters() -> list[str]:
    return default_registry().names()
