"""Fallback (SPEC §13): an SMS that failed is tried once more over another channel.

With VERIFICATION_FALLBACK_CHANNEL set (`call` or `voice`), an SMS whose send failed
permanently or whose delivery failed goes back to `queued` on the same row, over that
channel, with a new code where the channel needs one: five new digits for a voice call, the
provider's choice for a flash call. The row's hash changes with it, so the SMS's code stops
working (a verify confirms the hash it matched, see services.verification_check).

At most once per row (`fallback_from` records it), and only while at least
FALLBACK_MIN_LIFE seconds of the code's life remain: a user needs the time to take a call
and type its code. One conditional UPDATE decides, so a poller and a sender racing over the
same row cannot both move it. The fallback is one more message paid for: it passes the abuse
protection's per-IP limits, adaptive rules and spend caps first (verification/abuse/).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from verification import codes, dispatch, metrics
from verification.abuse import fallback as abuse_fallback
from verification.abuse import guard, policy
from verification.cache import verification_cache
from verification.exceptions import ApplicationError
from verification.gateways.errors import (
    AuthorizationDeclined,
    InsufficientFunds,
    ProviderConfigurationError,
    ProviderError,
)
from verification.models import Channel, DeliveryStatus, SMSVerification
from verification.phones import mask_phone
from verification.redis_client import RedisUnavailable

logger = logging.getLogger(__name__)

# Seconds of code life a fallback needs: a call to ring, a user to read and type 4-5 digits.
FALLBACK_MIN_LIFE = 60
# Refusals of the whole account: the same account cannot do better over another channel.
ACCOUNT_WIDE_ERRORS = (AuthorizationDeclined, InsufficientFunds, ProviderConfigurationError)


def can_help(exc: ProviderError) -> bool:
    """Whether another channel might succeed where this send failed."""
    return not isinstance(exc, ACCOUNT_WIDE_ERRORS)


def verification_fall_back(*, verification_id: uuid.UUID | str, reason: str) -> bool:
    """Move a failed SMS row to the fallback channel and enqueue its send; True if it moved.

    Does nothing (False) without a fallback channel, for a row that is not a failed,
    unused, unburned SMS with FALLBACK_MIN_LIFE seconds left, or that already fell back.
    """
    target = settings.VERIFICATION_FALLBACK_CHANNEL
    if not target:
        return False
    verification_id = uuid.UUID(str(verification_id))
    now = timezone.now()
    eligible = SMSVerification.objects.filter(
        id=verification_id,
        channel=Channel.SMS,
        fallback_from="",
        status=DeliveryStatus.FAILED,
        is_used=False,
        attempts__lt=settings.VERIFICATION_MAX_ATTEMPTS,
        expires_at__gte=now + timedelta(seconds=FALLBACK_MIN_LIFE),
    )
    row = eligible.only("phone", "client_ip", "expires_at").first()
    if row is None or not _cleared(row, target, reason):
        return False
    material = codes.new_material(verification_id=verification_id, channel=target)
    with transaction.atomic():
        moved = eligible.update(
            channel=target,
            fallback_from=Channel.SMS,
            status=DeliveryStatus.QUEUED,
            code_seed=material.code_seed,
            code_hash=material.code_hash,
            request_id="",
            sent_at=None,
            delivered_at=None,
            status_checked_at=None,
            # Claimable at once by the message published below, by no earlier attempt's
            # owner; beat's re-dispatch leaves it to that message for a while.
            lease_owner=None,
            retry_at=None,
            lease_until=now + timedelta(seconds=settings.VERIFICATION_DISPATCH_AFTER),
            error=f"sms failed: {reason}"[:255],
        )
        if not moved:
            return False  # a concurrent fallback (a poller and a sender) got there first
        dispatch.enqueue_send(verification_id, expires_at=row.expires_at)
    # The cached hash is the SMS code's: drop it (the verify's UPDATE refuses it anyway).
    verification_cache.forget(row.phone)
    metrics.sends("fallback", channel=target)
    logger.info(
        "verification %s for %s falls back from sms to %s: %s",
        verification_id,
        mask_phone(row.phone),
        target,
        reason,
    )
    return True


def _cleared(row: SMSVerification, channel: str, reason: str) -> bool:
    """The fallback is one more message: it counts against the per-IP limits, the adaptive
    rules and the spend caps like a send-code request (not the per-phone limits: it is the
    same code). Counted from the database while Redis is down."""
    try:
        try:
            guard.check_send(
                phone=row.phone,
                facts=policy.phone_facts(row.phone),
                client_ip=row.client_ip,
                channel=channel,
                per_phone=False,
            )
        except RedisUnavailable:
            abuse_fallback.check_send(
                phone=row.phone, client_ip=row.client_ip, now=timezone.now(), per_phone=False
            )
    except ApplicationError as exc:
        logger.warning(
            "verification %s: no fallback to %s after %s (%s)", row.id, channel, reason, exc.code
        )
        return False
    return True
