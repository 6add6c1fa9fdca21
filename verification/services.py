"""Writes: creating and checking codes. The web process never calls the provider here.

Every rule that must hold under concurrency is a single conditional UPDATE or runs under a
per-phone lock, so two requests racing for the same code or the same quota cannot both win.
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q, Sum
from django.utils import timezone

from verification import bound_sql, codes, dispatch, test_numbers
from verification.abuse import fallback, guard, policy
from verification.cache import verification_cache
from verification.exceptions import InvalidCode, InvalidPhone, RateLimited
from verification.gateways import get_gateway
from verification.models import Channel, SMSVerification, quoted_column
from verification.phones import mask_phone, normalize_phone
from verification.redis_client import RedisUnavailable
from verification.selectors import verification_channel, verification_current

logger = logging.getLogger(__name__)

HOUR = 3600


def verification_create(
    *,
    phone: str,
    client_ip: str | None = None,
    channel: str = Channel.SMS,
    language: str = "ru",
    idempotency: tuple[str, str] | None = None,
) -> SMSVerification:
    """Store a new code for `phone` (E.164) and enqueue its message once the row is committed.

    `idempotency`: the request's Idempotency-Key and fingerprint, stored with the row
    (verification/idempotency.py).

    Retires the phone's earlier unused codes. Raises PhoneNotAllowed, RateLimited, Blocked
    or SendingPaused (abuse protection, verification/abuse/).
    """
    facts = policy.screen_phone(phone)
    material = codes.new_material(channel=channel)
    now = material.created_at
    verification = SMSVerification(
        phone=phone,
        channel=channel,
        client_ip=client_ip,
        language=language,
        **material.row_fields(),
    )
    if idempotency is not None:
        verification.idempotency_key, verification.idempotency_fingerprint = idempotency
    # Store review / QA: a fixed code, nothing sent, no per-phone limits (test_numbers.py).
    test_number = test_numbers.apply(verification, now)

    try:
        # Every check and the verify path's cache entry, in one round trip.
        clearance: guard.Clearance | None = guard.check_send(
            phone=phone,
            facts=facts,
            client_ip=client_ip,
            channel=channel,
            then_set=verification_cache.entry(phone, verification),
            per_phone=not test_number,
            paid=not test_number,
        )
    except RedisUnavailable:
        clearance = None  # counted from the database, here and below
        guard.check_rules_in_db(phone=phone, facts=facts, client_ip=client_ip)
    if clearance is not None:
        verification.resend_available_at = now + timedelta(seconds=clearance.cooldown)

    if clearance is not None and clearance.hits == 1 and settings.VERIFICATION_CODE_TTL <= HOUR:
        # The phone's first code this hour: no earlier code can still be live, so there is
        # nothing to retire and the INSERT commits on its own (one round trip, and the
        # publish below runs at once since there is no transaction to wait for).
        SMSVerification.objects.insert(verification)
        if not test_number:
            dispatch.enqueue_send(verification.id, expires_at=verification.expires_at)
    else:
        with transaction.atomic():
            if clearance is None:
                _lock_phone(phone)
                # Counted as of when the lock was ours: rows that requests ahead of this one
                # committed while it waited were made after `material`'s time, and must not
                # look like codes from its future (a cooldown not yet over).
                now = timezone.now()
                cooldown = fallback.check_send(
                    phone=phone, client_ip=client_ip, now=now, per_phone=not test_number
                )
                verification.resend_available_at = now + timedelta(seconds=cooldown)
            SMSVerification.objects.filter(phone=phone, is_used=False, expires_at__gt=now).update(
                expires_at=now
            )
            SMSVerification.objects.insert(verification)
            if not test_number:
                dispatch.enqueue_send(verification.id, expires_at=verification.expires_at)
    logger.info("verification %s created for %s", verification.id, mask_phone(phone))
    return verification


@dataclass(frozen=True)
class Confirmed:
    verification_id: uuid.UUID
    channel: str  # the one the code went out on (a fallback may have changed it)


def verification_check(*, phone: str, code: str, client_ip: str | None = None) -> Confirmed:
    """Mark the phone's current code used if `code` is right; returns the row's id and
    channel.

    Raises InvalidCode or RateLimited.
    Wrong, expired, used, burned and unknown all raise the same InvalidCode.
    """
    try:
        retry_after: int | None = guard.check_verify(phone=phone, client_ip=client_ip)
    except RedisUnavailable:
        retry_after = _verify_retry_after_from_db(phone)
    if retry_after:
        raise RateLimited(retry_after)
    if not codes.is_plausible(code):
        raise InvalidCode()

    active = verification_cache.get_active(phone)
    if active is None or not codes.code_matches(active.code_hash, active.id, code):
        # The cache is a hint: on a miss or a mismatch the database decides.
        row = verification_current(phone=phone)
        if row is None or not codes.is_well_formed(code, row.channel):
            raise InvalidCode()  # a code of another channel's length is no guess at this one
        if not codes.code_matches(row.code_hash, row.id, code):
            _count_wrong_attempt(row.id)
            raise InvalidCode()
        verification_id, code_hash, requested_by = row.id, row.code_hash, row.client_ip
    else:
        verification_id, code_hash = active.id, active.code_hash
        requested_by = active.client_ip

    channel = _mark_used(verification_id, code_hash)
    if channel is None:
        raise InvalidCode()  # used, expired, burned or replaced (fallback) meanwhile
    guard.code_verified(
        phone=phone, requested_by=requested_by, forget_key=verification_cache.key(phone)
    )
    logger.info("verification %s confirmed for %s", verification_id, mask_phone(phone))
    return Confirmed(verification_id, channel)


def _mark_used(verification_id: uuid.UUID, code_hash: str) -> str | None:
    """One conditional UPDATE: used, if still unused, live, not burned and still holding the
    hash that matched (a fallback replaces the code). Returns the row's channel then, read
    by the same statement on PostgreSQL (UPDATE ... RETURNING), else None."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        params = [now, verification_id, code_hash, now, settings.VERIFICATION_MAX_ATTEMPTS]
        with bound_sql.cursor() as cursor:
            cursor.execute(_mark_used_sql(), params)
            returned = cursor.fetchone()
        return None if returned is None else str(returned[0])
    used = SMSVerification.objects.filter(
        id=verification_id,
        code_hash=code_hash,
        is_used=False,
        expires_at__gt=now,
        attempts__lt=settings.VERIFICATION_MAX_ATTEMPTS,
    ).update(is_used=True, used_at=now)
    return verification_channel(verification_id=verification_id) if used else None


@functools.cache
def _mark_used_sql() -> str:
    """_mark_used's statement on PostgreSQL: identifiers from the model, values as parameters."""
    column, table = quoted_column, connection.ops.quote_name(SMSVerification._meta.db_table)
    return (
        f"UPDATE {table} SET {column('is_used')} = true,"  # noqa: S608
        f" {column('used_at')} = %s WHERE {column('id')} = %s AND {column('code_hash')} = %s"
        f" AND NOT {column('is_used')} AND {column('expires_at')} > %s"
        f" AND {column('attempts')} < %s RETURNING {column('channel')}"
    )


def _count_wrong_attempt(verification_id: uuid.UUID) -> None:
    """One wrong guess; VERIFICATION_MAX_ATTEMPTS of them burn the code (checked on use)."""
    SMSVerification.objects.filter(id=verification_id, is_used=False).update(
        attempts=F("attempts") + 1
    )


def _lock_phone(phone: str) -> None:
    """Serialize concurrent sends to one phone while Redis cannot count them (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [phone])


def _verify_retry_after_from_db(phone: str) -> int | None:
    """Verify requests of the last hour as the rows record them: wrong guesses and uses."""
    now = timezone.now()
    window_start = now - timedelta(seconds=HOUR)
    # A code guessed at within the hour was created at most one TTL before the window.
    totals = SMSVerification.objects.filter(
        phone=phone,
        created_at__gt=window_start - timedelta(seconds=settings.VERIFICATION_CODE_TTL),
    ).aggregate(
        wrong=Sum("attempts"),
        used=Count("id", filter=Q(used_at__gt=window_start)),
        oldest=Min("created_at"),
    )
    # Rows do not record who guessed: only the per-phone ceiling can be counted here.
    limit = settings.RATE_LIMIT_VERIFY_PER_HOUR * settings.RATE_LIMIT_PHONE_CEILING
    if (totals["wrong"] or 0) + totals["used"] < limit:
        return None
    return _seconds_until(totals["oldest"] + timedelta(seconds=HOUR))


def _seconds_until(moment: datetime) -> int:
    return max(1, int((moment - timezone.now()).total_seconds()) + 1)


class GreenSMSService:
    """The seed's facade, kept for callers written against it."""

    def send_verification_code(self, phone: str) -> SMSVerification:
        return verification_create(phone=normalize_phone(phone))

    def verify_code(self, phone: str, code: str) -> bool:
        try:
            verification_check(phone=normalize_phone(phone), code=code)
        except (InvalidPhone, InvalidCode, RateLimited):
            return False
        return True

    def get_sms_status(self, request_id: str) -> str:
        """ "delivered" | "pending" | "failed", as the provider reports it now."""
        return get_gateway().status(request_id).state

    def get_balance(self) -> Decimal:
        return get_gateway().balance()
