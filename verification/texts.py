"""The SMS text: the template of the row's language, then the autofill lines.

`ANDROID_APP_HASH` (the SMS Retriever API's 11-character app hash) goes on a line of its own;
`WEBOTP_DOMAIN` adds the origin-bound line `@domain #code`, which the WebOTP format requires
to be the last line (iOS and Android browsers then offer the code to that site only).

An SMS segment holds 160 GSM-7 characters but only 70 UCS-2 ones, and one Cyrillic letter
makes the whole message UCS-2: `segments()` measures what a text costs.
"""

from __future__ import annotations

import logging
import math
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"

# GSM 03.38 basic character set (one septet each) and its extension table (two: escape + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
ANDROID_APP_HASH_RE = re.compile(r"^[A-Za-z0-9+/]{11}$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Measured with the longest code any channel sends by SMS.
SAMPLE_CODE = "000000"


def sms_text(*, code: str, language: str, autofill: bool = True) -> str:
    template = settings.GREEN_SMS_TEMPLATE_EN if language == "en" else settings.GREEN_SMS_TEMPLATE
    lines = [template.format(code=code)]
    if autofill and settings.ANDROID_APP_HASH:
        lines.append(settings.ANDROID_APP_HASH)
    if autofill and settings.WEBOTP_DOMAIN:
        lines.append(f"@{settings.WEBOTP_DOMAIN} #{code}")
    return "\n".join(lines)


def segments(text: str) -> tuple[str, int]:
    """("GSM-7" | "UCS-2", number of SMS segments) the text is sent as."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text):
        septets = sum(2 if char in GSM7_EXTENDED else 1 for char in text)
        return "GSM-7", 1 if septets <= 160 else math.ceil(septets / 153)
    # UTF-16 code units: a character outside the BMP (an emoji) takes two.
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)


def check_configuration() -> None:
    """At start: malformed autofill settings stop the process; a long text is a warning."""
    if settings.ANDROID_APP_HASH and not ANDROID_APP_HASH_RE.match(settings.ANDROID_APP_HASH):
        raise ImproperlyConfigured("ANDROID_APP_HASH: 11 characters of [A-Za-z0-9+/] expected")
    if settings.WEBOTP_DOMAIN and not DOMAIN_RE.match(settings.WEBOTP_DOMAIN):
        raise ImproperlyConfigured(
            "WEBOTP_DOMAIN: a lower-case host name expected (verify.example.com), no scheme"
        )
    for language in LANGUAGES:
        try:
            text = sms_text(code=SAMPLE_CODE, language=language)
        except (KeyError, IndexError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"SMS template ({language}): only the {{code}} placeholder may be used"
            ) from exc
        if SAMPLE_CODE not in text.split("\n", 1)[0]:
            raise ImproperlyConfigured(f"SMS template ({language}): {{code}} is missing")
        encoding, count = segments(text)
        if count > 1:
            logger.warning(
                "the %s SMS text takes %s %s segments: each is billed", language, count, encoding
            )
