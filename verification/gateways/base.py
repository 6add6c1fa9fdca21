"""The gateway interface the rest of the service codes against, and the status vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

DeliveryState = Literal["delivered", "pending", "failed"]

# GreenSMS delivery codes (SPEC §6). `status_code` is the truth; descriptions vary.
DELIVERED_CODES = frozenset({1})
FAILED_CODES = frozenset({2, 16, 32, 34})  # failure, rejected, request expired (32 or 34)
STATUS_DESCRIPTIONS = {
    0: "Status not ready",
    1: "Delivery success",
    2: "Delivery failure",
    4: "Message buffered",
    8: "Delivery accepted",
    16: "Delivery rejected",
    32: "Status request expired",
    34: "Status request expired",
}


@dataclass(frozen=True)
class DeliveryStatus:
    state: DeliveryState
    status_code: int | None
    description: str


def state_for_status_code(status_code: int | None) -> DeliveryState:
    """Unknown codes are pending: the poller gives up at its own horizon, not here."""
    if status_code in DELIVERED_CODES:
        return "delivered"
    if status_code in FAILED_CODES:
        return "failed"
    return "pending"


def delivery_status(status_code: int | None, description: str = "") -> DeliveryStatus:
    if not description and status_code is not None:
        description = STATUS_DESCRIPTIONS.get(status_code, "")
    return DeliveryStatus(state_for_status_code(status_code), status_code, description)


class SMSGateway(Protocol):
    def send(self, phone: str, text: str, *, hidden: str, tag: str) -> str:
        """Hand one SMS to the provider; returns its request_id. Raises ProviderError."""
        ...

    def status(self, request_id: str) -> DeliveryStatus: ...

    def balance(self) -> Decimal: ...

    def tariff(self) -> dict[str, Decimal]:
        """Price of one message per channel ("sms", "call", …), in the account's currency."""
        ...
