"""The seed's facade, `GreenSMSService`, called as the seed's callers call it: a real worker
sends through the real client to the sandbox, and the code that arrives there verifies."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_verification, wrong_code
from tests.helpers import wait_for
from verification.models import SMSVerification
from verification.services import GreenSMSService

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+79991234567"


@pytest.fixture
def service(greensms_sandbox, sandbox_gateway) -> GreenSMSService:
    return GreenSMSService()


def code_in(message: dict[str, str]) -> str:
    match = re.fullmatch(r"Ваш код: (\d{6})", message["txt"])
    assert match, message["txt"]
    return match.group(1)


@pytest.mark.usefixtures("live_worker")
def test_send_verification_code_sends_one_sms_that_verifies_once(service, greensms_sandbox):
    # when: the seed's call, with the number as a user types it
    row = service.send_verification_code("8 (999) 123-45-67")

    # then: the row is stored in E.164 and a worker sends exactly one SMS for it
    assert row.phone == PHONE
    (message,) = wait_for(lambda: greensms_sandbox.messages(to=PHONE))
    assert message["tag"] == str(row.id)
    sent = wait_for(lambda: SMSVerification.objects.filter(id=row.id, status="sent").first())
    assert sent.request_id == message["request_id"]

    # and the code in that SMS verifies, once
    code = code_in(message)
    assert service.verify_code(PHONE, wrong_code(code)) is False
    assert service.verify_code("8 999 123 45 67", code) is True
    assert service.verify_code(PHONE, code) is False
    assert len(greensms_sandbox.messages()) == 1


def test_verify_code_answers_false_for_whatever_is_refused(service, fast_limits):
    # given: a live code, and wrong guesses that never burn it (only the limit refuses)
    fast_limits.VERIFICATION_MAX_ATTEMPTS = 100
    _, code = make_verification(phone=PHONE)

    # then: a malformed phone, an unknown phone and a malformed code are False, not errors
    assert service.verify_code("not a phone", code) is False
    assert service.verify_code("+79990000000", code) is False
    assert service.verify_code(PHONE, "12ab56") is False
    # and past the per-phone verify limit even the right code is False
    for _ in range(fast_limits.RATE_LIMIT_VERIFY_PER_HOUR):
        service.verify_code(PHONE, wrong_code(code))
    assert service.verify_code(PHONE, code) is False


def test_get_sms_status_follows_the_provider(service, sandbox_gateway, greensms_sandbox):
    # given: one message the provider will deliver, one it will fail to
    greensms_sandbox.configure(delivery_delay=1.0, final_status=1)
    delivered = sandbox_gateway.send(PHONE, "x", hidden="1", tag="a")
    greensms_sandbox.configure(delivery_delay=0, final_status=2)
    failed = sandbox_gateway.send(PHONE, "x", hidden="1", tag="b")

    # then: the seed's vocabulary, as the provider reports it now
    assert service.get_sms_status(delivered) == "pending"
    assert service.get_sms_status(failed) == "failed"
    wait_for(lambda: service.get_sms_status(delivered) == "delivered", timeout=10)
