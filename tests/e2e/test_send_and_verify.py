"""End to end through the HTTP API, a real worker, the real greensms client and the sandbox."""

from __future__ import annotations

import re

import pytest

from tests.helpers import wait_for
from verification.models import DeliveryStatus, SMSVerification
from workers.polling import poll_delivery_statuses

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_send_code_reaches_the_provider_verifies_and_is_tracked_to_delivered(
    api_client, live_worker, greensms_sandbox, sandbox_gateway, settings
):
    # when: a client asks for a code
    response = api_client.post("/api/auth/send-code/", {"phone": "+79991234567"}, format="json")
    assert response.status_code == 202
    verification_id = response.json()["verification_id"]

    # then: the provider receives exactly one SMS carrying the code, tagged with the row
    messages = wait_for(lambda: greensms_sandbox.messages(to="79991234567"))
    row = wait_for(
        lambda: SMSVerification.objects.filter(id=verification_id, status="sent").first()
    )
    assert len(greensms_sandbox.messages()) == 1
    message = messages[0]
    assert message["tag"] == verification_id
    assert row.request_id == message["request_id"]
    match = re.fullmatch(r"Ваш код: (\d{6})", message["txt"])
    assert match, message["txt"]
    code = match.group(1)

    # and the code verifies
    verify = api_client.post(
        "/api/auth/verify-code/", {"phone": "+79991234567", "code": code}, format="json"
    )
    assert verify.status_code == 200

    # and polling records the delivery once the provider reports it
    settings.VERIFICATION_POLL_INTERVAL = 0.2

    def delivered():
        poll_delivery_statuses.delay()
        return SMSVerification.objects.filter(
            id=verification_id, status=DeliveryStatus.DELIVERED
        ).first()

    row = wait_for(delivered, timeout=20, interval=0.5)
    assert row.delivered_at is not None
    assert row.get_sms_status() == "delivered"
    assert greensms_sandbox.stats()["send_calls"] == 1
