"""Who may get a code and the fixed limits of SPEC §11.1–2, played from the client's side on
the real Redis and PostgreSQL (and with Redis down, counted from the database)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django_redis import get_redis_connection

from tests.factories import code_of, wrong_code
from verification.models import SMSVerification

pytestmark = pytest.mark.django_db

SEND = "/api/auth/send-code/"
VERIFY = "/api/auth/verify-code/"
OWNER, STRANGER = "10.0.0.1", "10.0.0.2"


def send(api_client, phone, ip="10.0.0.1", **extra):
    return api_client.post(SEND, {"phone": phone}, format="json", REMOTE_ADDR=ip, **extra)


def verify(api_client, phone, code, ip="10.0.0.1"):
    return api_client.post(VERIFY, {"phone": phone, "code": code}, format="json", REMOTE_ADDR=ip)


@pytest.fixture
def cooldown(settings):
    settings.VERIFICATION_RESEND_COOLDOWN = 60
    return settings


def elapse_cooldown(phone, ip):
    """The pair's cooldown runs out (its key's TTL is the cooldown)."""
    get_redis_connection("default").delete(f"verification:rl:cooldown:{phone}:{ip}")


# --- who may get a code ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("phone", "why"),
    [
        ("+77012345678", "Kazakhstan is not in the default list"),
        ("+78001234567", "toll-free"),
        ("+74951234567", "fixed line (Moscow)"),
    ],
)
def test_numbers_outside_the_policy_are_refused(api_client, phone, why):
    response = send(api_client, phone)

    assert response.status_code == 400, why
    assert response.json() == {
        "error": "На этот номер нельзя отправить код",
        "code": "phone_not_allowed",
    }
    assert not SMSVerification.objects.exists()


def test_phone_not_allowed_in_english(api_client):
    response = send(api_client, "+77012345678", HTTP_ACCEPT_LANGUAGE="en")

    assert response.json() == {
        "error": "Codes cannot be sent to this number",
        "code": "phone_not_allowed",
    }


def test_listed_countries_and_the_wildcard_are_served(api_client, settings):
    settings.VERIFICATION_ALLOWED_COUNTRIES = ["RU", "KZ"]
    assert send(api_client, "+77012345678").status_code == 202

    settings.VERIFICATION_ALLOWED_COUNTRIES = ["*"]
    assert send(api_client, "+4915123456789").status_code == 202  # a German mobile
    assert send(api_client, "+78001234567").status_code == 400  # never a toll-free number


# --- fixed limits ---------------------------------------------------------------------
def test_resend_cooldown_doubles_and_is_announced(api_client, cooldown):
    phone = "+79991234567"
    offsets = []
    for attempt in range(3):
        response = send(api_client, phone)
        assert response.status_code == 202
        body = response.json()
        offsets.append(
            (
                datetime.fromisoformat(body["resend_available_at"])
                - datetime.fromisoformat(body["expires_at"])
            ).total_seconds()
            + 300  # expires_at is created_at + the code's TTL
        )
        # the detail endpoint tells the same moment, so a client can count down
        detail = api_client.get(response["Location"]).json()
        assert detail["resend_available_at"] == body["resend_available_at"]
        # asking again before then is refused with the time to wait
        early = send(api_client, phone)
        assert early.status_code == 429
        assert early.json()["code"] == "rate_limited"
        wait = early.json()["retry_after"]
        assert int(early["Retry-After"]) == wait
        assert 60 * 2**attempt - 2 <= wait <= 60 * 2**attempt
        elapse_cooldown(phone, "10.0.0.1")

    assert [round(offset) for offset in offsets] == [60, 120, 240]


def test_per_day_limit(api_client, settings):
    settings.RATE_LIMIT_SEND_PER_DAY = 3

    statuses = [send(api_client, "+79991234567").status_code for _ in range(4)]

    assert statuses == [202, 202, 202, 429]


def test_per_ip_send_limit_counts_an_ipv6_slash_64_as_one_client(api_client, settings):
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 2

    same_64 = [
        send(api_client, f"+7999123456{i}", ip=f"2001:db8:1:2::{i + 1}").status_code
        for i in range(3)
    ]
    other_64 = send(api_client, "+79991234569", ip="2001:db8:1:3::1").status_code

    assert same_64 == [202, 202, 429]
    assert other_64 == 202


def test_per_ip_verify_limit_across_phones(api_client, settings):
    settings.RATE_LIMIT_VERIFY_PER_IP_PER_HOUR = 3

    statuses = [
        verify(api_client, f"+7999123456{i}", "123456", ip="10.9.9.9").status_code for i in range(4)
    ]

    assert statuses == [400, 400, 400, 429]


@pytest.mark.usefixtures("redis_down", "broker_down")
def test_per_ip_send_limit_holds_from_the_database(api_client, settings):
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 2

    v4 = [send(api_client, f"+7999123456{i}", ip="10.1.1.1").status_code for i in range(3)]
    v6 = [
        send(api_client, f"+7999765432{i}", ip=f"2001:db8:5:6::{i + 1}").status_code
        for i in range(3)
    ]

    assert v4 == [202, 202, 429]
    assert v6 == [202, 202, 429]


@pytest.mark.usefixtures("redis_down", "broker_down")
def test_cooldown_and_day_limit_hold_from_the_database(api_client, cooldown):
    first = send(api_client, "+79991234567")
    second = send(api_client, "+79991234567")

    assert first.status_code == 202
    assert first.json()["resend_available_at"] is not None
    assert second.status_code == 429
    assert 58 <= second.json()["retry_after"] <= 61


# --- nobody is locked out by a stranger -----------------------------------------------
@pytest.mark.parametrize("redis", ["up", "down"])
def test_a_stranger_cannot_lock_the_owner_out(api_client, request, redis, fast_limits):
    # given: the cooldown off, so that the stranger burns his quota at once
    if redis == "down":
        request.getfixturevalue("redis_down")
        request.getfixturevalue("broker_down")
    phone = "+79991234567"

    # when: a stranger at another address sends codes to the owner's number until refused
    stranger_sends = [send(api_client, phone, ip=STRANGER).status_code for _ in range(7)]
    # and guesses at the code until refused
    row = SMSVerification.objects.filter(phone=phone).latest("created_at")
    guess = wrong_code(code_of(row))
    stranger_verifies = [
        verify(api_client, phone, guess, ip=STRANGER).status_code for _ in range(7)
    ]

    # then: the stranger is stopped
    assert stranger_sends == [202] * 5 + [429] * 2
    if redis == "up":  # the rows do not record who guessed: with Redis down, the ceiling
        assert stranger_verifies == [400] * 5 + [429] * 2
    # and the owner, at his own address, still gets a code and confirms it within the hour
    owner_send = send(api_client, phone, ip=OWNER)
    assert owner_send.status_code == 202
    code = code_of(SMSVerification.objects.get(id=owner_send.json()["verification_id"]))
    owner_verify = verify(api_client, phone, code, ip=OWNER)
    assert owner_verify.status_code == 200, owner_verify.json()
