"""Split a person's full name into first name(s) and last name.

Kleer holds one "Full Name"; Cinode wants first and last name, both required. The rule:

1. Whitespace is normalised (runs of spaces, tabs and no-break spaces become one space)
   and the text is NFC-normalised, so a decomposed "å" equals a composed one.
2. "Last, First" (a comma) is taken literally: before the first comma is the last name,
   after it the first name(s): "Svensson, Anna Maria" -> ("Anna Maria", "Svensson").
3. Otherwise the last word is the last name, and every name particle directly before
   it joins it: "Karl af Trolle" -> ("Karl", "af Trolle"), "Ludwig van der Rohe" ->
   ("Ludwig", "van der Rohe"). Particles are matched case-insensitively (`PARTICLES`),
   but at least one word always stays a first name: "Van Morrison" -> ("Van", "Morrison").
4. All earlier words are given names: "Anna Maria Svensson" -> ("Anna Maria", "Svensson").
   Hyphenated names are single words: "Eva Lind-Berg" -> ("Eva", "Lind-Berg").
5. Capitalisation is kept as written.

Known limit: two unhyphenated surnames ("Anna Ek Svensson") cannot be told from a
middle name; the last word wins. Write such names in "Last, First" form in the source.
An empty name raises RecordError("name.missing"); a single word raises
RecordError("name.missing-last"), because Cinode requires both parts.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from engine.errors import RecordError

__all__ = ["PARTICLES", "first_name", "last_name", "split_name"]

PARTICLES = frozenset(
    {
        "af", "av", "d'", "da", "dal", "das", "de", "degli", "dei", "del", "della", "den",
        "der", "di", "do", "dos", "du", "la", "le", "lo", "san", "ten", "ter", "van", "von",
        "zu", "zum", "zur",
    }
)


def _split(value: Any, part: int) -> Any:
    """Part 0 (first names), 1 (last name) or 2 (both) of a full name.

    One function for all three so `first_name`, which runs for every record of a people
    sync, joins only the words it returns.
    """
    if value is None:
        raise RecordError("name.missing", "the full name is empty")
    text = value if type(value) is str else str(value)
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    words = text.split()  # splits on every Unicode space, no-break space included
    if not words:
        raise RecordError("name.missing", "the full name is empty")
    if "," in text:
        last, _, first = (piece.strip() for piece in " ".join(words).partition(","))
        if not last:
            raise RecordError("name.missing-last", "the name has nothing before its comma")
        if not first:
            raise RecordError("name.missing", "the name has no first name after its comma")
        return (first, last) if part == 2 else (first, last)[part]
    count = len(words)
    if count == 2:  # the common case: no particle can join the last name
        return (words[0], words[1]) if part == 2 else words[part]
    if count < 2:
        raise RecordError(
            "name.missing-last", "the full name is a single word; a last name is required"
        )
    start = count - 1
    while start > 1 and words[start - 1].casefold() in PARTICLES:
        start -= 1
    if part == 0:
        return " ".join(words[:start])
    if part == 1:
        return " ".join(words[start:])
    return " ".join(words[:start]), " ".join(words[start:])


def split_name(value: Any) -> tuple[str, str]:
    """(first names, last name) of a full name; see the module docstring for the rule."""
    return _split(value, 2)  # type: ignore[no-any-return]


def first_name(value: Any) -> str:
    """Given name(s) of a full name: "Anna Maria Svensson" -> "Anna Maria"."""
    return _split(value, 0)  # type: ignore[no-any-return]


def last_name(value: Any) -> str:
    """Last name of a full name, with its particles: "Karl af Trolle" -> "af Trolle"."""
    return _split(value, 1)  # type: ignore[no-any-return]
