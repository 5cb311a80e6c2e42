"""Pages from Jinja templates, with times in the operator's time zone.

The browser tells its time zone once (console.js sets the `tz` cookie from
`Intl.DateTimeFormat`); from then on every time is rendered in that zone on the server,
in a `<time datetime="...">` element whose machine-readable value stays UTC. Until the
cookie is there (the first page, or without JavaScript), times are UTC and say so.

Templates are autoescaped; nothing is fetched from elsewhere (CSS and JavaScript are
served from this package's static/ folder under a strict Content-Security-Policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

__all__ = ["SECURITY_HEADERS", "Renderer", "zone_of"]

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",  # pages carry operational data: keep them out of caches
}


def zone_of(name: str | None) -> tzinfo:
    """The zone a `tz` cookie names; UTC when absent or not a known IANA name."""
    if not name or len(name) > 64:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _time(moment: datetime | None, zone: tzinfo, style: str = "full") -> Markup:
    if moment is None:
        return Markup("&ndash;")
    local = moment.astimezone(zone)
    text = local.strftime("%H:%M:%S" if style == "time" else "%Y-%m-%d %H:%M:%S")
    iso = moment.astimezone(UTC).isoformat(timespec="seconds")
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        iso, moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), text)


def _duration(value: timedelta | float | None) -> str:
    if value is None:
        return "–"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}".replace(",", "\u202f")  # thin space: 10 000


def _relative(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    seconds = (moment - now).total_seconds()
    word = "in {}" if seconds >= 0 else "{} ago"
    return word.format(_duration(abs(seconds)))


class Renderer:
    """Renders the console's templates for one request's principal and time zone."""

    def __init__(self) -> None:
        self.env = Environment(loader=PackageLoader("engine.console", "templates"),
                               autoescape=select_autoescape(default=True),
                               undefined=StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True)
        self.env.filters.update(duration=_duration, number=_number)

    def page(self, template: str, context: Mapping[str, Any], *, zone: tzinfo,
             zone_name: str | None, status_code: int = 200) -> HTMLResponse:
        def when(moment: datetime | None, style: str = "full") -> Markup:
            return _time(moment, zone, style)

        def ago(moment: datetime | None, now: datetime) -> str:
            return _relative(moment, now)

        def cursor(value: str | None) -> Markup | str:
            """A cursor that is a time, in the operator's zone; any other as it is."""
            if not value:
                return "–"
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return value
            return _time(moment if moment.tzinfo else moment.replace(tzinfo=UTC), zone)

        body = self.env.get_template(template).render(
            **context, when=when, ago=ago, cursor=cursor, zone_name=zone_name or "UTC",
            zone_known=zone_name is not None, escape=escape)
        return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
