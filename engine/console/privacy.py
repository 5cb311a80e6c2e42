"""Personal data stays out of the console's pages, beyond what the redactor masks.

The redactor (engine/redact.py) masks what looks like an identity number, an e-mail
address or a phone number wherever it appears; a malformed value (the 70-character phone
number a vendor rejects) does not look like one. So a value is also masked by the name of
the field that holds it: contact details, identity, birth, pay and bank fields are shown
as their length only. Over-masking costs an operator a look in the source system;
showing a person's details to everyone with console access is not undone.

    shown = masked("phone", '"+46 8 1111..."')   # '[personal data, 66 characters]'
"""

from __future__ import annotations

import re

__all__ = ["PERSONAL_FIELD", "masked"]

PERSONAL_FIELD = re.compile(
    r"phone|mobile|fax|e-?mail|ssn|personnummer|personal|identity|birth|salary|wage|"
    r"address|street|zip|postal|iban|bank|account_?number|gender|firstname|lastname|"
    r"first_name|last_name", re.IGNORECASE)


def masked(field: str, shown: str | None) -> str | None:
    """`shown` unless `field` names personal data; then only its length."""
    if shown is None or not PERSONAL_FIELD.search(field):
        return shown
    return f"[personal data, {len(shown)} characters]"
