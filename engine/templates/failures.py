"""Turn whatever a render raised into a RecordError with a stable code.

Both render paths (compiled Python and the Jinja sandbox) end here, so the same failure
gets the same code either way. Messages carry exception text only for kinds that never
quote values (undefined names, type mismatches, sandbox refusals); for the rest only the
kind is named, because a ValueError can quote a personal identity number.
"""

from __future__ import annotations

from jinja2.exceptions import SecurityError, TemplateError, UndefinedError

from engine.errors import RecordError
from engine.templates.limits import ResourceLimitError

__all__ = ["record_error"]


def record_error(exc: BaseException) -> RecordError:
    if isinstance(exc, RecordError):
        return exc
    if isinstance(exc, ResourceLimitError):
        return RecordError("templates.too-large", str(exc))
    if isinstance(exc, SecurityError):
        return RecordError("templates.unsafe", f"the template sandbox refused: {exc}")
    if isinstance(exc, UndefinedError):
        return RecordError("templates.undefined-value", f"the record has no value for it: {exc}")
    if isinstance(exc, ZeroDivisionError):
        return RecordError("templates.zero-division", "division by zero")
    if isinstance(exc, (OverflowError, MemoryError, RecursionError)):
        return RecordError("templates.too-large", f"{type(exc).__name__} while rendering")
    if isinstance(exc, TypeError):
        return RecordError("templates.type-error", str(exc)[:200])
    if isinstance(exc, TemplateError):
        return RecordError("templates.runtime", type(exc).__name__)
    return RecordError("templates.invalid-value", f"{type(exc).__name__} while rendering")
