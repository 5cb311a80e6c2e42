"""Setup values a template puts at a nested place of a value it builds.

A Kleer invoice's `rows` is one template that builds the whole list, e.g.
`[{'product': {'id': inputs.get('kleer_product_id') or setup.default_product_id}}]`:
the records decide most of it, but the product a row falls back to is a setup value,
and that product must exist in Kleer. `setup_names_at(text, ("product", "id"))` finds
`default_product_id` there, by reading the template's dict literals (never rendering).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from engine.templates.environment import ENV

__all__ = ["setup_names_at"]


def setup_names_at(text: str, path: Sequence[str]) -> list[str]:
    """Setup names read by the expressions a dict literal of the template holds at `path`
    (keys from the outside in), in template order, each once; [] for text that does not
    parse (validate reports it)."""
    try:
        tree = ENV.parse(text)
    except TemplateSyntaxError:
        return []
    found: list[str] = []
    for value in _at(tree, tuple(path)):
        for name in _setup_names(value):
            if name not in found:
                found.append(name)
    return found


def _at(node: nodes.Node, path: tuple[str, ...]) -> Iterator[nodes.Node]:
    """The values at `path` of the outermost dict literals under `node` (a dict that is
    the value of another's key is reached through that key, not on its own)."""
    mappings = list(node.find_all(nodes.Dict))
    inner = {id(pair.value) for mapping in mappings for pair in mapping.items}
    for mapping in mappings:
        if id(mapping) not in inner:
            yield from _follow(mapping, path)


def _follow(mapping: nodes.Dict, path: tuple[str, ...]) -> Iterator[nodes.Node]:
    head, rest = path[0], path[1:]
    for pair in mapping.items:
        if not (isinstance(pair.key, nodes.Const) and pair.key.value == head):
            continue
        if not rest:
            yield pair.value
        elif isinstance(pair.value, nodes.Dict):
            yield from _follow(pair.value, rest)


def _setup_names(node: nodes.Node) -> Iterator[str]:
    for step in (node, *node.find_all((nodes.Getattr, nodes.Getitem))):
        if not isinstance(step, (nodes.Getattr, nodes.Getitem)):
            continue
        if not (isinstance(step.node, nodes.Name) and step.node.name == "setup"):
            continue
        if isinstance(step, nodes.Getattr):
            yield step.attr
        elif isinstance(step.arg, nodes.Const) and isinstance(step.arg.value, str):
            yield step.arg.value
