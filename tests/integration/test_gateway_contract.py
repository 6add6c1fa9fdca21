"""The adapter drives the real greensms client (and real HTTP) against the sandbox.

Nothing here mocks greensms or requests: every call crosses a loopback socket.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import wait_for
from tests.sandbox_fixtures import (
    FAULTS,
    SANDBOX_PASSWORD,
    SANDBOX_TIMEOUT,
    SANDBOX_USER,
    StubProvider,
)
from verification.gateways import get_gateway, reset_gateway
from verification.gateways.base import DeliveryStatus, SMSGateway
from verification.gateways.errors import (
    AmbiguousSendError,
    AuthorizationDeclined,
    InsufficientFunds,
    InvalidParameters,
    MalformedResponse,
    PermanentProviderError,
    ProviderConfigurationError,
    ProviderConnectionError,
    ProviderError,
    RequestNotFound,
    TransientProviderError,
)
from verification.gateways.greensms import ConfiguredGreenSMS
from verification.gateways.transport import shared_session
from verification.sandbox import PRICE_PER_SMS, SandboxHandle

PHONE = "+79991234567"
CODE = "424242"
TEXT = f"Ваш код: {CODE}"


def _send(gateway: SMSGateway, tag: str | None = None) -> str:
    return gateway.send(PHONE, TEXT, hidden=CODE, tag=tag or str(uuid.uuid4()))


# --- the happy path ----------------------------------------------------------------------
def test_send_hands_exactly_one_sms_to_the_provider(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    # given
    tag = str(uuid.uuid4())
    # when
    request_id = _send(sandbox_gateway, tag)
    # then
    assert uuid.UUID(request_id).version == 4
    [message] = greensms_sandbox.messages()
    assert message["request_id"] == request_id
    assert message["to"] == "79991234567"  # digits only
    assert message["txt"] == TEXT
    assert message["tag"] == tag
    assert message["from"] == ""  # no sender configured: `from` is omitted
    stored = greensms_sandbox.state.lookup(request_id)
    assert stored is not None
    assert stored.hidden == CODE
    assert stored.login == f"user:{SANDBOX_USER}"


def test_sender_is_passed_as_from(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle, settings: Any
) -> None:
    settings.GREEN_SMS_SENDER = "Acme"
    _send(get_gateway())
    assert greensms_sandbox.messages()[0]["from"] == "Acme"


def test_status_moves_to_delivered(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    request_id = _send(sandbox_gateway)
    first = sandbox_gateway.status(request_id)
    assert first.state == "pending"
    assert first.status_code in (0, 8)

    def final_status() -> DeliveryStatus | None:
        status = sandbox_gateway.status(request_id)
        return None if status.state == "pending" else status

    final = wait_for(final_status)
    assert (final.state, final.status_code, final.description) == (
        "delivered",
        1,
        "Delivery success",
    )


def test_a_failed_delivery_is_failed(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    greensms_sandbox.configure(final_status=16, delivery_delay=0)
    status = sandbox_gateway.status(_send(sandbox_gateway))
    assert (status.state, status.status_code) == ("failed", 16)


def test_status_of_an_unknown_id_is_not_found(sandbox_gateway: SMSGateway) -> None:
    with pytest.raises(RequestNotFound) as caught:
        sandbox_gateway.status(str(uuid.uuid4()))
    assert not caught.value.transient


def test_balance_is_a_decimal_debited_per_message(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    before = sandbox_gateway.balance()
    _send(sandbox_gateway)
    assert isinstance(before, Decimal)
    assert sandbox_gateway.balance() == before - PRICE_PER_SMS


def test_running_out_of_money_is_insufficient_funds(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    greensms_sandbox.configure(balance=PRICE_PER_SMS)
    _send(sandbox_gateway)
    with pytest.raises(InsufficientFunds) as caught:
        _send(sandbox_gateway)
    assert not caught.value.transient
    assert len(greensms_sandbox.messages()) == 1


def test_a_phone_the_client_rejects_is_invalid_parameters_and_nothing_is_sent(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    with pytest.raises(InvalidParameters) as caught:
        sandbox_gateway.send("+7999", TEXT, hidden=CODE, tag="t")
    assert caught.value.reason == "invalid parameters (rejected by client): to"
    assert greensms_sandbox.stats()["send_calls"] == 0


# --- faults ------------------------------------------------------------------------------
CALLS: dict[str, Callable[[SMSGateway, str], object]] = {
    "send": lambda gateway, _: _send(gateway),
    "status": lambda gateway, request_id: gateway.status(request_id),
    "balance": lambda gateway, _: gateway.balance(),
}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("kind", list(FAULTS))
def test_every_fault_on_every_call_is_classified(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle, kind: str, call: str
) -> None:
    # given a sandbox failing every call in one way
    request_id = _send(sandbox_gateway)
    greensms_sandbox.configure(error_rate=1.0, error_kind=kind)
    # when
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        CALLS[call](sandbox_gateway, request_id)
    elapsed = time.monotonic() - started
    # then
    error = caught.value
    assert isinstance(error, FAULTS[kind])
    assert error.transient is (kind not in ("auth", "funds"))
    assert isinstance(error, TransientProviderError if error.transient else PermanentProviderError)
    assert error.ambiguous is (kind == "timeout" and call == "send")
    if kind == "timeout":
        assert elapsed < SANDBOX_TIMEOUT + 1
        if call == "send":
            assert isinstance(error, AmbiguousSendError)
    assert greensms_sandbox.stats()["errors_injected"] == 1


def test_an_unreachable_provider_is_transient_and_not_ambiguous(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    greensms_sandbox.stop()
    with pytest.raises(ProviderConnectionError) as caught:
        _send(sandbox_gateway)
    assert caught.value.transient
    assert not caught.value.ambiguous  # refused: the request never left


@pytest.mark.parametrize(
    ("body", "call"),
    [
        ({"id": "not-a-request-id"}, "send"),
        ({"request_id": ""}, "send"),
        ({"time": "now", "status": "Delivery success"}, "status"),
        ({"status_code": "soon"}, "status"),
        ({"money": 5}, "balance"),
        ({"balance": None}, "balance"),
    ],
)
def test_a_missing_field_is_malformed_never_none(
    stub_provider: StubProvider, body: dict[str, object], call: str
) -> None:
    stub_provider.body = body
    with pytest.raises(MalformedResponse) as caught:
        CALLS[call](stub_provider.gateway, str(uuid.uuid4()))
    assert caught.value.transient
    assert caught.value.ambiguous is (call == "send")


def test_a_balance_sent_as_a_string_is_parsed(stub_provider: StubProvider) -> None:
    stub_provider.body = {"balance": "4.85"}
    assert stub_provider.gateway.balance() == Decimal("4.85")


# --- connections -------------------------------------------------------------------------
def test_pooled_connections_are_reused_across_threads(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle, settings: Any
) -> None:
    # given 8 threads sharing the process's one session
    threads, sends = 8, 1000
    greensms_sandbox.configure(balance=PRICE_PER_SMS * sends)
    # The sandbox answers in this process: its handler threads share the interpreter with the
    # 8 callers (and any test worker's threads), so on a loaded machine one of 1000 answers
    # can take longer than the suite's short client timeout. What is counted here is
    # connections, not latency: a timeout would only fail the test (and open a new one).
    settings.GREEN_SMS_TIMEOUT = 30
    gateway = get_gateway()
    # when
    with ThreadPoolExecutor(max_workers=threads) as pool:
        request_ids = list(pool.map(lambda _: _send(gateway), range(sends)))
    # then every call went over one of at most 8 kept-alive connections
    assert len(set(request_ids)) == sends
    stats = greensms_sandbox.stats()
    assert stats["send_calls"] == sends
    assert 1 <= stats["connections"] <= threads


def test_a_forked_child_gets_its_own_session_and_gateway(sandbox_gateway: SMSGateway) -> None:
    parent_session = shared_session()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        fresh = shared_session() is not parent_session and get_gateway() is not sandbox_gateway
        os.write(write_end, b"1" if fresh else b"0")
        os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 1)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert shared_session() is parent_session


# --- credentials -------------------------------------------------------------------------
@pytest.mark.parametrize("stray_token", ["stray-token-from-env", ""])
def test_greensms_environment_variables_never_replace_our_credentials(
    greensms_sandbox: SandboxHandle,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    stray_token: str,
) -> None:
    # given the client's env vars, which it would prefer to explicit arguments
    monkeypatch.setenv("GREENSMS_TOKEN", stray_token)
    monkeypatch.setenv("GREENSMS_USER", "env-user")
    monkeypatch.setenv("GREENSMS_PASS", "env-pass")
    gateway = _gateway_for(greensms_sandbox, settings)
    # when
    request_id = _send(gateway)
    # then the sandbox (which only knows our login) saw our login
    stored = greensms_sandbox.state.lookup(request_id)
    assert stored is not None
    assert stored.login == f"user:{SANDBOX_USER}"


def test_a_wrong_password_is_authorization_declined(
    greensms_sandbox: SandboxHandle, settings: Any
) -> None:
    gateway = _gateway_for(greensms_sandbox, settings, password="wrong")
    with pytest.raises(AuthorizationDeclined):
        gateway.balance()


def test_a_token_from_account_token_authenticates(
    greensms_sandbox: SandboxHandle, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a token issued by POST /account/token through the client itself
    client = ConfiguredGreenSMS(
        base_url=greensms_sandbox.url,
        user=SANDBOX_USER,
        password=SANDBOX_PASSWORD,
        token="",
        timeout=(1.0, 2.0),
    )
    token = client.account.token(expire=0).access_token
    monkeypatch.setenv("GREENSMS_USER", "env-user")
    # when only the token is configured
    gateway = _gateway_for(greensms_sandbox, settings, user="", password="", token=token)
    request_id = _send(gateway)
    # then
    stored = greensms_sandbox.state.lookup(request_id)
    assert stored is not None
    assert stored.login == "token"
    bogus = _gateway_for(greensms_sandbox, settings, user="", password="", token="bogus")
    with pytest.raises(AuthorizationDeclined):
        bogus.balance()


def test_no_credentials_at_all_is_a_permanent_configuration_error(
    greensms_sandbox: SandboxHandle, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENSMS_TOKEN", "stray-token-from-env")
    with pytest.raises(ProviderConfigurationError):
        _gateway_for(greensms_sandbox, settings, user="", password="")


# --- secrets -----------------------------------------------------------------------------
def test_no_password_token_or_code_reaches_logs_or_errors(
    sandbox_gateway: SMSGateway,
    greensms_sandbox: SandboxHandle,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given everything logging at DEBUG, urllib3's request lines included
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    token_gateway = _gateway_for(
        greensms_sandbox, settings, user="", password="", token="TOKEN-s3cr3t"
    )
    raised: list[ProviderError] = []
    # when every path runs: success, faults, refusals, local validation
    request_id = _send(sandbox_gateway)
    sandbox_gateway.status(request_id)
    sandbox_gateway.balance()
    for kind in ("timeout", "nonjson", "http500", "auth"):
        greensms_sandbox.configure(error_rate=1.0, error_kind=kind)
        raised.append(_raises(lambda: _send(sandbox_gateway)))
    greensms_sandbox.configure(error_rate=0.0)
    raised.append(_raises(lambda: token_gateway.balance()))
    raised.append(_raises(lambda: sandbox_gateway.send("+7", TEXT, hidden=CODE, tag="t")))
    greensms_sandbox.stop()
    raised.append(_raises(lambda: _send(sandbox_gateway)))
    # then
    assert "?<redacted>" in caplog.text  # urllib3 did log its request lines
    for secret in (SANDBOX_PASSWORD, "TOKEN-s3cr3t", CODE, "pass="):
        assert secret not in caplog.text
        for error in raised:
            assert secret not in str(error) + repr(error) + repr(error.args)
            assert error.__context__ is None
            assert error.__cause__ is None
    # a log record's args carry no secrets either
    for record in caplog.records:
        assert SANDBOX_PASSWORD not in repr(record.args)
        assert CODE not in repr(record.args)


# --- debug backend and selection ----------------------------------------------------------
def test_debug_backend_sends_nothing_and_logs_the_sms(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.GREEN_SMS_DEBUG = True
    settings.GREEN_SMS_DEBUG_BALANCE = 1234.5
    caplog.set_level(logging.INFO, logger="verification.gateways.debug")
    gateway = get_gateway()
    assert gateway.send(PHONE, "Ваш код: 123456", hidden="123456", tag="t") == "debug_request_id"
    assert [r.getMessage() for r in caplog.records] == ["DEBUG SMS: +79991234567 - Ваш код: 123456"]
    assert gateway.status("debug_request_id").state == "delivered"
    assert gateway.status("debug_request_id").status_code == 1
    assert gateway.balance() == Decimal("1234.5")


def test_gateway_is_cached_and_rebuilt_when_settings_change(
    sandbox_gateway: SMSGateway, settings: Any
) -> None:
    assert get_gateway() is sandbox_gateway
    settings.GREEN_SMS_TIMEOUT = 3
    rebuilt = get_gateway()
    assert rebuilt is not sandbox_gateway
    assert get_gateway() is rebuilt
    reset_gateway()
    assert get_gateway() is not rebuilt


# --- helpers -----------------------------------------------------------------------------
def _gateway_for(
    sandbox: SandboxHandle,
    settings: Any,
    *,
    user: str = SANDBOX_USER,
    password: str = SANDBOX_PASSWORD,
    token: str = "",
) -> SMSGateway:
    settings.GREEN_SMS_DEBUG = False
    settings.GREEN_SMS_BASE_URL = sandbox.url
    settings.GREEN_SMS_USER = user
    settings.GREEN_SMS_PASSWORD = password
    settings.GREEN_SMS_TOKEN = token
    settings.GREEN_SMS_TIMEOUT = SANDBOX_TIMEOUT
    return get_gateway()


def _raises(call: Callable[[], object]) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    return caught.value
