"""Sending one code: claim the row, call the provider, record the outcome.

The row's state machine is what makes Celery's at-least-once delivery harmless: a message
for a row that is not claimable (already sent, failed, expired, or held by a live worker)
does nothing, so a redelivered or re-dispatched task never sends a second SMS.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from verification import channels, funds, metrics
from verification.gateways.errors import (
    InsufficientFunds,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from verification.models import DeliveryStatus, SMSVerification
from verification.phones import mask_phone

logger = logging.getLogger(__name__)

# Seconds a claim lasts: longer than the send task's hard time limit (30 s), so a live worker
# never loses its row, and short enough that beat re-dispatches a dead worker's row quickly.
SEND_LEASE = 40
# A send that may have reached the provider (timeout after the request left) is not
# repeated sooner than this: a slow provider must not get a burst of duplicates.
AMBIGUOUS_RETRY_MIN = 2.0
# Longest wait between two attempts; celeryconfig's visibility timeout exceeds it.
RETRY_BACKOFF_MAX = 45


@dataclass(frozen=True)
class SendResult:
    """`retry_in`: seconds until the task should run again; None when nothing is left to do."""

    retry_in: float | None = None


def verification_send(*, verification_id: str | uuid.UUID, retries: int) -> SendResult:
    paused = funds.pause_remaining()
    if paused:
        return _postpone(verification_id, paused + _spread(paused))

    row = _claim(verification_id)
    if row is None:
        return SendResult()  # expired, already handled, or in another worker's hands

    try:
        with metrics.provider_call("send"):
            dispatched = channels.dispatch(row)
    except InsufficientFunds as exc:
        funds.open_breaker(settings.GREEN_SMS_FUNDS_PAUSE)
        pause = settings.GREEN_SMS_FUNDS_PAUSE
        return _retry_or_fail(row, exc, pause + _spread(pause))
    except PermanentProviderError as exc:
        logger.error("send of %s failed permanently: %s", row.id, exc.reason)
        _finish(row, DeliveryStatus.FAILED, error=exc.reason)
        metrics.sends("failed", channel=row.channel)
        return SendResult()
    except TransientProviderError as exc:
        return _retry_or_fail(row, exc, _backoff(retries, ambiguous=exc.ambiguous))

    now = timezone.now()
    request_id = dispatched.request_id
    # A flash call's code is known only now: its HMAC lands with the request id.
    code_fields = {"code_hash": dispatched.code_hash} if dispatched.code_hash else {}
    SMSVerification.objects.filter(id=row.id, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.SENT,
        request_id=request_id,
        sent_at=now,
        lease_until=None,
        error="",
        **code_fields,
    )
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
    """One conditional UPDATE: queued (or a lapsed claim) -> sending, while the code lives."""
    now = timezone.now()
    claimed = SMSVerification.objects.filter(
        Q(status=DeliveryStatus.QUEUED) | Q(status=DeliveryStatus.SENDING, lease_until__lt=now),
        id=verification_id,
        expires_at__gt=now,
    ).update(
        status=DeliveryStatus.SENDING,
        lease_until=now + timedelta(seconds=SEND_LEASE),
        send_attempts=F("send_attempts") + 1,
    )
    if not claimed:
        return None
    return SMSVerification.objects.only(
        "id", "phone", "channel", "code_seed", "expires_at", "language"
    ).get(id=verification_id)


def _backoff(retries: int, *, ambiguous: bool) -> float:
    """Exponential backoff with full jitter, capped (Celery's helper takes whole seconds only:
    the base is a float so tests and fast providers can use sub-second delays)."""
    ceiling = min(RETRY_BACKOFF_MAX, settings.VERIFICATION_SEND_RETRY_BASE * 2**retries)
    delay = random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret
    return max(delay, AMBIGUOUS_RETRY_MIN if ambiguous else 0.2)


def _spread(pause: float) -> float:
    """Jitter so paused sends do not all resume in the same instant."""
    return random.uniform(0, min(5.0, pause / 4))  # noqa: S311 - jitter, not a secret


def _retry_or_fail(row: SMSVerification, exc: ProviderError, delay: float) -> SendResult:
    """Hand the row back for another attempt in `delay` s, unless the code dies first."""
    now = timezone.now()
    if now + timedelta(seconds=delay) >= row.expires_at:
        logger.error("send of %s failed: %s; no attempt left before expiry", row.id, exc.reason)
        _finish(row, DeliveryStatus.FAILED, error=f"retries exhausted: {exc.reason}")
        metrics.sends("failed", channel=row.channel)
        return SendResult()
    logger.warning("send of %s: %s; retrying in %.1f s", row.id, exc.reason, delay)
    metrics.sends("retry", channel=row.channel)
    SMSVerification.objects.filter(id=row.id, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.QUEUED,
        # Beat leaves the row alone until the retry is due (plus a claim's length).
        lease_until=now + timedelta(seconds=delay + SEND_LEASE),
        error=exc.reason,
    )
    return SendResult(retry_in=delay)


def _postpone(verification_id: str | uuid.UUID, delay: float) -> SendResult:
    """Sends are paused: keep the row queued, try again after the pause if the code lives."""
    now = timezone.now()
    retry_at = now + timedelta(seconds=delay)
    postponed = SMSVerification.objects.filter(
        id=verification_id, status=DeliveryStatus.QUEUED, expires_at__gt=retry_at
    ).update(lease_until=retry_at + timedelta(seconds=SEND_LEASE), error="sends paused: funds")
    if not postponed:
        failed = SMSVerification.objects.filter(
            id=verification_id, status=DeliveryStatus.QUEUED, expires_at__gt=now
        ).update(status=DeliveryStatus.FAILED, error="insufficient funds", lease_until=None)
        metrics.sends("failed", count=failed)
        return SendResult()
    return SendResult(retry_in=delay)


def _finish(row: SMSVerification, status: str, *, error: str) -> None:
    SMSVerification.objects.filter(id=row.id, status=DeliveryStatus.SENDING).update(
        status=status, error=error[:255], lease_until=None
    )
