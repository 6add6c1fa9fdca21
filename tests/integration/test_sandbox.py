"""The sandbox speaks GreenSMS as the official client uses it, and stands up to load."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.management import CommandError, call_command
from greensms.client import GreenSMS
from greensms.http.error import RestError

from tests.helpers import wait_for
from tests.sandbox_fixtures import SANDBOX_PASSWORD, SANDBOX_USER
from verification.gateways.base import SMSGateway
from verification.sandbox import PRICE_PER_SMS, SandboxHandle, start_sandbox
from verification.sandbox.state import Message

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"user": SANDBOX_USER, "pass": SANDBOX_PASSWORD}
PHONE = "+79991234567"
SEND = {"to": "79991234567", "txt": "Ваш код: 907153", "hidden": "907153", "tag": "t-1"}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def official_client(greensms_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The unmodified client (its own HttpClient), pointed at the sandbox."""
    for name in ("GREENSMS_TOKEN", "GREENSMS_USER", "GREENSMS_PASS"):
        monkeypatch.delenv(name, raising=False)
    client = GreenSMS(user=SANDBOX_USER, password=SANDBOX_PASSWORD)
    client.add_modules(
        {
            "use_token_for_requests": False,
            "version": "v1",
            "rest_client": client._http_client(),
            "base_url": greensms_sandbox.url,
        }
    )
    return client


# --- protocol fidelity -------------------------------------------------------------------
def test_the_official_client_parses_every_answer(
    official_client: Any, greensms_sandbox: SandboxHandle
) -> None:
    sent = official_client.sms.send(to="79991234567", txt="Ваш код: 1", hidden="1", tag="x")
    assert uuid.UUID(sent.request_id).version == 4
    status = official_client.sms.status(id=sent.request_id)
    assert set(status) == {"time", "status", "status_code"}
    assert (status.status_code, status.status) == (0, "Status not ready")
    assert official_client.account.balance().balance == float(1000 - PRICE_PER_SMS)
    assert official_client.account.token(expire=60).access_token
    assert official_client.status().status == "ok"
    with pytest.raises(RestError) as caught:
        official_client.sms.status(id=str(uuid.uuid4()))
    assert (caught.value.code, caught.value.error_type) == (404, "NOT_FOUND")


def test_the_official_client_parses_call_voice_and_viber_answers(
    official_client: Any, greensms_sandbox: SandboxHandle
) -> None:
    # a flash call answers its code, which the caller id carries
    call = official_client.call.send(to="79991234567", tag="c")
    assert set(call) == {"request_id", "code"}
    voice = official_client.voice.send(to="79991234567", txt="12345", language="en")
    viber = official_client.viber.send(to="79991234567", txt="Ваш код: 1", cascade="sms")
    by_id = {m["request_id"]: m for m in greensms_sandbox.messages()}
    assert by_id[call.request_id]["caller_id"].endswith(call.code)
    assert by_id[call.request_id]["code"] == call.code
    assert (by_id[voice.request_id]["channel"], by_id[voice.request_id]["language"]) == (
        "voice",
        "en",
    )
    assert by_id[viber.request_id]["cascade"] == "sms"
    # each module answers the status of its own requests, in its own words
    for module, sent, text in (
        (official_client.call, call, "Status not ready"),
        (official_client.voice, voice, "Status not ready"),
        (official_client.viber, viber, "Status not ready"),
    ):
        status = module.status(id=sent.request_id)
        assert (status.status_code, status.status) == (0, text)
    with pytest.raises(RestError) as caught:
        official_client.call.status(id=voice.request_id)
    assert caught.value.code == 404
    # the sandbox's own checks of what the client does not validate
    with pytest.raises(RestError) as refused:
        official_client.viber.send(to="79991234567", txt="x", cascade="telegram")
    assert refused.value.code == 1  # the client's own validation (cascade: sms|voice)
    answer = requests.post(
        greensms_sandbox.url + "/voice/send",
        params={**AUTH, "to": "79991234567", "txt": "12a45"},
        timeout=5,
    )
    assert answer.json() == {"error": "Invalid input param: txt", "code": 2}


def test_the_official_client_sees_auth_declined_as_code_0(
    greensms_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GREENSMS_TOKEN", raising=False)
    client = GreenSMS(user=SANDBOX_USER, password="wrong")
    client.add_modules(
        {"version": "v1", "rest_client": client._http_client(), "base_url": greensms_sandbox.url}
    )
    with pytest.raises(RestError) as caught:
        client.account.balance()
    assert (caught.value.code, caught.value.error_type) == (0, "AUTH_DECLINED")
    assert caught.value.error == "Authorization declined"


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "body"),
    [
        ("GET", "/account/balance", {}, 401, {"error": "Authorization declined", "code": 0}),
        (
            "GET",
            "/account/balance",
            {"user": SANDBOX_USER, "pass": "x"},
            401,
            {"error": "Authorization declined", "code": 0},
        ),
        (
            "POST",
            "/sms/send",
            {**AUTH, "txt": "x"},
            400,
            {"error": "Missing input param: to", "code": 1},
        ),
        (
            "POST",
            "/sms/send",
            {**AUTH, "to": "+7999123", "txt": "x"},
            400,
            {"error": "Invalid input param: to", "code": 2},
        ),
        (
            "POST",
            "/sms/send",
            {**AUTH, "to": "79991234567", "txt": "x", "tag": "t" * 37},
            400,
            {"error": "Invalid input param: tag", "code": 2},
        ),
        ("GET", "/sms/status", AUTH, 400, {"error": "Missing input param: id", "code": 1}),
        (
            "GET",
            "/sms/status",
            {**AUTH, "id": str(uuid.uuid4())},
            404,
            {"error": "Not found", "code": 404},
        ),
        ("GET", "/sms/send", {**AUTH, **SEND}, 405, {"error": "Method not allowed", "code": 405}),
        ("GET", "/v1/sms/send", AUTH, 404, {"error": "Not found", "code": 404}),
    ],
)
def test_error_bodies(
    http: requests.Session,
    greensms_sandbox: SandboxHandle,
    method: str,
    path: str,
    params: dict[str, str],
    status: int,
    body: dict[str, object],
) -> None:
    response = http.request(method, greensms_sandbox.url + path, params=params)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == body


def test_success_bodies(http: requests.Session, greensms_sandbox: SandboxHandle) -> None:
    url = greensms_sandbox.url
    sent = http.post(url + "/sms/send", params={**AUTH, **SEND})  # params in the query, no body
    assert sent.status_code == 200
    assert list(sent.json()) == ["request_id"]
    status = http.get(url + "/sms/status", params={**AUTH, "id": sent.json()["request_id"]})
    body = status.json()
    assert list(body) == ["time", "status", "status_code"]
    assert datetime.strptime(body["time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert http.get(url + "/account/balance", params=AUTH).json() == {"balance": 998.0}
    assert http.get(url + "/status").json() == {"status": "ok"}
    assert http.post(url + "/_sandbox/reset").json() == {"reset": True}


def test_form_and_json_bodies_are_accepted(
    http: requests.Session, greensms_sandbox: SandboxHandle
) -> None:
    url = greensms_sandbox.url + "/sms/send"
    assert http.post(url, data={**AUTH, **SEND}).status_code == 200
    assert http.post(url, json={**AUTH, **SEND, "to": 79991234568}).status_code == 200
    assert [m["to"] for m in greensms_sandbox.messages()] == ["79991234567", "79991234568"]


def test_bearer_token_from_account_token(
    http: requests.Session, greensms_sandbox: SandboxHandle
) -> None:
    url = greensms_sandbox.url
    token = http.post(url + "/account/token", params={**AUTH, "expire": "0"}).json()
    bearer = {"Authorization": "Bearer " + token["access_token"]}
    assert http.post(url + "/sms/send", params=SEND, headers=bearer).status_code == 200
    bad = http.post(url + "/sms/send", params=SEND, headers={"Authorization": "Bearer nope"})
    assert bad.json() == {"error": "Authorization declined", "code": 0}


def test_without_a_configured_user_any_non_empty_login_is_accepted(
    http: requests.Session,
) -> None:
    with start_sandbox(port=0) as sandbox:
        ok = http.get(sandbox.url + "/account/balance", params={"user": "a", "pass": "b"})
        empty = http.get(sandbox.url + "/account/balance", params={"user": "", "pass": "b"})
    assert ok.json() == {"balance": 1000.0}
    assert empty.json()["code"] == 0


# --- delivery over time ------------------------------------------------------------------
def test_status_moves_0_then_8_then_final(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle
) -> None:
    # given a 1 s delivery: 0 for 0.5 s, 8 for 0.5 s, then 1
    greensms_sandbox.configure(delivery_delay=1.0)
    request_id = sandbox_gateway.send("+79991234567", "x", hidden="1", tag="t")
    # when polled until final
    seen: list[int | None] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not seen or seen[-1] != 1):
        code = sandbox_gateway.status(request_id).status_code
        if not seen or seen[-1] != code:
            seen.append(code)
        time.sleep(0.02)
    # then
    assert seen == [0, 8, 1]


@pytest.mark.parametrize(
    ("elapsed", "code"), [(0.0, 0), (0.99, 0), (1.0, 8), (1.99, 8), (2.0, 2), (60, 2)]
)
def test_a_message_status_by_elapsed_time(elapsed: float, code: int) -> None:
    message = Message(
        request_id="r",
        to="7",
        txt="t",
        sender="",
        tag="",
        hidden="",
        login="",
        created_at=datetime.now(tz=UTC),
        created_mono=100.0,
        delivery_delay=2.0,
        final_status=2,
    )
    assert message.status_code(100.0 + elapsed) == code


# --- load and faults ---------------------------------------------------------------------
def test_latency_does_not_serialise_requests(
    sandbox_gateway: SMSGateway, greensms_sandbox: SandboxHandle, settings: Any
) -> None:
    # given 200 ms per request
    settings.GREEN_SMS_TIMEOUT = 10  # a generous read timeout: this measures the server
    from verification.gateways import get_gateway

    gateway = get_gateway()
    greensms_sandbox.configure(latency_ms=200)
    # when 100 sends run at once (serialised, they would take 20 s)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=100) as pool:
        ids = list(pool.map(lambda i: gateway.send(PHONE, "x", hidden="1", tag=str(i)), range(100)))
    elapsed = time.monotonic() - started
    # then
    assert len(set(ids)) == 100
    assert elapsed < 1.8, elapsed


def test_a_held_request_blocks_nobody_and_stop_releases_it(
    http: requests.Session, greensms_sandbox: SandboxHandle
) -> None:
    # given one request held by the timeout fault
    greensms_sandbox.configure(error_rate=1.0, error_kind="timeout")
    outcome: list[BaseException] = []

    def held_call() -> None:
        try:
            requests.get(greensms_sandbox.url + "/account/balance", params=AUTH, timeout=30)
        except requests.RequestException as exc:
            outcome.append(exc)

    holder = threading.Thread(target=held_call)
    holder.start()
    wait_for(lambda: greensms_sandbox.stats()["errors_injected"] == 1, timeout=5)
    # when another client calls meanwhile
    greensms_sandbox.configure(error_rate=0.0)
    started = time.monotonic()
    answer = http.get(greensms_sandbox.url + "/account/balance", params=AUTH, timeout=5)
    # then it is answered at once, and stopping the sandbox frees the held one
    assert answer.status_code == 200
    assert time.monotonic() - started < 1.0
    greensms_sandbox.stop()
    holder.join(timeout=5)
    assert not holder.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], requests.ConnectionError)


def test_error_rate_injects_about_that_share_of_faults(
    http: requests.Session, greensms_sandbox: SandboxHandle
) -> None:
    greensms_sandbox.configure(error_rate=0.5, error_kind="http500", seed=7)
    codes = _balance_codes(http, greensms_sandbox, 200)
    failures = codes.count(500)
    assert 60 < failures < 140
    assert codes.count(200) == 200 - failures
    assert greensms_sandbox.stats()["errors_injected"] == failures


def test_a_seed_replays_the_same_faults(
    http: requests.Session, greensms_sandbox: SandboxHandle
) -> None:
    # given: a seeded sandbox, and another one started with the same seed
    greensms_sandbox.configure(error_rate=0.5, error_kind="http500", seed=15)
    first = _balance_codes(http, greensms_sandbox, 40)
    with start_sandbox(
        port=0, user=SANDBOX_USER, password=SANDBOX_PASSWORD, error_rate=0.5, seed=15
    ) as twin:
        # then: the same calls draw the same faults, in another sandbox...
        assert _balance_codes(http, twin, 40) == first
    # ...after a reset, which restarts the sequence...
    greensms_sandbox.reset()
    assert _balance_codes(http, greensms_sandbox, 40) == first
    # ...and not with another seed
    greensms_sandbox.configure(seed=16)
    assert _balance_codes(http, greensms_sandbox, 40) != first
    assert 0 < first.count(500) < 40


def _balance_codes(http: requests.Session, sandbox: SandboxHandle, count: int) -> list[int]:
    return [
        http.get(sandbox.url + "/account/balance", params=AUTH).status_code for _ in range(count)
    ]


def test_keep_alive_reuses_one_connection(
    http: requests.Session, greensms_sandbox: SandboxHandle
) -> None:
    for _ in range(20):
        http.get(greensms_sandbox.url + "/account/balance", params=AUTH)
    greensms_sandbox.configure(error_rate=1.0, error_kind="auth")  # error replies keep it too
    http.post(greensms_sandbox.url + "/sms/send", params={**AUTH, **SEND})
    assert greensms_sandbox.stats()["connections"] == 1


# --- control endpoints -------------------------------------------------------------------
def test_control_endpoints(http: requests.Session, greensms_sandbox: SandboxHandle) -> None:
    url = greensms_sandbox.url
    http.post(url + "/sms/send", params={**AUTH, **SEND})
    http.post(url + "/sms/send", params={**AUTH, **SEND, "to": "79990000000", "from": "Acme"})
    # messages, filtered by phone with or without '+'
    [message] = http.get(url + "/_sandbox/messages", params={"to": "+79990000000"}).json()
    assert set(message) == {
        "request_id",
        "channel",
        "to",
        "txt",
        "from",
        "tag",
        "status_code",
        "status",
        "created_at",
    }
    assert (message["from"], message["status_code"], message["status"]) == (
        "Acme",
        0,
        "Status not ready",
    )
    assert len(http.get(url + "/_sandbox/messages").json()) == 2
    # stats
    assert http.get(url + "/_sandbox/stats").json() == {
        "send_calls": 2,
        "status_calls": 0,
        "balance_calls": 0,
        "errors_injected": 0,
        "connections": 1,
    }
    # config: any subset, validated, all or nothing
    new = http.post(url + "/_sandbox/config", json={"latency_ms": 5, "balance": 10}).json()
    assert (new["latency_ms"], new["balance"]) == (5, 10.0)
    bad = http.post(url + "/_sandbox/config", json={"error_kind": "meteor", "latency_ms": 9})
    assert bad.status_code == 400
    assert http.get(url + "/_sandbox/config").json()["latency_ms"] == 5
    assert http.post(url + "/_sandbox/config", json={"colour": 1}).status_code == 400
    # reset: messages and counters forgotten, balance refilled to the configured one
    http.get(url + "/account/balance", params=AUTH)
    http.post(url + "/_sandbox/reset")
    assert http.get(url + "/_sandbox/messages").json() == []
    assert http.get(url + "/_sandbox/stats").json()["send_calls"] == 0
    assert http.get(url + "/account/balance", params=AUTH).json() == {"balance": 10.0}


# --- the management command --------------------------------------------------------------
def test_the_command_starts_and_serves() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO"}
    command = [
        sys.executable,
        "manage.py",
        "greensms_sandbox",
        "--port",
        str(port),
        "--user",
        "U",
        "--password",
        "P4ss-w0rd",
        "--delivery-delay",
        "0",
        "--seed",
        "15",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url + "/status"), timeout=30)
        assert requests.get(url + "/_sandbox/config", timeout=5).json()["seed"] == 15
        sent = requests.post(
            url + "/sms/send", params={"user": "U", "pass": "P4ss-w0rd", **SEND}, timeout=5
        )
        assert sent.status_code == 200
        assert requests.get(url + "/_sandbox/stats", timeout=5).json()["send_calls"] == 1
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in stdout
    assert "sandbox send request_id=" + sent.json()["request_id"] in stderr
    assert "P4ss-w0rd" not in stderr + stdout
    assert "907153" not in stderr + stdout


@pytest.mark.parametrize(
    "options",
    [
        {"user": "U"},
        {"error_kind": "meteor"},
        {"error_rate": 2.0},
        {"balance": "lots"},
    ],
)
def test_the_command_rejects_bad_options(options: dict[str, object]) -> None:
    with pytest.raises(CommandError):
        call_command("greensms_sandbox", port=0, **options)


# --- helpers -----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
