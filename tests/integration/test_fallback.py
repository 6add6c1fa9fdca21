"""Fallback (SPEC §13): a failed SMS is tried once more over VERIFICATION_FALLBACK_CHANNEL.

Through the HTTP API, a real worker, the real client and the sandbox; polling runs in the
test's own thread (tracking.poll_batch) so that what it decided is known when it returns.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import make_verification
from tests.helpers import wait_for
from verification import codes, fallback, sending, tracking
from verification.cache import verification_cache
from verification.models import DeliveryStatus, SMSVerification
from verification.redis_client import redis_or

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+79991234567"


@pytest.fixture
def fallback_to(settings: Any) -> Any:
    def configure(channel: str) -> Any:
        settings.VERIFICATION_FALLBACK_CHANNEL = channel
        settings.VERIFICATION_POLL_INTERVAL = 0.2
        return settings

    return configure


def _send_sms(api_client: Any, sandbox: Any) -> tuple[SMSVerification, str]:
    """A code by SMS, sent by the worker; returns the sent row and the SMS's code."""
    response = api_client.post("/api/auth/send-code/", {"phone": PHONE}, format="json")
    assert response.status_code == 202
    verification_id = response.json()["verification_id"]
    [message] = wait_for(lambda: sandbox.messages(to=PHONE))
    row = wait_for(
        lambda: SMSVerification.objects.filter(id=verification_id, status="sent").first()
    )
    return row, re.search(r"\d{6}", message["txt"]).group(0)  # type: ignore[union-attr]


def _sent(verification_id: Any) -> SMSVerification:
    return wait_for(
        lambda: SMSVerification.objects.filter(id=verification_id, status="sent").first()
    )


def _verify(api_client: Any, code: str) -> int:
    response = api_client.post(
        "/api/auth/verify-code/", {"phone": PHONE, "code": code}, format="json"
    )
    return int(response.status_code)


@pytest.mark.parametrize(("channel", "length"), [("call", 4), ("voice", 5)])
def test_an_sms_whose_delivery_failed_falls_back_once_with_a_new_code(
    api_client, live_worker, greensms_sandbox, sandbox_gateway, fallback_to, channel, length
):
    # given an SMS the operator will fail to deliver
    fallback_to(channel)
    greensms_sandbox.configure(delivery_delay=0.1, final_status=2)
    row, sms_code = _send_sms(api_client, greensms_sandbox)
    greensms_sandbox.configure(final_status=1)  # the fallback's own delivery succeeds

    # when the poller learns of the failure
    wait_for(lambda: tracking.poll_batch().failed, timeout=10, interval=0.2)

    # then the same row is sent again over the fallback channel, once
    messages = wait_for(
        lambda: greensms_sandbox.messages(to=PHONE)[1:] and greensms_sandbox.messages(to=PHONE)
    )
    assert [m["channel"] for m in messages] == ["sms", channel]
    row = _sent(row.id)
    assert (row.channel, row.fallback_from) == (channel, "sms")
    assert row.error == ""
    new_code = messages[1]["code"] if channel == "call" else messages[1]["txt"]
    assert len(new_code) == length
    assert codes.code_matches(row.code_hash, row.id, new_code)

    # and the SMS's code stopped working while the new one works
    assert _verify(api_client, sms_code) == 400
    verified = api_client.post(
        "/api/auth/verify-code/", {"phone": PHONE, "code": new_code}, format="json"
    )
    assert verified.status_code == 200
    # and the proof token names the channel the code went out on
    assert jwt.decode(verified.json()["token"], options={"verify_signature": False})["amr"] == [
        channel
    ]

    # and a failure of the fallback's own delivery brings no second fallback
    greensms_sandbox.configure(final_status=2)
    SMSVerification.objects.filter(id=row.id).update(status=DeliveryStatus.FAILED)
    assert not fallback.verification_fall_back(verification_id=row.id, reason="again")
    assert greensms_sandbox.stats()["send_calls"] == 2


def test_an_sms_the_provider_refuses_falls_back_to_a_call(
    api_client, live_worker, greensms_sandbox, sandbox_gateway, fallback_to, settings
):
    # given an SMS text the provider cannot take (a template far too long for one message)
    fallback_to("call")
    settings.GREEN_SMS_TEMPLATE = "x" * 1000 + " {code}"
    # when
    response = api_client.post("/api/auth/send-code/", {"phone": PHONE}, format="json")
    verification_id = response.json()["verification_id"]
    # then the SMS never left and a call did
    [message] = wait_for(lambda: greensms_sandbox.messages(to=PHONE))
    assert message["channel"] == "call"
    row = wait_for(
        lambda: SMSVerification.objects.filter(id=verification_id, status="sent").first()
    )
    assert (row.channel, row.fallback_from) == ("call", "sms")
    assert _verify(api_client, message["code"]) == 200


def test_no_fallback_when_too_little_of_the_codes_life_remains(
    api_client, live_worker, greensms_sandbox, sandbox_gateway, fallback_to
):
    # given a failed SMS delivery whose code has less than a minute to live
    fallback_to("call")
    greensms_sandbox.configure(delivery_delay=0.1, final_status=2)
    row, _ = _send_sms(api_client, greensms_sandbox)
    SMSVerification.objects.filter(id=row.id).update(
        expires_at=timezone.now() + timedelta(seconds=fallback.FALLBACK_MIN_LIFE - 5)
    )
    # when the poller learns of the failure (the fallback, if any, is decided in this call)
    wait_for(lambda: tracking.poll_batch().failed, timeout=10, interval=0.2)
    # then the row stays a failed SMS and nothing else was sent
    row.refresh_from_db()
    assert (row.status, row.channel, row.fallback_from) == ("failed", "sms", "")
    assert greensms_sandbox.stats()["send_calls"] == 1


@pytest.mark.parametrize("kind", ["auth", "funds"])
def test_an_account_wide_refusal_does_not_fall_back(
    api_client, greensms_sandbox, sandbox_gateway, fallback_to, sms_queue, kind
):
    # given a row and a provider refusing the whole account
    fallback_to("call")
    response = api_client.post("/api/auth/send-code/", {"phone": PHONE}, format="json")
    verification_id = response.json()["verification_id"]
    greensms_sandbox.configure(error_rate=1.0, error_kind=kind)
    # when the send runs (in this thread: no worker)
    sending.verification_send(verification_id=verification_id, retries=0)
    # then no call is tried through the same account
    row = SMSVerification.objects.get(id=verification_id)
    assert (row.channel, row.fallback_from) == ("sms", "")
    assert greensms_sandbox.messages() == []


def test_a_stale_cached_sms_code_cannot_confirm_a_fallen_back_row(
    api_client, greensms_sandbox, sandbox_gateway, fallback_to, sms_queue
):
    # given an SMS code, its row failed and moved to a call
    fallback_to("call")
    response = api_client.post("/api/auth/send-code/", {"phone": PHONE}, format="json")
    row = SMSVerification.objects.get(id=response.json()["verification_id"])
    sms_code = codes.code_for(row.id, row.code_seed)
    cache_entry = verification_cache.entry(PHONE, row)
    SMSVerification.objects.filter(id=row.id).update(status=DeliveryStatus.FAILED)
    assert fallback.verification_fall_back(verification_id=row.id, reason="delivery failed")
    # when a verify races the fallback and still finds the SMS code's hash in the cache
    assert cache_entry is not None
    key, value, ttl = cache_entry
    redis_or(None, lambda redis: redis.set(key, value, ex=ttl))
    # then the old code is refused: the row's hash is no longer the one it matched
    assert _verify(api_client, sms_code) == 400
    row.refresh_from_db()
    assert not row.is_used
    assert row.code_hash == ""  # a call's code is unknown until the provider places it


def test_a_fallback_over_the_spend_cap_is_not_sent(
    api_client, live_worker, greensms_sandbox, sandbox_gateway, fallback_to, settings
):
    # given a cap that pays for the SMS but not for a second message
    fallback_to("call")
    settings.GREEN_SMS_PRICE = 4
    settings.GREEN_SMS_BUDGET_PER_HOUR = "6"
    greensms_sandbox.configure(delivery_delay=0.1, final_status=2)
    row, _ = _send_sms(api_client, greensms_sandbox)
    # when its delivery fails
    wait_for(lambda: tracking.poll_batch().failed, timeout=10, interval=0.2)
    # then no call is paid for: one message sent, the row stays a failed SMS
    row.refresh_from_db()
    assert (row.status, row.channel, row.fallback_from) == ("failed", "sms", "")
    assert greensms_sandbox.stats()["send_calls"] == 1


@pytest.mark.parametrize(("cap", "falls_back"), [("", True), ("4", False)])
def test_with_redis_down_the_fallback_is_counted_from_the_database(
    redis_down, sms_queue, fallback_to, settings, cap, falls_back
):  # sms_queue: a published send does not outlive the test
    # given a failed SMS, Redis unreachable, and maybe a cap its own price already filled
    fallback_to("voice")
    settings.GREEN_SMS_PRICE = 4
    settings.GREEN_SMS_BUDGET_PER_HOUR = cap
    row, _ = make_verification(status=DeliveryStatus.FAILED, client_ip="203.0.113.7")
    # when
    moved = fallback.verification_fall_back(verification_id=row.id, reason="delivery failed")
    # then the spend cap is checked from the rows, as send-code does while Redis is down
    row.refresh_from_db()
    assert moved is falls_back
    assert (row.channel, row.fallback_from) == (("voice", "sms") if falls_back else ("sms", ""))


def test_racing_fallbacks_move_a_row_once(fallback_to, sms_queue):
    # given a failed SMS that the poller and a late sender both try to rescue
    fallback_to("call")
    row, _ = make_verification(status=DeliveryStatus.FAILED)

    # when eight of them race
    def attempt(_: int) -> bool:
        try:
            return fallback.verification_fall_back(verification_id=row.id, reason="r")
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=8) as pool:
        moved = list(pool.map(attempt, range(8)))
    # then exactly one moved it
    assert moved.count(True) == 1
    row.refresh_from_db()
    assert (row.channel, row.fallback_from, row.status) == ("call", "sms", "queued")
