"""Every channel end to end: the HTTP API, a real worker, the real client and the sandbox.

Named to sort after the process-level tests of this folder: those run workers of their own
on the same broker, and the session's in-process worker (started here) would take their tasks.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import jwt
import pytest

from tests.helpers import wait_for
from verification import codes
from verification.models import DeliveryStatus, SMSVerification
from workers.polling import poll_delivery_statuses

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = "+79991234567"


@pytest.fixture
def all_channels(settings: Any) -> Any:
    settings.VERIFICATION_CHANNELS = ["sms", "call", "voice", "viber"]
    settings.VERIFICATION_POLL_INTERVAL = 0.2
    return settings


def _token_claims(api_client: Any, token: str) -> dict[str, Any]:
    """The token as another backend checks it: against the published JWKS."""
    keys = jwt.PyJWKSet.from_dict(api_client.get("/.well-known/jwks.json").json())
    key = keys[jwt.get_unverified_header(token)["kid"]]
    return dict(jwt.decode(token, key.key, algorithms=["EdDSA"], options={"verify_aud": False}))


def _code_from(message: dict[str, Any]) -> str:
    """What the user would read: the caller id's last digits, the spoken digits, the text's."""
    if message["channel"] == "call":
        return str(message["caller_id"])[-4:]
    if message["channel"] == "voice":
        return str(message["txt"])
    match = re.search(r"\d{6}", message["txt"])
    assert match, message["txt"]
    return match.group(0)


@pytest.mark.parametrize(("channel", "length"), [("call", 4), ("voice", 5), ("viber", 6)])
def test_a_code_by_each_channel_reaches_the_provider_verifies_and_is_tracked(
    api_client, live_worker, greensms_sandbox, sandbox_gateway, all_channels, channel, length
):
    # when a client asks for a code by this channel
    response = api_client.post(
        "/api/auth/send-code/",
        {"phone": PHONE, "channel": channel, "language": "en"},
        format="json",
    )
    assert response.status_code == 202
    assert response.json()["channel"] == channel
    verification_id = response.json()["verification_id"]

    # then the provider gets exactly one request through that channel's module
    [message] = wait_for(lambda: greensms_sandbox.messages(to=PHONE))
    assert message["channel"] == channel
    if channel == "voice":
        assert message["language"] == "en"  # the robot speaks the request's language
    wait_for(lambda: SMSVerification.objects.filter(id=verification_id, status="sent").first())
    code = _code_from(message)
    assert len(code) == length

    # and the code verifies once
    verify = api_client.post(
        "/api/auth/verify-code/", {"phone": PHONE, "code": code}, format="json"
    )
    assert verify.status_code == 200, verify.json()
    # and its proof token names the channel (SPEC §12: amr = [channel])
    claims = _token_claims(api_client, verify.json()["token"])
    assert claims["amr"] == [channel]
    assert claims["vid"] == verification_id

    # and the channel's own status module reports the delivery
    def delivered() -> SMSVerification | None:
        poll_delivery_statuses.delay()
        return SMSVerification.objects.filter(
            id=verification_id, status=DeliveryStatus.DELIVERED
        ).first()

    wait_for(delivered, timeout=20, interval=0.5)
    assert greensms_sandbox.stats()["send_calls"] == 1


def test_a_call_code_is_never_stored_or_logged_in_clear(
    api_client, live_worker, greensms_sandbox, sandbox_gateway, all_channels, caplog
):
    # given every logger at DEBUG
    caplog.set_level(logging.DEBUG)
    # when a flash call is placed
    response = api_client.post(
        "/api/auth/send-code/", {"phone": PHONE, "channel": "call"}, format="json"
    )
    verification_id = response.json()["verification_id"]
    [message] = wait_for(lambda: greensms_sandbox.messages(to=PHONE))
    row = wait_for(
        lambda: SMSVerification.objects.filter(id=verification_id, status="sent").first()
    )
    code = message["code"]
    # then the row holds the code's HMAC only
    assert codes.code_matches(row.code_hash, row.id, code)
    standalone = re.compile(rf"(?<![0-9a-f-]){code}(?![0-9a-f-])")
    for field in SMSVerification._meta.concrete_fields:
        value = str(field.value_from_object(row))
        assert value != code
        assert not standalone.search(value), field.name
    # and no log line, the worker's included, carries it
    # the worker logs its "sent" line just after the UPDATE the wait above saw
    wait_for(lambda: "sent" in caplog.text)  # the worker's log was captured
    assert not standalone.search(caplog.text)
    # and a wrong 4-digit guess is refused while the provider's code works
    wrong = f"{(int(code) + 1) % 10_000:04d}"
    for guess, status in ((wrong, 400), ("123456", 400), (code, 200)):
        answer = api_client.post(
            "/api/auth/verify-code/", {"phone": PHONE, "code": guess}, format="json"
        )
        assert answer.status_code == status
    row.refresh_from_db()
    assert row.attempts == 1  # a 6-digit code is no guess at a call's 4 digits
