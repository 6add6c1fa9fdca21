"""The only package that talks to GreenSMS (SPEC §6).

`get_gateway()` returns this process's backend, chosen by GREEN_SMS_DEBUG. The instance is
cached per process and per settings: when a test (or `override_settings`) changes a
GREEN_SMS_* value, the next call builds a fresh one. Backends are imported lazily so that
importing this package (services do, in the web process) loads neither greensms nor requests.
"""

from __future__ import annotations

from django.conf import settings

from verification.gateways.base import DeliveryStatus, SMSGateway
from verification.settings_cache import SettingsCached

__all__ = ["DeliveryStatus", "SMSGateway", "get_gateway", "reset_gateway"]


def _settings_key() -> tuple[object, ...]:
    return (
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


_gateway = SettingsCached(_settings_key, _build)


def get_gateway() -> SMSGateway:
    """Raises ProviderConfigurationError (permanent) when no credentials are configured."""
    return _gateway.get()


def reset_gateway() -> None:
    """Forget the cached backend (tests, settings changes)."""
    _gateway.reset()
