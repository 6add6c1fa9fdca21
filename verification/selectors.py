"""Reads."""

from __future__ import annotations

import uuid

from django.shortcuts import get_object_or_404
from django.utils import timezone

from verification.models import SMSVerification


def verification_get(*, verification_id: uuid.UUID) -> SMSVerification:
    return get_object_or_404(
        SMSVerification.objects.defer("code_hash", "code_seed"), id=verification_id
    )


def verification_channel(*, verification_id: uuid.UUID) -> str:
    """The channel the code went out on (a fallback may have changed it since the send)."""
    return SMSVerification.objects.values_list("channel", flat=True).get(id=verification_id)


def verification_by_request_id(*, request_id: str) -> SMSVerification | None:
    return SMSVerification.objects.filter(request_id=request_id).first()


def verification_current(*, phone: str) -> SMSVerification | None:
    """The phone's newest live code: only it can be confirmed (a new code retires older)."""
    return (
        SMSVerification.objects.filter(phone=phone, is_used=False, expires_at__gt=timezone.now())
        .only("id", "channel", "code_hash", "attempts", "expires_at", "client_ip")
        .order_by("-created_at")
        .first()
    )
