"""The sandbox's memory: messages, tokens, balance, counters and fault settings.

One lock guards everything; every operation is a few dict updates, so contention is
negligible next to the HTTP handling around it.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# What one SMS costs. The real price depends on the tariff and the destination; a round
# figure makes balance arithmetic in tests obvious (1000 buys 500 messages).
PRICE_PER_SMS = Decimal("2.00")
# Other channels, in the same proportions as a typical tariff: a flash call is the cheapest,
# a voice call the dearest.
PRICES = {
    "sms": PRICE_PER_SMS,
    "call": Decimal("0.50"),
    "voice": Decimal("3.00"),
    "viber": Decimal("1.50"),
}
# A flash call's caller id: a fixed prefix, then the 4-digit code the user types in.
CALLER_ID_PREFIX = "7495123"

ERROR_KINDS = ("http500", "timeout", "nonjson", "auth", "throttle", "funds")

# The provider's delivery vocabulary (SPEC §6). Kept here rather than imported from the
# gateway: the sandbox stands for the provider, so a mistake in the adapter's table must
# not be mirrored by its own test double.
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
# Calls and voice calls report with the same codes, in words of their own.
CALL_DESCRIPTIONS = {
    0: "Status not ready",
    1: "Call delivered",
    2: "Call failed",
    8: "Calling",
    16: "Call rejected",
    34: "Status request expired",
}
VOICE_DESCRIPTIONS = {**CALL_DESCRIPTIONS, 1: "Call answered", 2: "No answer"}
DESCRIPTIONS = {"call": CALL_DESCRIPTIONS, "voice": VOICE_DESCRIPTIONS}
PENDING_CODE = 0
ACCEPTED_CODE = 8


class ConfigError(ValueError):
    """A /_sandbox/config value (or a start option) that makes no sense."""


@dataclass(frozen=True)
class SandboxConfig:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_kind: str = "http500"
    delivery_delay: float = 2.0
    final_status: int = 1
    # Seeds the fault dice: the same seed and the same calls draw the same faults. None: random.
    seed: int | None = None

    def validated(self) -> SandboxConfig:
        if self.latency_ms < 0:
            raise ConfigError("latency_ms must be >= 0")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ConfigError("error_rate must be within [0, 1]")
        if self.error_kind not in ERROR_KINDS:
            raise ConfigError("error_kind must be one of " + ", ".join(ERROR_KINDS))
        if self.delivery_delay < 0:
            raise ConfigError("delivery_delay must be >= 0")
        return self


@dataclass
class Message:
    request_id: str
    to: str
    txt: str
    sender: str
    tag: str
    hidden: str  # kept in memory only: the provider hides it from its history, so do we
    login: str  # which credential sent it ("user:<name>" or "token"), for auth tests
    created_at: datetime
    created_mono: float
    delivery_delay: float
    final_status: int
    channel: str = "sms"
    extra: dict[str, str] = field(default_factory=dict)  # language, cascade, caller id, code

    def status_code(self, now: float) -> int:
        """0 for the first half of the delay, 8 for the second, then the final code."""
        elapsed = now - self.created_mono
        if elapsed >= self.delivery_delay:
            return self.final_status
        return PENDING_CODE if elapsed < self.delivery_delay / 2 else ACCEPTED_CODE

    def public(self, now: float) -> dict[str, Any]:
        code = self.status_code(now)
        return {
            "request_id": self.request_id,
            "channel": self.channel,
            "to": self.to,
            "txt": self.txt,
            "from": self.sender,
            "tag": self.tag,
            "status_code": code,
            "status": describe(code, self.channel),
            "created_at": self.created_at.isoformat(),
            **self.extra,
        }


def describe(code: int, channel: str = "sms") -> str:
    return DESCRIPTIONS.get(channel, STATUS_DESCRIPTIONS).get(code, "Unknown status")


@dataclass
class _Counters:
    send_calls: int = 0
    status_calls: int = 0
    balance_calls: int = 0
    errors_injected: int = 0
    connections: int = 0


@dataclass
class SandboxState:
    config: SandboxConfig = field(default_factory=SandboxConfig)
    balance: Decimal = Decimal("1000")
    user: str | None = None
    password: str | None = None
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.config.validated()
        self._reseed()
        self._lock = threading.Lock()
        self._initial_balance = self.balance
        self._messages: dict[str, Message] = {}
        self._tokens: dict[str, float | None] = {}  # token -> expiry (monotonic) or never
        self._counters = _Counters()

    # --- provider side -------------------------------------------------------------
    def count(self, counter: str) -> None:
        with self._lock:
            setattr(self._counters, counter, getattr(self._counters, counter) + 1)

    def draw_fault(self) -> str | None:
        """The fault to inject into this call, if the dice say so (counted when drawn)."""
        with self._lock:
            if self.config.error_rate <= 0 or self.rng.random() >= self.config.error_rate:
                return None
            self._counters.errors_injected += 1
            return self.config.error_kind

    def check_login(self, user: str, password: str) -> bool:
        if self.user is None:
            return bool(user) and bool(password)
        return secrets.compare_digest(user, self.user) and secrets.compare_digest(
            password, self.password or ""
        )

    def issue_token(self, expire_seconds: int) -> str:
        token = secrets.token_urlsafe(32)
        expiry = self.clock() + expire_seconds if expire_seconds > 0 else None
        with self._lock:
            self._tokens[token] = expiry
        return token

    def check_token(self, token: str) -> bool:
        with self._lock:
            if token not in self._tokens:
                return False
            expiry = self._tokens[token]
        return expiry is None or self.clock() < expiry

    def record_send(
        self,
        *,
        to: str,
        txt: str,
        sender: str,
        tag: str,
        hidden: str,
        login: str,
        channel: str = "sms",
        extra: dict[str, str] | None = None,
    ) -> Message | None:
        """Debit one message and store it; None when the balance cannot pay for it."""
        price = PRICES[channel]
        with self._lock:
            if self.balance < price:
                return None
            self.balance -= price
            message = Message(
                request_id=str(uuid.uuid4()),
                to=to,
                txt=txt,
                sender=sender,
                tag=tag,
                hidden=hidden,
                login=login,
                created_at=datetime.now(tz=UTC),
                created_mono=self.clock(),
                delivery_delay=self.config.delivery_delay,
                final_status=self.config.final_status,
                channel=channel,
                extra=extra or {},
            )
            self._messages[message.request_id] = message
        return message

    def lookup(self, request_id: str) -> Message | None:
        with self._lock:
            return self._messages.get(request_id)

    def current_balance(self) -> Decimal:
        with self._lock:
            return self.balance

    def tariff(self) -> list[dict[str, Any]]:
        """`GET /account/tariff`: what a message of each channel costs here (what a send of
        that channel debits)."""
        return [
            {"type": channel, "price": float(price), "currency": "RUB"}
            for channel, price in PRICES.items()
        ]

    # --- control side ----------------------------------------------------------------
    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        now = self.clock()
        wanted = to.lstrip("+") if to else None
        with self._lock:
            found = [m for m in self._messages.values() if wanted is None or m.to == wanted]
        return [m.public(now) for m in found]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return asdict(self._counters)

    def config_dict(self) -> dict[str, Any]:
        with self._lock:
            return {**asdict(self.config), "balance": float(self.balance)}

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Apply any subset of the config keys plus `balance`; all or nothing."""
        known = {f.name for f in fields(SandboxConfig)} | {"balance"}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError("unknown config keys: " + ", ".join(sorted(unknown)))
        balance = changes.pop("balance", None)
        try:
            typed = {name: _COERCE[name](value) for name, value in changes.items()}
            new_balance = None if balance is None else Decimal(str(balance))
        except (TypeError, ValueError, InvalidOperation) as exc:
            raise ConfigError("bad config value") from exc
        with self._lock:
            self.config = replace(self.config, **typed).validated()
            if new_balance is not None:
                self.balance = self._initial_balance = new_balance
            if "seed" in typed:
                self._reseed()
        return self.config_dict()

    def reset(self) -> None:
        """Forget messages, tokens and counters; refill the balance. Faults stay configured,
        and a seeded sandbox draws its faults from the start of the sequence again."""
        with self._lock:
            self._messages.clear()
            self._tokens.clear()
            self._counters = _Counters()
            self.balance = self._initial_balance
            self._reseed()

    def _reseed(self) -> None:
        if self.config.seed is not None:
            self.rng = random.Random(self.config.seed)  # noqa: S311 - reproducible dice


_COERCE: dict[str, Callable[[Any], Any]] = {
    "latency_ms": int,
    "error_rate": float,
    "error_kind": str,
    "delivery_delay": float,
    "final_status": int,
    "seed": lambda value: None if value is None else int(value),
}
