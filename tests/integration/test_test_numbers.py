"""Test numbers: a fixed code, no message, per-phone limits off, per-IP limits on — played
through the API, with Redis up and down."""

from __future__ import annotations

import logging
import re

import jwt
import pytest
from django.core.exceptions import ImproperlyConfigured

from verification import test_numbers
from verification.models import SMSVerification

pytestmark = pytest.mark.django_db

SEND = "/api/auth/send-code/"
VERIFY = "/api/auth/verify-code/"
REVIEWER = "+79990000001"
REAL = "+79991234567"


@pytest.fixture
def reviewer(settings):
    settings.VERIFICATION_TEST_NUMBERS = [f"{REVIEWER}=123456"]
    settings.VERIFICATION_RESEND_COOLDOWN = 60
    settings.RATE_LIMIT_SEND_PER_HOUR = 2
    settings.RATE_LIMIT_SEND_PER_DAY = 3
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 30
    return settings


def send(api_client, phone, ip="10.0.0.1", **body):
    return api_client.post(SEND, {"phone": phone, **body}, format="json", REMOTE_ADDR=ip)


def test_a_test_number_gets_no_message_and_its_fixed_code_returns_a_real_token(
    api_client, reviewer, django_capture_on_commit_callbacks
):
    # when the reviewer asks for a code (and, for contrast, a real phone does)
    with django_capture_on_commit_callbacks() as reviewer_publishes:
        answer = send(api_client, REVIEWER)
    with django_capture_on_commit_callbacks() as real_publishes:
        send(api_client, REAL, ip="10.0.0.2")

    # then nothing is published for the provider and the row is delivered at once
    assert answer.status_code == 202
    row = SMSVerification.objects.get(id=answer.json()["verification_id"])
    assert (row.status, row.request_id, row.channel) == ("delivered", "test", "sms")
    assert row.delivered_at is not None
    assert (len(reviewer_publishes), len(real_publishes)) == (0, 1)

    # and the fixed code verifies, with a token a host backend accepts
    body = api_client.post(VERIFY, {"phone": REVIEWER, "code": "123456"}, format="json").json()
    jwks = jwt.PyJWKSet.from_dict(api_client.get("/.well-known/jwks.json").json())
    claims = jwt.decode(body["token"], jwks.keys[0], algorithms=["EdDSA"])
    assert claims["phone_number"] == REVIEWER
    assert claims["vid"] == str(row.id)


@pytest.mark.parametrize("redis", ["up", "down"])
def test_per_phone_limits_and_cooldown_are_skipped_for_a_test_number_only(
    api_client, request, reviewer, redis
):
    if redis == "down":
        request.getfixturevalue("redis_down")
        request.getfixturevalue("broker_down")

    # when the reviewer asks six times in a row (limits: 2/h, 3/day, a 60 s cooldown)
    reviewer_answers = [send(api_client, REVIEWER).status_code for _ in range(6)]
    # and a real phone does the same from another address
    real_answers = [send(api_client, REAL, ip="10.0.0.2").status_code for _ in range(3)]

    # then the reviewer is never held back; the real phone is
    assert reviewer_answers == [202] * 6
    assert real_answers == [202, 429, 429]
    # and each new test code retires the previous one, as for any phone
    assert SMSVerification.objects.filter(phone=REVIEWER, expires_at__gt=_now()).count() == 1


@pytest.mark.parametrize("redis", ["up", "down"])
def test_per_ip_limits_still_hold_for_a_test_number(api_client, request, reviewer, redis):
    if redis == "down":
        request.getfixturevalue("redis_down")
        request.getfixturevalue("broker_down")
    reviewer.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 3

    answers = [send(api_client, REVIEWER, ip="10.9.9.9").status_code for _ in range(4)]

    assert answers == [202, 202, 202, 429]


def test_wrong_guesses_still_burn_a_test_numbers_code(api_client, reviewer):
    reviewer.VERIFICATION_MAX_ATTEMPTS = 2
    reviewer.RATE_LIMIT_VERIFY_PER_HOUR = 100
    send(api_client, REVIEWER)

    for guess in ("000000", "111111"):
        api_client.post(VERIFY, {"phone": REVIEWER, "code": guess}, format="json")
    late = api_client.post(VERIFY, {"phone": REVIEWER, "code": "123456"}, format="json")

    assert late.status_code == 400


def _now():
    from django.utils import timezone

    return timezone.now()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["+79990000001"], "entry 1: `+79990000001=123456` expected"),
        (["+79990000001=123456", "12=123456"], "entry 2: not a valid phone number"),
        (["+79990000001=12345"], "entry 1: the code must be 6 digits"),
        (["+79990000001=12345a"], "entry 1: the code must be 6 digits"),
        (["+79990000001=123456", "89990000001=654321"], "entry 2: +7999***0001 is listed twice"),
    ],
)
def test_malformed_entries_stop_the_start(settings, entries, message):
    settings.VERIFICATION_TEST_NUMBERS = entries

    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        test_numbers.check_configuration()


def test_configured_numbers_are_announced_masked_at_start(settings, caplog):
    settings.VERIFICATION_TEST_NUMBERS = ["+79990000001=123456", "8 999 000-00-02=654321"]

    with caplog.at_level(logging.WARNING, logger="verification.test_numbers"):
        test_numbers.check_configuration()

    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "+7999***0001, +7999***0002" in record.getMessage()
    assert "123456" not in caplog.text
    assert "0000001" not in caplog.text
