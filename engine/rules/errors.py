"""Exceptions of the filter language, each able to become a located `Diagnostic`.

RuleError (SpecsyncError)
 ├── RuleSyntaxError   the text is not a filter (code "rules.syntax")
 └── RuleSetupError    compile_rule was given a rule whose `setup.x` is missing or unusable
"""

from __future__ import annotations

from engine.diagnostics import Diagnostic, Location
from engine.errors import SpecsyncError

__all__ = ["RuleError", "RuleSetupError", "RuleSyntaxError", "locate"]


def locate(at: Location, line: int, column: int, end_column: int | None) -> Location:
    """Map a 1-based position inside a filter onto the file, given where the filter starts.

    Line 1 of the filter continues `at`'s line; later lines keep their own columns
    (callers with indented block scalars pass an `at` per line or shift afterwards).
    """
    if line <= 1:
        shift = at.column - 1
        return Location(at.file, at.line, column + shift,
                        None if end_column is None else end_column + shift)
    return Location(at.file, at.line + line - 1, column, end_column)


class RuleError(SpecsyncError):
    """Base of the filter language's errors."""


class RuleSyntaxError(RuleError):
    """The filter text does not parse; positions are 1-based inside the text."""

    code = "rules.syntax"

    def __init__(self, message: str, line: int, column: int, end_column: int,
                 hint: str | None = None):
        self.message = message
        self.line = line
        self.column = column
        self.end_column = end_column
        self.hint = hint
        super().__init__(f"{line}:{column}: {message}")

    def to_diagnostic(self, at: Location) -> Diagnostic:
        return Diagnostic(self.code, self.message,
                          locate(at, self.line, self.column, self.end_column), self.hint)


class RuleSetupError(RuleError):
    """A `setup.x` reference cannot be bound when compiling (check_rule reports it first)."""
