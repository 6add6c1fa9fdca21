"""The only package that talks to GreenSMS (SPEC §6).

`get_gateway()` returns this process's backend, chosen by GREEN_SMS_DEBUG. The instance is
cached per process and per settings: when a test (or `override_settings`) changes a
GREEN_SMS_* value, the next call builds a fresh one. Backends are imported lazily so that
importing this package (services do, in the web process) loads neither greensms nor requests.
"""

from __future__ import annotations

import os
import threading

from django.conf import settings

from verification.gateways.base import DeliveryStatus, SMSGateway

__all__ = ["DeliveryStatus", "SMSGateway", "get_gateway", "reset_gateway"]

_lock = threading.Lock()
_cached: tuple[tuple[object, ...], SMSGateway] | None = None


def _settings_key() -> tuple[object, ...]:
    return (
        os.getpid(),
        settings.GREEN_SMS_DEBUG,
        settings.GREEN_SMS_BASE_URL,
        settings.GREEN_SMS_USER,
        settings.GREEN_SMS_PASSWORD,
        settings.GREEN_SMS_TOKEN,
        settings.GREEN_SMS_SENDER,
        settings.GREEN_SMS_TIMEOUT,
    )


def _build() -> SMSGateway:
    if settings.GREEN_SMS_DEBUG:
        from verification.gateways.debug import DebugGateway

        return DebugGateway()
    from verification.gateways.greensms import GreenSMSGateway

    return GreenSMSGateway.from_settings()


def get_gateway() -> SMSGateway:
    """Raises ProviderConfigurationError (permanent) when no credentials are configured."""
    global _cached
    key = _settings_key()
    cached = _cached  # one read: another thread may replace it meanwhile
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        if _cached is None or _cached[0] != key:
            _cached = (key, _build())
        return _cached[1]


def reset_gateway() -> None:
    """Forget the cached backend (tests, settings changes; runs in forked children too)."""
    global _cached
    _cached = None


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    reset_gateway()


os.register_at_fork(after_in_child=_after_fork_in_child)
