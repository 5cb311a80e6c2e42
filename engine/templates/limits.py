"""Resource caps for field transforms.

The sandbox decides *what* a template may reach; these caps bound *how much* it may
build, so a careless `'-' * 10**9` or a `join` bomb fails one record instead of
exhausting the worker. The size budget counts intermediate values, not only results:
`*` weighs what it repeats (a list of long texts weighs their characters), and `+`,
`~` and `join` are checked before their result is kept; there is no `{% set %}` and
loops do not nest, so no chain of steps can grow past what one step may build.
Template authors are trusted operators: the caps are defence in
depth, not a boundary against hostile users.
"""

from __future__ import annotations

from jinja2.exceptions import SecurityError

__all__ = [
    "MAX_LOOP_DEPTH",
    "MAX_POWER_EXPONENT",
    "MAX_RANGE",
    "MAX_REPEAT",
    "MAX_RESULT_SIZE",
    "MAX_TEMPLATE_CHARS",
    "ResourceLimitError",
]

MAX_TEMPLATE_CHARS = 10_000  # template text; a field transform is a line, not a program
MAX_RESULT_SIZE = 100_000  # characters of a string, items of a list, built by a template
MAX_RANGE = 1_000  # items `range()` may produce
MAX_LOOP_DEPTH = 1  # `{% for %}` may not nest: keeps the work linear in the data
MAX_POWER_EXPONENT = 1_000  # `a ** b` for integers
MAX_REPEAT = 1_000  # a literal `x * N` above this is refused by validate (templates.too-large)


class ResourceLimitError(SecurityError):
    """A template tried to build something bigger than the caps above allow."""
