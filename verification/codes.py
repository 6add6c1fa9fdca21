"""One-time codes: random, never stored in plaintext, compared in constant time.

The web process stores the row; a worker sends the SMS later, maybe after a retry or a
re-dispatch, so the worker must be able to recover the same code without it being stored
or carried in a task message. Each row therefore gets a random secret seed (`secrets`),
and the code is derived from it with an HMAC keyed by the secret key. The row also keeps
`code_hash`, an HMAC of the code itself, which is what a verify compares against.

A database dump without the secret key reveals no code; with the key, a 6-digit code is
recoverable from any keyed hash of it in a second anyway, so the seed costs nothing more.

Lengths follow the channel (SPEC §13): 6 digits by SMS and Viber, 5 read out by a voice call
(the client caps `voice.send`'s text at 5 digits), 4 for a flash call, where the provider
chooses the code (the caller id's last digits) and the row only ever holds its HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

CODE_LENGTH = 6  # SMS, Viber
CODE_LENGTHS = {"sms": 6, "viber": 6, "voice": 5, "call": 4}


def new_seed() -> str:
    return secrets.token_hex(16)


def _mac(message: str) -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), message.encode(), hashlib.sha256).digest()


def length_for(channel: str) -> int:
    return CODE_LENGTHS.get(channel, CODE_LENGTH)


def code_for(verification_id: uuid.UUID, seed: str, length: int = CODE_LENGTH) -> str:
    """The row's code: `length` digits, uniform up to a bias of 2^-44."""
    number = int.from_bytes(_mac(f"code:{verification_id}:{seed}")[:8], "big")
    return f"{number % 10**length:0{length}d}"


def hash_code(verification_id: uuid.UUID, code: str) -> str:
    """HMAC-SHA256 of the code bound to its row: useless for any other row."""
    return _mac(f"hash:{verification_id}:{code}").hex()


def code_matches(code_hash: str, verification_id: uuid.UUID, code: str) -> bool:
    return hmac.compare_digest(code_hash, hash_code(verification_id, code))


def is_plausible(code: str) -> bool:
    """Digits of some channel's length: checked before any lookup, whatever the row."""
    return len(code) in _LENGTHS and code.isascii() and code.isdigit()


def is_well_formed(code: str, channel: str = "sms") -> bool:
    """A code of the row's channel: a 6-digit SMS code never matches a call's row."""
    return len(code) == length_for(channel) and code.isascii() and code.isdigit()


_LENGTHS = frozenset(CODE_LENGTHS.values())


@dataclass(frozen=True)
class CodeMaterial:
    """What a new verification row is born with; `code` is for the caller's eyes only
    (a test, a benchmark's client): the row keeps the seed and the hash, never the code."""

    id: uuid.UUID
    code_seed: str
    code: str
    code_hash: str
    created_at: datetime
    expires_at: datetime

    def row_fields(self) -> dict[str, Any]:
        """The SMSVerification fields this material sets."""
        return {
            "id": self.id,
            "code_seed": self.code_seed,
            "code_hash": self.code_hash,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


def new_material(
    *,
    now: datetime | None = None,
    ttl: float | None = None,
    channel: str = "sms",
    verification_id: uuid.UUID | None = None,
) -> CodeMaterial:
    """A fresh id, seed, code and hash, living `ttl` seconds (VERIFICATION_CODE_TTL) from `now`.

    `verification_id`: an existing row's, when its code is replaced (a fallback to another
    channel); a new one otherwise. A flash call's code is the provider's choice: `code` and
    `code_hash` stay empty (an empty hash matches no code) until the worker records the HMAC
    of the code the provider chose.
    """
    created_at = now or timezone.now()
    lifetime = settings.VERIFICATION_CODE_TTL if ttl is None else ttl
    verification_id = verification_id or uuid.uuid4()
    seed, code = new_seed(), ""
    if channel != "call":
        code = code_for(verification_id, seed, length_for(channel))
    return CodeMaterial(
        id=verification_id,
        code_seed=seed,
        code=code,
        code_hash=hash_code(verification_id, code) if code else "",
        created_at=created_at,
        expires_at=created_at + timedelta(seconds=lifetime),
    )
