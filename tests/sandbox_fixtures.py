"""Pytest plugin: a GreenSMS sandbox per test, the real gateway pointed at it, and a stub
provider for answers the sandbox never gives.

Loaded from tests/conftest.py (`pytest_plugins = ["tests.sandbox_fixtures"]`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from verification.gateways.errors import (
    AuthorizationDeclined,
    InsufficientFunds,
    NonJSONResponse,
    ProviderError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnavailable,
)

if TYPE_CHECKING:
    from verification.gateways.base import SMSGateway
    from verification.sandbox import SandboxHandle

SANDBOX_USER = "sandbox-user"
SANDBOX_PASSWORD = "sandbox-Pa55-w0rd"  # distinctive, so leak checks can grep for it
# Short but not tight: a loaded 2-core CI box must not turn a slow answer into a timeout.
SANDBOX_TIMEOUT = 2.0
# Faults drawn at random (`error_rate` < 1) come in the same order on every run.
SANDBOX_SEED = 15


@pytest.fixture
def greensms_sandbox() -> Iterator[SandboxHandle]:
    """A fresh sandbox on a free loopback port; `.configure(...)` to change it mid-test."""
    from verification.sandbox import start_sandbox

    # A short delivery delay keeps tests that wait for `delivered` fast.
    handle = start_sandbox(
        port=0,
        user=SANDBOX_USER,
        password=SANDBOX_PASSWORD,
        delivery_delay=0.5,
        seed=SANDBOX_SEED,
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def sandbox_gateway(greensms_sandbox: SandboxHandle, settings: Any) -> Iterator[SMSGateway]:
    """The GreenSMS backend (the real client) talking to `greensms_sandbox`."""
    from verification.gateways import get_gateway, reset_gateway

    settings.GREEN_SMS_DEBUG = False
    settings.GREEN_SMS_BASE_URL = greensms_sandbox.url
    settings.GREEN_SMS_USER = SANDBOX_USER
    settings.GREEN_SMS_PASSWORD = SANDBOX_PASSWORD
    settings.GREEN_SMS_TOKEN = ""
    settings.GREEN_SMS_SENDER = ""
    settings.GREEN_SMS_TIMEOUT = SANDBOX_TIMEOUT
    reset_gateway()
    try:
        yield get_gateway()
    finally:
        reset_gateway()


# What the adapter raises for each fault kind the sandbox injects (`error_kind`).
FAULTS: dict[str, type[ProviderError]] = {
    "http500": ProviderUnavailable,
    "nonjson": NonJSONResponse,
    "throttle": ProviderThrottled,
    "timeout": ProviderTimeout,
    "auth": AuthorizationDeclined,
    "funds": InsufficientFunds,
}


class StubProvider:
    """A loopback server answering every request with one JSON body (HTTP 200)."""

    def __init__(self) -> None:
        self.body: dict[str, object] = {}
        self.gateway: SMSGateway


@pytest.fixture
def stub_provider(settings: Any) -> Iterator[StubProvider]:
    """The real gateway talking to a stub that answers `stub.body` to every request."""
    from verification.gateways import get_gateway

    stub = StubProvider()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            payload = json.dumps(stub.body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    settings.GREEN_SMS_DEBUG = False
    settings.GREEN_SMS_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.GREEN_SMS_USER, settings.GREEN_SMS_PASSWORD = "u", "p"
    settings.GREEN_SMS_TOKEN = ""
    settings.GREEN_SMS_TIMEOUT = SANDBOX_TIMEOUT
    stub.gateway = get_gateway()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
