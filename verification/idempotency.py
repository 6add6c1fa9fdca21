"""`Idempotency-Key` on send-code: a retried request gets the first answer, not a second SMS.

The database decides, so this holds while Redis is down. The key lives on the row it created
(a partial unique index), for the code's TTL from the row's creation. A request with a key
takes a transaction-scoped advisory lock on it before anything else, so concurrent requests
with one key run one after the other: the first creates the row, the others find it and
replay it. The lookup comes before the rate limits, so a replay spends no quota.

The same key with another body is refused (422): the client reused a key by mistake, and
answering with the first request's verification would be a lie about this one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from verification import services
from verification.exceptions import IdempotencyKeyReused
from verification.models import SMSVerification

# Two-key advisory locks: a key space apart from the one-key per-phone locks of services.py.
LOCK_NAMESPACE = 7_001


@dataclass(frozen=True)
class Outcome:
    verification: SMSVerification
    replayed: bool


def fingerprint(data: Mapping[str, Any]) -> str:
    """The request as validated (a phone written two ways is the same request)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def verification_create(*, key: str | None, data: Mapping[str, Any], **create: Any) -> Outcome:
    """services.verification_create, once per key within the code's TTL.

    Raises IdempotencyKeyReused, and whatever verification_create raises (then the key is
    not used up: the client may retry with it).
    """
    if key is None:
        return Outcome(services.verification_create(**create), replayed=False)
    request_hash = fingerprint(data)
    with transaction.atomic():
        _lock(key)
        earlier = SMSVerification.objects.filter(idempotency_key=key).first()
        window_start = timezone.now() - timedelta(seconds=settings.VERIFICATION_CODE_TTL)
        if earlier is not None and earlier.created_at > window_start:
            if not hmac.compare_digest(earlier.idempotency_fingerprint, request_hash):
                raise IdempotencyKeyReused()
            return Outcome(earlier, replayed=True)
        if earlier is not None:  # its window has passed: the key is free again
            SMSVerification.objects.filter(id=earlier.id).update(idempotency_key="")
        verification = services.verification_create(**create, idempotency=(key, request_hash))
    return Outcome(verification, replayed=False)


def _lock(key: str) -> None:
    """Serialize requests with one key (PostgreSQL; SQLite serializes all writers anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, key])
