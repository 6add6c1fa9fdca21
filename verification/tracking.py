"""Delivery tracking: ask the provider about rows in `sent`, in bounded batches.

Each batch costs O(1) queries whatever its size (claim, then one bulk UPDATE) and exactly
one provider call per row, made in parallel because each call is network-bound. Rows of every
channel share the batches; each is asked through its own channel's `status`.
"""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from verification import fallback, metrics
from verification.gateways import DeliveryStatus as ProviderStatus
from verification.gateways import get_gateway
from verification.gateways.errors import InvalidParameters, ProviderError
from verification.models import Channel, DeliveryStatus, SMSVerification

logger = logging.getLogger(__name__)

# Rows per batch: one bulk UPDATE each; small enough that a batch's provider calls finish
# well inside the task's time limit at POLL_CONCURRENCY parallel calls.
POLL_BATCH_SIZE = 100
# Parallel status calls within a batch (the gateway's connection pool holds 64).
POLL_CONCURRENCY = 16


HORIZON_ERROR = "no final delivery status within the polling horizon"


@dataclass
class PollCounts:
    polled: int = 0
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    errors: int = 0
    given_up: int = 0


def poll_batch(*, batch_size: int = POLL_BATCH_SIZE) -> PollCounts:
    """Poll one batch of the rows that waited longest; returns what happened to them."""
    now = timezone.now()
    rows = _claim_batch(now, batch_size)
    counts = PollCounts(polled=len(rows))
    if not rows:
        return counts
    gateway = get_gateway()

    def ask(row: SMSVerification) -> ProviderStatus | ProviderError:
        try:
            # Each channel's request ids are known to its own module only.
            with metrics.provider_call("status"):
                return gateway.status(row.request_id, row.channel)
        except ProviderError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(POLL_CONCURRENCY, len(rows))) as pool:
        answers = list(pool.map(ask, rows))

    horizon = now - timedelta(seconds=settings.VERIFICATION_POLL_HORIZON)
    changed = [
        row
        for row, answer in zip(rows, answers, strict=True)
        if _apply(row, answer, horizon, now, counts)
    ]
    if changed:
        SMSVerification.objects.bulk_update(changed, ["status", "delivered_at", "error"])
    for row, answer in zip(rows, answers, strict=True):
        if row.channel == Channel.SMS and _delivery_failed(answer):
            fallback.verification_fall_back(verification_id=row.id, reason=row.error)
    for (channel, outcome), count in Counter(map(_outcome, changed)).items():
        metrics.deliveries(outcome, channel=channel, count=count)
    return counts


def _outcome(row: SMSVerification) -> tuple[str, str]:
    if row.status == DeliveryStatus.DELIVERED:
        return row.channel, "delivered"
    return row.channel, "unknown" if row.error == HORIZON_ERROR else "failed"


def _delivery_failed(answer: ProviderStatus | ProviderError) -> bool:
    return isinstance(answer, ProviderStatus) and answer.state == "failed"


def _claim_batch(now: datetime, batch_size: int) -> list[SMSVerification]:
    """Rows in `sent` not asked about this half-interval, oldest first.

    Stamping `status_checked_at` in the same transaction means a second poller running at
    the same time (two beats by mistake, a slow run) skips these rows instead of asking twice.
    """
    asked_before = now - timedelta(seconds=settings.VERIFICATION_POLL_INTERVAL / 2)
    with transaction.atomic():
        rows = list(
            SMSVerification.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.SENT)
            .filter(Q(status_checked_at__isnull=True) | Q(status_checked_at__lt=asked_before))
            .order_by("sent_at")
            .only("id", "request_id", "channel", "sent_at", "status", "delivered_at", "error")[
                :batch_size
            ]
        )
        if rows:
            SMSVerification.objects.filter(id__in=[row.id for row in rows]).update(
                status_checked_at=now
            )
    return rows


def _apply(
    row: SMSVerification,
    answer: ProviderStatus | ProviderError,
    horizon: datetime,
    now: datetime,
    counts: PollCounts,
) -> bool:
    """Update `row` in memory from the provider's answer; True when it changed."""
    if isinstance(answer, InvalidParameters):
        # The id itself is unusable (e.g. "debug_request_id" from GREEN_SMS_DEBUG mode):
        # no later poll can succeed.
        counts.failed += 1
        row.status, row.error = DeliveryStatus.FAILED, f"status unavailable: {answer.reason}"
        return True
    if isinstance(answer, ProviderError):
        counts.errors += 1
        logger.warning("status of %s: %s", row.id, answer.reason)
    else:
        if answer.state == "delivered":
            counts.delivered += 1
            row.status, row.delivered_at = DeliveryStatus.DELIVERED, now
            return True
        if answer.state == "failed":
            counts.failed += 1
            row.status = DeliveryStatus.FAILED
            row.error = f"delivery failed: {answer.description} ({answer.status_code})"[:255]
            return True
        counts.pending += 1
    if row.sent_at is not None and row.sent_at < horizon:
        counts.given_up += 1
        row.status = DeliveryStatus.FAILED
        row.error = HORIZON_ERROR
        return True
    return False
