"""The seed's SMSVerificationCache: the phone's active code, so a verify skips one query.

Never the source of truth: a hit is only a hint that the conditional UPDATE in
services.verification_check confirms against the row, and a miss or an outage falls back
to the database.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from verification import codes
from verification.models import SMSVerification
from verification.phones import normalize_phone
from verification.redis_client import redis_or
from verification.selectors import verification_current

KEY_PREFIX = "verification:active:"


@dataclass(frozen=True)
class ActiveCode:
    id: uuid.UUID
    code_hash: str
    expires_at: datetime
    client_ip: str | None = None  # who asked for the code (the abuse rules' verified side)


class SMSVerificationCache:
    def entry(self, phone: str, verification: SMSVerification) -> tuple[str, str, int] | None:
        """(key, value, ttl) of the phone's active code, for RateLimiter.hit(then_set=...):
        written in the same round trip as the send-code rate limits. None when disabled."""
        key = self.key(phone)
        if key is None:
            return None
        ttl = max(1, int((verification.expires_at - timezone.now()).total_seconds()))
        value = json.dumps(
            {
                "id": str(verification.id),
                "code_hash": verification.code_hash,
                "expires_at": verification.expires_at.timestamp(),
                "ip": verification.client_ip,
            }
        )
        return key, value, ttl

    def get_active(self, phone: str) -> ActiveCode | None:
        key = self.key(phone)
        if key is None:
            return None
        raw = redis_or(None, lambda redis: redis.get(key))
        if raw is None:
            return None
        data = json.loads(raw)
        expires_at = datetime.fromtimestamp(data["expires_at"], tz=UTC)
        return ActiveCode(uuid.UUID(data["id"]), data["code_hash"], expires_at, data.get("ip"))

    def key(self, phone: str) -> str | None:
        """The phone's entry key (also for deleting it in another round trip); None when
        the cache is disabled."""
        return KEY_PREFIX + phone if settings.VERIFICATION_CODE_CACHE else None

    @classmethod
    def store_verification_code(cls, phone: str, code: str) -> bool:
        """The seed's call, on the class as the seed writes it: cache `code` as the phone's
        active code. Only the code's keyed hash is stored, never the code, and only when it is
        the code of the phone's newest live row: the verify path trusts a cached hash that
        matches, so the cache must never hold a code the database would refuse.
        Returns whether it stored the entry. Raises InvalidPhone.
        """
        phone = normalize_phone(phone)
        row = verification_current(phone=phone)
        if row is None or not codes.code_matches(row.code_hash, row.id, code):
            return False
        entry = cls().entry(phone, row)
        if entry is None:
            return False
        key, value, ttl = entry
        return bool(redis_or(False, lambda redis: redis.set(key, value, ex=ttl)))

    def forget(self, phone: str) -> None:
        key = self.key(phone)
        if key is not None:
            redis_or(0, lambda redis: redis.delete(key))


verification_cache = SMSVerificationCache()
