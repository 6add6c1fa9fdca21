"""The gateway interface the rest of the service codes against, and the status vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

DeliveryState = Literal["delivered", "pending", "failed"]

# GreenSMS delivery codes (SPEC §6). `status_code` is the truth; descriptions vary.
DELIVERED_CODES = frozenset({1})
FAILED_CODES = frozenset({2, 16, 32, 34})  # failure, rejected, request expired (32 or 34)
PENDING_CODES = frozenset({0, 4, 8})  # not ready, buffered, accepted (calling)
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


# Calls and voice calls (SPEC §13) report with the same codes; where an answer carries no
# known code, its text decides. A flash call is not meant to be answered: the caller id
# reaching the handset (ringing, then "no answer") is its success.
_CALL_TEXTS: dict[str, DeliveryState] = {
    "delivered": "delivered",
    "delivery success": "delivered",
    "call delivered": "delivered",
    "answered": "delivered",
    "call answered": "delivered",
    "no answer": "delivered",
    "missed": "delivered",
    "busy": "failed",
    "rejected": "failed",
    "call rejected": "failed",
    "unavailable": "failed",
    "failed": "failed",
    "call failed": "failed",
    "not delivered": "failed",
    "delivery failure": "failed",
    "delivery rejected": "failed",
    "expired": "failed",
    "status request expired": "failed",
}
# A voice call that nobody answered read its code to nobody.
_VOICE_TEXTS: dict[str, DeliveryState] = {
    **_CALL_TEXTS,
    "no answer": "failed",
    "missed": "failed",
}
STATUS_TEXTS: dict[str, dict[str, DeliveryState]] = {"call": _CALL_TEXTS, "voice": _VOICE_TEXTS}


@dataclass(frozen=True)
class CallResult:
    """A flash call placed: its request id and the code its caller id carries."""

    request_id: str
    code: str = field(repr=False)  # never in a repr, a log line or a row


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


def delivery_status(
    status_code: int | None, description: str = "", channel: str = "sms"
) -> DeliveryStatus:
    if not description and status_code is not None:
        description = STATUS_DESCRIPTIONS.get(status_code, "")
    state = state_for_status_code(status_code)
    known_code = status_code in DELIVERED_CODES or status_code in FAILED_CODES
    texts = STATUS_TEXTS.get(channel)
    if texts is not None and not known_code and status_code not in PENDING_CODES:
        state = texts.get(description.strip().lower(), "pending")
    return DeliveryStatus(state, status_code, description)


class SMSGateway(Protocol):
    """Every send returns the provider's request_id (a call, also its code) or raises
    ProviderError; `status` asks the module of the channel the request went through."""

    def send(self, phone: str, text: str, *, hidden: str, tag: str) -> str: ...

    def send_call(self, phone: str, *, tag: str) -> CallResult: ...

    def send_voice(self, phone: str, code: str, *, language: str, tag: str) -> str: ...

    def send_viber(self, phone: str, text: str) -> str: ...

    def status(self, request_id: str, channel: str = "sms") -> DeliveryStatus: ...

    def balance(self) -> Decimal: ...

    def tariff(self) -> dict[str, Decimal]:
        """Price of one message per channel ("sms", "call", …), in the account's currency."""
        ...
