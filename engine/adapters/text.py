"""What text a target accepts: control characters and NUL, normalised or refused per vendor.

A NUL byte or a stray control character in a source value (a name pasted from a PDF, a
CSV import) is harmless in one system and fatal in another: XML 1.0 cannot carry most
C0 controls at all, and a C-string layer cuts a value at its first NUL without a word.
So each vendor package says, in its `Vendor.text`, what its API does with them:

- `refuse`: characters the target cannot carry; a value with one fails its record
  (`value.control-character`, naming the field and the character, never the value),
  which is recorded and retried like any failing record while the others go through;
- `remove`: characters the target would drop or mangle anyway; they are removed before
  the payload is hashed, so what is compared is what is written.

Tab, line feed and carriage return are text everywhere and are never touched. Nothing
is ever cut short: a value is written whole, without the removed characters, or not
at all.

    rules = TextRules(refuse=XML_1_0_FORBIDDEN)
    rules.clean("name", "Acme\\x00 AB")   # RecordError: value.control-character
"""

from __future__ import annotations

import re
import unicodedata

from engine.errors import RecordError

__all__ = ["C0_CONTROLS", "NO_RULES", "XML_1_0_FORBIDDEN", "TextRules"]

# C0 controls and DEL, except tab, line feed and carriage return.
C0_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
# What XML 1.0 cannot carry (its Char production): C0 controls but tab, LF and CR,
# surrogates (a lone one reaches us from broken UTF-16 sources), U+FFFE and U+FFFF.
XML_1_0_FORBIDDEN = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"


def _char_name(char: str) -> str:
    code = f"U+{ord(char):04X}"
    name = {"\x00": "NUL"}.get(char) or unicodedata.name(char, "")
    return f"{code} {name}".strip() if name else f"{code}, a control character"


class TextRules:
    """Character classes (regex class bodies, as in `C0_CONTROLS`) a target refuses or
    has removed; `why` ends the refusal's message (the vendor's reason, in words)."""

    def __init__(self, *, refuse: str = "", remove: str = "",
                 why: str = "the target system cannot store it") -> None:
        self.refuse = refuse
        self.remove = remove
        self.why = why
        self._refuse = re.compile(f"[{refuse}]") if refuse else None
        self._remove = re.compile(f"[{remove}]") if remove else None
        self._any = re.compile(f"[{refuse}{remove}]") if refuse or remove else None

    def __repr__(self) -> str:
        return f"TextRules(refuse={self.refuse!r}, remove={self.remove!r})"

    @property
    def active(self) -> bool:
        return self._any is not None

    def clean(self, field: str, value: str) -> str:
        """`value` as the target may take it; RecordError when it cannot take it at all."""
        if self._any is None or self._any.search(value) is None:
            return value  # the common case: one scan, no copy
        refused = self._refuse.search(value) if self._refuse is not None else None
        if refused is not None:
            raise RecordError(
                "value.control-character",
                f"the value holds {_char_name(refused.group())} at position "
                f"{refused.start() + 1}, and {self.why}; correct it in the source",
                field=field)
        assert self._remove is not None
        return self._remove.sub("", value)


NO_RULES = TextRules()
