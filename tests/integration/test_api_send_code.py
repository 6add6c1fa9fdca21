from __future__ import annotations

import json
import uuid

import pytest
from django.utils import timezone

from verification.models import DeliveryStatus, SMSVerification

pytestmark = pytest.mark.django_db

URL = "/api/auth/send-code/"


def test_send_code_stores_a_hashed_queued_code_and_answers_202(api_client):
    # when
    response = api_client.post(URL, {"phone": "+79991234567"}, format="json")

    # then
    assert response.status_code == 202
    body = response.json()
    assert body["message"] == "Код подтверждения отправлен на ваш номер телефона"
    assert body["phone"] == "+79991234567"
    verification_id = uuid.UUID(body["verification_id"])
    assert response["Location"] == f"/api/auth/verifications/{verification_id}/"
    row = SMSVerification.objects.get(id=verification_id)
    assert row.status == DeliveryStatus.QUEUED
    assert row.phone == "+79991234567"
    assert row.expires_at.isoformat().replace("+00:00", "Z") == body["expires_at"]
    assert 295 <= (row.expires_at - timezone.now()).total_seconds() <= 300
    assert len(row.code_hash) == 64


@pytest.mark.parametrize(
    ("written", "e164"),
    [("89991234567", "+79991234567"), ("+7 (999) 123-45-67", "+79991234567")],
)
def test_phone_is_answered_in_e164(api_client, written, e164):
    response = api_client.post(URL, {"phone": written}, format="json")

    assert response.status_code == 202
    assert response.json()["phone"] == e164


@pytest.mark.parametrize(
    "payload",
    [
        {"phone": "+1234567890"},  # the seed's example: not a valid number
        {"phone": "abc"},
        {"phone": ""},
        {"phone": None},
        {"phone": 79991234567},
        {"phone": ["+79991234567"]},
        {"phone": "+7" + "9" * 40},
        {},
    ],
)
def test_invalid_phone_is_400_invalid_phone(api_client, payload):
    response = api_client.post(URL, payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_phone"
    assert response.json()["error"]
    assert not SMSVerification.objects.exists()


def test_send_code_enqueues_the_send_task_by_id_on_commit(
    api_client, sms_queue, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(URL, {"phone": "+79991234567"}, format="json")

    # then: one message on the real broker's `sms` queue, carrying the id and no code
    message = sms_queue.get(timeout=2)
    assert message.headers["task"] == "sms.send_code"
    assert message.headers["argsrepr"] == repr((response.json()["verification_id"],))
    assert message.headers["expires"] is not None
    payload = json.dumps(message.payload)
    assert response.json()["verification_id"] in payload
    message.ack()


def test_a_new_code_retires_the_phones_earlier_codes(api_client):
    first = api_client.post(URL, {"phone": "+79991234567"}, format="json").json()
    second = api_client.post(URL, {"phone": "+79991234567"}, format="json").json()

    retired = SMSVerification.objects.get(id=first["verification_id"])
    current = SMSVerification.objects.get(id=second["verification_id"])
    assert retired.is_expired()
    assert not current.is_expired()


def test_send_limit_per_phone_is_429_with_retry_after(api_client, fast_limits):
    for _ in range(5):
        assert api_client.post(URL, {"phone": "+79991234567"}, format="json").status_code == 202

    response = api_client.post(URL, {"phone": "+79991234567"}, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert response.json()["error"] == "Превышен лимит запросов"
    assert 3500 <= int(response["Retry-After"]) <= 3600
    assert SMSVerification.objects.count() == 5
    # another phone is not affected
    assert api_client.post(URL, {"phone": "+79991234568"}, format="json").status_code == 202


def test_send_limit_per_ip(api_client, settings):
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 3
    phones = [f"+7999123456{i}" for i in range(4)]
    codes = [api_client.post(URL, {"phone": p}, format="json").status_code for p in phones]

    assert codes == [202, 202, 202, 429]


def test_forwarded_for_is_ignored_from_untrusted_peers(api_client, settings):
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 1
    settings.TRUSTED_PROXIES = []
    first = api_client.post(
        URL, {"phone": "+79991234560"}, format="json", HTTP_X_FORWARDED_FOR="1.1.1.1"
    )
    # a client rotating the header does not get a fresh quota
    second = api_client.post(
        URL, {"phone": "+79991234561"}, format="json", HTTP_X_FORWARDED_FOR="2.2.2.2"
    )

    assert (first.status_code, second.status_code) == (202, 429)


def test_forwarded_for_is_believed_from_a_trusted_proxy(api_client, settings):
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 1
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]

    first = api_client.post(
        URL, {"phone": "+79991234560"}, format="json", HTTP_X_FORWARDED_FOR="1.1.1.1"
    )
    second = api_client.post(
        URL, {"phone": "+79991234561"}, format="json", HTTP_X_FORWARDED_FOR="2.2.2.2"
    )

    assert (first.status_code, second.status_code) == (202, 202)
    row = SMSVerification.objects.get(phone="+79991234560")
    assert row.client_ip == "1.1.1.1"


# --- channels (SPEC §13) -------------------------------------------------------------------
def test_the_channel_defaults_to_sms_and_is_answered(api_client):
    response = api_client.post(URL, {"phone": "+79991234567"}, format="json")
    assert response.status_code == 202
    assert response.json()["channel"] == "sms"
    assert SMSVerification.objects.get().channel == "sms"


@pytest.mark.parametrize(("channel", "hash_length"), [("call", 0), ("voice", 64), ("viber", 64)])
def test_an_enabled_channel_is_stored_answered_and_shown(
    api_client, settings, channel, hash_length
):
    # given
    settings.VERIFICATION_CHANNELS = ["sms", "call", "voice", "viber"]
    # when
    response = api_client.post(URL, {"phone": "+79991234567", "channel": channel}, format="json")
    # then
    assert response.status_code == 202
    assert response.json()["channel"] == channel
    row = SMSVerification.objects.get()
    assert row.channel == channel
    assert len(row.code_hash) == hash_length  # a call's code comes from the provider later
    detail = api_client.get(response["Location"]).json()
    assert detail["channel"] == channel


def test_the_default_channel_is_configurable(api_client, settings):
    settings.VERIFICATION_CHANNELS = ["sms", "call"]
    settings.VERIFICATION_DEFAULT_CHANNEL = "call"
    response = api_client.post(URL, {"phone": "+79991234567"}, format="json")
    assert response.json()["channel"] == "call"


@pytest.mark.parametrize(
    ("channel", "language", "message"),
    [
        ("voice", "ru", "Способ доставки недоступен; доступны: sms, call"),
        ("telegram", "en", "Channel not available; allowed: sms, call"),
        ("", "en", "This field may not be blank."),
    ],
)
def test_a_channel_not_enabled_is_400_naming_the_allowed_ones(
    api_client, settings, channel, language, message
):
    settings.VERIFICATION_CHANNELS = ["sms", "call"]
    response = api_client.post(
        URL,
        {"phone": "+79991234567", "channel": channel},
        format="json",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["error"] == message
    assert body["fields"] == {"channel": [message]}
    assert not SMSVerification.objects.exists()
