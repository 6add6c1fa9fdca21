"""Test numbers (VERIFICATION_TEST_NUMBERS): fixed codes for store review and QA.

A reviewer signs in with `+79990000001` and `123456` on any day: no message is sent (the row
is `delivered` at once, `request_id` "test"), and the code verifies like any other, proof
token included. The per-phone limits and the resend cooldown are skipped, since a reviewer
retries far more than a person would; the per-IP limits are not, so a test number is no
way around them. A fixed code is a known password: the list is logged (masked) at WARNING on
every start, so one left in production does not go unnoticed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from verification import codes
from verification.exceptions import InvalidPhone
from verification.models import Channel, DeliveryStatus, SMSVerification
from verification.phones import mask_phone, normalize_phone

logger = logging.getLogger(__name__)

TEST_REQUEST_ID = "test"

_parsed: tuple[tuple[str, ...], dict[str, str]] | None = None


def parse(entries: list[str]) -> dict[str, str]:
    """`["+79990000001=123456", ...]` -> {E.164 phone: code}. Raises ImproperlyConfigured."""
    numbers: dict[str, str] = {}
    for position, entry in enumerate(entries, start=1):
        raw_phone, separator, code = entry.strip().partition("=")
        where = f"VERIFICATION_TEST_NUMBERS, entry {position}"
        if not separator:
            raise ImproperlyConfigured(f"{where}: `+79990000001=123456` expected")
        try:
            phone = normalize_phone(raw_phone.strip())
        except InvalidPhone:
            raise ImproperlyConfigured(f"{where}: not a valid phone number") from None
        code = code.strip()
        if not codes.is_well_formed(code, Channel.SMS):
            raise ImproperlyConfigured(f"{where}: the code must be {codes.CODE_LENGTH} digits")
        if phone in numbers:
            raise ImproperlyConfigured(f"{where}: {mask_phone(phone)} is listed twice")
        numbers[phone] = code
    return numbers


def test_numbers() -> dict[str, str]:
    global _parsed
    entries = tuple(settings.VERIFICATION_TEST_NUMBERS)
    parsed = _parsed
    if parsed is None or parsed[0] != entries:
        parsed = _parsed = (entries, parse(list(entries)))
    return parsed[1]


def check_configuration() -> None:
    """At start: a malformed list stops the process; a configured one is announced."""
    numbers = test_numbers()
    if numbers:
        logger.warning(
            "VERIFICATION_TEST_NUMBERS: fixed codes, no message sent, per-phone limits off for %s",
            ", ".join(mask_phone(phone) for phone in numbers),
        )


def apply(verification: SMSVerification, now: datetime) -> bool:
    """Make a new row a test number's (fixed code, delivered, over SMS); False if it is not.

    The code is 6 digits whatever channel was asked for: the row says `sms`.
    """
    code = test_numbers().get(verification.phone)
    if code is None:
        return False
    verification.channel = Channel.SMS
    verification.code_hash = codes.hash_code(verification.id, code)
    verification.status = DeliveryStatus.DELIVERED
    verification.request_id = TEST_REQUEST_ID
    verification.sent_at = verification.delivered_at = now
    return True
