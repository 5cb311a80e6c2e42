"""Resource caps for field transforms.

The sandbox decides *what* a template may reach; these caps bound *how much* it may
build, so a careless `'-' * 10**9` or a runaway `replace` fails one record instead of
exhausting the worker. Template authors are trusted operators: the caps are defence in
depth, not a boundary against hostile users.
"""

from __future__ import annotations

from jinja2.exceptions import SecurityError

__all__ = [
    "MAX_LOOP_DEPTH",
    "MAX_POWER_EXPONENT",
    "MAX_RANGE",
    "MAX_RESULT_SIZE",
    "MAX_TEMPLATE_CHARS",
    "ResourceLimitError",
]

MAX_TEMPLATE_CHARS = 10_000  # template text; a field transform is a line, not a program
MAX_RESULT_SIZE = 100_000  # characters of a string, items of a list, built by a template
MAX_RANGE = 1_000  # items `range()` may produce
MAX_LOOP_DEPTH = 1  # `{% for %}` may not nest: keeps the work linear in the data
MAX_POWER_EXPONENT = 1_000  # `a ** b` for integers


class ResourceLimitError(SecurityError):
    """A template tried to build something bigger than the caps above allow."""
