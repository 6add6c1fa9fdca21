"""Keeping the table healthy: re-dispatch stuck rows, expire and purge old ones, watch funds.

Every job works in bounded batches (a named size, counts returned) and is idempotent, so
running it twice, late or concurrently is harmless.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from verification import dispatch, funds, metrics
from verification.abuse import budget, decisions
from verification.gateways import get_gateway
from verification.models import DeliveryStatus, SMSVerification

logger = logging.getLogger(__name__)

# Rows re-published per run; a backlog larger than this drains over a few beat ticks
# instead of flooding the broker in one go.
REDISPATCH_BATCH_SIZE = 500
# Rows expired or purged per statement: short statements, short row locks.
SWEEP_BATCH_SIZE = 5000


def redispatch_stuck(*, limit: int = REDISPATCH_BATCH_SIZE) -> int:
    """Publish again the rows whose send message was lost; returns how many were published.

    Lost means: still `queued` DISPATCH_AFTER seconds after creation (the broker was down at
    commit) or after a retry fell due, or `sending` past its lease (the worker died). The
    send task's claim makes a duplicate harmless.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.VERIFICATION_DISPATCH_AFTER)
    lost = Q(status=DeliveryStatus.QUEUED, lease_until__isnull=True, created_at__lt=stale) | Q(
        status__in=(DeliveryStatus.QUEUED, DeliveryStatus.SENDING), lease_until__lt=now
    )
    rows = list(
        SMSVerification.objects.filter(lost, expires_at__gt=now)
        .order_by("created_at")
        .values_list("id", "expires_at")[:limit]
    )
    if not rows:
        return 0
    # Back to `queued` (a dead worker's claim is void: its owner token is cleared, so its
    # late writes change nothing) and not again before another DISPATCH_AFTER, so the new
    # message gets time to be worked.
    # The same condition again: a row a worker claimed meanwhile is not touched.
    SMSVerification.objects.filter(lost, id__in=[row_id for row_id, _ in rows]).update(
        status=DeliveryStatus.QUEUED,
        lease_owner=None,
        lease_until=now + timedelta(seconds=settings.VERIFICATION_DISPATCH_AFTER),
    )
    published = 0
    for row_id, expires_at in rows:
        if not dispatch.publish_send(row_id, expires_at=expires_at):
            break  # the broker is still down: the next run tries again
        published += 1
    logger.info("re-dispatched %s of %s stuck verifications", published, len(rows))
    return published


def expire_unsent(*, batch_size: int = SWEEP_BATCH_SIZE) -> int:
    """Codes that expired before any worker could send them: `expired`, never sent."""
    now = timezone.now()
    rows = list(
        SMSVerification.objects.filter(expires_at__lte=now)
        .filter(
            Q(status=DeliveryStatus.QUEUED) | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
        )
        .values_list("id", "channel")[:batch_size]
    )
    by_channel: dict[str, list[uuid.UUID]] = defaultdict(list)
    for row_id, channel in rows:
        by_channel[channel].append(row_id)
    expired = 0
    # One UPDATE per channel (a handful), so /metrics counts each under its own channel.
    for channel, ids in by_channel.items():
        count = SMSVerification.objects.filter(
            id__in=ids, status__in=(DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
        ).update(
            status=DeliveryStatus.EXPIRED,
            lease_until=None,
            lease_owner=None,
            error="expired before it could be sent",
        )
        metrics.sends("expired", channel=channel, count=count)
        expired += count
    return expired


def purge_old(*, batch_size: int = SWEEP_BATCH_SIZE) -> int:
    """Rows past VERIFICATION_RETENTION_DAYS (kept until then for stats and audit), and
    abuse decisions past ABUSE_DECISION_RETENTION_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.VERIFICATION_RETENTION_DAYS)
    ids = list(
        SMSVerification.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[
            :batch_size
        ]
    )
    deleted = 0
    if ids:
        deleted, _ = SMSVerification.objects.filter(id__in=ids).delete()
    return deleted + decisions.purge_old(batch_size=batch_size)


def refresh_tariff() -> dict[str, Decimal]:
    """The provider's prices, kept in Redis for the send path's spend caps."""
    prices = get_gateway().tariff()
    if prices:
        budget.store_tariff(prices)
        logger.info("GreenSMS tariff: %s", ", ".join(f"{k} {v}" for k, v in prices.items()))
    else:
        logger.warning("GreenSMS tariff is empty; spend caps use GREEN_SMS_PRICE")
    return prices


def check_balance() -> Decimal:
    """Log the balance; WARNING when low; reopen sending when funds are back."""
    with metrics.provider_call("balance"):
        balance = get_gateway().balance()
    metrics.record_balance(balance)
    if balance < Decimal(str(settings.GREEN_SMS_LOW_BALANCE)):
        logger.warning(
            "GreenSMS balance is low: %s (threshold %s)", balance, settings.GREEN_SMS_LOW_BALANCE
        )
    else:
        logger.info("GreenSMS balance: %s", balance)
    if balance > 0:
        funds.close_breaker()
    return balance
