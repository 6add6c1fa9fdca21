"""The adapter's call, voice and Viber modules, through the real client and real HTTP.

Same contract as SMS (tests/integration/test_gateway_contract.py): typed errors, the same
timeouts and classification, no secret or code in an error or a log line.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import wait_for
from tests.sandbox_fixtures import FAULTS, SANDBOX_PASSWORD, SANDBOX_TIMEOUT, StubProvider
from verification.gateways import get_gateway
from verification.gateways.base import DeliveryStatus, SMSGateway
from verification.gateways.errors import (
    AmbiguousSendError,
    InvalidParameters,
    MalformedResponse,
    PermanentProviderError,
    ProviderError,
    RequestNotFound,
    TransientProviderError,
)
from verification.sandbox import PRICES, SandboxHandle

PHONE = "+79991234567"


def _call(gateway: SMSGateway) -> str:
    return gateway.send_call(PHONE, tag=str(uuid.uuid4())).request_id


def _voice(gateway: SMSGateway) -> str:
    return gateway.send_voice(PHONE, "12345", language="ru", tag=str(uuid.uuid4()))


def _viber(gateway: SMSGateway) -> str:
    return gateway.send_viber(PHONE, "Ваш код: 123456")


SENDS: dict[str, Callable[[SMSGateway], str]] = {"call": _call, "voice": _voice, "viber": _viber}


# --- the happy paths ---------------------------------------------------------------------
def test_a_flash_call_answers_the_code_its_caller_id_carries(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    # when
    tag = str(uuid.uuid4())
    placed = sandbox_gateway.send_call(PHONE, tag=tag)
    # then the provider placed one call whose caller id ends in the code it answered
    [message] = greensms_sandbox.messages(to=PHONE)
    assert message["channel"] == "call"
    assert message["request_id"] == placed.request_id
    assert message["tag"] == tag
    assert len(placed.code) == 4
    assert placed.code.isdigit()
    assert message["caller_id"].endswith(placed.code)
    assert placed.code not in repr(placed)


def test_a_voice_call_reads_the_code_in_the_language_asked(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    request_id = sandbox_gateway.send_voice(PHONE, "54321", language="en", tag="t-1")
    [message] = greensms_sandbox.messages(to=PHONE)
    assert (message["channel"], message["txt"], message["language"]) == ("voice", "54321", "en")
    assert message["request_id"] == request_id


def test_viber_goes_with_the_text_and_an_sms_cascade(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle, settings: Any
) -> None:
    settings.GREEN_SMS_SENDER = "Acme"
    gateway = get_gateway()
    gateway.send_viber(PHONE, "Ваш код: 123456")
    [message] = greensms_sandbox.messages(to=PHONE)
    assert message["channel"] == "viber"
    assert (message["txt"], message["cascade"], message["from"]) == (
        "Ваш код: 123456",
        "sms",
        "Acme",
    )


@pytest.mark.parametrize("channel", list(SENDS))
@pytest.mark.parametrize(("final", "state"), [(1, "delivered"), (2, "failed")])
def test_each_channel_is_polled_through_its_own_module(
    sandbox_gateway: SMSGateway,
    greensms_sandbox: SandboxHandle,
    channel: str,
    final: int,
    state: str,
) -> None:
    # given
    greensms_sandbox.configure(delivery_delay=0.2, final_status=final)
    request_id = SENDS[channel](sandbox_gateway)
    # when
    status = wait_for(lambda: _final(sandbox_gateway.status(request_id, channel)))
    # then
    assert (status.state, status.status_code) == (state, final)
    # and another module does not know the request
    with pytest.raises(RequestNotFound):
        sandbox_gateway.status(request_id, "sms")


def test_each_channel_is_debited_at_its_price(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    before = sandbox_gateway.balance()
    for send in SENDS.values():
        send(sandbox_gateway)
    assert sandbox_gateway.balance() == before - PRICES["call"] - PRICES["voice"] - PRICES["viber"]


# --- refusals and faults -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("send", "field"),
    [
        (lambda g: g.send_voice(PHONE, "123456", language="ru", tag="t"), "txt"),  # > 5 digits
        (lambda g: g.send_voice(PHONE, "12345", language="de", tag="t"), "language"),
        (lambda g: g.send_call("+7999", tag="t"), "to"),
        (lambda g: g.send_viber("+7999", "Ваш код: 1"), "to"),
    ],
)
def test_what_the_client_rejects_is_invalid_parameters_and_nothing_is_sent(
    sandbox_gateway: SMSGateway,
    greensms_sandbox: SandboxHandle,
    send: Callable[[SMSGateway], object],
    field: str,
) -> None:
    with pytest.raises(InvalidParameters) as caught:
        send(sandbox_gateway)
    assert caught.value.reason == "invalid parameters (rejected by client): " + field
    assert greensms_sandbox.stats()["send_calls"] == 0


@pytest.mark.parametrize("operation", ["send", "status"])
@pytest.mark.parametrize("channel", list(SENDS))
@pytest.mark.parametrize("kind", list(FAULTS))
def test_every_fault_on_every_channel_is_classified_as_for_sms(
    sandbox_gateway: SMSGateway,
    greensms_sandbox: SandboxHandle,
    kind: str,
    channel: str,
    operation: str,
) -> None:
    # given a sandbox failing every call in one way
    request_id = SENDS[channel](sandbox_gateway)
    greensms_sandbox.configure(error_rate=1.0, error_kind=kind)
    # when
    started = time.monotonic()
    call: Callable[[], object] = (
        (lambda: SENDS[channel](sandbox_gateway))
        if operation == "send"
        else (lambda: sandbox_gateway.status(request_id, channel))
    )
    with pytest.raises(ProviderError) as caught:
        call()
    # then
    error = caught.value
    assert isinstance(error, FAULTS[kind])
    assert error.transient is (kind not in ("auth", "funds"))
    assert isinstance(error, TransientProviderError if error.transient else PermanentProviderError)
    assert error.ambiguous is (kind == "timeout" and operation == "send")
    if kind == "timeout":
        assert time.monotonic() - started < SANDBOX_TIMEOUT + 1
        assert isinstance(error, AmbiguousSendError) is (operation == "send")


@pytest.mark.parametrize(
    "body",
    [{"request_id": str(uuid.uuid4())}, {"request_id": str(uuid.uuid4()), "code": "12"}, {}],
)
def test_a_call_answer_without_a_usable_code_is_malformed_and_ambiguous(
    stub_provider: StubProvider,
    body: dict[str, object],
) -> None:
    stub_provider.body = body
    with pytest.raises(MalformedResponse) as caught:
        stub_provider.gateway.send_call(PHONE, tag="t")
    assert caught.value.transient
    assert caught.value.ambiguous


def test_a_call_status_in_words_only_is_read_from_its_text(
    stub_provider: StubProvider,
) -> None:
    stub_provider.body = {"status": "No answer"}
    assert stub_provider.gateway.status(str(uuid.uuid4()), "call").state == "delivered"
    assert stub_provider.gateway.status(str(uuid.uuid4()), "voice").state == "failed"
    stub_provider.body = {"time": "now"}
    with pytest.raises(MalformedResponse):
        stub_provider.gateway.status(str(uuid.uuid4()), "call")
    stub_provider.body = {"status": "Delivery success"}  # SMS and Viber: the code decides
    with pytest.raises(MalformedResponse):
        stub_provider.gateway.status(str(uuid.uuid4()), "viber")


def test_no_call_code_or_password_reaches_logs_or_errors(
    sandbox_gateway: SMSGateway,
    greensms_sandbox: SandboxHandle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given everything logging at DEBUG, urllib3's request lines included
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    raised: list[ProviderError] = []
    # when
    placed = sandbox_gateway.send_call(PHONE, tag="t")
    sandbox_gateway.status(placed.request_id, "call")
    sandbox_gateway.send_voice(PHONE, "90817", language="ru", tag="t")
    for kind in ("timeout", "nonjson", "http500", "auth"):
        greensms_sandbox.configure(error_rate=1.0, error_kind=kind)
        raised.append(
            _raises(lambda: sandbox_gateway.send_voice(PHONE, "90817", language="ru", tag="t"))
        )
        raised.append(_raises(lambda: sandbox_gateway.send_call(PHONE, tag="t")))
    # then
    assert "?<redacted>" in caplog.text  # urllib3 did log its request lines
    for secret in (SANDBOX_PASSWORD, placed.code, "90817"):
        assert secret not in caplog.text
        for error in raised:
            assert secret not in str(error) + repr(error)


def test_the_debug_backend_speaks_every_channel(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.GREEN_SMS_DEBUG = True
    caplog.set_level(logging.INFO, logger="verification.gateways.debug")
    gateway = get_gateway()
    placed = gateway.send_call(PHONE, tag="t")
    assert placed.request_id == "debug_request_id"
    assert len(placed.code) == 4
    assert gateway.send_voice(PHONE, "12345", language="en", tag="t") == "debug_request_id"
    assert gateway.send_viber(PHONE, "Ваш код: 123456") == "debug_request_id"
    assert [r.getMessage() for r in caplog.records] == [
        f"DEBUG CALL: +79991234567 - caller id ends in {placed.code}",
        "DEBUG VOICE (en): +79991234567 - 12345",
        "DEBUG VIBER: +79991234567 - Ваш код: 123456",
    ]
    for channel in ("sms", "call", "voice", "viber"):
        assert gateway.status("debug_request_id", channel).state == "delivered"


def _raises(call: Callable[[], object]) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    return caught.value


def _final(status: DeliveryStatus) -> DeliveryStatus | None:
    return None if status.state == "pending" else status
