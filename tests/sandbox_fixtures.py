"""Pytest plugin: a GreenSMS sandbox per test, and the real gateway pointed at it.

Loaded from tests/conftest.py (`pytest_plugins = ["tests.sandbox_fixtures"]`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

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
