"""Coverage for people (text), tools (json) and GitHub Actions (annotations + summary)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from engine.coverage.collect import SpecSummary

__all__ = ["FORMATS", "render", "total_percent"]

FORMATS = ("text", "json", "github")


def total_percent(summaries: Sequence[SpecSummary]) -> float:
    seen = sum(s for x in summaries for s, _ in x.counts.values())
    wanted = sum(w for x in summaries for _, w in x.counts.values())
    return 100.0 if wanted == 0 else 100.0 * seen / wanted


def _escape(text: str) -> str:
    """GitHub workflow-command data: %, CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render(summaries: Sequence[SpecSummary], fmt: str, *,
           fail_under: float | None = None) -> str:
    total = total_percent(summaries)
    if fmt == "json":
        return json.dumps({"percent": round(total, 1), "fail_under": fail_under,
                           "specs": [s.to_dict() for s in summaries]}, indent=2,
                          ensure_ascii=False)
    lines: list[str] = []
    if fmt == "github":
        for s in summaries:
            for g in s.uncovered:
                lines.append(f"::warning file={g.file},line={g.line},col={g.column},"
                             f"title=spec coverage::{_escape(g.message())}")
            lines.append(f"::notice title=spec coverage::{_escape(s.line())}")
        if fail_under is not None and total < fail_under:
            lines.append(f"::error title=spec coverage::{total:.1f}% is under the required "
                         f"{fail_under:g}%")
        return "\n".join(lines)
    for s in summaries:
        lines.append(s.line())
        lines.extend(f"  {g.file}:{g.line}: {g.message()}" for g in s.uncovered)
    lines.append(f"coverage: {total:.1f}%" + (
        f" (required {fail_under:g}%: {'FAILED' if total < fail_under else 'ok'})"
        if fail_under is not None else ""))
    return "\n".join(lines)
