"""Field transforms: sandboxed Jinja templates, positional `{0}` templates, constants.

    transform = compile_transform("{{ name | first_name }}")
    transform.render(record, RenderContext(setup=setup, links=links, now=now))

See `compile.py` for the shapes, `environment.py` for what templates can reach,
`functions/` for the filters the seed integrations need, `keys.py` for record keys.
"""

from __future__ import annotations

from engine.templates.compile import Render, Transform, check_transform, compile_transform
from engine.templates.context import OMIT, LinkResolver, NoLinks, Omit, RenderContext
from engine.templates.keys import KeySpec, build_key, key_function
from engine.templates.problems import TemplateProblem, TransformError

__all__ = [
    "OMIT",
    "KeySpec",
    "LinkResolver",
    "NoLinks",
    "Omit",
    "Render",
    "RenderContext",
    "TemplateProblem",
    "Transform",
    "TransformError",
    "build_key",
    "check_transform",
    "compile_transform",
    "key_function",
]
