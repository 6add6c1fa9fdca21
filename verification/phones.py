"""Phone numbers in, E.164 out (Google's libphonenumber rules, via `phonenumbers`)."""

from __future__ import annotations

import phonenumbers

from verification.exceptions import InvalidPhone

# Numbers written without a country code are read as Russian, as the seed's users write them.
DEFAULT_REGION = "RU"


def normalize_phone(raw: str) -> str:
    """Return the number in E.164 (`+79991234567`) or raise InvalidPhone."""
    try:
        number = phonenumbers.parse(raw, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidPhone() from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str) -> str:
    """+79991234567 -> +7999***4567: enough to recognise, not enough to harvest."""
    if len(phone) <= 8:
        return phone[:2] + "***"
    return f"{phone[:5]}***{phone[-4:]}"
