"""Start-up objects out of the garbage collector's way, once a command has loaded.

A full collection (generation 2) walks every object the collector tracks. Once a command
has started that is some 60,000 objects (modules, classes, functions, the compiled spec)
that live as long as the process; a no-change reconcile of 100,000 records triggers a few
full collections, and each walked them all for nothing (about 1 us of engine CPU per
record). `gc.freeze()` moves what exists to the permanent generation, which collections
skip; everything made later is collected as before. Garbage is collected first, so none
of it is kept for good.
"""

from __future__ import annotations

import gc

__all__ = ["settle"]


def settle() -> None:
    """Collect, then freeze what is left: call once a command has loaded its specs."""
    gc.collect()
    gc.freeze()
