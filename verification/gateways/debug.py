"""The debug console backend (GREEN_SMS_DEBUG=True): nothing leaves the machine."""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal

from django.conf import settings

from verification.gateways.base import CallResult, DeliveryStatus, delivery_status

logger = logging.getLogger(__name__)

DEBUG_REQUEST_ID = "debug_request_id"


class DebugGateway:
    def send(self, phone: str, text: str, *, hidden: str, tag: str) -> str:
        # The only place a code may be printed: local development, nothing is sent.
        logger.info("DEBUG SMS: %s - %s", _e164(phone), text)
        return DEBUG_REQUEST_ID

    def send_call(self, phone: str, *, tag: str) -> CallResult:
        code = f"{secrets.randbelow(10_000):04d}"  # the provider's choice, played here
        logger.info("DEBUG CALL: %s - caller id ends in %s", _e164(phone), code)
        return CallResult(DEBUG_REQUEST_ID, code)

    def send_voice(self, phone: str, code: str, *, language: str, tag: str) -> str:
        logger.info("DEBUG VOICE (%s): %s - %s", language, _e164(phone), code)
        return DEBUG_REQUEST_ID

    def send_viber(self, phone: str, text: str) -> str:
        logger.info("DEBUG VIBER: %s - %s", _e164(phone), text)
        return DEBUG_REQUEST_ID

    def status(self, request_id: str, channel: str = "sms") -> DeliveryStatus:
        return delivery_status(1, channel=channel)

    def balance(self) -> Decimal:
        return Decimal(str(settings.GREEN_SMS_DEBUG_BALANCE))

    def tariff(self) -> dict[str, Decimal]:
        return {"sms": Decimal(str(settings.GREEN_SMS_PRICE))}


def _e164(phone: str) -> str:
    return phone if phone.startswith("+") else "+" + phone
