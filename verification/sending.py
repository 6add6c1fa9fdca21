"""Sending one code: claim the row, call the provider, record the outcome.

The row's state machine is what makes Celery's at-least-once delivery harmless: a message
for a row that is not claimable (already sent, failed, expired, held by a live worker, or
waiting for its retry) does nothing, so a redelivered or re-dispatched task never sends a
second SMS. The lease is fenced: the claim writes a fresh owner token and every later write
of that attempt filters on it, so a worker that outlived its lease changes nothing.
"""

from __future__ import annotations

import functools
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from verification import bound_sql, channels, fallback, funds, metrics
from verification.gateways.errors import (
    InsufficientFunds,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from verification.models import DeliveryStatus, SMSVerification, quoted_column
from verification.phones import mask_phone

logger = logging.getLogger(__name__)

# Seconds a claim lasts beyond the provider call's hard deadline (GREEN_SMS_TIMEOUT, enforced
# on the socket by the transport, whatever the pool): the claim's and the outcome's database
# writes. Short enough that beat re-dispatches a dead worker's row quickly.
SEND_LEASE_MARGIN = 10
# A send that may have reached the provider (timeout after the request left) is not
# repeated sooner than this: a slow provider must not get a burst of duplicates.
AMBIGUOUS_RETRY_MIN = 2.0
# Longest wait between two attempts; celeryconfig's visibility timeout exceeds it.
RETRY_BACKOFF_MAX = 45
# Most jitter added to a pause, so paused sends do not all resume in the same instant.
SPREAD_MAX = 5.0
# A retry message that arrives a hair before its row's retry time (timer granularity) comes
# back this much after it instead of doing nothing.
NOT_DUE_SLACK = 0.05


def send_lease() -> float:
    """Seconds a claim lasts: derived from the provider call's hard deadline, not from a
    task time limit the threads pool does not enforce (sms_check compares it)."""
    return float(settings.GREEN_SMS_TIMEOUT) + SEND_LEASE_MARGIN


@dataclass(frozen=True)
class SendResult:
    """`retry_in`: seconds until the task should run again; None when nothing is left to do."""

    retry_in: float | None = None


def verification_send(*, verification_id: str | uuid.UUID, retries: int) -> SendResult:
    paused = funds.send_pause()
    if paused:
        return _postpone(verification_id, paused + _spread(paused))

    row = _claim(verification_id)
    if row is None:
        # Expired, already handled, or in another worker's hands; or not due yet.
        return SendResult(retry_in=_not_due_for(verification_id))

    try:
        with metrics.provider_call("send"):
            dispatched = channels.dispatch(row)
    except InsufficientFunds as exc:
        funds.open_breaker(settings.GREEN_SMS_FUNDS_PAUSE)
        pause = settings.GREEN_SMS_FUNDS_PAUSE
        return _retry_or_fail(row, exc, pause + _spread(pause))
    except PermanentProviderError as exc:
        logger.error("send of %s failed permanently: %s", row.id, exc.reason)
        if not _finish(row, DeliveryStatus.FAILED, error=exc.reason):
            return SendResult()  # the lease ran out under us: the row's owner decides
        metrics.sends("failed", channel=row.channel)
        if fallback.can_help(exc):
            fallback.verification_fall_back(verification_id=row.id, reason=exc.reason)
        return SendResult()
    except TransientProviderError as exc:
        return _retry_or_fail(row, exc, _backoff(retries, ambiguous=exc.ambiguous))

    request_id = dispatched.request_id
    recorded = _record_sent(row, request_id, dispatched.code_hash)
    if not recorded:
        # The lease ran out under us and the row moved on (re-dispatched, expired): its
        # current owner decides; this late answer only goes to the log.
        logger.warning("send of %s answered after its lease (request_id %s)", row.id, request_id)
        return SendResult()
    logger.info(
        "sent %s to %s by %s (request_id %s)",
        row.id,
        mask_phone(row.phone),
        row.channel,
        request_id,
    )
    metrics.sends("sent", channel=row.channel)
    return SendResult()


def _claim(verification_id: str | uuid.UUID) -> SMSVerification | None:
    """One conditional UPDATE: queued and due (or a lapsed claim) -> sending, while the code
    lives, under a fresh owner token that every later write of this attempt filters on."""
    now = timezone.now()
    owner = uuid.uuid4()
    lease_until = now + timedelta(seconds=send_lease())
    if connection.vendor == "postgresql":
        return _claim_returning(verification_id, owner, now, lease_until)
    due = Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    claimed = SMSVerification.objects.filter(
        Q(status=DeliveryStatus.QUEUED) & due
        | Q(status=DeliveryStatus.SENDING, lease_until__lt=now),
        id=verification_id,
        expires_at__gt=now,
    ).update(
        status=DeliveryStatus.SENDING,
        lease_owner=owner,
        lease_until=lease_until,
        retry_at=None,
        send_attempts=F("send_attempts") + 1,
    )
    if not claimed:
        return None
    return (
        SMSVerification.objects.only(*CLAIMED_FIELDS)
        .filter(id=verification_id, lease_owner=owner)
        .first()
    )


# What a send needs of its row, read by the claim itself.
CLAIMED_FIELDS = ("id", "phone", "channel", "code_seed", "expires_at", "language", "lease_owner")


def _claim_returning(
    verification_id: str | uuid.UUID, owner: uuid.UUID, now: datetime, lease_until: datetime
) -> SMSVerification | None:
    """The claim and the read of the row in one statement (PostgreSQL's UPDATE ... RETURNING):
    one round trip, and no ORM query to compile, on the hottest path of every send."""
    params: list[Any] = [
        DeliveryStatus.SENDING, owner, lease_until, uuid.UUID(str(verification_id)), now,
        DeliveryStatus.QUEUED, now, DeliveryStatus.SENDING, now,
    ]  # fmt: skip
    sql, names = _claim_sql()
    with bound_sql.cursor() as cursor:
        cursor.execute(sql, params)
        values = cursor.fetchone()
    if values is None:
        return None
    return SMSVerification.from_db(connection.alias, names, values)


@functools.cache
def _claim_sql() -> tuple[str, tuple[str, ...]]:
    """_claim's conditions as SQL (identifiers from the model; every value a parameter), and
    the names of the columns it returns, in the model's order (as Model.from_db wants)."""
    meta, column = SMSVerification._meta, quoted_column
    names = tuple(f.attname for f in meta.concrete_fields if f.attname in CLAIMED_FIELDS)
    status, retry_at, lease = column("status"), column("retry_at"), column("lease_until")
    attempts, table = column("send_attempts"), connection.ops.quote_name(meta.db_table)
    return (
        f"UPDATE {table} SET {status} = %s, {column('lease_owner')} = %s,"  # noqa: S608
        f" {lease} = %s, {retry_at} = NULL, {attempts} = {attempts} + 1"
        f" WHERE {column('id')} = %s AND {column('expires_at')} > %s"
        f" AND (({status} = %s AND ({retry_at} IS NULL OR {retry_at} <= %s))"
        f" OR ({status} = %s AND {lease} < %s))"
        f" RETURNING {', '.join(column(name) for name in names)}"
    ), names


def _owned(row: SMSVerification) -> QuerySet[SMSVerification]:
    """The row, only while this attempt still holds it (the fence of every later write)."""
    return SMSVerification.objects.filter(
        id=row.id, status=DeliveryStatus.SENDING, lease_owner=row.lease_owner
    )


def _record_sent(row: SMSVerification, request_id: str, code_hash: str | None) -> bool:
    """sending -> sent with the provider's request id, only while this attempt holds the row.

    A flash call's code is known only now: its HMAC lands with the request id.
    """
    now = timezone.now()
    if connection.vendor != "postgresql":
        code_fields = {"code_hash": code_hash} if code_hash else {}
        recorded = _owned(row).update(
            status=DeliveryStatus.SENT,
            request_id=request_id,
            sent_at=now,
            lease_until=None,
            lease_owner=None,
            error="",
            **code_fields,
        )
        return bool(recorded)
    params: list[Any] = [
        DeliveryStatus.SENT, request_id, now, code_hash,
        row.id, DeliveryStatus.SENDING, row.lease_owner,
    ]  # fmt: skip
    with bound_sql.cursor() as cursor:
        cursor.execute(_sent_sql(), params)
        return bool(cursor.rowcount)


@functools.cache
def _sent_sql() -> str:
    """_record_sent's UPDATE, fenced like _owned() (on PostgreSQL: no ORM query to compile)."""
    meta, column = SMSVerification._meta, quoted_column
    code_hash, table = column("code_hash"), connection.ops.quote_name(meta.db_table)
    return (
        f"UPDATE {table} SET {column('status')} = %s,"  # noqa: S608
        f" {column('request_id')} = %s, {column('sent_at')} = %s, {column('lease_until')} = NULL,"
        f" {column('lease_owner')} = NULL, {column('error')} = '',"
        f" {code_hash} = COALESCE(%s, {code_hash})"
        f" WHERE {column('id')} = %s AND {column('status')} = %s"
        f" AND {column('lease_owner')} = %s"
    )


def _not_due_for(verification_id: str | uuid.UUID) -> float | None:
    """Seconds until a queued row's retry is due, when that is why the claim failed."""
    now = timezone.now()
    retry_at = (
        SMSVerification.objects.filter(
            id=verification_id, status=DeliveryStatus.QUEUED, retry_at__gt=now, expires_at__gt=now
        )
        .values_list("retry_at", flat=True)
        .first()
    )
    if retry_at is None:
        return None
    return (retry_at - now).total_seconds() + NOT_DUE_SLACK


def _backoff(retries: int, *, ambiguous: bool) -> float:
    """Exponential backoff with full jitter, capped (Celery's helper takes whole seconds only:
    the base is a float so tests and fast providers can use sub-second delays)."""
    ceiling = min(RETRY_BACKOFF_MAX, settings.VERIFICATION_SEND_RETRY_BASE * 2**retries)
    delay = random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret
    return max(delay, AMBIGUOUS_RETRY_MIN if ambiguous else 0.2)


def _spread(pause: float) -> float:
    """Jitter so paused sends do not all resume in the same instant."""
    return random.uniform(0, min(SPREAD_MAX, pause / 4))  # noqa: S311 - jitter, not a secret


def _retry_or_fail(row: SMSVerification, exc: ProviderError, delay: float) -> SendResult:
    """Hand the row back for another attempt in `delay` s, unless the code dies first."""
    now = timezone.now()
    if now + timedelta(seconds=delay) >= row.expires_at:
        logger.error("send of %s failed: %s; no attempt left before expiry", row.id, exc.reason)
        if _finish(row, DeliveryStatus.FAILED, error=f"retries exhausted: {exc.reason}"):
            metrics.sends("failed", channel=row.channel)
        return SendResult()
    retry_at = now + timedelta(seconds=delay)
    handed_back = _owned(row).update(
        status=DeliveryStatus.QUEUED,
        lease_owner=None,
        retry_at=retry_at,
        # Beat leaves the row alone until the retry is due (plus a claim's length).
        lease_until=retry_at + timedelta(seconds=send_lease()),
        error=exc.reason,
    )
    if not handed_back:
        logger.warning("send of %s: %s, after its lease; left to its owner", row.id, exc.reason)
        return SendResult()
    logger.warning("send of %s: %s; retrying in %.1f s", row.id, exc.reason, delay)
    metrics.sends("retry", channel=row.channel)
    return SendResult(retry_in=delay)


def _postpone(verification_id: str | uuid.UUID, delay: float) -> SendResult:
    """Sends are paused: keep the row queued, try again after the pause if the code lives."""
    now = timezone.now()
    retry_at = now + timedelta(seconds=delay)
    postponed = SMSVerification.objects.filter(
        id=verification_id, status=DeliveryStatus.QUEUED, expires_at__gt=retry_at
    ).update(
        retry_at=retry_at,
        lease_until=retry_at + timedelta(seconds=send_lease()),
        error="sends paused: funds",
    )
    if not postponed:
        doomed = SMSVerification.objects.filter(
            id=verification_id, status=DeliveryStatus.QUEUED, expires_at__gt=now
        )
        channel = doomed.values_list("channel", flat=True).first()
        failed = doomed.update(
            status=DeliveryStatus.FAILED, error="insufficient funds", lease_until=None
        )
        if channel is not None:
            metrics.sends("failed", channel=channel, count=failed)
        return SendResult()
    return SendResult(retry_in=delay)


def _finish(row: SMSVerification, status: str, *, error: str) -> bool:
    """True when this attempt still held the row and recorded `status`."""
    finished = _owned(row).update(
        status=status, error=error[:255], lease_until=None, lease_owner=None
    )
    return bool(finished)
