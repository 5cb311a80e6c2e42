"""The template functions for people: signature, what it does, an example and its result.

`specsync functions` prints this. Each example is rendered by the real template engine
when the reference is built, so the result shown is what a spec gets, never a claim
that drifted from the code; a function without an example fails the test suite.

    for entry in function_reference():
        print(entry.usage, entry.summary, entry.example, "->", entry.result)
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from engine.templates.functions import FILTERS, FUNCTIONS, is_contextual

__all__ = ["EXAMPLES", "FunctionEntry", "function_reference"]

# name -> (template, the record it reads). Links used by linked/linked_source: _LINKS.
EXAMPLES: Mapping[str, tuple[str, Mapping[str, Any]]] = {
    "cents": ("{{ amount | cents }}", {"amount": 1999}),
    "date": ("{{ start | date('%d/%m/%Y') }}", {"start": "2024-05-01"}),
    "datetime": ("{{ changed | datetime }}", {"changed": "2024-05-01T10:00:00+02:00"}),
    "first_name": ("{{ name | first_name }}", {"name": "Anna Maria Svensson"}),
    "float": ("{{ rate | float }}", {"rate": "4,5"}),
    "int": ("{{ quantity | int }}", {"quantity": "42"}),
    "last_name": ("{{ name | last_name }}", {"name": "Karl af Trolle"}),
    "linked": ("{{ customernumber | linked('customers') }}", {"customernumber": "10042"}),
    "linked_source": ("{{ customerId | linked_source('customers') }}", {"customerId": 9001}),
    "lookup": ("{{ country | lookup({'sweden': 'SE', 'norway': 'NO'}) }}",
               {"country": "sweden"}),
    "orgno": ("{{ orgnr | orgno }}", {"orgnr": "5566778899"}),
    "replace": ("{{ phone | replace(' ', '') }}", {"phone": "+46 8 123 45 67"}),
    "rows_total": ("{{ rows | rows_total }}", {"rows": [{"quantity": 2, "price": 150}]}),
    "select_tags": ("{{ categories | select_tags(['Java', 'Go']) }}",
                    {"categories": ["Go", "Cobol"]}),
    "split_name": ("{{ name | split_name }}", {"name": "Anna Svensson"}),
    "ssn": ("{{ pnr | ssn }}", {"pnr": "8112189876"}),
    "ssn_birth_date": ("{{ pnr | ssn_birth_date }}", {"pnr": "8112189876"}),
    "ssn_gender": ("{{ pnr | ssn_gender }}", {"pnr": "8112189876"}),
    "to_cents": ("{{ amount | to_cents }}", {"amount": "45 000,50"}),
    "vat_number": ("{{ orgnr | vat_number }}", {"orgnr": "556677-8899"}),
}
_LINKS = {"customers": {"10042": "9001"}}  # what another sync wrote, for the link examples


@dataclass(frozen=True)
class FunctionEntry:
    name: str
    usage: str  # `value | name(args)`, and `name(value, args)` when callable by name
    summary: str
    example: str
    record: Mapping[str, Any]
    result: str  # the example's output, as JSON text


def _parameters(fn: Callable[..., Any]) -> list[str]:
    """The arguments after the value, optional ones in brackets."""
    params = list(inspect.signature(fn).parameters.values())
    if is_contextual(fn):
        params = params[1:]
    shown = []
    for param in params[1:]:
        shown.append(param.name if param.default is inspect.Parameter.empty
                     else f"[{param.name}]")
    return shown


def _usage(name: str, fn: Callable[..., Any]) -> str:
    args = _parameters(fn)
    filter_form = f"value | {name}({', '.join(args)})" if args else f"value | {name}"
    if name in FUNCTIONS:
        return f"{filter_form}   or   {name}({', '.join(['value', *args])})"
    return filter_form


def _summary(fn: Callable[..., Any]) -> str:
    doc = inspect.getdoc(fn) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _json(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return float(v) if v != v.to_integral_value() else int(v)
        if isinstance(v, datetime | date):
            return v.isoformat()
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), ensure_ascii=False)


def function_reference(name: str | None = None) -> Iterator[FunctionEntry]:
    """Every template function (or the one named), its example rendered for real."""
    from engine.spectest import StaticLinks
    from engine.templates import RenderContext, compile_transform

    ctx = RenderContext(setup={}, links=StaticLinks(_LINKS),
                        now=datetime(2025, 4, 1, 12, tzinfo=UTC))
    for fn_name, fn in sorted(FILTERS.items()):
        if name is not None and fn_name != name:
            continue
        template, record = EXAMPLES[fn_name]
        result = compile_transform(template).render(record, ctx)
        yield FunctionEntry(fn_name, _usage(fn_name, fn), _summary(fn), template, record,
                            _json(result))
