"""The debug console backend (GREEN_SMS_DEBUG=True): nothing leaves the machine."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings

from verification.gateways.base import DeliveryStatus, delivery_status

logger = logging.getLogger(__name__)

DEBUG_REQUEST_ID = "debug_request_id"


class DebugGateway:
    def send(self, phone: str, text: str, *, hidden: str, tag: str) -> str:
        # The only place a code may be printed: local development, nothing is sent.
        e164 = phone if phone.startswith("+") else "+" + phone
        logger.info("DEBUG SMS: %s - %s", e164, text)
        return DEBUG_REQUEST_ID

    def status(self, request_id: str) -> DeliveryStatus:
        return delivery_status(1)

    def balance(self) -> Decimal:
        return Decimal(str(settings.GREEN_SMS_DEBUG_BALANCE))

    def tariff(self) -> dict[str, Decimal]:
        return {"sms": Decimal(str(settings.GREEN_SMS_PRICE))}
