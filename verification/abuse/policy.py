"""Who may get a code, and the abuse settings checked once at start-up (SPEC §11.1).

A number outside the allowed countries, or of a type that cannot receive an SMS as a person
would (premium rate, shared cost, VoIP, personal, pager, toll free, UAN…), is refused before
anything is counted: those ranges are where SMS pumping makes its money.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from phonenumbers import PhoneNumberType

from verification.exceptions import PhoneNotAllowed

ANY_COUNTRY = "*"
ALLOWED_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
MODES = ("deny", "record_only", "off")
# Digits after the country code that make a number's prefix (SPEC §11: "+7" + "999").
PREFIX_DIGITS = 3


@dataclass(frozen=True)
class PhoneFacts:
    country: str  # ISO 3166 alpha-2, e.g. "RU"
    prefix: str  # "+" + country code + the next 3 digits, e.g. "+7999"


def screen_phone(phone: str) -> PhoneFacts:
    """The phone's country and prefix; raises PhoneNotAllowed when no code may go there."""
    number = phonenumbers.parse(phone)
    facts = _facts(number)
    allowed = allowed_countries()
    if allowed is not None and facts.country not in allowed:
        raise PhoneNotAllowed()
    if phonenumbers.number_type(number) not in ALLOWED_TYPES:
        raise PhoneNotAllowed()
    return facts


def phone_facts(phone: str) -> PhoneFacts:
    """Country and prefix of an E.164 number, whatever the policy."""
    return _facts(phonenumbers.parse(phone))


def _facts(number: phonenumbers.PhoneNumber) -> PhoneFacts:
    country = phonenumbers.region_code_for_number(number) or ""
    national = str(number.national_number)
    return PhoneFacts(country, f"+{number.country_code}{national[:PREFIX_DIGITS]}")


def allowed_countries() -> frozenset[str] | None:
    """None means any country."""
    return _countries(tuple(settings.VERIFICATION_ALLOWED_COUNTRIES))


@lru_cache(maxsize=4)
def _countries(raw: tuple[str, ...]) -> frozenset[str] | None:
    codes = {code.strip().upper() for code in raw if code.strip()}
    if ANY_COUNTRY in codes:
        return None
    return frozenset(codes)


def is_allowed_ip(ip: str | None) -> bool:
    if not ip or not settings.ABUSE_ALLOW_IPS:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in network for network in _networks(tuple(settings.ABUSE_ALLOW_IPS)))


def is_allowed_phone(phone: str) -> bool:
    if not settings.ABUSE_ALLOW_PHONES:
        return False
    return any(p.fullmatch(phone) for p in _patterns(tuple(settings.ABUSE_ALLOW_PHONES)))


@lru_cache(maxsize=4)
def _networks(raw: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in raw if item.strip())


@lru_cache(maxsize=4)
def _patterns(raw: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(item.strip()) for item in raw if item.strip())


def budget(name: str) -> Decimal | None:
    """GREEN_SMS_BUDGET_PER_HOUR / _PER_DAY as a Decimal; None when empty (no cap)."""
    raw = str(getattr(settings, name) or "").strip()
    return Decimal(raw) if raw else None


def validate_settings() -> None:
    """Stop the process at start with a clear message when an abuse setting is wrong."""
    unknown = sorted(
        code.strip().upper()
        for code in settings.VERIFICATION_ALLOWED_COUNTRIES
        if code.strip() and code.strip() != ANY_COUNTRY
        and code.strip().upper() not in phonenumbers.SUPPORTED_REGIONS
    )  # fmt: skip
    if unknown:
        raise ImproperlyConfigured(
            "VERIFICATION_ALLOWED_COUNTRIES: unknown country code(s) "
            + ", ".join(unknown)
            + " (ISO 3166 alpha-2, e.g. RU,KZ,BY; or * for any country)"
        )
    if allowed_countries() == frozenset():
        raise ImproperlyConfigured("VERIFICATION_ALLOWED_COUNTRIES is empty: list countries or *")
    if settings.ABUSE_PROTECTION not in MODES:
        raise ImproperlyConfigured(f"ABUSE_PROTECTION must be one of {', '.join(MODES)}")
    try:
        _networks(tuple(settings.ABUSE_ALLOW_IPS))
    except ValueError as exc:
        raise ImproperlyConfigured(f"ABUSE_ALLOW_IPS: {exc}") from None
    try:
        _patterns(tuple(settings.ABUSE_ALLOW_PHONES))
    except re.error as exc:
        raise ImproperlyConfigured(f"ABUSE_ALLOW_PHONES: bad regular expression: {exc}") from None
    for name in ("GREEN_SMS_BUDGET_PER_HOUR", "GREEN_SMS_BUDGET_PER_DAY"):
        try:
            value = budget(name)
        except InvalidOperation:
            raise ImproperlyConfigured(f"{name} must be a number (or empty: no cap)") from None
        if value is not None and value <= 0:
            raise ImproperlyConfigured(f"{name} must be positive (or empty: no cap)")
    if settings.GREEN_SMS_PRICE <= 0:
        raise ImproperlyConfigured("GREEN_SMS_PRICE must be positive")
