"""Problems found while compiling or checking a transform, located inside its text.

Positions are 1-based within the template text; the spec checker shifts them to the
file position of the YAML scalar. Codes are stable:

- templates.syntax            Jinja cannot parse it, or the mapping has an unknown shape
- templates.too-long          the template text is over the length cap
- templates.unsafe            reaches for `_`-prefixed attributes, includes, macros, ...
- templates.unknown-filter    `| name` that is not one of our filters (or tests)
- templates.unknown-function  `name(...)` that is not one of our functions
- templates.positional        a `{N}` template with a bad placeholder or index
- templates.undefined         names a record field the source object does not have
- templates.unknown-setup     `setup.x` where the spec's setup has no `x`
- templates.unknown-sync      `linked('x')` where the spec has no sync `x`
- templates.ambiguous-name    a name that is both a source field and a template function
- templates.invalid-argument  `linked(..., missing=x)` where x is not 'fail' or 'skip'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.diagnostics import Diagnostic, Location
from engine.errors import SpecsyncError

__all__ = ["TemplateProblem", "TransformError"]


@dataclass(frozen=True)
class TemplateProblem:
    code: str
    message: str
    line: int = 1
    column: int = 1
    end_column: int | None = None
    hint: str | None = None

    def to_diagnostic(self, at: Location, pointer: str = "") -> Diagnostic:
        """Place the problem in the file, for a template written as a single-line scalar at `at`."""
        column = at.column + self.column - 1
        end = at.column + self.end_column - 1 if self.end_column else None
        where = Location(at.file, at.line + self.line - 1, column, end)
        return Diagnostic(self.code, self.message, where, self.hint, pointer=pointer)

    def __str__(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.line}:{self.column}: [{self.code}] {self.message}{hint}"


class TransformError(SpecsyncError):
    """`compile_transform` refused a transform; `problems` says where and why."""

    def __init__(self, problems: Sequence[TemplateProblem]):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))
