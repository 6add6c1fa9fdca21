"""SMS texts: the language's template, the autofill lines, and what each text costs."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from verification.texts import check_configuration, segments, sms_text

DOMAIN = "verify.example.com"
APP_HASH = "FA+9qCX9VSu"  # the format of Google's SMS Retriever documentation example


@pytest.fixture
def plain(settings):
    settings.GREEN_SMS_TEMPLATE = "Ваш код: {code}"
    settings.GREEN_SMS_TEMPLATE_EN = "Your code: {code}"
    settings.WEBOTP_DOMAIN = ""
    settings.ANDROID_APP_HASH = ""
    return settings


def test_each_language_has_its_template(plain):
    assert sms_text(code="123456", language="ru") == "Ваш код: 123456"
    assert sms_text(code="123456", language="en") == "Your code: 123456"


def test_webotp_line_is_last_and_the_app_hash_precedes_it(plain):
    plain.WEBOTP_DOMAIN = DOMAIN
    plain.ANDROID_APP_HASH = APP_HASH

    lines = sms_text(code="123456", language="en").split("\n")

    assert lines == ["Your code: 123456", APP_HASH, "@verify.example.com #123456"]


@pytest.mark.parametrize(
    ("language", "autofill", "encoding", "length"),
    [
        # Cyrillic makes the whole text UCS-2: 70 characters per segment, not 160.
        ("ru", False, "UCS-2", 15),
        ("en", False, "GSM-7", 17),
        ("ru", True, "UCS-2", 15 + 1 + 11 + 1 + 27),
        ("en", True, "GSM-7", 17 + 1 + 11 + 1 + 27),
    ],
)
def test_default_texts_fit_one_segment(plain, language, autofill, encoding, length):
    # given the default templates, with or without both autofill lines
    if autofill:
        plain.WEBOTP_DOMAIN = DOMAIN
        plain.ANDROID_APP_HASH = APP_HASH

    # when the text of a 6-digit code is measured
    text = sms_text(code="123456", language=language)

    # then it is sent in one segment
    assert len(text) == length
    assert segments(text) == (encoding, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),  # multi-part: 153 septets per segment
        ("a" * 306, ("GSM-7", 2)),
        ("a" * 159 + "€", ("GSM-7", 2)),  # an extension character costs two septets
        ("я" * 70, ("UCS-2", 1)),
        ("я" * 71, ("UCS-2", 2)),  # multi-part: 67 characters per segment
        ("a" * 69 + "😀", ("UCS-2", 2)),  # outside the BMP: two UTF-16 units
    ],
)
def test_segment_arithmetic(text, expected):
    assert segments(text) == expected


@pytest.mark.parametrize(
    ("app_hash", "longest_domain"), [(APP_HASH, 33), ("", 45)], ids=["with-hash", "no-hash"]
)
def test_longest_domain_that_keeps_the_russian_text_in_one_segment(plain, app_hash, longest_domain):
    plain.ANDROID_APP_HASH = app_hash

    def ru_segments(domain_length: int) -> int:
        plain.WEBOTP_DOMAIN = "a" * (domain_length - 4) + ".com"
        return segments(sms_text(code="123456", language="ru"))[1]

    assert (ru_segments(longest_domain), ru_segments(longest_domain + 1)) == (1, 2)


def test_viber_texts_carry_no_autofill_lines(plain):
    plain.WEBOTP_DOMAIN = DOMAIN
    plain.ANDROID_APP_HASH = APP_HASH

    assert sms_text(code="123456", language="ru", autofill=False) == "Ваш код: 123456"


def test_a_long_domain_pushes_the_russian_text_past_one_segment(plain, caplog):
    plain.WEBOTP_DOMAIN = "a-rather-long-subdomain.of-a-long-company-name.example.com"

    check_configuration()

    assert segments(sms_text(code="123456", language="ru")) == ("UCS-2", 2)
    assert "the ru SMS text takes 2 UCS-2 segments" in caplog.text


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ANDROID_APP_HASH", "short", "ANDROID_APP_HASH"),
        ("ANDROID_APP_HASH", "FA+9qCX9VS!", "ANDROID_APP_HASH"),
        ("WEBOTP_DOMAIN", "https://verify.example.com", "WEBOTP_DOMAIN"),
        ("WEBOTP_DOMAIN", "verify example", "WEBOTP_DOMAIN"),
        ("GREEN_SMS_TEMPLATE", "Ваш код", r"SMS template \(ru\): \{code\} is missing"),
        ("GREEN_SMS_TEMPLATE_EN", "Your code: {otp}", r"SMS template \(en\): only"),
    ],
)
def test_malformed_settings_stop_the_start(plain, name, value, message):
    setattr(plain, name, value)

    with pytest.raises(ImproperlyConfigured, match=message):
        check_configuration()
